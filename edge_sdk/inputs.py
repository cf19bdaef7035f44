"""What ``predict`` accepts: a path, a directory, a PaddleX label file, a list of these, or arrays.

Expansion is lazy and never fails half-way: an input that cannot be used (a missing path, a label line
pointing out of its dataset, an object that is not an image) becomes an ``Item`` carrying its error,
raised when the item is loaded. So ``predict(on_error="skip")`` can skip exactly that input and go on,
and ``on_error="stop"`` stops there after the lines before it have been recognized.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator, List, Optional, Tuple, Union

import numpy as np

from . import limits
from .errors import EdgeSDKError, InputError
from .images import file_size_hint, read_image, to_bgr

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")
LABEL_SUFFIXES = (".txt", ".tsv")

InputLike = Union[str, Path, np.ndarray, Iterable[Union[str, Path, np.ndarray]]]


@dataclass
class Item:
    """One line to recognize: where it came from and (once loaded) its BGR pixels, or why it cannot be."""

    input_path: Optional[str]
    name: str
    image: Optional[np.ndarray] = None
    error: Optional[str] = None
    max_pixels: Optional[int] = None

    def load(self) -> np.ndarray:
        if self.error is not None:
            raise InputError(self.error)
        if self.image is None:
            assert self.input_path is not None
            self.image = read_image(self.input_path, max_pixels=self.max_pixels)
        return self.image

    def size_hint(self) -> Optional[Tuple[int, int]]:
        """(height, width) without decoding: the pixels' once loaded, else the file header's; None when
        unknown (or unusable: ``load`` says why)."""
        if self.error is not None:
            return None
        if self.image is not None:
            return int(self.image.shape[0]), int(self.image.shape[1])
        return file_size_hint(self.input_path) if self.input_path is not None else None


def label_file_paths(label_file: Path, allow_outside: bool = False) -> List[Union[Path, InputError]]:
    """Image paths of a PaddleX rec label file (``relative/path<TAB>label``), relative to its folder.

    A line whose path leaves the label file's folder gives an ``InputError`` in its place (unless
    ``allow_outside``), so the caller decides whether to stop or skip it.
    """
    from .datasets import label_path, read_label_lines

    try:
        lines = read_label_lines(label_file)
    except EdgeSDKError as exc:
        raise InputError(str(exc)) from None
    out: List[Union[Path, InputError]] = []
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            out.append(label_path(label_file, line.split("\t", 1)[0], allow_outside=allow_outside))
        except EdgeSDKError as exc:
            out.append(InputError(f"{limits.shown(label_file)}:{n}: {exc}"))
    if not out:
        raise InputError(f"label file {limits.shown(label_file)} lists no images.")
    return out


def iter_items(inputs: InputLike, allow_outside: bool = False, max_pixels: Optional[int] = None) -> Iterator[Item]:
    """Expand ``inputs`` lazily into items, in order. Files are read only when their item is loaded."""
    if isinstance(inputs, np.ndarray):
        if inputs.ndim == 4:  # a stack of images
            for i, img in enumerate(inputs):
                yield _array_item(img, i)
            return
        yield _array_item(inputs, 0)
        return
    if isinstance(inputs, (str, Path)):
        yield from _expand_path(Path(inputs), allow_outside, max_pixels)
        return
    if isinstance(inputs, (bytes, bytearray)):
        raise InputError("cannot predict on raw bytes; decode them to a numpy array or pass a file path.")
    if isinstance(inputs, Iterable):
        for i, x in enumerate(inputs):
            if isinstance(x, np.ndarray):
                yield _array_item(x, i)
            elif isinstance(x, (str, Path)):
                yield from _expand_path(Path(x), allow_outside, max_pixels)
            else:
                yield Item(None, f"input_{i}", error=f"input {i} is a {type(x).__name__}; pass image paths, "
                                                      "directories or numpy arrays.")
        return
    raise InputError(f"cannot predict on a {type(inputs).__name__}; pass a path, a directory, a list, or a numpy array.")


def iter_loaded(inputs: InputLike, on_error: str = "stop", log: Optional[logging.Logger] = None) -> Iterator[Tuple[Item, np.ndarray]]:
    """Each input item with its decoded BGR image, in order; an unreadable one raises its ``InputError``
    (``on_error="stop"``) or is left out with a warning (``"skip"``). What the detector, the orientation
    classifier and the pipeline iterate over (the recognizer keeps its own list of skipped inputs)."""
    for item in iter_items(inputs):
        try:
            yield item, item.load()
        except InputError as exc:
            if on_error == "stop":
                raise
            (log or logging.getLogger("edge_sdk")).warning("skipped %s: %s", item.name, exc)


def _array_item(img: np.ndarray, i: int) -> Item:
    try:
        return Item(None, f"array_{i}", to_bgr(img, f"input array {i}"))
    except InputError as exc:
        return Item(None, f"array_{i}", error=str(exc))


def _expand_path(p: Path, allow_outside: bool, max_pixels: Optional[int]) -> Iterator[Item]:
    name = limits.shown(p.name)
    if p.is_dir():
        try:
            files = sorted(f for f in p.iterdir() if f.suffix.lower() in IMAGE_SUFFIXES and f.is_file())
        except OSError as exc:
            yield Item(str(p), name, error=f"cannot list directory {limits.shown(p)}: {exc.strerror or exc}.")
            return
        if not files:
            yield Item(str(p), name, error=f"no images ({', '.join(IMAGE_SUFFIXES)}) in directory {limits.shown(p)}.")
            return
        for f in files:
            yield Item(str(f), limits.shown(f.name), max_pixels=max_pixels)
    elif p.suffix.lower() in LABEL_SUFFIXES and p.is_file():
        try:
            paths = label_file_paths(p, allow_outside)
        except InputError as exc:
            yield Item(str(p), name, error=str(exc))
            return
        for f in paths:
            if isinstance(f, InputError):
                yield Item(str(p), name, error=str(f))
            else:
                yield Item(str(f), limits.shown(f.name), max_pixels=max_pixels)
    elif not p.exists() and not p.is_symlink():
        yield Item(str(p), name, error=f"input not found: {limits.shown(p)}")
    else:
        yield Item(str(p), name, max_pixels=max_pixels)
