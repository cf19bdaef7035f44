"""Pipelines over the task predictors: whole-image OCR (detection + orientation + recognition)."""
from .crop import crop_quad
from .ocr import OCRPipeline, create_pipeline
from .result import OCRResult

__all__ = ["OCRPipeline", "OCRResult", "create_pipeline", "crop_quad"]
