"""Evaluation on a labelled set, with PaddleX's metrics and output file.

``evaluate_result.json`` has PaddleX's layout (``{"done_flag": true, "metrics": {"acc", "norm_edit_dis"}}``);
edge-sdk adds its own keys beside ``metrics`` (exact and alphanumeric accuracy, speed, the worst lines).
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Union

from .datasets import Sample, load_samples
from .errors import DatasetError
from .metrics import RecMetrics, normalized_edit_distance, rec_metrics
from .progress import progress
from .recognizer import TextRecognizer, create_model

WORST = 10


@dataclass
class EvalReport:
    model: Dict[str, Any]
    dataset: str
    metrics: RecMetrics
    seconds: float
    worst: List[Dict[str, Any]] = field(default_factory=list)
    predictions: List[str] = field(default_factory=list)

    @property
    def lines_per_s(self) -> float:
        return self.metrics.samples / self.seconds if self.seconds > 0 else 0.0

    def as_paddlex(self) -> Dict[str, Any]:
        m = self.metrics
        return {
            "done_flag": True,
            "metrics": {"acc": m.acc, "norm_edit_dis": m.norm_edit_dis},
            "edge_sdk": {"exact_acc": m.exact_acc, "alnum_acc": m.alnum_acc, "samples": m.samples,
                         "lines_per_s": round(self.lines_per_s, 2), "model": self.model, "dataset": self.dataset,
                         "worst": self.worst},
        }

    def summary(self) -> str:
        m = self.metrics
        lines = [
            f"eval {self.model.get('path')} ({self.model.get('backend')}) on {self.dataset}: {m.samples} lines",
            f"  acc               {100 * m.acc:.2f}%   (PaddleX: exact after removing spaces)",
            f"  norm_edit_dis     {m.norm_edit_dis:.4f}",
            f"  exact-match acc   {100 * m.exact_acc:.2f}%   (case- and space-sensitive)",
            f"  alnum acc         {100 * m.alnum_acc:.2f}%   (lower-case letters and digits only)",
            f"  speed             {self.lines_per_s:.1f} lines/s",
        ]
        if self.worst:
            lines.append("  worst lines (normalized edit distance, label -> prediction):")
            lines += [f"    {w['ned']:.2f}  {Path(w['path']).name}: {w['label']!r} -> {w['pred']!r}" for w in self.worst]
        return "\n".join(lines)

    def write(self, out_dir: Union[str, Path]) -> Path:
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        (out / "evaluate_result.json").write_text(json.dumps(self.as_paddlex(), indent=2, ensure_ascii=False) + "\n",
                                                   encoding="utf-8")
        (out / "eval_report.txt").write_text(self.summary() + "\n", encoding="utf-8")
        return out / "evaluate_result.json"


def evaluate(model: Union[str, Path, TextRecognizer], dataset: Union[str, Path], batch_size: int = 8,
             limit: Optional[int] = None, **model_kwargs: Any) -> EvalReport:
    """Recognize every line of a labelled set and score it as PaddleX does.

    Args:
        model: a loaded ``TextRecognizer`` or anything ``create_model`` takes.
        dataset: a PaddleX rec dataset dir (its ``val.txt``) or a label file.
        batch_size: lines per backend call (results do not depend on it).
        limit: score only the first N lines.
    Example:
        >>> evaluate("out/rec-onnx", "../shared/datasets/ocr_rec_dataset_examples").metrics.acc
    """
    rec = model if isinstance(model, TextRecognizer) else create_model(str(model), **model_kwargs)
    samples: List[Sample] = load_samples(Path(dataset), limit)
    if any(s.label is None for s in samples):
        raise DatasetError(f"{dataset} has no labels; evaluation needs a label file (val.txt).")
    preds: List[str] = []
    t0 = time.perf_counter()
    with progress(len(samples), "eval", unit="line") as bar:
        for res in rec.predict([str(s.path) for s in samples], batch_size=batch_size, keep_images=False):
            preds.append(res.rec_text)
            bar.update(1)
    seconds = time.perf_counter() - t0
    labels = [s.label or "" for s in samples]
    scored = sorted(
        ({"path": str(s.path), "label": t, "pred": p, "ned": normalized_edit_distance(p, t)}
         for s, p, t in zip(samples, preds, labels) if p != t),
        key=lambda w: -w["ned"],
    )
    info = rec.describe()
    return EvalReport(model={"path": info["path"], "backend": info["backend"], "format": info["format"],
                             "model_name": info["model"]},
                      dataset=str(dataset), metrics=rec_metrics(preds, labels), seconds=seconds,
                      worst=scored[:WORST], predictions=preds)
