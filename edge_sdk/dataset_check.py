"""PaddleX's ``check_dataset`` for text recognition, and its train/val re-split.

Writes ``check_dataset_result.json`` with PaddleX's keys (``check_pass``, ``attributes.train_samples``,
``val_samples``, sample paths, ``analysis.histogram``) and ``histogram.png`` of label lengths. Unlike
PaddleX it does not stop at the first problem: missing images, empty labels, malformed lines, bad
encodings and characters outside the model's dict are all counted and listed (``edge_sdk.problems``).
"""
from __future__ import annotations

import json
import random
import shutil
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

import cv2
import numpy as np

from .rec.ctc import Charset
from .datasets import label_path, read_label_lines
from .errors import DatasetError
from .limits import max_label_file_bytes, read_file_bounded, shown

TAGS = ("train", "val")
SAMPLE_NUM = 10
LISTED = 20  # problems listed per kind (all are counted)


@dataclass
class Problems:
    counts: Counter = field(default_factory=Counter)
    examples: Dict[str, List[str]] = field(default_factory=dict)
    unknown_chars: Counter = field(default_factory=Counter)

    def add(self, kind: str, where: str) -> None:
        self.counts[kind] += 1
        self.examples.setdefault(kind, [])
        if len(self.examples[kind]) < LISTED:
            self.examples[kind].append(where)

    def as_dict(self) -> Dict[str, Any]:
        return {"counts": dict(self.counts), "examples": self.examples,
                "unknown_characters": dict(self.unknown_chars.most_common(50))}

    def one_line(self) -> str:
        return "; ".join(f"{n} {kind.replace('_', ' ')}" for kind, n in sorted(self.counts.items()))


def check_dataset(dataset_dir: Path, output: Path, charset: Optional[Charset] = None,
                  sample_num: int = SAMPLE_NUM, allow_outside: bool = False) -> Dict[str, Any]:
    """Check a PaddleX rec dataset dir (``images/``, ``train.txt``, ``val.txt``); returns and writes the result.

    A label line whose image path leaves ``dataset_dir`` (``../``, absolute, or a symlink out) is a problem
    (``paths_outside_dataset``), never read or copied, unless ``allow_outside``.
    """
    dataset_dir = Path(dataset_dir)
    if not dataset_dir.is_dir():
        raise DatasetError(f"dataset directory {dataset_dir} does not exist.")
    missing = [f"{t}.txt" for t in TAGS if not (dataset_dir / f"{t}.txt").is_file()]
    if missing:
        raise DatasetError(f"{dataset_dir} has no {' or '.join(missing)}; a rec dataset needs train.txt and val.txt.")
    output = Path(output)
    demo = output / "demo_img"
    demo.mkdir(parents=True, exist_ok=True)
    problems = Problems()
    known = set(charset.characters[1:]) if charset is not None else None
    attrs: Dict[str, Any] = {}
    lengths: Dict[str, List[int]] = {}
    for tag in TAGS:
        rows = _read_rows(dataset_dir / f"{tag}.txt", problems)
        attrs[f"{tag}_samples"] = len(rows)
        paths: List[str] = []
        lengths[tag] = []
        for where, rel, label in rows:
            try:
                img = label_path(dataset_dir / f"{tag}.txt", rel, root=dataset_dir, allow_outside=allow_outside)
            except DatasetError:
                problems.add("paths_outside_dataset", f"{where}: {shown(rel)}")
                continue
            if not img.is_file():
                problems.add("missing_images", f"{where}: {rel}")
                continue
            if not label.strip():
                problems.add("empty_labels", f"{where}: {rel}")
            lengths[tag].append(len(label))
            if known is not None:
                unknown = [c for c in label if c not in known]
                if unknown:
                    problems.add("labels_with_unknown_characters", f"{where}: {label!r}")
                    problems.unknown_chars.update(unknown)
            if len(paths) < sample_num:
                shutil.copy(img, demo / img.name)
                paths.append(f"check_dataset/demo_img/{img.name}")
        attrs[f"{tag}_sample_paths"] = paths
    _histogram(lengths, output / "histogram.png")
    result: Dict[str, Any] = {
        "done_flag": True,
        "check_pass": not problems.counts,
        "attributes": attrs,
        "analysis": {"histogram": "check_dataset/histogram.png"},
        "dataset_path": dataset_dir.name,
        "show_type": "image",
        "dataset_type": "MSTextRecDataset",
        "edge_sdk": {"problems": problems.as_dict(), "dict_checked": charset is not None},
    }
    if problems.counts:
        result["err_type"] = "CheckFailedError"
        result["err_msg"] = problems.one_line()
    (output / "check_dataset_result.json").write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n",
                                                       encoding="utf-8")
    return result


def _read_rows(label_file: Path, problems: Problems) -> List[Tuple[str, str, str]]:
    rows = []
    data = read_file_bounded(label_file, max_label_file_bytes(), "label file", DatasetError)
    if data.startswith(b"\xef\xbb\xbf"):  # a UTF-8 BOM (Windows editors write one)
        data = data[3:]
    for n, raw in enumerate(data.split(b"\n"), 1):
        raw = raw.rstrip(b"\r")
        if not raw.strip():
            continue
        where = f"{label_file.name}:{n}"
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError:
            problems.add("bad_encoding_lines", where)
            continue
        parts = line.split("\t")
        if len(parts) != 2:
            problems.add("malformed_lines", f"{where}: {len(parts)} TAB-separated fields, expected 2")
            continue
        rows.append((where, parts[0], parts[1]))
    return rows


def _histogram(lengths: Dict[str, List[int]], out: Path) -> None:
    """Label-length histogram, train and val side by side, in PaddleX's 5-character bins."""
    all_lengths = [n for v in lengths.values() for n in v] or [0]
    top = max(5, min(100, max(all_lengths)))
    edges = list(range(0, top + 5, 5))
    bins = [f"{a}-{b}" for a, b in zip(edges[:-1], edges[1:])]
    counts = {t: [sum(a < n <= b for n in lengths[t]) for a, b in zip(edges[:-1], edges[1:])] for t in lengths}
    w, h, margin = max(560, 120 + 60 * len(bins)), 420, 70
    img = np.full((h, w, 3), 255, np.uint8)
    peak = max([1] + [c for v in counts.values() for c in v])
    colors = {"train": (200, 120, 40), "val": (40, 140, 240)}
    for i, name in enumerate(bins):
        x0 = margin + i * 60
        for j, tag in enumerate(counts):
            bar = int((h - 2 * margin) * counts[tag][i] / peak)
            cv2.rectangle(img, (x0 + 4 + j * 24, h - margin - bar), (x0 + 26 + j * 24, h - margin), colors[tag], -1)
        cv2.putText(img, name, (x0 + 2, h - margin + 18), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 0, 0), 1)
    cv2.line(img, (margin, h - margin), (w - 10, h - margin), (0, 0, 0), 1)
    cv2.putText(img, f"label length (characters); max count {peak}", (margin, 30), cv2.FONT_HERSHEY_SIMPLEX, 0.55,
                (0, 0, 0), 1)
    for j, tag in enumerate(counts):
        cv2.rectangle(img, (w - 110, 42 + j * 22), (w - 94, 56 + j * 22), colors[tag], -1)
        cv2.putText(img, f"{tag} ({len(lengths[tag])})", (w - 88, 55 + j * 22), cv2.FONT_HERSHEY_SIMPLEX, 0.45,
                    (0, 0, 0), 1)
    cv2.imwrite(str(out), img)


def split_dataset(dataset_dir: Path, train_percent: int, val_percent: int, seed: int = 0) -> Dict[str, int]:
    """Re-split train+val as PaddleX does: old label files kept as ``.bak``, lines shuffled (seeded here)."""
    if train_percent + val_percent != 100 or min(train_percent, val_percent) < 0:
        raise DatasetError(f"--split {train_percent}:{val_percent} must be two non-negative percentages adding to 100.")
    dataset_dir = Path(dataset_dir)
    lines: List[str] = []
    for tag in TAGS:
        f = dataset_dir / f"{tag}.txt"
        if f.is_file():
            lines += [line for line in read_label_lines(f) if line.strip()]
    if not lines:
        raise DatasetError(f"{dataset_dir} has no train.txt or val.txt to split.")
    for tag in TAGS:
        f = dataset_dir / f"{tag}.txt"
        if f.is_file():  # every split keeps what it replaces: .bak, then .bak.1, .bak.2, ...
            bak, i = dataset_dir / f"{tag}.txt.bak", 0
            while bak.exists():
                i += 1
                bak = dataset_dir / f"{tag}.txt.bak.{i}"
            f.rename(bak)
    random.Random(seed).shuffle(lines)
    n_train = round(len(lines) * train_percent / 100)
    parts = {"train": lines[:n_train], "val": lines[n_train:]}
    for tag, part in parts.items():
        (dataset_dir / f"{tag}.txt").write_text("".join(line + "\n" for line in part), encoding="utf-8")
    return {tag: len(part) for tag, part in parts.items()}
