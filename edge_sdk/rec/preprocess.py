"""Recognition preprocessing: one text-line image (BGR uint8) -> one normalized, right-padded CHW array.

Every backend gets exactly these arrays. The padded width is a function of the line alone
(``padded_width``), so a line's input, and so its result, never depends on which other lines share
its batch. Lines are batched only with lines of the same padded width.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import List, Optional, Tuple, Union

import cv2
import numpy as np

from ..errors import InputError
from ..zoo import Preprocess


def padded_width(height: int, width: int, pp: Preprocess) -> int:
    """The input width for a line of ``height`` x ``width`` pixels: its own, never its batch's.

    The line is scaled to ``pp.height`` keeping its aspect ratio; the width is rounded up to a
    multiple of ``pp.width_step`` and clamped to ``[pp.min_width, pp.max_width]``.
    """
    natural = math.ceil(pp.height * width / float(height))
    stepped = -(-natural // pp.width_step) * pp.width_step
    return int(min(max(stepped, pp.min_width), pp.max_width))


def resize_normalize(img: np.ndarray, pp: Preprocess) -> np.ndarray:
    """BGR uint8 (H, W, 3) -> float32 (3, pp.height, padded_width) normalized and right-padded with 0."""
    h, w = img.shape[:2]
    target_w = padded_width(h, w, pp)
    resized_w = min(math.ceil(pp.height * w / float(h)), target_w)  # lines wider than max_width are squeezed
    resized = cv2.resize(img, (resized_w, pp.height), interpolation=cv2.INTER_LINEAR)
    if pp.color == "RGB":
        resized = resized[:, :, ::-1]
    out = np.zeros((3, pp.height, target_w), dtype=np.float32)
    chw = resized.transpose(2, 0, 1).astype(np.float32)
    out[:, :, :resized_w] = (chw / 255.0 - pp.mean) / pp.std
    return out


def input_spec(pp: Preprocess) -> Tuple[str, Tuple[Union[int, str], ...]]:
    """Name and shape of the model input, with dynamic axes named."""
    return "x", ("N", 3, pp.height, "W")


# -- lines wider than the model's max width ------------------------------------------------------

# A blank stretch at least this many line heights wide (at the model height) is a word space.
# Measured on the real model (PP-OCRv4_mobile_rec; pairs of rendered Latin words, 5 fonts, tight and
# loose crops, gaps of 0-43 px at H=48 as this module measures them): one pass writes a space for 5%
# of 6-7 px gaps, 42% of 12-13 px, 63% of 14-15 px, 81% of 16-17 px and >= 89% from 18 px on, so
# from 14 px of 48 a cut gets the space one pass would most likely have written.
WIDE_GAP_HEIGHTS = 0.28
# A column is blank when at most this share of its pixels more than it differ from the background
# (at most 2 of 48 pixels above the quietest column in reach: noise, an underline or a table rule).
BLANK_INK = 0.05
# Ink: a pixel that differs from the local background by 35% of the local contrast, and by 24 levels.
INK_CONTRAST = 0.35
INK_MIN_LEVELS = 24.0


@dataclass(frozen=True, eq=False)  # pieces compare by identity: they hold arrays
class LinePiece:
    """One piece of a text line, as ``split_line`` returns it.

    ``image`` is a view of the line's columns ``[x0, x1)`` (the line itself when it fits);
    ``after_wide_gap`` says the cut before this piece fell in a blank stretch as wide as a word
    space (always False for the first piece).
    """

    image: np.ndarray
    x0: int
    x1: int
    after_wide_gap: bool = False


# A line is cut into at most this many model widths (64 x 3200 columns at height 48: 30 MB scaled). A longer
# one (a 1-pixel-high strip 100000 wide would scale to 4.8 million columns, 690 MB) is refused, not run.
MAX_LINE_PIECES = 64


def check_line_length(img: np.ndarray, pp: Preprocess, name: str = "the line") -> None:
    """``InputError`` when a line would need more than ``MAX_LINE_PIECES`` model widths at the model height."""
    h, w = img.shape[:2]
    natural = math.ceil(pp.height * w / float(h))
    if natural > MAX_LINE_PIECES * pp.max_width:
        raise InputError(
            f"{name} ({w} x {h} pixels) is {natural} columns long at the model's height {pp.height}, over the "
            f"{MAX_LINE_PIECES * pp.max_width} limit ({MAX_LINE_PIECES} model widths); is it a text line? crop it "
            "into shorter lines.")


def split_line(img: np.ndarray, pp: Preprocess) -> List[LinePiece]:
    """The pieces to recognize for one line (BGR (H, W, 3) or gray (H, W) uint8).

    A line whose width at the model height (``pp.height``) fits in ``pp.max_width`` comes back
    unchanged, as one piece holding the same array. A wider line would be squeezed into
    ``pp.max_width`` columns and read as garbage, so it is cut into pieces that each fit. Each cut
    is found on the line scaled to the model height, in a blank stretch between characters or words
    (the widest one in reach, up to a word space, then the nearest to the aim) in the last quarter
    of a piece's reach; the last two pieces share what is left about evenly, so no piece is shorter
    than a quarter of ``pp.max_width``. Where no column is blank (touching glyphs, a rule under the
    text), the quietest column is cut. The background is estimated from the line's border rows
    along the line, so dark and light backgrounds, gradients and lines glued from differently
    coloured parts all work.
    """
    h, w = img.shape[:2]
    natural = math.ceil(pp.height * w / float(h))
    if natural <= pp.max_width:
        return [LinePiece(img, 0, w, False)]
    check_line_length(img, pp)
    scaled = cv2.resize(img, (natural, pp.height), interpolation=cv2.INTER_AREA)
    ink = _column_ink(scaled)
    # room for rounding the cuts back to the line's own pixels
    limit = pp.max_width - max(pp.width_step, math.ceil(pp.height / float(h)) + 1)
    cuts = _choose_cuts(ink, limit, WIDE_GAP_HEIGHTS * pp.height)
    pieces: List[LinePiece] = []
    x0, wide_before = 0, False
    for c, wide in cuts + [(natural, False)]:
        x1 = w if c >= natural else max(x0 + 1, int(c * w / natural))
        while x1 - x0 > 1 and math.ceil(pp.height * (x1 - x0) / float(h)) > pp.max_width:
            x1 -= 1
        pieces.append(LinePiece(img[:, x0:x1], x0, x1, wide_before))
        x0, wide_before = x1, wide
    return pieces


def _column_ink(scaled: np.ndarray) -> np.ndarray:
    """For each column of a line at the model height, the share of its pixels that are ink (0..1).

    Background: per column the median of the two top and two bottom rows, then a running median
    over about two line heights (so text touching the border, or a background that changes along
    the line, still gives the right colour). Ink: a pixel whose largest channel difference to that
    background passes ``INK_CONTRAST`` of the strongest difference nearby and ``INK_MIN_LEVELS``.
    """
    img = scaled if scaled.ndim == 3 else scaled[:, :, None]
    h, n = img.shape[:2]
    reach = min(2 * h + 1, 255) | 1
    border = np.concatenate([img[:2], img[-2:]], axis=0)
    col_bg = np.median(border, axis=0).astype(np.uint8)  # (n, channels)
    bg = cv2.medianBlur(np.ascontiguousarray(col_bg[None]), reach).reshape(n, -1).astype(np.int16)
    diff = np.abs(img.astype(np.int16) - bg[None]).max(axis=2)  # (h, n)
    peak = np.percentile(diff, 95, axis=0).astype(np.float32)
    contrast = cv2.dilate(peak[None], np.ones((1, reach), np.uint8)).ravel()
    threshold = np.maximum(INK_CONTRAST * contrast, INK_MIN_LEVELS)
    return (diff > threshold[None]).mean(axis=0)


def _choose_cuts(ink: np.ndarray, limit: int, wide: float) -> List[Tuple[int, bool]]:
    """Cut columns (and whether each is in a word-wide gap) so no piece is over ``limit`` columns."""
    n = int(ink.size)
    cuts: List[Tuple[int, bool]] = []
    start = 0
    while n - start > limit:
        rest = n - start
        if rest > 2 * limit:  # a full piece: cut in the last quarter of its reach, as late as a good gap allows
            ideal = float(start + limit)
            lo, hi = start + limit - limit // 4, start + limit
        else:  # the last two pieces: about even, so the last one is not tiny, and it must fit
            ideal = start + rest / 2
            lo = max(n - limit, int(ideal - limit / 4))
            hi = min(start + limit, int(ideal + limit / 4))
        floor = float(ink[lo:hi + 1].min())
        # runs of blank columns, measured a little past the window so a gap at its edge keeps its width
        a0, b0 = max(0, lo - limit // 8), min(n, hi + 1 + limit // 8)
        blank = np.concatenate([[False], ink[a0:b0] <= floor + BLANK_INK, [False]])
        edges = np.flatnonzero(np.diff(blank.astype(np.int8)))
        best: Optional[Tuple[Tuple[float, float], int, bool]] = None
        for a, b in zip(edges[::2] + a0, edges[1::2] + a0):
            if b <= lo or a > hi:
                continue
            # the point nearest the aim that keeps half a word space of margin (a narrow gap's middle)
            margin = min((b - a) // 2, int(wide / 2))
            c = min(max(int(round(ideal)), a + margin), b - margin)
            c = min(max(c, lo), hi)  # a gap reaching into the window from outside: its part inside
            key = (-min(b - a, wide), abs(c - ideal))
            if best is None or key < best[0]:
                # a word gap is blank for real, not only the quietest stretch of a noisy line
                best = (key, int(c), bool(b - a >= wide and floor <= BLANK_INK))
        assert best is not None  # the quietest column in the window is always blank
        cuts.append((best[1], best[2]))
        start = best[1]
    return cuts
