"""Recognition results in PaddleX's shape: ``{"res": {input_path, page_index, rec_text, rec_score}}``."""
from __future__ import annotations

from typing import Any, Dict, Optional

import numpy as np

from ..errors import InputError
from ..fonts import load_font
from ..result import Result


class TextRecResult(Result):
    """One recognized text line.

    Fields as PaddleX: ``input_path`` (None for arrays), ``page_index`` (None for single images),
    ``rec_text``, ``rec_score``. Indexable like PaddleX's dict results: ``res["rec_text"]``.
    """

    __slots__ = ("rec_text", "rec_score")
    KEYS = ("rec_text", "rec_score")

    def __init__(self, input_path: Optional[str], rec_text: str, rec_score: float,
                 input_img: Optional[np.ndarray] = None, page_index: Optional[int] = None,
                 name: Optional[str] = None) -> None:
        super().__init__(input_path, input_img, page_index, name)
        self.rec_text = rec_text
        self.rec_score = float(rec_score)

    def __repr__(self) -> str:
        return f"TextRecResult(input_path={self.input_path!r}, rec_text={self.rec_text!r}, rec_score={self.rec_score:.4f})"

    @property
    def json(self) -> Dict[str, Dict[str, Any]]:
        return {"res": {**self._source(), "rec_text": self.rec_text, "rec_score": self.rec_score}}

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


def _text_width(font: Any, text: str) -> int:
    box = font.getbbox(text)
    return int(box[2] - box[0])
