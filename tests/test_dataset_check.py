"""check-dataset on the shared IC15 set and on a broken copy, and the PaddleX-style re-split."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import cv2
import pytest

from edge_sdk.dataset_check import check_dataset, split_dataset
from edge_sdk.errors import DatasetError
from edge_sdk.model_dir import ModelDir


def test_shared_ic15_set(datasets_dir: Path, paddle_model: ModelDir, tmp_path: Path) -> None:
    r = check_dataset(datasets_dir / "ocr_rec_dataset_examples", tmp_path, charset=paddle_model.charset)
    assert r["check_pass"] and r["done_flag"]
    a = r["attributes"]
    assert a["train_samples"] == 4468 and a["val_samples"] == 2077
    assert len(a["train_sample_paths"]) == len(a["val_sample_paths"]) == 10
    assert all((tmp_path / p.replace("check_dataset/", "")).is_file() for p in a["val_sample_paths"])
    assert r["analysis"]["histogram"] == "check_dataset/histogram.png"
    assert cv2.imread(str(tmp_path / "histogram.png")) is not None
    assert json.loads((tmp_path / "check_dataset_result.json").read_text())["attributes"]["val_samples"] == 2077


@pytest.fixture()
def broken(datasets_dir: Path, tmp_path: Path) -> Path:
    src = datasets_dir / "ocr_rec_dataset_examples"
    d = tmp_path / "broken"
    (d / "images").mkdir(parents=True)
    for i in range(1, 7):
        shutil.copy(src / "images" / f"train_word_{i}.png", d / "images")
    (d / "train.txt").write_bytes(
        "images/train_word_1.png\tGenaxis Theatre\n"
        "images/train_word_2.png\t\n"                       # empty label
        "images/missing.png\tGhost\n"                        # missing image
        "images/train_word_3.png\t62-03\textra\n".encode()   # three fields
        + b"images/train_word_4.png\t\xff\xfe broken\n"      # not UTF-8
        + "images/train_word_5.png\t\u2603 snow\n".encode()  # a character outside the dict
    )
    (d / "val.txt").write_text("images/train_word_6.png\tEXIT\n", encoding="utf-8")
    return d


def test_broken_copy_lists_every_problem(broken: Path, paddle_model: ModelDir, tmp_path: Path) -> None:
    r = check_dataset(broken, tmp_path / "out", charset=paddle_model.charset)
    assert r["check_pass"] is False and r["err_type"] == "CheckFailedError"
    p = r["edge_sdk"]["problems"]
    assert p["counts"] == {"empty_labels": 1, "missing_images": 1, "malformed_lines": 1, "bad_encoding_lines": 1,
                           "labels_with_unknown_characters": 1}
    assert p["unknown_characters"] == {"\u2603": 1}
    assert "train.txt:3: images/missing.png" in p["examples"]["missing_images"]
    assert r["attributes"]["train_samples"] == 4 and r["attributes"]["val_samples"] == 1


def test_cli_fails_with_one_line_and_reports(broken: Path, tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "edge_sdk", "check-dataset", str(broken), "-o", str(tmp_path / "o")],
                          capture_output=True, text=True)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert proc.stderr.strip().startswith("Error: dataset check failed: 1 bad encoding lines; 1 empty labels;")
    assert "1 missing images" in proc.stdout and "characters outside the PP-OCRv4_mobile_rec dict: '☃'" in proc.stdout


def test_missing_label_files(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="has no train.txt or val.txt"):
        check_dataset(tmp_path, tmp_path / "o")
    with pytest.raises(DatasetError, match="does not exist"):
        check_dataset(tmp_path / "nope", tmp_path / "o")


def test_split_keeps_backups_and_all_lines(broken: Path) -> None:
    (broken / "train.txt").write_text("".join(f"images/train_word_{i}.png\tw{i}\n" for i in range(1, 6)), encoding="utf-8")
    before = sorted((broken / "train.txt").read_text().splitlines() + (broken / "val.txt").read_text().splitlines())
    counts = split_dataset(broken, 50, 50, seed=1)
    assert counts == {"train": 3, "val": 3}
    after = sorted((broken / "train.txt").read_text().splitlines() + (broken / "val.txt").read_text().splitlines())
    assert after == before
    assert (broken / "train.txt.bak").is_file() and (broken / "val.txt.bak").is_file()
    with pytest.raises(DatasetError, match="adding to 100"):
        split_dataset(broken, 70, 20)
