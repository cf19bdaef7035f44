"""What every task's results share: writing their JSON and their picture where the caller says."""
from __future__ import annotations

import json
import mimetypes
from pathlib import Path
from typing import Any, Dict, Union

import numpy as np

from .errors import InputError


def save_json(data: Dict[str, Any], name: str, save_path: Union[str, Path], indent: int = 4,
              ensure_ascii: bool = False) -> Path:
    """Write a result's JSON to ``save_path``; a path not ending in ``.json`` is a directory and gets
    ``<stem of name>_res.json``."""
    target = Path(save_path)
    if mimetypes.guess_type(str(target))[0] != "application/json":
        target = target / f"{Path(name).stem}_res.json"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(data, indent=indent, ensure_ascii=ensure_ascii) + "\n", encoding="utf-8")
    return target


def save_img(img: np.ndarray, name: str, save_path: Union[str, Path], tag: str = "res") -> Path:
    """Write a result's picture (BGR uint8) to ``save_path``; a path without an image suffix is a directory
    and gets ``<stem of name>_<tag><name's image suffix, else .png>``."""
    import cv2

    target = Path(save_path)
    mime = mimetypes.guess_type(str(target))[0]
    if not (mime and mime.startswith("image/")):
        stem = Path(name)
        suffix = stem.suffix if (mimetypes.guess_type(stem.name)[0] or "").startswith("image/") else ".png"
        target = target / f"{stem.stem}_{tag}{suffix}"
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        ok, buf = cv2.imencode(target.suffix, img)
    except cv2.error:
        ok = False
    if not ok:
        raise InputError(f"cannot write an image as {target.suffix}; save as .png or .jpg.")
    buf.tofile(str(target))
    return target
