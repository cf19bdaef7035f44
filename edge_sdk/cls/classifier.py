"""The text-line orientation classifier: a line crop -> is it upside down? (ch_ppocr_mobile_v2.0_cls)

A crop keeps its aspect ratio at the model's height up to its width, is padded on the right, and is
normalized like a recognition line; the classes are rotations (``labels``: "0", "180"). A crop is turned
only when "180" wins with more than ``thresh``: a wrongly flipped line reads as garbage, an unflipped
upside-down one too, so only confident calls act.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple, Union

import cv2
import numpy as np

from ..errors import ModelFormatError
from ..inputs import InputLike, iter_loaded
from ..model_dir import ModelDir
from ..options import MAX_BATCH_SIZE, ON_ERROR, check_choice, check_int
from ..predictor import Predictor
from ..precision import DEFAULT_MAX_ACC_LOSS
from ..images import to_bgr
from ..result import Result
from ..zoo import ClsParams


def cls_input(image: np.ndarray, params: ClsParams) -> np.ndarray:
    """One BGR crop as a float32 [3, height, width] classifier input."""
    h, w = image.shape[:2]
    width = min(params.width, max(1, math.ceil(params.height * w / h)))
    x = cv2.resize(image, (width, params.height)).astype(np.float32)
    x = (x / 255.0 - params.mean) / params.std
    out = np.zeros((3, params.height, params.width), np.float32)
    out[:, :, :width] = x.transpose(2, 0, 1)
    return out


class TextLineClassifier(Predictor):
    """A loaded text-line orientation model. Build it with ``edge_sdk.create_model``; shared by threads
    like every predictor (no state between calls)."""

    TASK = "cls"
    ROLE = "line orientation classifier"

    def __init__(self, model: ModelDir, backend: str = "auto", threads: int = 0, device: str = "auto",
                 precision: str = "f32", cache_dir: Optional[Union[str, Path]] = "auto",
                 optimize_graph: bool = True, max_acc_loss: float = DEFAULT_MAX_ACC_LOSS) -> None:
        super().__init__(model, backend, threads, device, precision, cache_dir, optimize_graph, max_acc_loss)
        self.params = model.cls
        probe = self.session.run(np.zeros((1, 3, self.params.height, self.params.width), np.float32))
        if probe.ndim != 2 or probe.shape[1] != len(self.params.labels):
            raise ModelFormatError(f"{model.model_file.name} outputs shape {list(probe.shape)}; its labels "
                                   f"{list(self.params.labels)} need [N, {len(self.params.labels)}].")

    def run_crops(self, images: Sequence[np.ndarray], batch_size: int = 6) -> np.ndarray:
        """Class probabilities (float32 [N, classes]) of BGR crops, ``batch_size`` at a time."""
        batch_size = check_int("batch_size", batch_size, 1, MAX_BATCH_SIZE)
        x = [cls_input(to_bgr(img), self.params) for img in images]
        out = [self.session.run(np.stack(x[i:i + batch_size])) for i in range(0, len(x), batch_size)]
        return np.concatenate(out) if out else np.zeros((0, len(self.params.labels)), np.float32)

    def classify(self, images: Sequence[np.ndarray], batch_size: int = 6) -> List[Tuple[str, float]]:
        """(label, probability) of each crop's most likely class."""
        probs = self.run_crops(images, batch_size)
        return [(self.params.labels[int(p.argmax())], float(p.max())) for p in probs]

    def upright(self, images: Sequence[np.ndarray], batch_size: int = 6) -> Tuple[List[np.ndarray], List[int]]:
        """The crops turned upright where the classifier is sure they are upside down, and each one's angle
        class (0 kept, 1 turned), as PaddleX's ``textline_orientation_angles``."""
        turned, angles = [], []
        for img, (label, prob) in zip(images, self.classify(images, batch_size)):
            flip = label == "180" and prob > self.params.thresh
            turned.append(cv2.rotate(img, cv2.ROTATE_180) if flip else img)
            angles.append(int(flip))
        return turned, angles

    def predict(self, inputs: InputLike, batch_size: int = 6, on_error: str = "stop") -> Iterator["TextClsResult"]:
        """Classify each input crop (paths, folders, arrays: as ``TextRecognizer.predict``)."""
        check_choice("on_error", on_error, ON_ERROR)
        for item, image in iter_loaded(inputs, on_error):
            probs = self.run_crops([image], batch_size)[0]
            yield TextClsResult(item.input_path, int(probs.argmax()), float(probs.max()),
                                self.params.labels[int(probs.argmax())], item.name)


class TextClsResult(Result):
    """One crop's orientation as PaddleX's classification results: ``class_ids``, ``scores``, ``label_names``."""

    __slots__ = ("class_id", "score", "label")

    def __init__(self, input_path: Optional[str], class_id: int, score: float, label: str, name: str) -> None:
        super().__init__(input_path, name=name)
        self.class_id, self.score, self.label = class_id, score, label

    @property
    def json(self) -> Dict[str, Any]:
        return {"res": {**self._source(), "class_ids": [self.class_id], "scores": [round(self.score, 5)],
                        "label_names": [self.label]}}

    def __getitem__(self, key: str) -> Any:
        return self.json["res"][key]

    def __repr__(self) -> str:
        return f"TextClsResult(input_path={self.input_path!r}, label={self.label!r}, score={self.score:.4f})"
