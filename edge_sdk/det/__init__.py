"""Text detection: whole images -> text boxes (DB models: PP-OCRv4/v5/v6 det)."""
from .detector import TextDetector
from .postprocess import boxes_from_map, order_quad, quad_iou, reading_order
from .preprocess import det_input, det_input_size
from .result import TextDetResult

__all__ = ["TextDetResult", "TextDetector", "boxes_from_map", "det_input", "det_input_size", "order_quad",
           "quad_iou", "reading_order"]
