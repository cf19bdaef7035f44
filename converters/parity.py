"""Parity: how closely a converted artifact matches its source model, line by line.

Both models see identical inputs (the shared preprocessing, the same padded widths, the same
batches), so every difference is the conversion's. Where the runtime can run the graph as written
(onnxruntime without graph optimizations), the candidate runs so, and the artifact as deployed (its
runtime's fusions on, which reorder float math) is reported beside it; the criteria apply to both.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Dict, List, Optional, Sequence

import numpy as np

from edge_sdk.rec.ctc import ctc_greedy_decode
from edge_sdk.datasets import Sample
from edge_sdk.metrics import paired_changes, rec_metrics
from edge_sdk.images import read_image
from edge_sdk.progress import progress
from edge_sdk.predictor import Predictor
from edge_sdk.rec.recognizer import TextRecognizer
from edge_sdk.zoo import ParityCriteria

CHUNK = 64  # lines held in memory at once: one line's probabilities are T x 6625 floats


@dataclass
class ParityReport:
    reference: str
    candidate: str
    data: str
    lines: int
    identical_text: int
    identical_text_ignoring_spaces: int
    max_abs_prob_diff: float
    p99_abs_prob_diff: float
    worst_line: str
    nonfinite_lines: int
    criteria: str
    passed: bool
    failures: List[str] = field(default_factory=list)
    mismatches: List[Dict[str, Any]] = field(default_factory=list)
    labelled: Optional[Dict[str, Dict[str, float]]] = None
    # labelled lines whose correctness the artifact changed: {"lost", "gained", "lines"}
    paired: Optional[Dict[str, int]] = None
    # the artifact as deployed, when the candidate ran its graph as written
    deployed_max_abs_prob_diff: Optional[float] = None
    deployed_identical_text: Optional[int] = None

    @property
    def identical_text_pct(self) -> float:
        return 100.0 * self.identical_text / self.lines if self.lines else 0.0

    def as_dict(self) -> Dict[str, Any]:
        d = asdict(self)
        d["identical_text_pct"] = round(self.identical_text_pct, 3)
        return d

    def summary(self) -> str:
        out = [
            f"parity vs {self.reference} on {self.lines} lines ({self.data}):",
            f"  identical texts           {self.identical_text}/{self.lines} = {self.identical_text_pct:.1f}%",
            f"  identical ignoring spaces {self.identical_text_ignoring_spaces}/{self.lines}",
            f"  max abs prob diff         {self.max_abs_prob_diff:.3g} ("
            f"{'graph as written; ' if self.deployed_max_abs_prob_diff is not None else ''}p99 {self.p99_abs_prob_diff:.3g}; "
            f"worst line {self.worst_line})",
        ]
        if self.deployed_max_abs_prob_diff is not None:
            out.append(f"  as deployed (graph fusions on): max abs prob diff {self.deployed_max_abs_prob_diff:.3g}, "
                       f"identical texts {self.deployed_identical_text}/{self.lines}")
        if self.nonfinite_lines:
            out.append(f"  NaN/Inf outputs           {self.nonfinite_lines} lines: the artifact is broken")
        if self.labelled:
            ref, cand = self.labelled["reference"], self.labelled["candidate"]
            out.append(f"  acc (PaddleX, no spaces)  reference {100 * ref['acc']:.2f}%  artifact {100 * cand['acc']:.2f}%")
            out.append(f"  exact-match acc           reference {100 * ref['exact_acc']:.2f}%  artifact {100 * cand['exact_acc']:.2f}%")
            out.append(f"  acc / norm_edit_dis delta {100 * (cand['acc'] - ref['acc']):+.2f} pts / "
                       f"{cand['norm_edit_dis'] - ref['norm_edit_dis']:+.4f}")
            if self.paired:
                p = self.paired
                se = 100 * (p["lost"] + p["gained"]) ** 0.5 / p["lines"]
                out.append(f"  lines right -> wrong / wrong -> right  {p['lost']} / {p['gained']} "
                           f"(the acc delta's standard error: {se:.2f} pts)")
        verdict = "PASS" if self.passed else "FAIL: " + "; ".join(self.failures)
        out.append(f"  result                    {verdict} (criteria: {self.criteria})")
        return "\n".join(out)


def check_parity(reference: TextRecognizer, candidate: TextRecognizer, samples: Sequence[Sample], data_name: str,
                 criteria: ParityCriteria, batch_size: int = 8,
                 deployed: Optional[TextRecognizer] = None) -> ParityReport:
    """Run both recognizers over ``samples`` and compare probabilities and texts.

    ``deployed``: the artifact as it runs in the field, when ``candidate`` runs its graph as written."""
    ref_texts: List[str] = []
    cand_texts: List[str] = []
    diffs: List[float] = []
    deployed_diff = 0.0
    deployed_identical = 0
    nonfinite = 0
    mismatches: List[Dict[str, Any]] = []
    bar = progress(len(samples), "parity", unit="line")
    for start in range(0, len(samples), CHUNK):
        chunk = samples[start:start + CHUNK]
        images = [read_image(s.path) for s in chunk]
        ref_probs = reference.run_lines(images, batch_size)
        cand_probs = candidate.run_lines(images, batch_size)
        dep_probs = deployed.run_lines(images, batch_size) if deployed is not None else [None] * len(chunk)
        for s, rp, cp, dp in zip(chunk, ref_probs, cand_probs, dep_probs):
            if not np.all(np.isfinite(cp)):
                nonfinite += 1
            diff = _max_abs_diff(rp, cp)
            diffs.append(diff)
            rt = ctc_greedy_decode(rp[None], reference.charset)[0][0]
            ct = ctc_greedy_decode(cp[None], candidate.charset)[0][0]
            if dp is not None:
                deployed_diff = max(deployed_diff, _max_abs_diff(rp, dp))
                deployed_identical += rt == ctc_greedy_decode(dp[None], candidate.charset)[0][0]
            ref_texts.append(rt)
            cand_texts.append(ct)
            if rt != ct and len(mismatches) < 20:
                mismatches.append({"path": str(s.path), "reference": rt, "candidate": ct, "label": s.label})
        bar.update(len(chunk))
    bar.close()
    n = len(samples)
    identical = sum(a == b for a, b in zip(ref_texts, cand_texts))
    identical_ns = sum(a.replace(" ", "") == b.replace(" ", "") for a, b in zip(ref_texts, cand_texts))
    labelled = None
    paired = None
    if n and all(s.label is not None for s in samples):
        labels = [s.label or "" for s in samples]
        labelled = {"reference": rec_metrics(ref_texts, labels).as_dict(),
                    "candidate": rec_metrics(cand_texts, labels).as_dict()}
        paired = paired_changes(ref_texts, cand_texts, labels)
    max_diff = max(diffs) if diffs else 0.0
    worst = str(samples[int(np.argmax(diffs))].path) if diffs else ""
    # nearest-rank percentile: no arithmetic on the inf that a NaN/Inf line gives
    p99 = float(np.sort(diffs)[int(0.99 * (len(diffs) - 1))]) if diffs else 0.0
    # the criteria hold for the artifact as converted and, when checked, as deployed
    worst_identical = min(identical, deployed_identical) if deployed is not None else identical
    failures = (criteria.failures(max(max_diff, deployed_diff), worst_identical / n, nonfinite, labelled, paired) if n
                else ["no lines checked"])
    return ParityReport(
        reference=describe_predictor(reference), candidate=describe_predictor(candidate), data=data_name, lines=n,
        identical_text=identical, identical_text_ignoring_spaces=identical_ns, max_abs_prob_diff=max_diff,
        p99_abs_prob_diff=p99, worst_line=worst,
        nonfinite_lines=nonfinite, criteria=str(criteria), passed=not failures, failures=failures,
        mismatches=mismatches, labelled=labelled, paired=paired,
        deployed_max_abs_prob_diff=deployed_diff if deployed is not None else None,
        deployed_identical_text=deployed_identical if deployed is not None else None,
    )


def _max_abs_diff(a: np.ndarray, b: np.ndarray) -> float:
    """inf for a shape mismatch or a NaN/Inf output."""
    if a.shape != b.shape or not np.all(np.isfinite(b)):
        return float("inf")
    return float(np.max(np.abs(a - b)))


def describe_predictor(rec: Predictor) -> str:
    """backend, its version and the model format, e.g. "paddle 3.3.1 (paddle-legacy)"."""
    info = rec.session.describe()
    version = info.get("version")
    return f"{rec.backend}{' ' + str(version) if version else ''} ({rec.model.format})"
