"""edge-sdk eval: PaddleX's metrics and evaluate_result.json, on real IC15 lines."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from edge_sdk.datasets import SAMPLES_DIR
from edge_sdk.errors import DatasetError
from edge_sdk.evaluation import evaluate
from edge_sdk.metrics import normalized_edit_distance, paired_changes, rec_metrics
from edge_sdk.model_dir import ModelDir


def test_metrics_as_paddlex() -> None:
    m = rec_metrics(["ab c", "xyz", "Hello"], ["abc", "xy", "hello"])
    assert m.acc == pytest.approx(1 / 3)  # spaces ignored, case kept
    assert m.exact_acc == 0.0 and m.alnum_acc == pytest.approx(2 / 3)
    assert m.norm_edit_dis == pytest.approx(1 - (0 + 1 / 3 + 1 / 5) / 3)
    assert normalized_edit_distance("", "") == 0.0 and normalized_edit_distance("a", "") == 1.0


def test_paired_changes_count_lines_whose_correctness_moved() -> None:
    labels = ["abc", "xy", "hello", "q"]
    ref = ["ab c", "xyz", "hello", "p"]  # right (spaces ignored), wrong, right, wrong
    cand = ["abc", "xy", "Hello", "p"]  # right, right, wrong, wrong
    assert paired_changes(ref, cand, labels) == {"lost": 1, "gained": 1, "lines": 4}
    assert rec_metrics(cand, labels).acc - rec_metrics(ref, labels).acc == 0.0


def test_eval_writes_paddlex_result(onnx_artifact: Path, ic15_val: Path, tmp_path: Path) -> None:
    report = evaluate(str(onnx_artifact), ic15_val, limit=200)
    out = report.write(tmp_path)
    data = json.loads(out.read_text())
    assert data["done_flag"] is True and set(data["metrics"]) == {"acc", "norm_edit_dis"}
    assert data["metrics"]["acc"] == report.metrics.acc and 0.5 < report.metrics.acc < 0.9
    assert data["edge_sdk"]["samples"] == 200 and len(data["edge_sdk"]["worst"]) == 10
    worst = data["edge_sdk"]["worst"]
    assert worst == sorted(worst, key=lambda w: -w["ned"]) and all(w["label"] != w["pred"] for w in worst)
    assert (tmp_path / "eval_report.txt").read_text().startswith("eval ")


def test_reference_and_artifact_score_the_same(onnx_artifact: Path, paddle_model: ModelDir, ic15_val: Path) -> None:
    a = evaluate(str(paddle_model.path), ic15_val, limit=100).metrics
    b = evaluate(str(onnx_artifact), ic15_val, limit=100).metrics
    assert a == b


def test_dataset_dir_uses_val_txt(onnx_artifact: Path, datasets_dir: Path) -> None:
    from edge_sdk import create_model

    d = datasets_dir / "ocr_rec_dataset_examples"
    r = evaluate(str(onnx_artifact), d, limit=5)
    first = next(create_model(str(onnx_artifact)).predict(str(d / "images" / "val_word_1.png")))
    assert r.metrics.samples == 5 and r.predictions[0] == first.rec_text


def test_unlabelled_folder_is_refused(onnx_artifact: Path, tmp_path: Path) -> None:
    import shutil

    shutil.copy(SAMPLES_DIR / "sample_01_en.png", tmp_path)
    with pytest.raises(DatasetError, match="has no labels"):
        evaluate(str(onnx_artifact), tmp_path)


def test_cli_eval(onnx_artifact: Path, ic15_val: Path, tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "edge_sdk", "eval", str(onnx_artifact), str(ic15_val), "--limit", "50",
                           "-o", str(tmp_path)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert "acc " in proc.stdout and "norm_edit_dis" in proc.stdout and "lines/s" in proc.stdout
    assert (tmp_path / "evaluate_result.json").is_file()
