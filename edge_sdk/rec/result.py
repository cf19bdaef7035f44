"""Recognition results in PaddleX's shape: ``{"res": {input_path, page_index, rec_text, rec_score}}``."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Dict, Optional, Union

import numpy as np

from ..errors import InputError
from ..fonts import load_font
from ..limits import shown
from ..result import save_img, save_json


class TextRecResult:
    """One recognized text line.

    Fields as PaddleX: ``input_path`` (None for arrays), ``page_index`` (None for single images),
    ``rec_text``, ``rec_score``. Indexable like PaddleX's dict results: ``res["rec_text"]``.
    """

    __slots__ = ("input_path", "page_index", "rec_text", "rec_score", "input_img", "_name")

    def __init__(self, input_path: Optional[str], rec_text: str, rec_score: float,
                 input_img: Optional[np.ndarray] = None, page_index: Optional[int] = None,
                 name: Optional[str] = None) -> None:
        self.input_path = input_path
        self.page_index = page_index
        self.rec_text = rec_text
        self.rec_score = float(rec_score)
        self.input_img = input_img
        self._name = shown(name or (Path(input_path).name if input_path else "array"))

    def __getitem__(self, key: str) -> Any:
        if key not in ("input_path", "page_index", "rec_text", "rec_score", "input_img"):
            raise KeyError(key)
        return getattr(self, key)

    def __repr__(self) -> str:
        return f"TextRecResult(input_path={self.input_path!r}, rec_text={self.rec_text!r}, rec_score={self.rec_score:.4f})"

    @property
    def name(self) -> str:
        """The file name results are saved under (``array_<i>`` for arrays)."""
        return self._name

    @property
    def json(self) -> Dict[str, Dict[str, Any]]:
        # a file name that is not UTF-8 is shown with U+FFFD: JSON must be valid Unicode
        path = shown(self.input_path) if self.input_path is not None else None
        return {"res": {"input_path": path, "page_index": self.page_index,
                        "rec_text": self.rec_text, "rec_score": self.rec_score}}

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

    def to_img(self) -> np.ndarray:
        """The line image with ``text (score)`` drawn in a white band under it (BGR uint8)."""
        from PIL import Image, ImageDraw

        if self.input_img is None:
            raise InputError("this result keeps no image; predict with keep_images=True to draw it.")
        img = self.input_img
        h, w = img.shape[:2]
        text = f"{self.rec_text} ({self.rec_score:.4f})"
        width = max(w, 200)  # narrow crops still get a legible caption
        size = max(10, min(int(width * 0.06), 48))
        font = load_font(size)
        while size > 8 and _text_width(font, text) > width - 4:
            size -= 1
            font = load_font(size)
        band = int(size * 1.4) + 4
        canvas = Image.new("RGB", (width, h + band), (255, 255, 255))
        canvas.paste(Image.fromarray(np.ascontiguousarray(img[:, :, ::-1])), (0, 0))
        ImageDraw.Draw(canvas).text((2, h + 2), text, fill=(0, 0, 0), font=font)
        return np.asarray(canvas)[:, :, ::-1].copy()

    def save_to_img(self, save_path: Union[str, Path]) -> Path:
        """Save ``to_img()``; a path without an image suffix is a directory and gets ``<stem>_res<ext>``."""
        return save_img(self.to_img(), self._name, save_path)


def _text_width(font: Any, text: str) -> int:
    box = font.getbbox(text)
    return int(box[2] - box[0])
