"""Scenes with known text (converters/synthetic_scenes.py) and whole-image OCR scored on them: detection and
end-to-end precision/recall, the label format's checks."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from converters.synthetic_scenes import KINDS, write_scenes
from edge_sdk import create_pipeline
from edge_sdk.errors import DatasetError
from edge_sdk.pipeline.evaluation import evaluate_ocr, match, read_det_labels


@pytest.fixture(scope="module")
def scenes(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_scenes(tmp_path_factory.mktemp("scenes"), count=8, seed=7)


def test_scenes_are_deterministic_and_hold_their_lines(scenes: Path, tmp_path: Path) -> None:
    again = write_scenes(tmp_path, count=8, seed=7)
    assert again.read_text(encoding="utf-8") == scenes.read_text(encoding="utf-8")
    rows = read_det_labels(scenes)
    assert [p.name.split("_")[2].split(".")[0] for p, _ in rows] == [KINDS[i % 4] for i in range(8)]
    for path, lines in rows:
        h, w = cv2.imread(str(path)).shape[:2]
        assert len(lines) >= 2
        for line in lines:
            pts = np.asarray(line.points)
            assert line.text.strip() and (pts >= 0).all() and (pts[:, 0] < w).all() and (pts[:, 1] < h).all()
    assert any(any("\u4e00" <= c <= "\u9fff" for c in ln.text) for _, lines in rows for ln in lines)


def test_pipeline_reads_the_scenes(scenes: Path) -> None:
    scores = evaluate_ocr(create_pipeline("OCR", threads=2), scenes).as_dict()
    # measured on 40 scenes (seed 0): det 99.3/99.3, end to end 98.6/98.6; RapidOCR 1.4.4: 93.6/93.4
    assert scores["det_recall"] >= 0.9 and scores["det_precision"] >= 0.9, scores
    assert scores["e2e_hmean"] >= 0.85, scores


def test_matching_is_one_to_one_at_iou_half() -> None:
    a = np.array([[0, 0], [10, 0], [10, 10], [0, 10]])
    b = a + [2, 0]  # IoU 8/12
    c = a + [6, 0]  # IoU 4/16
    assert match([a], [c, b]) == [(0, 1)]
    assert len(match([a, a], [b])) == 1  # each box matched once
    assert match([a], [c]) == []


def test_bad_label_files_are_one_sentence(tmp_path: Path) -> None:
    (tmp_path / "Label.txt").write_text('../outside.jpg\t[{"transcription": "a", "points": [[0,0],[1,0],[1,1],[0,1]]}]\n')
    with pytest.raises(DatasetError, match="outside"):
        read_det_labels(tmp_path / "Label.txt")
    (tmp_path / "Label.txt").write_text("a.jpg\tnot json\n")
    with pytest.raises(DatasetError, match="Label.txt:1 is not a detection label line"):
        read_det_labels(tmp_path / "Label.txt")
    (tmp_path / "Label.txt").write_text('a.jpg\t[{"transcription": "a", "points": [[0,0],[1,0]]}]\n')
    with pytest.raises(DatasetError, match="fewer than 4 points"):
        read_det_labels(tmp_path / "Label.txt")


def test_cli_scores_a_label_file(scenes: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "edge_sdk", "ocr", "--gt", str(scenes)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert "det P/R/H" in proc.stdout and "end-to-end P/R/H" in proc.stdout and "8 images" in proc.stdout
    proc = subprocess.run([sys.executable, "-m", "edge_sdk", "ocr", "x.png", "--gt", str(scenes)],
                          capture_output=True, text=True)
    assert proc.returncode == 2 and "give no INPUTS with it" in proc.stderr
