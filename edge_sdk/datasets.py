"""Labelled text-line sets in the PaddleX/PaddleOCR layout: ``images/`` plus ``relative/path<TAB>label`` files."""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional

from . import limits
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


def label_path(label_file: Path, rel: str, root: Optional[Path] = None, allow_outside: bool = False) -> Path:
    """The image a label line names, relative to the label file's folder, kept inside ``root``.

    ``root`` (default: the label file's folder) is the dataset: a path that leaves it (``../..``, an
    absolute path, or a symlink pointing out) is a ``DatasetError`` unless ``allow_outside``, so a label
    file from elsewhere cannot make the SDK read (or copy) files outside the dataset.
    """
    label_file = Path(label_file)
    p = label_file.parent / rel
    if allow_outside:
        return p
    base = Path(root) if root is not None else label_file.parent
    try:
        inside = os.path.realpath(p).startswith(os.path.join(os.path.realpath(base), ""))
    except (OSError, ValueError):
        inside = False
    if not inside:
        raise DatasetError(f"{limits.shown(rel)} points outside the dataset {limits.shown(base)}; "
                           "move the image into it or pass --allow-outside-paths.")
    return p


def read_label_lines(label_file: Path) -> List[str]:
    """The text lines of a label file: UTF-8 (a leading BOM dropped), bounded in size, readable or a DatasetError."""
    data = limits.read_file_bounded(label_file, limits.max_label_file_bytes(), "label file", DatasetError)
    try:
        return data.decode("utf-8-sig").splitlines()
    except UnicodeDecodeError as exc:
        raise DatasetError(f"label file {limits.shown(label_file)} is not UTF-8 text (byte {exc.start}).") from None


def read_label_file(label_file: Path, allow_outside: bool = False) -> List[Sample]:
    """Read ``relative/path<TAB>label`` lines; paths are relative to the label file's folder and stay in it."""
    label_file = Path(label_file)
    lines = read_label_lines(label_file)
    samples = []
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        if "\t" not in line:
            raise DatasetError(f"{limits.shown(label_file)}:{n} has no TAB between image path and label.")
        rel, label = line.split("\t", 1)
        try:
            path = label_path(label_file, rel, allow_outside=allow_outside)
        except DatasetError as exc:
            raise DatasetError(f"{limits.shown(label_file)}:{n}: {exc}") from None
        samples.append(Sample(path, label))
    if not samples:
        raise DatasetError(f"label file {limits.shown(label_file)} has no samples.")
    return samples


def load_samples(source: Path, limit: Optional[int] = None, allow_outside: bool = False) -> List[Sample]:
    """A label file, a PaddleX dataset dir (its ``val.txt``), or a folder of images (unlabelled)."""
    source = Path(source)
    if source.is_file():
        samples = read_label_file(source, allow_outside)
    elif source.is_dir():
        for name in ("val.txt", "labels.txt", "train.txt"):
            if (source / name).is_file():
                samples = read_label_file(source / name, allow_outside)
                break
        else:
            files = sorted(f for f in source.iterdir() if f.suffix.lower() in IMAGE_SUFFIXES and f.is_file())
            if not files:
                raise DatasetError(f"{source} has no label file (val.txt) and no images.")
            samples = [Sample(f, None) for f in files]
    elif source.exists():
        raise DatasetError(f"dataset {limits.shown(source)} is not a file or directory (a FIFO, socket or device).")
    else:
        raise DatasetError(f"dataset {limits.shown(source)} does not exist.")
    return samples[:limit] if limit else samples


def default_samples() -> List[Sample]:
    """The SDK's own rendered sample lines (labelled)."""
    return read_label_file(SAMPLES_DIR / "labels.txt")
