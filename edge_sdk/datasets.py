"""Labelled text-line sets in the PaddleX/PaddleOCR layout: ``images/`` plus ``relative/path<TAB>label`` files."""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional

from .errors import DatasetError
from .inputs import IMAGE_SUFFIXES

SAMPLES_DIR = Path(__file__).parent / "samples"


@dataclass(frozen=True)
class Sample:
    path: Path
    label: Optional[str]  # None when the set is unlabelled


def shared_datasets_dir() -> Optional[Path]:
    """``$EDGE_SDK_DATASETS``, else ``../shared/datasets`` beside the checkout, if present."""
    env = os.environ.get("EDGE_SDK_DATASETS")
    if env:
        return Path(env) if Path(env).is_dir() else None
    cand = Path(__file__).resolve().parents[2] / "shared" / "datasets"
    return cand if cand.is_dir() else None


def read_label_file(label_file: Path) -> List[Sample]:
    """Read ``relative/path<TAB>label`` lines; paths are relative to the label file's folder."""
    label_file = Path(label_file)
    if not label_file.is_file():
        raise DatasetError(f"label file {label_file} does not exist.")
    try:
        lines = label_file.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError as exc:
        raise DatasetError(f"label file {label_file} is not UTF-8 text.") from exc
    samples = []
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        if "\t" not in line:
            raise DatasetError(f"{label_file}:{n} has no TAB between image path and label.")
        rel, label = line.split("\t", 1)
        samples.append(Sample(label_file.parent / rel, label))
    if not samples:
        raise DatasetError(f"label file {label_file} has no samples.")
    return samples


def load_samples(source: Path, limit: Optional[int] = None) -> List[Sample]:
    """A label file, a PaddleX dataset dir (its ``val.txt``), or a folder of images (unlabelled)."""
    source = Path(source)
    if source.is_file():
        samples = read_label_file(source)
    elif source.is_dir():
        for name in ("val.txt", "labels.txt", "train.txt"):
            if (source / name).is_file():
                samples = read_label_file(source / name)
                break
        else:
            files = sorted(f for f in source.iterdir() if f.suffix.lower() in IMAGE_SUFFIXES)
            if not files:
                raise DatasetError(f"{source} has no label file (val.txt) and no images.")
            samples = [Sample(f, None) for f in files]
    else:
        raise DatasetError(f"dataset {source} does not exist.")
    return samples[:limit] if limit else samples


def default_samples() -> List[Sample]:
    """The SDK's own rendered sample lines (labelled)."""
    return read_label_file(SAMPLES_DIR / "labels.txt")
