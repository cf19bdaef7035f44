"""rapidocr_api's wire format (``rapidocr_api`` 0.2, ``POST /ocr`` with form fields), as its clients use it.

Request: multipart or url-encoded form with ``image_file`` (an upload; wins when both are sent) or
``image_data`` (base64 of the image), and the flags ``use_det``, ``use_cls``, ``use_rec``.
Response: ``{"0": {"rec_txt": str, "dt_boxes": [[x, y] x 4] floats, "score": float (5 decimals)}, "1": ...}``
in reading order, ``{}`` when no text is found; errors as FastAPI's ``{"detail": ...}``.

Flags: ``use_det=false`` recognizes the whole image as one line (its box is the image's rectangle), the
recognition-only use; ``use_cls`` switches line orientation when the server has it (ignored otherwise, as
RapidOCR clients send it by default); ``use_rec=false`` is refused (rapidocr_api itself fails on it).
Unlike rapidocr_api, a request's flags apply to that request only.
"""
from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Tuple

import numpy as np

TRUE = ("1", "true", "t", "yes", "y", "on")
FALSE = ("0", "false", "f", "no", "n", "off")


class FormError(Exception):
    """A form this server answers with ``{"detail": message}`` and ``status``."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message


@dataclass
class Request:
    image: bytes
    use_det: bool = True
    use_cls: Optional[bool] = None
    use_rec: bool = True


def _flag(form: Any, key: str) -> Optional[bool]:
    value = form.get(key)
    if value is None or value == "":
        return None
    if not isinstance(value, str) or value.strip().lower() not in TRUE + FALSE:
        raise FormError(422, f"{key} must be true or false, not {str(value)[:40]!r}.")
    return value.strip().lower() in TRUE


async def parse_form(form: Any) -> Request:
    """Parse a Starlette form (``await request.form()``)."""
    upload = form.get("image_file")
    if upload is not None and not isinstance(upload, str):
        image = await upload.read()
    elif form.get("image_data"):
        try:
            image = base64.b64decode(form.get("image_data"), validate=True)
        except (binascii.Error, ValueError, TypeError):
            raise FormError(400, "image_data is not base64.") from None
    else:
        raise FormError(400, "send the image as image_file (an upload) or image_data (base64).")
    req = Request(image, _flag(form, "use_det") is not False, _flag(form, "use_cls"), _flag(form, "use_rec") is not False)
    if not req.use_rec:
        raise FormError(400, "use_rec=false is not offered: this server returns recognized text.")
    return req


def response(boxes: List[Any], texts: List[Tuple[str, float]]) -> Dict[str, Dict[str, Any]]:
    """The answer: one entry per kept line, keyed "0", "1", ... in reading order."""
    return {str(i): {"rec_txt": text, "dt_boxes": np.asarray(box, dtype=float).tolist(), "score": round(float(score), 5)}
            for i, (box, (text, score)) in enumerate(zip(boxes, texts))}


def whole_image_box(image: np.ndarray) -> List[List[float]]:
    h, w = image.shape[:2]
    return [[0.0, 0.0], [float(w), 0.0], [float(w), float(h)], [0.0, float(h)]]
