"""Scoring whole-image OCR against labelled scenes (PaddleOCR's detection label format).

Detection: a predicted box matches a labelled one when their IoU is at least 0.5, each box matched once
(greedily, best IoU first); precision, recall and their harmonic mean. End to end: a labelled line counts
as read when its matched box's text equals its transcription as PaddleX's acc compares them (spaces
ignored); precision over predicted lines, recall over labelled ones.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Sequence, Tuple

import numpy as np

from ..datasets import label_path
from ..errors import DatasetError
from ..det.postprocess import quad_iou
from ..limits import read_file_bounded, shown
from ..metrics import line_correct

MATCH_IOU = 0.5
MAX_LABEL_BYTES = 64 << 20


@dataclass
class TextBox:
    text: str
    points: List[List[int]]  # 4 corners


def read_det_labels(label_file: Path, allow_outside: bool = False) -> List[Tuple[Path, List[TextBox]]]:
    """A PaddleOCR detection label file (``path<TAB>[{"transcription", "points"}, ...]``): each image (inside
    the file's folder unless ``allow_outside``) and its lines; "###" lines (unreadable) are kept as such."""
    label_file = Path(label_file)
    try:
        text = read_file_bounded(label_file, MAX_LABEL_BYTES, "label file", DatasetError).decode("utf-8")
    except UnicodeDecodeError:
        raise DatasetError(f"label file {shown(label_file)} is not UTF-8 text.") from None
    out = []
    for n, row in enumerate(text.splitlines(), 1):
        if not row.strip():
            continue
        try:
            rel, payload = row.split("\t", 1)
            items = json.loads(payload)
            boxes = [TextBox(str(it["transcription"]), [[int(x), int(y)] for x, y in it["points"]]) for it in items]
        except (ValueError, KeyError, TypeError) as exc:
            raise DatasetError(f"{shown(label_file)}:{n} is not a detection label line "
                               f"(path<TAB>[{{\"transcription\", \"points\"}}, ...]): {exc}.") from None
        if any(len(b.points) < 4 for b in boxes):
            raise DatasetError(f"{shown(label_file)}:{n}: a box has fewer than 4 points.")
        out.append((label_path(label_file, rel, allow_outside=allow_outside), boxes))
    if not out:
        raise DatasetError(f"label file {shown(label_file)} lists no images.")
    return out


def match(truth: Sequence[np.ndarray], pred: Sequence[np.ndarray], iou: float = MATCH_IOU) -> List[Tuple[int, int]]:
    """One-to-one (truth index, prediction index) pairs with IoU >= ``iou``, best first."""
    pairs = sorted(((quad_iou(np.asarray(t), np.asarray(p)), i, j) for i, t in enumerate(truth)
                    for j, p in enumerate(pred)), reverse=True)
    used_t, used_p, out = set(), set(), []
    for v, i, j in pairs:
        if v < iou:
            break
        if i not in used_t and j not in used_p:
            used_t.add(i)
            used_p.add(j)
            out.append((i, j))
    return out


@dataclass
class OCRScores:
    images: int = 0
    truth: int = 0  # labelled lines ("###" ones left out)
    predicted: int = 0
    matched: int = 0
    read: int = 0  # matched and the text right
    per_image: List[Dict[str, Any]] = field(default_factory=list)

    def add(self, name: str, truth: Sequence[TextBox], pred_polys: Sequence[np.ndarray], pred_texts: Sequence[str]) -> None:
        keep = [t for t in truth if t.text != "###"]
        pairs = match([np.asarray(t.points) for t in keep], pred_polys)
        read = sum(line_correct(pred_texts[j], keep[i].text) for i, j in pairs)
        self.images += 1
        self.truth += len(keep)
        self.predicted += len(pred_polys)
        self.matched += len(pairs)
        self.read += read
        misread = [{"truth": keep[i].text, "read": pred_texts[j]} for i, j in pairs
                   if not line_correct(pred_texts[j], keep[i].text)]
        self.per_image.append({"image": name, "truth": len(keep), "predicted": len(pred_polys),
                               "matched": len(pairs), "read": read, "misread": misread[:10]})

    @staticmethod
    def _f(p: float, r: float) -> float:
        return 2 * p * r / (p + r) if p + r else 0.0

    def as_dict(self) -> Dict[str, Any]:
        dp, dr = self.matched / max(1, self.predicted), self.matched / max(1, self.truth)
        ep, er = self.read / max(1, self.predicted), self.read / max(1, self.truth)
        return {"images": self.images, "truth_lines": self.truth, "predicted_lines": self.predicted,
                "det_precision": round(dp, 4), "det_recall": round(dr, 4), "det_hmean": round(self._f(dp, dr), 4),
                "e2e_precision": round(ep, 4), "e2e_recall": round(er, 4), "e2e_hmean": round(self._f(ep, er), 4),
                "rec_acc_on_matched": round(self.read / max(1, self.matched), 4)}

    def summary(self, name: str) -> str:
        d = self.as_dict()
        return (f"{name}: det P/R/H {100 * d['det_precision']:.1f}/{100 * d['det_recall']:.1f}/"
                f"{100 * d['det_hmean']:.1f}  end-to-end P/R/H {100 * d['e2e_precision']:.1f}/"
                f"{100 * d['e2e_recall']:.1f}/{100 * d['e2e_hmean']:.1f}  (text right on {100 * d['rec_acc_on_matched']:.1f}% "
                f"of matched boxes; {d['images']} images, {d['truth_lines']} lines)")

    def to_json(self) -> Dict[str, Any]:
        return {**self.as_dict(), "per_image": self.per_image}


def evaluate_ocr(pipeline: Any, label_file: Path, limit: int = 0, **settings: Any) -> OCRScores:
    """Run ``pipeline`` (an ``OCRPipeline``, with ``settings`` as its ``settings``) over a detection label
    file's images and score it."""
    from ..images import read_image

    scores = OCRScores()
    checked = pipeline.settings(**settings)
    rows = read_det_labels(label_file)
    for path, truth in rows[:limit or None]:
        res = pipeline.ocr_batch([read_image(path)], [checked])[0]
        scores.add(path.name, truth, list(res["rec_polys"]), res["rec_texts"])
    return scores


__all__ = ["MATCH_IOU", "OCRScores", "TextBox", "evaluate_ocr", "match", "read_det_labels"]
