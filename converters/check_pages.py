"""Whole-image inputs a detector is checked on when the user brings none: the SDK's sample lines laid out on
pages, and rendered scenes (signs, receipts, screens, labels with tilted and upside-down lines).

    sample_page(seed)        -> (page, ink quads)     a noisy light page, each sample line at its own scale
    det_check_images(limit)  -> (images, names, what) the default parity inputs of a det conversion
"""
from __future__ import annotations

import logging
import random
from typing import List, Optional, Tuple

import cv2
import numpy as np

from edge_sdk.datasets import default_samples
from edge_sdk.errors import ConversionError
from edge_sdk.images import read_image

log = logging.getLogger(__name__)

PAGES = 2
SCENES = 4  # one of each kind


def sample_page(seed: int = 0) -> Tuple[np.ndarray, List[np.ndarray]]:
    """A noisy light page (BGR uint8, 700 x 900) with the SDK's sample lines pasted at random places and
    scales; the rectangle around each line's ink (pixels far from its background's shade) as a quad
    (TL, TR, BR, BL)."""
    rng = np.random.RandomState(seed)
    page = (rng.randint(220, 245) + rng.randint(0, 10, (700, 900, 3))).astype(np.uint8)
    truth, y = [], 20
    for s in default_samples():
        img = read_image(s.path)
        scale = min(rng.uniform(0.9, 1.8), 600 / img.shape[1])
        img = cv2.resize(img, (int(img.shape[1] * scale), int(img.shape[0] * scale)))
        h, w = img.shape[:2]
        if y + h > 690:
            break
        x = int(rng.randint(10, 890 - w))
        page[y:y + h, x:x + w] = img
        gray = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)
        ys, xs = np.nonzero(np.abs(gray.astype(int) - int(np.median(gray))) > 60)  # ink, dark or light
        x0, y0, x1, y1 = x + xs.min(), y + ys.min(), x + xs.max() + 1, y + ys.max() + 1
        truth.append(np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]]))
        y += h + int(rng.randint(15, 40))
    return page, truth


def det_check_images(limit: Optional[int] = None) -> Tuple[List[np.ndarray], List[str], str]:
    """The default det parity inputs: two sample pages (flat, dark-on-light, no fonts needed) and one
    rendered scene of each kind (coloured panels, a dark screen, tilted and upside-down lines, camera blur
    and JPEG), Latin text so that any system font draws it. Without a font the scenes are left out, said."""
    from .synthetic_scenes import KINDS, render_scene

    images = [sample_page(seed)[0] for seed in range(PAGES)]
    names = [f"sample page {i}" for i in range(PAGES)]
    rng = random.Random(0)
    try:
        for kind in KINDS[:SCENES]:
            images.append(render_scene(kind, rng, (800, 600), cjk=False)[0])
            names.append(f"rendered {kind} scene")
    except ConversionError as exc:  # no font here
        log.warning("det check: rendered scenes left out: %s", exc)
    images, names = images[:limit], names[:limit]
    scenes = sum(n.startswith("rendered") for n in names)
    what = f"{len(names) - scenes} sample pages + {scenes} rendered scenes"
    return images, names, what
