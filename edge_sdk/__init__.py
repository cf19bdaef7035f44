"""edge-sdk: PaddleOCR text recognition on small devices.

    from edge_sdk import create_model
    model = create_model("PP-OCRv4_mobile_rec")
    for res in model.predict("line.png"):
        res.print()

``create_model("PP-OCRv4_mobile_det")`` gives a text detector (``edge_sdk.det``) and
``create_model("ch_ppocr_mobile_v2.0_cls")`` a line orientation classifier (``edge_sdk.cls``);
``create_pipeline("OCR")`` reads whole images with the three (``edge_sdk.pipeline``).

``convert`` pulls in paddlepaddle and paddle2onnx, so it is imported only when called.
"""
from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

from .errors import EdgeSDKError  # noqa: E402
from .pipeline import OCRPipeline, OCRResult, create_pipeline  # noqa: E402
from .predictor import create_model  # noqa: E402
from .rec.recognizer import TextRecognizer  # noqa: E402
from .rec.result import TextRecResult  # noqa: E402
from .zoo import DEFAULT_MODEL, MODELS  # noqa: E402


def convert(*args: Any, **kwargs: Any) -> Any:
    """Convert a Paddle model to a deployable artifact; see ``converters.convert``."""
    from converters import convert as _convert

    return _convert(*args, **kwargs)


__all__ = ["DEFAULT_MODEL", "MODELS", "EdgeSDKError", "OCRPipeline", "OCRResult", "TextRecResult", "TextRecognizer",
           "convert", "create_model", "create_pipeline", "__version__"]
