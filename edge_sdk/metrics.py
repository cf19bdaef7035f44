"""Text-recognition metrics as PaddleX/PaddleOCR compute them (``RecMetric``), plus exact match.

PaddleX's ``acc`` and ``norm_edit_dis`` ignore spaces by default (``ignore_space=True``);
``exact_acc`` compares the strings as they are (case- and space-sensitive).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Dict, Sequence


def edit_distance(a: str, b: str) -> int:
    """Levenshtein distance (insert, delete, substitute all cost 1)."""
    if len(a) < len(b):
        a, b = b, a
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]


def normalized_edit_distance(a: str, b: str) -> float:
    """Distance / length of the longer string; 0.0 for two empty strings."""
    longest = max(len(a), len(b))
    return edit_distance(a, b) / longest if longest else 0.0


def alnum_lower(text: str) -> str:
    """The usual benchmark form: lower-case letters and digits only."""
    return re.sub(r"[^0-9a-z]", "", text.lower())


@dataclass(frozen=True)
class RecMetrics:
    samples: int
    acc: float  # PaddleX: exact after removing spaces
    norm_edit_dis: float  # PaddleX: 1 - mean normalized edit distance (spaces removed)
    exact_acc: float  # strings equal as they are
    alnum_acc: float  # lower-case alphanumeric only

    def as_dict(self) -> Dict[str, float]:
        return {"samples": self.samples, "acc": self.acc, "norm_edit_dis": self.norm_edit_dis,
                "exact_acc": self.exact_acc, "alnum_acc": self.alnum_acc}


def line_correct(pred: str, label: str) -> bool:
    """Whether one line counts as right in PaddleX's acc: equal once spaces are removed."""
    return pred.replace(" ", "") == label.replace(" ", "")


def paired_changes(reference: Sequence[str], candidate: Sequence[str], labels: Sequence[str]) -> Dict[str, int]:
    """Lines the candidate gets wrong that the reference got right (``lost``) and the reverse (``gained``):
    the paired difference behind an accuracy delta and its standard error, sqrt(lost + gained) / lines."""
    right = [(line_correct(r, t), line_correct(c, t)) for r, c, t in zip(reference, candidate, labels)]
    return {"lost": sum(r and not c for r, c in right), "gained": sum(c and not r for r, c in right),
            "lines": len(right)}


def rec_metrics(preds: Sequence[str], labels: Sequence[str]) -> RecMetrics:
    if len(preds) != len(labels):
        raise ValueError(f"{len(preds)} predictions for {len(labels)} labels")
    n = len(labels)
    if n == 0:
        return RecMetrics(0, 0.0, 0.0, 0.0, 0.0)
    acc = ned = exact = alnum = 0.0
    for p, t in zip(preds, labels):
        exact += p == t
        alnum += alnum_lower(p) == alnum_lower(t)
        p_ns, t_ns = p.replace(" ", ""), t.replace(" ", "")
        acc += p_ns == t_ns  # line_correct
        ned += normalized_edit_distance(p_ns, t_ns)
    return RecMetrics(n, acc / n, 1.0 - ned / n, exact / n, alnum / n)
