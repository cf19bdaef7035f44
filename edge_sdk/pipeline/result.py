"""Whole-image OCR results with PaddleX's OCR pipeline keys (``{"res": {...}}``), drawn side by side."""
from __future__ import annotations

import random
from typing import Any, Dict, List, Optional

import numpy as np

from ..fonts import load_font
from ..limits import shown
from ..result import Result


class OCRResult(Result):
    """The text in one image: every detected box (``dt_polys``), and for each box kept (``rec_polys``,
    its score at least ``text_rec_score_thresh``) its text, score and bounding rectangle. Keys and their
    order are PaddleX's (``paddlex/inference/pipelines/ocr/result.py``); indexable like its results."""

    __slots__ = ("_data",)
    IMG_TAG = "ocr_res_img"  # PaddleX's name for this picture

    def __init__(self, input_path: Optional[str], data: Dict[str, Any], input_img: Optional[np.ndarray],
                 name: str) -> None:
        super().__init__(input_path, input_img, data.get("page_index"), name)
        self._data = data

    def __getitem__(self, key: str) -> Any:
        return self._data[key]

    def __contains__(self, key: object) -> bool:
        return key in self._data

    def keys(self) -> List[str]:
        return list(self._data)

    def __repr__(self) -> str:
        return f"OCRResult(input_path={self.input_path!r}, rec_texts={self._data['rec_texts']!r})"

    @property
    def json(self) -> Dict[str, Any]:
        def plain(v: Any) -> Any:
            if isinstance(v, np.ndarray):
                return v.tolist()
            if isinstance(v, list):
                return [plain(x) for x in v]
            if isinstance(v, dict):
                return {k: plain(x) for k, x in v.items()}
            if isinstance(v, np.generic):
                return v.item()
            return v

        out = {k: plain(v) for k, v in self._data.items()}
        out["input_path"] = shown(self.input_path) if self.input_path is not None else None
        return {"res": out}

    def to_img(self) -> np.ndarray:
        """The image with each kept box filled in a colour (left) beside its text written into the same
        box on white (right), as PaddleX draws ``ocr_res_img`` (BGR uint8, twice as wide)."""
        from PIL import Image, ImageDraw

        img = self._image()
        h, w = img.shape[:2]
        left = Image.fromarray(np.ascontiguousarray(img[:, :, ::-1]))
        overlay = left.copy()
        right = Image.new("RGB", (w, h), (255, 255, 255))
        draw_fill, draw_text = ImageDraw.Draw(overlay), ImageDraw.Draw(right)
        rng = random.Random(0)
        for poly, text in zip(self._data["rec_polys"], self._data["rec_texts"]):
            pts = [(int(x), int(y)) for x, y in np.asarray(poly)]
            color = (rng.randint(0, 255), rng.randint(0, 255), rng.randint(0, 255))
            draw_fill.polygon(pts, fill=color)
            draw_text.polygon(pts, outline=color)
            xs, ys = [p[0] for p in pts], [p[1] for p in pts]
            box_w, box_h = max(xs) - min(xs), max(ys) - min(ys)
            if not text or box_w < 2 or box_h < 2:
                continue
            size = max(6, int(min(box_h * 0.8, 1.6 * box_w / max(1, len(text)))))
            draw_text.text((min(xs) + 1, min(ys) + max(0, (box_h - size) // 2)), text, fill=(0, 0, 0),
                           font=load_font(size))
        left = Image.blend(left, overlay, 0.5)
        canvas = Image.new("RGB", (2 * w, h), (255, 255, 255))
        canvas.paste(left, (0, 0))
        canvas.paste(right, (w, 0))
        return np.asarray(canvas)[:, :, ::-1].copy()
