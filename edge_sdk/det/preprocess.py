"""A whole image -> the text detector's input (PaddleX's ``DetResizeForTest`` + ``NormalizeImage``).

Sides are scaled so the short side reaches ``limit_side_len`` (``limit_type`` "min": up-scaling only) or
the long side stays within it ("max": down-scaling only), then capped at ``max_side_limit`` and rounded
to multiples of 32 (at least 32): DB's feature pyramid halves the image five times.
"""
from __future__ import annotations

from typing import Tuple

import cv2
import numpy as np

from ..zoo import DetParams

STRIDE = 32


def det_input_size(h: int, w: int, det: DetParams) -> Tuple[int, int]:
    """The (height, width) an ``h`` x ``w`` image is resized to."""
    if det.limit_type == "max":
        ratio = det.limit_side_len / max(h, w) if max(h, w) > det.limit_side_len else 1.0
    else:
        ratio = det.limit_side_len / min(h, w) if min(h, w) < det.limit_side_len else 1.0
    rh, rw = int(h * ratio), int(w * ratio)
    if max(rh, rw) > det.max_side_limit:
        cap = det.max_side_limit / max(rh, rw)
        rh, rw = int(rh * cap), int(rw * cap)
    return max(int(round(rh / STRIDE) * STRIDE), STRIDE), max(int(round(rw / STRIDE) * STRIDE), STRIDE)


def det_input(image: np.ndarray, det: DetParams) -> Tuple[np.ndarray, Tuple[int, int]]:
    """``image`` (BGR uint8, H x W x 3) as a float32 [1, 3, H', W'] detector input, and the (height, width)
    the map stands for (the image's, or the padded size of a tiny image; boxes are clipped to the image)."""
    h, w = image.shape[:2]
    if h + w < 64:  # tiny images are padded (bottom/right) to 32 x 32 before resizing, as PaddleX does
        padded = np.zeros((max(h, 32), max(w, 32), 3), np.uint8)
        padded[:h, :w] = image
        image = padded
        h, w = image.shape[:2]
    rh, rw = det_input_size(h, w, det)
    resized = image if (rh, rw) == (h, w) else cv2.resize(image, (rw, rh))
    scale = np.float32(1 / 255) / np.asarray(det.std, np.float32)
    shift = -np.asarray(det.mean, np.float32) / np.asarray(det.std, np.float32)
    x = resized.astype(np.float32) * scale + shift  # mean/std in the image's B, G, R channel order
    return x.transpose(2, 0, 1)[None].copy(), (h, w)
