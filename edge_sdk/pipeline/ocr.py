"""Whole-image OCR: text detection -> reading order -> straightened crops -> (orientation) -> recognition.

PaddleX's general OCR pipeline, on any backend: each stage is a predictor (``edge_sdk.det``, ``.cls``,
``.recognizer``) with the shared pre/post-processing, loaded on the backend ``auto`` picks for it (or the
one asked for). The crops of one image are recognized together, batched by padded width, so a line's
text never depends on its batch mates.
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Union

import numpy as np

from ..cls import TextLineClassifier
from ..det import TextDetector
from ..errors import InputError, ModelFormatError
from ..hub import resolve
from ..inputs import InputLike, iter_loaded
from ..options import MAX_BATCH_SIZE, ON_ERROR, check_choice, check_int
from ..rec.recognizer import TextRecognizer
from ..zoo import DEFAULT_CLS_MODEL, DEFAULT_DET_MODEL, DEFAULT_MODEL, DetParams
from .crop import crop_quad
from .result import OCRResult

log = logging.getLogger("edge_sdk.pipeline")

ModelRef = Union[str, Path]


class OCRPipeline:
    """Detection + optional line orientation + recognition over whole images.

    Build it with ``edge_sdk.create_pipeline("OCR", ...)``. Shared by threads like its predictors: a call
    keeps its state in its own variables; per-call settings are arguments.
    """

    def __init__(self, det: TextDetector, rec: TextRecognizer, cls: Optional[TextLineClassifier] = None,
                 text_rec_score_thresh: float = 0.0, rec_batch_size: int = 6) -> None:
        self.det, self.rec, self.cls = det, rec, cls
        if isinstance(text_rec_score_thresh, bool) or not isinstance(text_rec_score_thresh, (int, float)) \
                or not 0.0 <= text_rec_score_thresh <= 1.0:
            raise InputError(f"text_rec_score_thresh must be a number from 0 to 1, not {text_rec_score_thresh!r}.")
        self.text_rec_score_thresh = float(text_rec_score_thresh)
        self.rec_batch_size = check_int("rec_batch_size", rec_batch_size, 1, MAX_BATCH_SIZE)

    def ocr(self, image: np.ndarray, **det_settings: Any) -> Dict[str, Any]:
        """PaddleX's OCR result fields for one BGR image (``det_settings``: ``TextDetector.detect``'s)."""
        return self._ocr(image, self.det.settings(**det_settings))

    def _ocr(self, image: np.ndarray, params: DetParams) -> Dict[str, Any]:
        boxes, _ = self.det.detect_with(image, params)
        crops = [crop_quad(image, q) for q in boxes]
        angles: List[int] = [-1] * len(crops)
        if self.cls is not None and crops:
            crops, angles = self.cls.upright(crops)
        texts = self.rec.recognize(crops, self.rec_batch_size) if crops else []
        keep = [i for i, (_, score) in enumerate(texts) if score >= self.text_rec_score_thresh]
        rec_polys = boxes[keep] if len(boxes) else boxes
        rec_boxes = (np.concatenate([rec_polys.min(1), rec_polys.max(1)], axis=1).astype(np.int16)
                     if len(rec_polys) else np.zeros((0, 4), np.int16))
        out: Dict[str, Any] = {
            "input_path": None, "page_index": None,
            "model_settings": {"use_doc_preprocessor": False, "use_textline_orientation": self.cls is not None},
            "dt_polys": boxes,
            "text_det_params": {"limit_side_len": params.limit_side_len, "limit_type": params.limit_type,
                                "thresh": params.thresh, "max_side_limit": params.max_side_limit,
                                "box_thresh": params.box_thresh, "unclip_ratio": params.unclip_ratio},
            "text_type": "general",
        }
        if len(boxes):  # PaddleX leaves the key out when an image has no box
            out["textline_orientation_angles"] = angles
        out.update({
            "text_rec_score_thresh": self.text_rec_score_thresh, "return_word_box": False,
            "rec_texts": [texts[i][0] for i in keep], "rec_scores": [round(texts[i][1], 5) for i in keep],
            "rec_polys": rec_polys, "rec_boxes": rec_boxes,
        })
        return out

    def predict(self, inputs: InputLike, on_error: str = "stop", **det_settings: Any) -> Iterator[OCRResult]:
        """OCR each input image (paths, folders, arrays: as ``TextRecognizer.predict``)."""
        check_choice("on_error", on_error, ON_ERROR)
        params = self.det.settings(**det_settings)  # bad settings fail before any input is read
        for item, image in iter_loaded(inputs, on_error, log):
            data = self._ocr(image, params)
            data["input_path"] = item.input_path
            yield OCRResult(item.input_path, data, image, item.name)

    __call__ = predict

    def describe(self) -> Dict[str, object]:
        return {"det": self.det.describe(), "cls": self.cls.describe() if self.cls else None,
                "rec": self.rec.describe()}


PIPELINES = ("OCR",)


def create_pipeline(pipeline: str = "OCR", det: ModelRef = DEFAULT_DET_MODEL, rec: ModelRef = DEFAULT_MODEL,
                    cls: Optional[ModelRef] = DEFAULT_CLS_MODEL, use_textline_orientation: bool = True,
                    backend: str = "auto", threads: int = 0, device: str = "auto",
                    text_rec_score_thresh: float = 0.0, rec_batch_size: int = 6,
                    cache_dir: Optional[Union[str, Path]] = "auto") -> OCRPipeline:
    """PaddleX-style ``create_pipeline("OCR")``: each stage a zoo name, a Paddle inference dir or a
    converted artifact, each loaded on ``backend`` (``auto``: the best one for its own format and this
    device). ``cls=None`` or ``use_textline_orientation=False`` leaves orientation out.

    Example:
        >>> ocr = create_pipeline("OCR")
        >>> for res in ocr.predict("shelf.jpg"):
        ...     res.save_to_img("out/")
    """
    check_choice("pipeline", pipeline, PIPELINES)
    opts = dict(backend=backend, threads=threads, device=device, cache_dir=cache_dir)

    def load(ref: ModelRef, task: str, cls_: Any) -> Any:
        md = resolve(str(ref))
        if md.task != task:
            raise ModelFormatError(f"{ref} is a {md.task} model; the OCR pipeline's {task} stage needs a {task} model.")
        return cls_(md, **opts)

    return OCRPipeline(load(det, "det", TextDetector), load(rec, "rec", TextRecognizer),
                       load(cls, "cls", TextLineClassifier) if cls is not None and use_textline_orientation else None,
                       text_rec_score_thresh, rec_batch_size)
