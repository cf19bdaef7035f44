"""CTC decoding shared by every backend: a pure function of probabilities and a charset."""
from __future__ import annotations

from typing import List, Sequence, Tuple

import numpy as np

from ..errors import ModelFormatError

BLANK = "blank"


class Charset:
    """The model's classes: index 0 is the CTC blank, then the dict's characters, then a space."""

    def __init__(self, characters: Sequence[str], use_space_char: bool = True) -> None:
        chars = list(characters)
        if use_space_char:
            chars.append(" ")
        self.characters: List[str] = [BLANK] + chars
        self.dict_characters: List[str] = list(characters)
        self.use_space_char = use_space_char

    def __len__(self) -> int:
        return len(self.characters)

    def __contains__(self, ch: object) -> bool:
        return ch in self._set

    @property
    def _set(self) -> set:
        cached = getattr(self, "_cached_set", None)
        if cached is None:
            cached = set(self.characters[1:])
            self._cached_set = cached
        return cached

    def check_fits(self, num_classes: int, source: str) -> None:
        """Refuse a dict that does not fit the model's output layer."""
        if num_classes != len(self):
            raise ModelFormatError(
                f"the dict from {source} gives {len(self)} classes (blank + {len(self.dict_characters)} characters"
                f"{' + space' if self.use_space_char else ''}) but the model outputs {num_classes}; "
                "use the dict the model was trained with."
            )


def ctc_greedy_decode(probs: np.ndarray, charset: Charset) -> List[Tuple[str, float]]:
    """Greedy CTC: argmax per step, merge repeats, drop blanks.

    Args:
        probs: float[N, T, C] softmax outputs.
        charset: the model's classes, blank first.
    Returns:
        One ``(text, score)`` per line; score is the mean probability of the kept characters
        (0.0 when none is kept), as PaddleX computes ``rec_score``.
    """
    if probs.ndim != 3:
        raise ValueError(f"expected probabilities of shape [N, T, C], got {probs.shape}")
    idx = probs.argmax(axis=2)
    best = np.take_along_axis(probs, idx[:, :, None], axis=2)[:, :, 0]
    keep = idx != 0
    keep[:, 1:] &= idx[:, 1:] != idx[:, :-1]
    chars = charset.characters
    out = []
    for row_idx, row_keep, row_prob in zip(idx, keep, best):
        kept = row_idx[row_keep]
        text = "".join(chars[i] for i in kept)
        score = float(row_prob[row_keep].mean()) if kept.size else 0.0
        out.append((text, score))
    return out
