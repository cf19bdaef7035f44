"""Text recognition: text-line images -> text (CTC models: PP-OCRv3/v4/v5/v6 rec, SVTRv2, RepSVTR).

``preprocess.py`` (line resizing, padding, splitting over-wide lines), ``ctc.py`` (the dict and greedy
decoding), ``recognizer.py`` (``TextRecognizer``), ``result.py`` (``TextRecResult``). Loaded lazily: the
model directory code imports ``ctc`` alone.
"""
from typing import Any

__all__ = ["Charset", "TextRecResult", "TextRecognizer", "ctc_greedy_decode"]


def __getattr__(name: str) -> Any:
    if name in ("Charset", "ctc_greedy_decode"):
        from . import ctc
        return getattr(ctc, name)
    if name == "TextRecognizer":
        from .recognizer import TextRecognizer
        return TextRecognizer
    if name == "TextRecResult":
        from .result import TextRecResult
        return TextRecResult
    raise AttributeError(name)
