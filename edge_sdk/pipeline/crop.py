"""Text boxes -> upright line crops, as PaddleX's OCR pipeline cuts them (``CropByPolys``, quad boxes).

Each box is fitted with its minimum-area rectangle, warped to a straight crop as wide as its longer
horizontal edge and as high as its longer vertical edge (bicubic, edges replicated), and a crop at least
1.5 times as high as wide is turned 90 degrees counter-clockwise: a vertical line reads left to right then.
"""
from __future__ import annotations

import cv2
import numpy as np

from ..det.postprocess import order_quad

TALL = 1.5  # a crop this many times higher than wide is a vertical line


def crop_quad(image: np.ndarray, quad: np.ndarray) -> np.ndarray:
    """The straightened crop of ``image`` (BGR) under ``quad`` (4 x 2 points, any order)."""
    rect = order_quad(cv2.boxPoints(cv2.minAreaRect(np.asarray(quad, np.int32))))
    w = int(max(np.linalg.norm(rect[0] - rect[1]), np.linalg.norm(rect[2] - rect[3])))
    h = int(max(np.linalg.norm(rect[0] - rect[3]), np.linalg.norm(rect[1] - rect[2])))
    w, h = max(w, 1), max(h, 1)
    target = np.float32([[0, 0], [w, 0], [w, h], [0, h]])
    crop = cv2.warpPerspective(image, cv2.getPerspectiveTransform(rect, target), (w, h),
                               borderMode=cv2.BORDER_REPLICATE, flags=cv2.INTER_CUBIC)
    return np.rot90(crop).copy() if h / w >= TALL else crop
