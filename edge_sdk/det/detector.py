"""The text detector: a whole image -> shared resizing -> a runtime session -> shared DB post-processing."""
from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, Iterator, Optional, Tuple, Union

import numpy as np

from ..errors import InputError, ModelFormatError
from ..inputs import InputLike, iter_loaded
from ..model_dir import ModelDir
from ..options import ON_ERROR, check_choice
from ..predictor import Predictor
from ..precision import DEFAULT_MAX_ACC_LOSS
from ..images import to_bgr
from ..zoo import DetParams
from .postprocess import boxes_from_map, reading_order
from .preprocess import det_input
from .result import TextDetResult

# what a caller may change per call, and the range each may take (PaddleX's predict() arguments)
OVERRIDES = {"limit_side_len": (1, 10000), "thresh": (0.0, 1.0), "box_thresh": (0.0, 1.0),
             "unclip_ratio": (0.0, 10.0), "max_side_limit": (32, 10000)}


class TextDetector(Predictor):
    """A loaded text-detection model (DB: PP-OCRv4/v5/v6 det). Build it with ``edge_sdk.create_model``.

    Shared by threads like every predictor: ``detect``/``predict`` keep no state between calls; per-call
    settings are arguments, never written to the detector.
    """

    TASK = "det"
    ROLE = "detector"

    def __init__(self, model: ModelDir, backend: str = "auto", threads: int = 0, device: str = "auto",
                 precision: str = "f32", cache_dir: Optional[Union[str, Path]] = "auto",
                 optimize_graph: bool = True, max_acc_loss: float = DEFAULT_MAX_ACC_LOSS) -> None:
        super().__init__(model, backend, threads, device, precision, cache_dir, optimize_graph, max_acc_loss)
        self.params = model.det
        probe = self.session.run(np.zeros((1, 3, 64, 64), np.float32))  # a warm-up that checks the output
        if probe.ndim != 4 or probe.shape[1] != 1 or probe.shape[2:] != (64, 64):
            raise ModelFormatError(f"{model.model_file.name} outputs shape {list(probe.shape)} for a 64 x 64 image; "
                                   "a DB text detector outputs [N, 1, H, W].")

    def settings(self, **overrides: Any) -> DetParams:
        """The model's detection settings with ``overrides`` (PaddleX's names) applied and checked."""
        given = {k: v for k, v in overrides.items() if v is not None}
        for key, value in given.items():
            if key == "limit_type":
                check_choice("limit_type", value, ("min", "max"))
                continue
            if key not in OVERRIDES:
                raise InputError(f"unknown detection setting {key!r}; use {', '.join(['limit_type', *OVERRIDES])}.")
            lo, hi = OVERRIDES[key]
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not lo <= value <= hi:
                raise InputError(f"{key} must be a number from {lo:g} to {hi:g}, not {value!r}.")
        return dataclasses.replace(self.params, **given)

    def probability_map(self, image: np.ndarray, params: Optional[DetParams] = None) -> Tuple[np.ndarray, Tuple[int, int]]:
        """The text probability map of one BGR image (float32, the resized input's size) and the
        (height, width) it stands for."""
        x, size = det_input(to_bgr(image), params or self.params)
        return self.session.run(x)[0, 0], size

    def detect(self, image: np.ndarray, **overrides: Any) -> Tuple[np.ndarray, np.ndarray]:
        """Text boxes (int16 [K, 4, 2], reading order) and their scores (float32 [K]) in one BGR image."""
        return self.detect_with(image, self.settings(**overrides))

    def detect_with(self, image: np.ndarray, params: DetParams) -> Tuple[np.ndarray, np.ndarray]:
        """``detect`` with settings already checked by ``settings`` (a caller that loops checks them once)."""
        image = to_bgr(image)
        prob, size = self.probability_map(image, params)
        boxes, scores = boxes_from_map(prob, size, params)
        h, w = image.shape[:2]
        boxes[..., 0] = np.minimum(boxes[..., 0], w)  # a padded tiny image: keep boxes on the image
        boxes[..., 1] = np.minimum(boxes[..., 1], h)
        order = reading_order(boxes)
        return boxes[order], scores[order]

    def predict(self, inputs: InputLike, on_error: str = "stop", **overrides: Any) -> Iterator[TextDetResult]:
        """Detect text in each input (paths, folders, arrays, bytes: as ``TextRecognizer.predict``)."""
        check_choice("on_error", on_error, ON_ERROR)
        params = self.settings(**overrides)  # bad settings fail before any input is read
        for item, image in iter_loaded(inputs, on_error):
            boxes, scores = self.detect_with(image, params)
            yield TextDetResult(item.input_path, boxes, scores, image, name=item.name)
