"""Whole-image OCR: the real PP-OCRv4 det, ch_ppocr_mobile_v2.0_cls and PP-OCRv4 rec chained as PaddleX's
OCR pipeline, on pages of known lines (one upside down), on Paddle Inference and on converted artifacts."""
from __future__ import annotations

import json
import subprocess
import sys
import threading
from pathlib import Path
from typing import Dict, List

import cv2
import numpy as np
import pytest

from converters import convert
from edge_sdk import create_pipeline
from edge_sdk.datasets import SAMPLES_DIR, load_samples
from edge_sdk.errors import EdgeSDKError, InputError
from edge_sdk.pipeline import OCRPipeline, OCRResult, crop_quad
from converters.check_pages import sample_page

PADDLEX_KEYS = ["input_path", "page_index", "model_settings", "dt_polys", "text_det_params", "text_type",
                "textline_orientation_angles", "text_rec_score_thresh", "return_word_box", "rec_texts",
                "rec_scores", "rec_polys", "rec_boxes"]


@pytest.fixture(scope="module")
def page(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A page of the sample lines with its third line turned upside down."""
    img, truth = sample_page(0)
    (x0, y0), (x1, y1) = truth[2][0], truth[2][2]
    img[y0:y1, x0:x1] = cv2.rotate(img[y0:y1, x0:x1].copy(), cv2.ROTATE_180)
    path = tmp_path_factory.mktemp("pages") / "page.png"
    cv2.imwrite(str(path), img)
    return path


@pytest.fixture(scope="module")
def paddle_ocr():  # type: ignore[no-untyped-def]
    return create_pipeline("OCR", backend="paddle", threads=2)


@pytest.fixture(scope="module")
def converted_ocr(tmp_path_factory: pytest.TempPathFactory, onnx_artifact: Path):  # type: ignore[no-untyped-def]
    out = tmp_path_factory.mktemp("ocr-artifacts")
    convert("PP-OCRv4_mobile_det", "openvino", out / "det")
    convert("ch_ppocr_mobile_v2.0_cls", "onnx", out / "cls")
    return create_pipeline("OCR", det=str(out / "det"), cls=str(out / "cls"), rec=str(onnx_artifact), threads=2)


def test_every_line_is_read_and_the_upside_down_one_turned(paddle_ocr, page: Path) -> None:  # type: ignore[no-untyped-def]
    (res,) = list(paddle_ocr.predict(str(page)))
    labels = [s.label for s in load_samples(SAMPLES_DIR)]
    assert [t.replace(" ", "") for t in res["rec_texts"]] == [t.replace(" ", "") for t in labels]
    assert res["textline_orientation_angles"] == [0, 0, 1, 0, 0, 0, 0, 0]
    assert min(res["rec_scores"]) > 0.9
    assert res.keys() == PADDLEX_KEYS
    assert res["rec_boxes"].shape == (8, 4) and (res["rec_boxes"][:, :2] < res["rec_boxes"][:, 2:]).all()
    assert res["text_det_params"] == {"limit_side_len": 64, "limit_type": "min", "thresh": 0.3,
                                      "max_side_limit": 4000, "box_thresh": 0.6, "unclip_ratio": 1.5}


def test_converted_pipeline_gives_the_same_boxes_and_texts(paddle_ocr, converted_ocr, page: Path) -> None:  # type: ignore[no-untyped-def]
    (ref,) = list(paddle_ocr.predict(str(page)))
    (got,) = list(converted_ocr.predict(str(page)))
    assert converted_ocr.det.backend == "openvino" and converted_ocr.rec.backend in ("openvino", "onnxruntime")
    assert np.array_equal(ref["dt_polys"], got["dt_polys"])
    assert ref["rec_texts"] == got["rec_texts"]
    assert ref["textline_orientation_angles"] == got["textline_orientation_angles"]
    assert np.allclose(ref["rec_scores"], got["rec_scores"], atol=2e-3)


def test_results_do_not_depend_on_batching_or_threads(converted_ocr, page: Path) -> None:  # type: ignore[no-untyped-def]
    img = cv2.imread(str(page))
    one = converted_ocr.ocr(img)
    batched = OCRPipeline(converted_ocr.det, converted_ocr.rec, converted_ocr.cls,
                          rec_batch_size=1).ocr(img)
    assert one["rec_texts"] == batched["rec_texts"] and one["rec_scores"] == batched["rec_scores"]
    got: Dict[int, List[str]] = {}

    def run(i: int) -> None:
        got[i] = converted_ocr.ocr(img)["rec_texts"]

    threads = [threading.Thread(target=run, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(texts == one["rec_texts"] for texts in got.values())


def test_results_save_as_paddlex(converted_ocr, page: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    (res,) = list(converted_ocr.predict(str(page)))
    assert isinstance(res, OCRResult)
    j = json.loads(res.save_to_json(tmp_path).read_text(encoding="utf-8"))["res"]
    assert list(j) == PADDLEX_KEYS and j["input_path"] == str(page) and len(j["dt_polys"][0]) == 4
    pic = res.save_to_img(tmp_path)
    assert pic.name == "page_ocr_res_img.png"
    h, w = cv2.imread(str(page)).shape[:2]
    assert cv2.imread(str(pic)).shape == (h, 2 * w, 3)


def test_an_image_without_text_gives_empty_results(converted_ocr) -> None:  # type: ignore[no-untyped-def]
    res = converted_ocr.ocr(np.full((200, 300, 3), 200, np.uint8))
    assert res["rec_texts"] == [] and len(res["dt_polys"]) == 0 and "textline_orientation_angles" not in res


def test_tall_crops_are_turned_to_read_left_to_right() -> None:
    img = np.zeros((100, 30, 3), np.uint8)
    img[:, :, 0] = np.arange(100)[:, None]
    crop = crop_quad(img, np.array([[0, 0], [30, 0], [30, 100], [0, 100]]))
    assert crop.shape[:2] == (30, 100) and crop[0, 0, 0] < crop[0, -1, 0] + 1  # now wide


def test_wrong_models_and_settings_are_one_sentence() -> None:
    with pytest.raises(EdgeSDKError, match="is a rec model; the OCR pipeline's det stage needs a det model"):
        create_pipeline("OCR", det="PP-OCRv4_mobile_rec")
    with pytest.raises(EdgeSDKError, match="pipeline must be one of"):
        create_pipeline("seal")
    with pytest.raises(EdgeSDKError, match="text_rec_score_thresh must be a number from 0 to 1"):
        create_pipeline("OCR", backend="paddle", text_rec_score_thresh=3)


def test_cli_ocr(page: Path, tmp_path: Path) -> None:
    cmd = [sys.executable, "-m", "edge_sdk", "ocr", str(page), "--backend", "paddle", "--save-dir", str(tmp_path)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[0].endswith("page.png: 8 lines") and "Raspberry Pi 5" in proc.stdout
    assert (tmp_path / "page_ocr_res_img.png").is_file() and (tmp_path / "page_res.json").is_file()
    proc = subprocess.run([sys.executable, "-m", "edge_sdk", "ocr", str(tmp_path / "missing.png")],
                          capture_output=True, text=True)
    assert proc.returncode != 0 and "Traceback" not in proc.stderr and "missing.png" in proc.stderr


@pytest.mark.paddlelite
def test_the_pipeline_runs_on_paddle_lite(paddle_ocr, page: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    pytest.importorskip("paddlelite", reason="the Paddle Lite runtime runs in the Python 3.9 leg")
    for name in ("PP-OCRv4_mobile_det", "ch_ppocr_mobile_v2.0_cls", "PP-OCRv4_mobile_rec"):
        convert(name, "paddlelite", tmp_path / name, valid_places="x86")
    lite = create_pipeline("OCR", det=str(tmp_path / "PP-OCRv4_mobile_det"), cls=str(tmp_path / "ch_ppocr_mobile_v2.0_cls"),
                           rec=str(tmp_path / "PP-OCRv4_mobile_rec"))
    assert {lite.det.backend, lite.cls.backend, lite.rec.backend} == {"paddlelite"}
    (ref,) = list(paddle_ocr.predict(str(page)))
    (got,) = list(lite.predict(str(page)))
    assert np.array_equal(ref["dt_polys"], got["dt_polys"]) and ref["rec_texts"] == got["rec_texts"]


def test_ocr_batch_gives_each_image_its_own_answer(converted_ocr):
    """A server batches concurrent requests' crops through orientation and recognition together: each
    image's result, with its own settings, is the one it gets alone."""
    imgs = [sample_page(s)[0] for s in range(3)] + [np.full((120, 200, 3), 230, np.uint8)]
    settings = [converted_ocr.settings(), converted_ocr.settings(box_thresh=0.7),
                converted_ocr.settings(use_textline_orientation=False, text_rec_score_thresh=0.9),
                converted_ocr.settings()]
    batched = converted_ocr.ocr_batch(imgs, settings)
    for img, s, got in zip(imgs, settings, batched):
        alone = converted_ocr.ocr_batch([img], [s])[0]
        assert got["rec_texts"] == alone["rec_texts"] and got["rec_scores"] == alone["rec_scores"]
        assert np.array_equal(got["dt_polys"], alone["dt_polys"])
        assert got.get("textline_orientation_angles") == alone.get("textline_orientation_angles")
    assert batched[2]["model_settings"]["use_textline_orientation"] is False
    assert all(score >= 0.9 for score in batched[2]["rec_scores"])
    assert batched[0]["rec_texts"] and batched[3]["rec_texts"] == []


def test_pipeline_settings_are_checked_in_one_sentence(converted_ocr):
    with pytest.raises(InputError, match="text_rec_score_thresh must be a number"):
        converted_ocr.settings(text_rec_score_thresh=2)
    with pytest.raises(InputError, match="use_textline_orientation must be true or false"):
        converted_ocr.settings(use_textline_orientation="yes")
