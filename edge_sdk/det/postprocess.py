"""The detector's probability map -> text boxes (PaddleX's ``DBPostProcess``), and reading order.

The map is binarized at ``thresh``; each connected region's minimum-area rectangle is kept when its
short side is at least 3 px and its mean probability reaches ``box_thresh``, grown by
``area * unclip_ratio / perimeter`` with pyclipper (round joins, as PaddleOCR does), fitted with a
rectangle again (short side at least 5 px) and scaled back to the image. Boxes are quadrilaterals,
points in the order top-left, top-right, bottom-right, bottom-left.
"""
from __future__ import annotations

from typing import List, Tuple

import cv2
import numpy as np

from ..zoo import DetParams

MIN_SIZE = 3  # px on the map: a region's rectangle must be at least this thick, and this + 2 once grown
SAME_LINE_PX = 10  # boxes whose top-left corners are closer than this vertically share a text row


def boxes_from_map(prob: np.ndarray, size: Tuple[int, int], det: DetParams) -> Tuple[np.ndarray, np.ndarray]:
    """Quadrilaterals (int16 [K, 4, 2], image pixels) and their scores (float32 [K]) from one probability
    map ``prob`` (H' x W') of an image whose map stands for ``size`` (height, width)."""
    import pyclipper

    h_map, w_map = prob.shape
    src_h, src_w = size
    mask = (prob > det.thresh).astype(np.uint8)
    if det.use_dilation:
        mask = cv2.dilate(mask, np.ones((2, 2), np.uint8))
    contours, _ = cv2.findContours(mask * 255, cv2.RETR_LIST, cv2.CHAIN_APPROX_SIMPLE)
    boxes: List[np.ndarray] = []
    scores: List[float] = []
    for contour in contours[:det.max_candidates]:
        quad, short = _min_area_quad(contour)
        if short < MIN_SIZE:
            continue
        score = _mean_inside(prob, quad)
        if score < det.box_thresh:
            continue
        poly = quad.astype(np.float64)
        distance = cv2.contourArea(poly.astype(np.float32)) * det.unclip_ratio / cv2.arcLength(
            poly.astype(np.float32), True)
        offset = pyclipper.PyclipperOffset()
        offset.AddPath([tuple(p) for p in poly], pyclipper.JT_ROUND, pyclipper.ET_CLOSEDPOLYGON)
        grown = offset.Execute(distance)
        if len(grown) != 1:  # a degenerate region grows into nothing or into pieces
            continue
        quad, short = _min_area_quad(np.asarray(grown[0], np.float32).reshape(-1, 1, 2))
        if short < MIN_SIZE + 2:
            continue
        quad[:, 0] = np.clip(np.round(quad[:, 0] * src_w / w_map), 0, src_w)
        quad[:, 1] = np.clip(np.round(quad[:, 1] * src_h / h_map), 0, src_h)
        boxes.append(quad.astype(np.int16))
        scores.append(score)
    if not boxes:
        return np.zeros((0, 4, 2), np.int16), np.zeros((0,), np.float32)
    return np.stack(boxes), np.asarray(scores, np.float32)


def _min_area_quad(points: np.ndarray) -> Tuple[np.ndarray, float]:
    """The minimum-area rectangle around ``points`` as [TL, TR, BR, BL] (float32 [4, 2]), and its short side."""
    rect = cv2.minAreaRect(points)
    return order_quad(cv2.boxPoints(rect)), float(min(rect[1]))


def order_quad(pts: np.ndarray) -> np.ndarray:
    """Four corners as top-left, top-right, bottom-right, bottom-left: of the two left-most points the
    upper is top-left, of the two right-most the upper is top-right (on a tie, the later one, as PaddleX)."""
    pts = np.asarray(pts, np.float32)
    by_x = pts[np.argsort(pts[:, 0], kind="stable")]
    left, right = by_x[:2], by_x[2:]
    tl, bl = (left[0], left[1]) if left[1][1] > left[0][1] else (left[1], left[0])
    tr, br = (right[0], right[1]) if right[1][1] > right[0][1] else (right[1], right[0])
    return np.stack([tl, tr, br, bl]).astype(np.float32)


def _mean_inside(prob: np.ndarray, quad: np.ndarray) -> float:
    """The mean probability inside ``quad`` (map pixels), over its bounding box's pixels."""
    h, w = prob.shape
    x0 = int(np.clip(np.floor(quad[:, 0].min()), 0, w - 1))
    x1 = int(np.clip(np.ceil(quad[:, 0].max()), 0, w - 1))
    y0 = int(np.clip(np.floor(quad[:, 1].min()), 0, h - 1))
    y1 = int(np.clip(np.ceil(quad[:, 1].max()), 0, h - 1))
    mask = np.zeros((y1 - y0 + 1, x1 - x0 + 1), np.uint8)
    shifted = (quad - np.array([x0, y0], np.float32)).astype(np.int32)
    cv2.fillPoly(mask, [shifted.reshape(-1, 1, 2)], 1)
    return float(cv2.mean(prob[y0:y1 + 1, x0:x1 + 1], mask)[0])


def reading_order(boxes: np.ndarray) -> List[int]:
    """Indices of ``boxes`` sorted top to bottom, and left to right within a row (top-left corners closer
    than ``SAME_LINE_PX`` vertically), as PaddleX, PaddleOCR and RapidOCR sort them."""
    order = sorted(range(len(boxes)), key=lambda i: (int(boxes[i][0][1]), int(boxes[i][0][0])))
    for i in range(len(order) - 1):
        for j in range(i, -1, -1):
            a, b = boxes[order[j]][0], boxes[order[j + 1]][0]
            if abs(int(b[1]) - int(a[1])) < SAME_LINE_PX and int(b[0]) < int(a[0]):
                order[j], order[j + 1] = order[j + 1], order[j]
            else:
                break
    return order


def quad_iou(a: np.ndarray, b: np.ndarray) -> float:
    """Intersection over union of two convex quadrilaterals."""
    pa, pb = a.astype(np.float32), b.astype(np.float32)
    inter, _ = cv2.intersectConvexConvex(pa, pb)
    union = cv2.contourArea(pa) + cv2.contourArea(pb) - inter
    return float(inter / union) if union > 0 else 0.0
