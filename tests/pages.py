"""Whole-image test inputs: the SDK's sample lines laid out on pages, with where each line's ink is."""
from __future__ import annotations

from typing import List, Tuple

import cv2
import numpy as np

from edge_sdk.datasets import SAMPLES_DIR, load_samples
from edge_sdk.images import read_image


def page_with_lines(seed: int = 0) -> Tuple[np.ndarray, List[np.ndarray]]:
    """A noisy light page with the SDK's sample lines pasted at random places and scales; the rectangle
    around each line's ink (pixels far from its background's shade) as a quad (TL, TR, BR, BL)."""
    rng = np.random.RandomState(seed)
    page = (rng.randint(220, 245) + rng.randint(0, 10, (700, 900, 3))).astype(np.uint8)
    truth, y = [], 20
    for s in load_samples(SAMPLES_DIR):
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
