"""PaddleX serving's wire format, as its OCR app (paddlex 3.7, ``paddlex --serve --pipeline OCR``) speaks it.

Request: a JSON object, ``file`` (base64 of the image) and ``fileType`` (1 image, 0 PDF, null: sniffed),
plus the inference parameters PaddleX's OCR app takes in camelCase (null: the server's default).
Response: the envelope ``{logId, result, errorCode, errorMsg}``, ``errorCode`` 0 on success and the HTTP
status on errors; ``result.ocrResults[i].prunedResult`` is the OCR result without ``input_path`` and
``page_index``, ``ocrImage``/``inputImage`` base64 JPEGs when ``visualize`` (PaddleX's default: on).

Where this server differs, it refuses in one sentence (422) instead of doing something else: URLs are not
fetched (a kiosk server reads only what it is sent), PDFs and the document preprocessor are not offered.
``POST /text-recognition`` is the recognition-only endpoint in the same style (one cropped line in,
``result.recResults[0].prunedResult`` = ``{rec_text, rec_score}`` out).
"""
from __future__ import annotations

import base64
import binascii
import json
import uuid
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional

import cv2
import numpy as np

# camelCase request field -> the pipeline's setting (OCRPipeline.settings)
OCR_PARAMS = {
    "useTextlineOrientation": ("use_textline_orientation", bool),
    "textDetLimitSideLen": ("limit_side_len", int),
    "textDetLimitType": ("limit_type", str),
    "textDetThresh": ("thresh", float),
    "textDetBoxThresh": ("box_thresh", float),
    "textDetUnclipRatio": ("unclip_ratio", float),
    "textRecScoreThresh": ("text_rec_score_thresh", float),
}
# accepted when false or null; this server has no document preprocessor and no word boxes
NOT_OFFERED = ("useDocOrientationClassify", "useDocUnwarping", "returnWordBox")
MAX_VISUAL_SIDE = 2000  # PaddleX scales result images down to fit 2000 x 2000


class ApiError(Exception):
    """A request this server answers with an error envelope (``status`` is also its ``errorCode``)."""

    def __init__(self, status: int, message: str, log_id: Optional[str] = None) -> None:
        super().__init__(message)
        self.status, self.message, self.log_id = status, message, log_id


@dataclass
class Request:
    """A parsed PaddleX-style request."""

    log_id: str
    image: bytes = b""
    settings: Dict[str, Any] = field(default_factory=dict)
    visualize: Optional[bool] = None


def new_log_id() -> str:
    return str(uuid.uuid4())


def _invalid(loc: str, msg: str, kind: str = "value_error") -> ApiError:
    # PaddleX puts pydantic's error list, as a JSON string, in errorMsg
    return ApiError(422, json.dumps([{"type": kind, "loc": f"body.{loc}", "msg": msg}]))


def _typed(body: Dict[str, Any], key: str, kind: type) -> Any:
    value = body.get(key)
    if value is None:
        return None
    ok = isinstance(value, bool) if kind is bool else (
        isinstance(value, (int, float)) and not isinstance(value, bool) and (kind is float or float(value).is_integer())
        if kind in (int, float) else isinstance(value, kind))
    if not ok:
        raise _invalid(key, f"Input should be a valid {kind.__name__}", f"{kind.__name__}_type")
    return int(value) if kind is int else value


def parse_request(raw: bytes, ocr: bool) -> Request:
    """Parse a JSON body for ``/ocr`` (``ocr=True``) or ``/text-recognition``; ``ApiError`` if it is not one."""
    try:
        body = json.loads(raw or b"null")
    except (ValueError, UnicodeDecodeError):
        raise _invalid("", "JSON decode error", "json_invalid") from None
    if not isinstance(body, dict):
        raise _invalid("", "Input should be a valid dictionary or object", "model_attributes_type")
    log_id = body.get("logId") if isinstance(body.get("logId"), str) else new_log_id()
    try:
        req = Request(log_id)
        file = body.get("file")
        if file is None:
            raise _invalid("file", "Field required", "missing")
        if not isinstance(file, str):
            raise _invalid("file", "Input should be a valid string", "string_type")
        file_type = body.get("fileType")
        if file_type not in (None, 0, 1) or isinstance(file_type, bool):
            raise _invalid("fileType", "Input should be 0 or 1", "literal_error")
        if file_type == 0:
            raise ApiError(422, "PDF input is not offered by this server; send each page as an image (fileType 1).")
        if file.startswith(("http://", "https://")):
            raise ApiError(422, "this server does not fetch URLs; send the file itself, base64-encoded.")
        try:
            req.image = base64.b64decode(file, validate=True)
        except (binascii.Error, ValueError):
            raise ApiError(422, "Invalid input file: `file` is not base64.") from None
        if ocr:
            for key, (name, kind) in OCR_PARAMS.items():
                value = _typed(body, key, kind)
                if value is not None:
                    req.settings[name] = value
            for key in NOT_OFFERED:
                if _typed(body, key, bool):
                    raise ApiError(422, f"{key} is not offered by this server (no document preprocessing or word "
                                        "boxes); leave it false or out.")
        req.visualize = _typed(body, "visualize", bool)
    except ApiError as exc:
        exc.log_id = log_id  # the client's logId comes back with the error too
        raise
    return req


def envelope(log_id: str, result: Optional[Dict[str, Any]] = None, status: int = 0,
             message: str = "Success") -> Dict[str, Any]:
    """PaddleX's response envelope: ``result`` only on success; ``errorCode`` 0 or the HTTP status."""
    out: Dict[str, Any] = {"logId": log_id}
    if result is not None:
        out["result"] = result
    out.update({"errorCode": status, "errorMsg": message})
    return out


def jpeg_base64(img: np.ndarray) -> str:
    """A result image as PaddleX sends it: scaled to fit 2000 x 2000, JPEG, plain base64."""
    h, w = img.shape[:2]
    scale = min(1.0, MAX_VISUAL_SIDE / max(h, w))
    if scale < 1.0:
        img = cv2.resize(img, (max(1, int(w * scale)), max(1, int(h * scale))), interpolation=cv2.INTER_AREA)
    ok, buf = cv2.imencode(".jpg", img)
    return base64.b64encode(buf.tobytes()).decode("ascii")


def data_info(image: np.ndarray) -> Dict[str, Any]:
    return {"width": int(image.shape[1]), "height": int(image.shape[0]), "type": "image"}


def ocr_result(pruned: Dict[str, Any], image: np.ndarray, visual: Optional[np.ndarray]) -> Dict[str, Any]:
    """``result`` of ``/ocr``: one page's pruned result, with the drawn and input images when ``visual``."""
    page: Dict[str, Any] = {"prunedResult": pruned}
    if visual is not None:
        page["ocrImage"] = jpeg_base64(visual)
        page["inputImage"] = jpeg_base64(image)
    return {"ocrResults": [page], "dataInfo": data_info(image)}


def rec_result(texts: List[Any], image: np.ndarray) -> Dict[str, Any]:
    """``result`` of ``/text-recognition``: the line's text and score as the recognition module's result."""
    text, score = texts[0]
    return {"recResults": [{"prunedResult": {"rec_text": text, "rec_score": float(score)}}],
            "dataInfo": data_info(image)}


def pruned(result_json: Dict[str, Any]) -> Dict[str, Any]:
    """An OCR result's JSON without ``input_path`` and ``page_index``, as PaddleX prunes it."""
    return {k: v for k, v in result_json.items() if k not in ("input_path", "page_index")}
