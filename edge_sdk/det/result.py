"""Detection results in PaddleX's shape: ``{"res": {input_path, page_index, dt_polys, dt_scores}}``."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Dict, Optional, Union

import numpy as np

from ..errors import InputError
from ..limits import shown
from ..result import save_img, save_json


class TextDetResult:
    """The text boxes found in one image: ``dt_polys`` (int16 [K, 4, 2], TL, TR, BR, BL, reading order)
    and ``dt_scores`` (their mean text probability). Indexable like PaddleX's results."""

    __slots__ = ("input_path", "page_index", "dt_polys", "dt_scores", "input_img", "_name")

    def __init__(self, input_path: Optional[str], dt_polys: np.ndarray, dt_scores: np.ndarray,
                 input_img: Optional[np.ndarray] = None, page_index: Optional[int] = None,
                 name: Optional[str] = None) -> None:
        self.input_path = input_path
        self.page_index = page_index
        self.dt_polys = dt_polys
        self.dt_scores = dt_scores
        self.input_img = input_img
        self._name = shown(name or (Path(input_path).name if input_path else "array"))

    def __getitem__(self, key: str) -> Any:
        if key not in ("input_path", "page_index", "dt_polys", "dt_scores", "input_img"):
            raise KeyError(key)
        return getattr(self, key)

    def __repr__(self) -> str:
        return f"TextDetResult(input_path={self.input_path!r}, boxes={len(self.dt_polys)})"

    @property
    def name(self) -> str:
        return self._name

    @property
    def json(self) -> Dict[str, Dict[str, Any]]:
        path = shown(self.input_path) if self.input_path is not None else None
        return {"res": {"input_path": path, "page_index": self.page_index,
                        "dt_polys": self.dt_polys.tolist(), "dt_scores": [round(float(s), 5) for s in self.dt_scores]}}

    def print(self, json_format: bool = False, indent: int = 4, ensure_ascii: bool = False) -> None:
        print(json.dumps(self.json, indent=indent, ensure_ascii=ensure_ascii) if json_format else repr(self.json))

    def save_to_json(self, save_path: Union[str, Path], indent: int = 4, ensure_ascii: bool = False) -> Path:
        return save_json(self.json, self._name, save_path, indent, ensure_ascii)

    def to_img(self) -> np.ndarray:
        """The image with each box outlined (BGR uint8)."""
        import cv2

        if self.input_img is None:
            raise InputError("this result keeps no image; predict with its images kept to draw it.")
        img = self.input_img.copy()
        cv2.polylines(img, [p.astype(np.int32).reshape(-1, 1, 2) for p in self.dt_polys], True, (0, 0, 255),
                      max(1, round(max(img.shape[:2]) / 500)))
        return img

    def save_to_img(self, save_path: Union[str, Path]) -> Path:
        return save_img(self.to_img(), self._name, save_path)
