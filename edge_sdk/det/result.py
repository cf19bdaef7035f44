"""Detection results in PaddleX's shape: ``{"res": {input_path, page_index, dt_polys, dt_scores}}``."""
from __future__ import annotations

from typing import Any, Dict, Optional

import numpy as np

from ..result import Result


class TextDetResult(Result):
    """The text boxes found in one image: ``dt_polys`` (int16 [K, 4, 2], TL, TR, BR, BL, reading order)
    and ``dt_scores`` (their mean text probability). Indexable like PaddleX's results."""

    __slots__ = ("dt_polys", "dt_scores")
    KEYS = ("dt_polys", "dt_scores")

    def __init__(self, input_path: Optional[str], dt_polys: np.ndarray, dt_scores: np.ndarray,
                 input_img: Optional[np.ndarray] = None, page_index: Optional[int] = None,
                 name: Optional[str] = None) -> None:
        super().__init__(input_path, input_img, page_index, name)
        self.dt_polys = dt_polys
        self.dt_scores = dt_scores

    def __repr__(self) -> str:
        return f"TextDetResult(input_path={self.input_path!r}, boxes={len(self.dt_polys)})"

    @property
    def json(self) -> Dict[str, Dict[str, Any]]:
        return {"res": {**self._source(), "dt_polys": self.dt_polys.tolist(),
                        "dt_scores": [round(float(s), 5) for s in self.dt_scores]}}

    def to_img(self) -> np.ndarray:
        """The image with each box outlined (BGR uint8)."""
        import cv2

        img = self._image().copy()
        cv2.polylines(img, [p.astype(np.int32).reshape(-1, 1, 2) for p in self.dt_polys], True, (0, 0, 255),
                      max(1, round(max(img.shape[:2]) / 500)))
        return img
