"""Whole-image OCR: text detection -> reading order -> straightened crops -> (orientation) -> recognition.

PaddleX's general OCR pipeline, on any backend: each stage is a predictor (``edge_sdk.det``, ``.cls``,
``.recognizer``) with the shared pre/post-processing, loaded on the backend ``auto`` picks for it (or the
one asked for). The crops of one image are recognized together, batched by padded width, so a line's
text never depends on its batch mates.
"""
from __future__ import annotations

import logging
from pathlib import Path
from dataclasses import dataclass
from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple, Union

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


def _score_thresh(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value <= 1.0:
        raise InputError(f"text_rec_score_thresh must be a number from 0 to 1, not {value!r}.")
    return float(value)


@dataclass(frozen=True)
class OCRSettings:
    """One call's checked pipeline settings (``OCRPipeline.settings``)."""

    det: DetParams
    text_rec_score_thresh: float
    use_textline_orientation: bool


class OCRPipeline:
    """Detection + optional line orientation + recognition over whole images.

    Build it with ``edge_sdk.create_pipeline("OCR", ...)``. Shared by threads like its predictors: a call
    keeps its state in its own variables; per-call settings are arguments.
    """

    def __init__(self, det: TextDetector, rec: TextRecognizer, cls: Optional[TextLineClassifier] = None,
                 text_rec_score_thresh: float = 0.0, rec_batch_size: int = 6) -> None:
        self.det, self.rec, self.cls = det, rec, cls
        self.text_rec_score_thresh = _score_thresh(text_rec_score_thresh)
        self.rec_batch_size = check_int("rec_batch_size", rec_batch_size, 1, MAX_BATCH_SIZE)

    def settings(self, text_rec_score_thresh: Optional[float] = None, use_textline_orientation: Optional[bool] = None,
                 **det_settings: Any) -> "OCRSettings":
        """The pipeline's settings with per-call overrides (PaddleX's names) applied and checked: the
        detection settings (``TextDetector.settings``), the score below which a text is dropped, and
        whether to use the orientation stage (only if the pipeline has one)."""
        thresh = self.text_rec_score_thresh if text_rec_score_thresh is None else _score_thresh(text_rec_score_thresh)
        if use_textline_orientation is None:
            use_textline_orientation = self.cls is not None
        elif not isinstance(use_textline_orientation, bool):
            raise InputError(f"use_textline_orientation must be true or false, not {use_textline_orientation!r}.")
        elif use_textline_orientation and self.cls is None:
            raise InputError("use_textline_orientation: this pipeline was built without a line orientation model.")
        return OCRSettings(self.det.settings(**det_settings), thresh, use_textline_orientation)

    def ocr(self, image: np.ndarray, **settings: Any) -> Dict[str, Any]:
        """PaddleX's OCR result fields for one BGR image (``settings``: as ``settings``)."""
        return self.ocr_batch([image], [self.settings(**settings)])[0]

    def ocr_batch(self, images: Sequence[np.ndarray], settings: Sequence["OCRSettings"]) -> List[Dict[str, Any]]:
        """``ocr`` for several images, each with its own checked settings: detection runs image by image,
        orientation and recognition run once over the crops of all of them (a server batches concurrent
        requests this way). Every image's result is the one ``ocr`` gives it alone."""
        found = [self.det.detect_with(image, s.det)[0] for image, s in zip(images, settings)]
        crops = [[crop_quad(image, q) for q in boxes] for image, boxes in zip(images, found)]
        angles: List[List[int]] = [[-1] * len(c) for c in crops]
        turn = [i for i, s in enumerate(settings) if s.use_textline_orientation and crops[i]]
        if self.cls is not None and turn:
            upright, flips = self.cls.upright([c for i in turn for c in crops[i]])
            for i in turn:
                crops[i], upright = upright[:len(crops[i])], upright[len(crops[i]):]
                angles[i], flips = flips[:len(angles[i])], flips[len(angles[i]):]
        flat = [c for image_crops in crops for c in image_crops]
        texts = self.rec.recognize(flat, self.rec_batch_size) if flat else []
        out, at = [], 0
        for boxes, a, s in zip(found, angles, settings):
            out.append(self._result(boxes, a, texts[at:at + len(boxes)], s))
            at += len(boxes)
        return out

    def _result(self, boxes: np.ndarray, angles: List[int], texts: List[Tuple[str, float]],
                s: "OCRSettings") -> Dict[str, Any]:
        keep = [i for i, (_, score) in enumerate(texts) if score >= s.text_rec_score_thresh]
        rec_polys = boxes[keep] if len(boxes) else boxes
        rec_boxes = (np.concatenate([rec_polys.min(1), rec_polys.max(1)], axis=1).astype(np.int16)
                     if len(rec_polys) else np.zeros((0, 4), np.int16))
        p = s.det
        out: Dict[str, Any] = {
            "input_path": None, "page_index": None,
            "model_settings": {"use_doc_preprocessor": False, "use_textline_orientation": s.use_textline_orientation},
            "dt_polys": boxes,
            "text_det_params": {"limit_side_len": p.limit_side_len, "limit_type": p.limit_type,
                                "thresh": p.thresh, "max_side_limit": p.max_side_limit,
                                "box_thresh": p.box_thresh, "unclip_ratio": p.unclip_ratio},
            "text_type": "general",
        }
        if len(boxes):  # -1 each without orientation; PaddleX leaves the key out when an image has no box
            out["textline_orientation_angles"] = angles
        out.update({
            "text_rec_score_thresh": s.text_rec_score_thresh, "return_word_box": False,
            "rec_texts": [texts[i][0] for i in keep], "rec_scores": [round(texts[i][1], 5) for i in keep],
            "rec_polys": rec_polys, "rec_boxes": rec_boxes,
        })
        return out

    def predict(self, inputs: InputLike, on_error: str = "stop", **settings: Any) -> Iterator[OCRResult]:
        """OCR each input image (paths, folders, arrays: as ``TextRecognizer.predict``); ``settings`` as
        ``settings``."""
        check_choice("on_error", on_error, ON_ERROR)
        checked = self.settings(**settings)  # bad settings fail before any input is read
        for item, image in iter_loaded(inputs, on_error, log):
            data = self.ocr_batch([image], [checked])[0]
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
    """PaddleX-style ``create_pipeline("OCR")``: each stage a zoo name, a Paddle inference dir, a
    converted artifact (each loaded on ``backend``; ``auto``: the best one for its own format and this
    device), or a predictor already loaded (``create_model(...)``), used as it is. ``cls=None`` or
    ``use_textline_orientation=False`` leaves orientation out.

    Example:
        >>> ocr = create_pipeline("OCR")
        >>> for res in ocr.predict("shelf.jpg"):
        ...     res.save_to_img("out/")
    """
    check_choice("pipeline", pipeline, PIPELINES)
    opts = dict(backend=backend, threads=threads, device=device, cache_dir=cache_dir)

    def load(ref: Any, task: str, cls_: Any) -> Any:
        if isinstance(ref, cls_):  # a predictor loaded by the caller (its own backend options)
            return ref
        md = resolve(str(ref))
        if md.task != task:
            raise ModelFormatError(f"{ref} is a {md.task} model; the OCR pipeline's {task} stage needs a {task} model.")
        return cls_(md, **opts)

    return OCRPipeline(load(det, "det", TextDetector), load(rec, "rec", TextRecognizer),
                       load(cls, "cls", TextLineClassifier) if cls is not None and use_textline_orientation else None,
                       text_rec_score_thresh, rec_batch_size)
