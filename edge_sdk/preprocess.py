"""Shared preprocessing: one text-line image (BGR uint8) -> one normalized, right-padded CHW array.

Every backend gets exactly these arrays. The padded width is a function of the line alone
(``padded_width``), so a line's input, and so its result, never depends on which other lines share
its batch. Lines are batched only with lines of the same padded width.
"""
from __future__ import annotations

import contextlib
import math
from pathlib import Path
from typing import Iterator, Tuple, Union

import cv2
import numpy as np

from ._native_log import captured_native_output
from .errors import InputError

# Set by the CLI (a single-threaded process that owns its stderr): hide what native image decoders
# print on corrupt files, since the InputError says it in one line. Libraries leave stderr alone.
QUIET_DECODER_STDERR = False
from .zoo import Preprocess


def read_image(path: Union[str, Path]) -> np.ndarray:
    """Decode an image file to BGR uint8 (H, W, 3), with a clear error for anything unusable."""
    p = Path(path)
    if not p.exists():
        raise InputError(f"image not found: {p}")
    if p.is_dir():
        raise InputError(f"{p} is a directory, not an image file.")
    data = np.fromfile(str(p), dtype=np.uint8)  # np.fromfile + imdecode also handles non-ASCII paths
    if data.size == 0:
        raise InputError(f"image file {p} is empty (0 bytes).")
    with _opencv_quiet():  # OpenCV logs its own warnings on corrupt files; our error says it once
        if QUIET_DECODER_STDERR:
            with captured_native_output():  # libpng in OpenCV 4.x prints to fd 2 itself
                img = cv2.imdecode(data, cv2.IMREAD_UNCHANGED)
        else:
            img = cv2.imdecode(data, cv2.IMREAD_UNCHANGED)
    if img is None:
        raise InputError(f"{p} is not a readable image (corrupt, truncated, or not an image format OpenCV knows).")
    return to_bgr(img, str(p))


@contextlib.contextmanager
def _opencv_quiet() -> Iterator[None]:
    log = getattr(getattr(cv2, "utils", None), "logging", None)
    if log is None or not hasattr(log, "getLogLevel"):
        yield
        return
    level = log.getLogLevel()
    log.setLogLevel(log.LOG_LEVEL_SILENT)
    try:
        yield
    finally:
        log.setLogLevel(level)


def to_bgr(img: np.ndarray, name: str = "input array") -> np.ndarray:
    """Bring a decoded image or user array to BGR uint8 (H, W, 3)."""
    if not isinstance(img, np.ndarray):
        raise InputError(f"{name} is a {type(img).__name__}, not an image path or numpy array.")
    if img.dtype == np.uint16:  # 16-bit PNG/TIFF
        img = (img >> 8).astype(np.uint8)
    if img.dtype != np.uint8:
        raise InputError(f"{name} has dtype {img.dtype}; pass uint8 pixels (0..255) in BGR order.")
    if img.ndim == 3 and img.shape[2] == 1:
        img = img[:, :, 0]
    if img.ndim == 2:
        img = cv2.cvtColor(img, cv2.COLOR_GRAY2BGR)
    elif img.ndim == 3 and img.shape[2] == 4:
        img = cv2.cvtColor(img, cv2.COLOR_BGRA2BGR)
    elif not (img.ndim == 3 and img.shape[2] == 3):
        raise InputError(f"{name} has shape {img.shape}; expected (H, W), (H, W, 3) or (H, W, 4).")
    if img.shape[0] == 0 or img.shape[1] == 0:
        raise InputError(f"{name} has no pixels (shape {img.shape}).")
    return img


def padded_width(height: int, width: int, pp: Preprocess) -> int:
    """The input width for a line of ``height`` x ``width`` pixels: its own, never its batch's.

    The line is scaled to ``pp.height`` keeping its aspect ratio; the width is rounded up to a
    multiple of ``pp.width_step`` and clamped to ``[pp.min_width, pp.max_width]``.
    """
    natural = math.ceil(pp.height * width / float(height))
    stepped = -(-natural // pp.width_step) * pp.width_step
    return int(min(max(stepped, pp.min_width), pp.max_width))


def resize_normalize(img: np.ndarray, pp: Preprocess) -> np.ndarray:
    """BGR uint8 (H, W, 3) -> float32 (3, pp.height, padded_width) normalized and right-padded with 0."""
    h, w = img.shape[:2]
    target_w = padded_width(h, w, pp)
    resized_w = min(math.ceil(pp.height * w / float(h)), target_w)  # lines wider than max_width are squeezed
    resized = cv2.resize(img, (resized_w, pp.height), interpolation=cv2.INTER_LINEAR)
    if pp.color == "RGB":
        resized = resized[:, :, ::-1]
    out = np.zeros((3, pp.height, target_w), dtype=np.float32)
    chw = resized.transpose(2, 0, 1).astype(np.float32)
    out[:, :, :resized_w] = (chw / 255.0 - pp.mean) / pp.std
    return out


def input_spec(pp: Preprocess) -> Tuple[str, Tuple[Union[int, str], ...]]:
    """Name and shape of the model input, with dynamic axes named."""
    return "x", ("N", 3, pp.height, "W")
