"""What ``predict`` accepts: a path, a directory, a PaddleX label file, a list of these, or arrays."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator, List, Optional, Union

import numpy as np

from .errors import InputError
from .preprocess import read_image, to_bgr

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")
LABEL_SUFFIXES = (".txt", ".tsv")

InputLike = Union[str, Path, np.ndarray, Iterable[Union[str, Path, np.ndarray]]]


@dataclass
class Item:
    """One line to recognize: where it came from and (once loaded) its BGR pixels."""

    input_path: Optional[str]
    name: str
    image: Optional[np.ndarray] = None

    def load(self) -> np.ndarray:
        if self.image is None:
            assert self.input_path is not None
            self.image = read_image(self.input_path)
        return self.image


def label_file_paths(label_file: Path) -> List[Path]:
    """Image paths of a PaddleX rec label file (``relative/path<TAB>label``), relative to its folder."""
    try:
        text = label_file.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(f"label file {label_file} is not UTF-8 text.") from exc
    paths = [label_file.parent / line.split("\t", 1)[0] for line in text.splitlines() if line.strip()]
    if not paths:
        raise InputError(f"label file {label_file} lists no images.")
    return paths


def iter_items(inputs: InputLike) -> Iterator[Item]:
    """Expand ``inputs`` lazily into items, in order. Files are read only when their item is loaded."""
    if isinstance(inputs, np.ndarray):
        if inputs.ndim == 4:  # a stack of images
            for i, img in enumerate(inputs):
                yield Item(None, f"array_{i}", to_bgr(img, f"input array {i}"))
            return
        yield Item(None, "array_0", to_bgr(inputs))
        return
    if isinstance(inputs, (str, Path)):
        yield from _expand_path(Path(inputs))
        return
    if isinstance(inputs, Iterable):
        for i, x in enumerate(inputs):
            if isinstance(x, np.ndarray):
                yield Item(None, f"array_{i}", to_bgr(x, f"input array {i}"))
            elif isinstance(x, (str, Path)):
                yield from _expand_path(Path(x))
            else:
                raise InputError(f"input {i} is a {type(x).__name__}; pass image paths, directories or numpy arrays.")
        return
    raise InputError(f"cannot predict on a {type(inputs).__name__}; pass a path, a directory, a list, or a numpy array.")


def _expand_path(p: Path) -> Iterator[Item]:
    if p.is_dir():
        files = sorted(f for f in p.iterdir() if f.suffix.lower() in IMAGE_SUFFIXES and f.is_file())
        if not files:
            raise InputError(f"no images ({', '.join(IMAGE_SUFFIXES)}) in directory {p}.")
        for f in files:
            yield Item(str(f), f.name)
    elif p.suffix.lower() in LABEL_SUFFIXES and p.is_file():
        for f in label_file_paths(p):
            yield Item(str(f), f.name)
    else:
        if not p.exists():
            raise InputError(f"input not found: {p}")
        yield Item(str(p), p.name)
