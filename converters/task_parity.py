"""Parity of text detection and line orientation artifacts: checks that fit each task.

Detection: the probability maps' largest difference, and box agreement (each box of either side matched
by one of the other with IoU >= 0.5; identical boxes counted beside). Orientation: label agreement and the
largest probability difference, on check lines upright and turned 180 degrees. Both models see the same
inputs through the shared preprocessing, so every difference is the conversion's.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Dict, List, Sequence, Tuple

import cv2
import numpy as np

from edge_sdk.cls import TextLineClassifier
from edge_sdk.det import TextDetector, boxes_from_map, quad_iou

from .parity import describe_predictor

MATCH_IOU = 0.5


@dataclass(frozen=True)
class TaskCriteria:
    max_abs_diff: float = float("inf")  # probability map (det) or class probability (cls)
    min_agreement: float = 0.0  # share of boxes matched (det) or labels equal (cls)

    def __str__(self) -> str:
        parts = [f"max abs prob diff <= {self.max_abs_diff:g}"] if self.max_abs_diff != float("inf") else []
        return ", ".join(parts + [f"agreement >= {100 * self.min_agreement:g}%", "no NaN/Inf"])


TASK_CRITERIA = {  # FP32 should change nothing but rounding; reduced precision is judged by what it decides
    "fp32": TaskCriteria(max_abs_diff=3e-3, min_agreement=0.98),
    "fp16": TaskCriteria(min_agreement=0.95),
}


@dataclass
class TaskParityReport:
    task: str
    reference: str
    candidate: str
    data: str
    items: int  # images (det) or crops (cls)
    compared: int  # boxes of both sides (det) or crops (cls)
    agreed: int  # matched boxes (det) or equal labels (cls)
    identical: int  # boxes with the same corners (det) or equal labels (cls)
    max_abs_diff: float
    nonfinite: int
    criteria: str
    passed: bool
    failures: List[str] = field(default_factory=list)
    mismatches: List[Dict[str, Any]] = field(default_factory=list)

    @property
    def agreement(self) -> float:
        return self.agreed / self.compared if self.compared else 1.0

    def as_dict(self) -> Dict[str, Any]:
        return {**asdict(self), "agreement_pct": round(100 * self.agreement, 3)}

    def summary(self) -> str:
        what = "boxes" if self.task == "det" else "labels"
        unit = "images" if self.task == "det" else "crops (each upright and turned 180 degrees)"
        out = [f"parity vs {self.reference} on {self.items} {unit} ({self.data}):"]
        if self.task == "det":
            out.append(f"  boxes matched (IoU >= {MATCH_IOU})  {self.agreed}/{self.compared} = {100 * self.agreement:.1f}%"
                       f"  (identical corners: {self.identical}/{self.compared})")
            out.append(f"  max abs prob-map diff     {self.max_abs_diff:.3g}")
        else:
            out.append(f"  same {what}               {self.agreed}/{self.compared} = {100 * self.agreement:.1f}%")
            out.append(f"  max abs prob diff         {self.max_abs_diff:.3g}")
        if self.nonfinite:
            out.append(f"  NaN/Inf outputs           {self.nonfinite}: the artifact is broken")
        verdict = "PASS" if self.passed else "FAIL: " + "; ".join(self.failures)
        out.append(f"  result                    {verdict} (criteria: {self.criteria})")
        return "\n".join(out)


def _failures(criteria: TaskCriteria, max_diff: float, agreement: float, nonfinite: int, what: str) -> List[str]:
    out = []
    if nonfinite:
        out.append(f"{nonfinite} outputs give NaN/Inf")
    if not max_diff <= criteria.max_abs_diff:
        out.append(f"max abs prob diff {max_diff:.3g} > {criteria.max_abs_diff:g}")
    if agreement < criteria.min_agreement:
        out.append(f"{100 * agreement:.1f}% {what} agree < {100 * criteria.min_agreement:g}%")
    return out


def match_boxes(ref: np.ndarray, cand: np.ndarray, iou: float = MATCH_IOU) -> Tuple[int, int]:
    """(boxes of either side matched by one of the other side with IoU >= ``iou``, identical boxes)."""
    matched = sum(any(quad_iou(r, c) >= iou for c in cand) for r in ref)
    matched += sum(any(quad_iou(c, r) >= iou for r in ref) for c in cand)
    identical = sum(any(np.array_equal(r, c) for c in cand) for r in ref)
    identical += sum(any(np.array_equal(c, r) for r in ref) for c in cand)
    return matched, identical


def check_det_parity(reference: TextDetector, candidate: TextDetector, images: Sequence[np.ndarray],
                     names: Sequence[str], data_name: str, criteria: TaskCriteria) -> TaskParityReport:
    compared = agreed = identical = nonfinite = 0
    max_diff = 0.0
    mismatches: List[Dict[str, Any]] = []
    for img, name in zip(images, names):
        rp, size = reference.probability_map(img)
        cp, _ = candidate.probability_map(img)
        if not np.all(np.isfinite(cp)):
            nonfinite += 1
        max_diff = max(max_diff, float(np.abs(rp - cp).max()) if rp.shape == cp.shape and np.all(np.isfinite(cp))
                       else float("inf"))
        rb, _ = boxes_from_map(rp, size, reference.params)
        cb, _ = boxes_from_map(cp, size, candidate.params) if np.all(np.isfinite(cp)) else (np.zeros((0, 4, 2)), None)
        m, same = match_boxes(rb, cb)
        compared += len(rb) + len(cb)
        agreed += m
        identical += same
        if m < len(rb) + len(cb) and len(mismatches) < 20:
            mismatches.append({"image": name, "reference_boxes": len(rb), "candidate_boxes": len(cb), "matched": m})
    agreement = agreed / compared if compared else 1.0
    failures = _failures(criteria, max_diff, agreement, nonfinite, "boxes") if images else ["no images checked"]
    return TaskParityReport("det", describe_predictor(reference), describe_predictor(candidate), data_name, len(images), compared,
                            agreed, identical, max_diff, nonfinite, str(criteria), not failures, failures, mismatches)


def check_cls_parity(reference: TextLineClassifier, candidate: TextLineClassifier, crops: Sequence[np.ndarray],
                     names: Sequence[str], data_name: str, criteria: TaskCriteria) -> TaskParityReport:
    both = [*crops, *(cv2.rotate(c, cv2.ROTATE_180) for c in crops)]
    labels = [*names, *(f"{n} (turned)" for n in names)]
    rp, cp = reference.run_crops(both), candidate.run_crops(both)
    finite = np.isfinite(cp).all(axis=1)
    same = rp.argmax(1) == cp.argmax(1)
    max_diff = float(np.abs(rp - cp).max()) if finite.all() and len(both) else (0.0 if not len(both) else float("inf"))
    mismatches = [{"crop": n, "reference": reference.params.labels[int(r.argmax())],
                   "candidate": candidate.params.labels[int(c.argmax())]}
                  for n, r, c, s in zip(labels, rp, cp, same) if not s][:20]
    agreement = float(same.mean()) if len(both) else 1.0
    failures = (_failures(criteria, max_diff, agreement, int((~finite).sum()), "labels") if len(both)
                else ["no crops checked"])
    return TaskParityReport("cls", describe_predictor(reference), describe_predictor(candidate), data_name, len(crops), len(both),
                            int(same.sum()), int(same.sum()), max_diff, int((~finite).sum()), str(criteria),
                            not failures, failures, mismatches)
