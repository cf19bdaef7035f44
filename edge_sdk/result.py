"""What every task's results share: where a result came from, the name it saves under, PaddleX-style
indexing and printing, and writing its JSON and its picture where the caller says."""
from __future__ import annotations

import json
import mimetypes
from pathlib import Path
from typing import Any, Dict, Optional, Tuple, Union

import numpy as np

from .errors import InputError
from .limits import shown


class Result:
    """One input's result. ``KEYS``: the fields ``res[key]`` reads besides ``input_path``, ``page_index``
    and ``input_img``; ``json`` is ``{"res": {...}}`` in PaddleX's shape; ``to_img`` draws it."""

    __slots__ = ("input_path", "page_index", "input_img", "_name")
    KEYS: Tuple[str, ...] = ()
    IMG_TAG = "res"  # saved pictures are <stem>_<IMG_TAG><suffix>

    def __init__(self, input_path: Optional[str], input_img: Optional[np.ndarray] = None,
                 page_index: Optional[int] = None, name: Optional[str] = None) -> None:
        self.input_path = input_path
        self.page_index = page_index
        self.input_img = input_img
        self._name = shown(name or (Path(input_path).name if input_path else "array"))

    def __getitem__(self, key: str) -> Any:
        if key not in ("input_path", "page_index", "input_img", *self.KEYS):
            raise KeyError(key)
        return getattr(self, key)

    @property
    def name(self) -> str:
        """The file name results are saved under (``array_<i>`` for arrays)."""
        return self._name

    @property
    def json(self) -> Dict[str, Any]:
        raise NotImplementedError

    def _source(self) -> Dict[str, Any]:
        # a file name that is not UTF-8 is shown with U+FFFD: JSON must be valid Unicode
        return {"input_path": shown(self.input_path) if self.input_path is not None else None,
                "page_index": self.page_index}

    def to_str(self, json_format: bool = False, indent: int = 4, ensure_ascii: bool = False) -> str:
        if json_format:
            return json.dumps(self.json, indent=indent, ensure_ascii=ensure_ascii)
        r = self.json["res"]
        return "{'res': {" + ", ".join(f"{k!r}: {v!r}" for k, v in r.items()) + "}}"

    def print(self, json_format: bool = False, indent: int = 4, ensure_ascii: bool = False) -> None:
        print(self.to_str(json_format=json_format, indent=indent, ensure_ascii=ensure_ascii))

    def save_to_json(self, save_path: Union[str, Path], indent: int = 4, ensure_ascii: bool = False) -> Path:
        """Write the JSON; a path not ending in ``.json`` is a directory and gets ``<stem>_res.json``."""
        return save_json(self.json, self._name, save_path, indent, ensure_ascii)

    def _image(self) -> np.ndarray:
        if self.input_img is None:
            raise InputError("this result keeps no image; predict with its images kept to draw it.")
        return self.input_img

    def to_img(self) -> np.ndarray:
        raise NotImplementedError

    def save_to_img(self, save_path: Union[str, Path]) -> Path:
        """Save ``to_img()``; a path without an image suffix is a directory and gets ``<stem>_<tag><ext>``."""
        return save_img(self.to_img(), self._name, save_path, self.IMG_TAG)


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
