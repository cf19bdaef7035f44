"""Images in: decoding files and bytes (bounded: ``limits``), and bringing user arrays to BGR uint8.

Every task (recognition, detection, orientation) reads its inputs through here.
"""
from __future__ import annotations

import contextlib
import io
from pathlib import Path
from typing import BinaryIO, Iterator, Optional, Tuple, Union

import cv2
import numpy as np

from . import limits
from ._native_log import captured_native_output
from .errors import InputError

# Set by the CLI (a single-threaded process that owns its stderr): hide what native image decoders
# print on corrupt files, since the InputError says it in one line. Libraries leave stderr alone.
QUIET_DECODER_STDERR = False


def read_image(path: Union[str, Path], max_pixels: Optional[int] = None) -> np.ndarray:
    """Decode an image file to BGR uint8 (H, W, 3), with a clear error for anything unusable.

    Bounded: only regular files (a FIFO would block forever), at most ``limits.max_image_bytes()`` on disk,
    and at most ``max_pixels`` (default ``limits.max_pixels()``) decoded pixels, checked from the header
    before anything is decoded.
    """
    p = Path(path)
    return decode_image(limits.read_file_bounded(p, limits.max_image_bytes(), "image", InputError),
                        limits.shown(p), max_pixels, "image file ")


def decode_image(data: bytes, name: str = "image", max_pixels: Optional[int] = None, what: str = "") -> np.ndarray:
    """Decode encoded image bytes (a file's, an upload's) to BGR uint8 (H, W, 3), bounded like ``read_image``:
    at most ``max_pixels`` decoded pixels, checked from the header before anything is decoded."""
    buf = np.frombuffer(data, dtype=np.uint8)
    if buf.size == 0:
        raise InputError(f"{what}{name} is empty (0 bytes).")
    cap = limits.max_pixels(max_pixels)
    parsed = _parsed_size(io.BytesIO(data))  # PNG, JPEG, BMP: <1 us, where PIL's header read takes ~70
    if parsed is None or parsed[0] * parsed[1] > cap:
        # Another format, or over the cap by a header this module does not validate (a corrupt BMP's
        # random bytes read as a huge size): PIL reads the header, and says whether it is one.
        size = _header_size(buf)
        if size is not None and max(size[0] * size[1], size[0] if size[1] == 0 else 0) > cap:
            raise InputError(_too_many_pixels(name, size, cap))
    with _opencv_quiet():  # OpenCV logs its own warnings on corrupt files; our error says it once
        if QUIET_DECODER_STDERR:
            with captured_native_output():  # libpng in OpenCV 4.x prints to fd 2 itself
                img = _imdecode(buf)
        else:
            img = _imdecode(buf)
    if img is None:
        raise InputError(
            f"{name} is not a readable image (corrupt, truncated, or not an image format OpenCV knows)."
        )
    if img.shape[0] * img.shape[1] > cap:  # a format whose header PIL could not read
        raise InputError(_too_many_pixels(name, (img.shape[1], img.shape[0]), cap))
    return to_bgr(img, name)


def file_size_hint(path: Union[str, Path]) -> Optional[Tuple[int, int]]:
    """(height, width) of an image file from its header, without decoding it; None when it cannot tell.

    A hint for planning only (``predict`` orders lines by width with it): ``read_image`` still decides
    what the file is. Regular files only (opening a FIFO would block). PNG, JPEG and BMP headers are
    parsed here (a few small reads: ~10 us a file, against ~80 us through PIL); other formats go to PIL.
    """
    import os
    import stat
    import warnings

    try:
        if not stat.S_ISREG(os.stat(path).st_mode):
            return None
        with open(path, "rb") as f:
            size = _parsed_size(f)
            if size is None:
                from PIL import Image  # only here: importing it costs a process 2 MB of RSS

                f.seek(0)
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")  # DecompressionBombWarning: read_image's own cap decides
                    with Image.open(f) as im:  # reads the header only
                        size = int(im.size[1]), int(im.size[0])
    except Exception:
        return None
    return size if size[0] > 0 and size[1] > 0 else None


_JPEG_SOF = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}


def _parsed_size(f: BinaryIO) -> Optional[Tuple[int, int]]:
    """(height, width) from a PNG, JPEG or BMP header; None for other formats or anything unexpected."""
    head = f.read(26)
    if head[:8] == b"\x89PNG\r\n\x1a\n" and head[12:16] == b"IHDR" and len(head) >= 24:
        return int.from_bytes(head[20:24], "big"), int.from_bytes(head[16:20], "big")
    if head[:2] == b"BM" and len(head) >= 26:
        return abs(int.from_bytes(head[22:26], "little", signed=True)), int.from_bytes(head[18:22], "little", signed=True)
    if head[:2] != b"\xff\xd8":
        return None
    f.seek(2)
    for _ in range(64):  # markers before the frame header: APPn, DQT, DHT, COM ...
        marker = f.read(4)
        if len(marker) < 4 or marker[0] != 0xFF:
            return None
        length = int.from_bytes(marker[2:4], "big")
        if marker[1] in _JPEG_SOF:
            frame = f.read(5)
            return (int.from_bytes(frame[1:3], "big"), int.from_bytes(frame[3:5], "big")) if len(frame) == 5 else None
        if length < 2:
            return None
        f.seek(length - 2, 1)
    return None


def _imdecode(data: np.ndarray) -> Optional[np.ndarray]:
    try:
        return cv2.imdecode(data, cv2.IMREAD_UNCHANGED)
    except cv2.error:  # OpenCV's own size limit and some decoder failures raise instead of returning None
        return None


def _too_many_pixels(name: str, size: Tuple[int, int], cap: int) -> str:
    """``size`` is (width, height), or (total, 0) when only the pixel count is known."""
    total = size[0] * size[1] if size[1] else size[0]
    dims = f"{size[0]} x {size[1]} pixels ({total / 1e6:.0f} MP)" if size[1] else f"{total / 1e6:.0f} MP"
    return (f"{name} is {dims}, over the {cap / 1e6:.0f} MP limit; crop or downscale it, or raise "
            "EDGE_SDK_MAX_PIXELS / max_pixels.")


def _header_size(data: np.ndarray) -> Optional[Tuple[int, int]]:
    """(width, height) from the image header without decoding the pixels; None when PIL cannot tell."""
    import warnings

    from PIL import Image

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # DecompressionBombWarning: our own cap decides
            with Image.open(io.BytesIO(data.tobytes())) as im:
                return int(im.size[0]), int(im.size[1])
    except Image.DecompressionBombError as exc:  # over twice PIL's own cap: read the size from the message
        import re

        m = re.search(r"\((\d+) pixels", str(exc))
        return (int(m.group(1)) if m else 1 << 31, 0)  # only the total is known: width x 0 says so
    except Exception:  # not a format PIL reads (or a corrupt header): OpenCV decides
        return None


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
    if img.ndim not in (2, 3):
        raise InputError(f"{name} has shape {img.shape}; expected (H, W), (H, W, 3) or (H, W, 4).")
    if img.size == 0:
        raise InputError(f"{name} has no pixels (shape {img.shape}).")
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
