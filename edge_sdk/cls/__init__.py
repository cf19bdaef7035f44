"""Text-line orientation: is a line crop upside down? (ch_ppocr_mobile_v2.0_cls)"""
from .classifier import TextClsResult, TextLineClassifier, cls_input

__all__ = ["TextClsResult", "TextLineClassifier", "cls_input"]
