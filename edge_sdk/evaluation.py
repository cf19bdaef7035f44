"""Evaluation on a labelled set, with PaddleX's metrics and output file.

``evaluate_result.json`` has PaddleX's layout (``{"done_flag": true, "metrics": {"acc", "norm_edit_dis"}}``);
edge-sdk adds its own keys beside ``metrics`` (exact and alphanumeric accuracy, speed, the worst lines).
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple, Union

from .datasets import Sample, load_samples
from .errors import DatasetError, ModelFormatError
from .limits import shown
from .inputs import Item
from .options import MAX_BATCH_SIZE, ON_ERROR, check_choice, check_int
from .metrics import RecMetrics, normalized_edit_distance, rec_metrics
from .progress import progress
from .model_dir import TASK_NAMES
from .predictor import create_model
from .rec.recognizer import TextRecognizer

WORST = 10


@dataclass
class EvalReport:
    model: Dict[str, Any]
    dataset: str
    metrics: RecMetrics
    seconds: float
    worst: List[Dict[str, Any]] = field(default_factory=list)
    predictions: List[str] = field(default_factory=list)
    skipped: List[Dict[str, Any]] = field(default_factory=list)  # lines left out by on_error="skip"
    runner: str = "this process"  # or "Ray: N actors x T threads"

    @property
    def lines_per_s(self) -> float:
        return self.metrics.samples / self.seconds if self.seconds > 0 else 0.0

    def as_paddlex(self) -> Dict[str, Any]:
        m = self.metrics
        return {
            "done_flag": True,
            "metrics": {"acc": m.acc, "norm_edit_dis": m.norm_edit_dis},
            "edge_sdk": {"exact_acc": m.exact_acc, "alnum_acc": m.alnum_acc, "samples": m.samples,
                         "lines_per_s": round(self.lines_per_s, 2), "runner": self.runner, "model": self.model,
                         "dataset": self.dataset, "worst": self.worst, "skipped": self.skipped},
        }

    def summary(self) -> str:
        m = self.metrics
        lines = [
            f"eval {self.model.get('path')} ({self.model.get('backend')}) on {self.dataset}: {m.samples} lines",
            f"  acc               {100 * m.acc:.2f}%   (PaddleX: exact after removing spaces)",
            f"  norm_edit_dis     {m.norm_edit_dis:.4f}",
            f"  exact-match acc   {100 * m.exact_acc:.2f}%   (case- and space-sensitive)",
            f"  alnum acc         {100 * m.alnum_acc:.2f}%   (lower-case letters and digits only)",
            f"  speed             {self.lines_per_s:.1f} lines/s ({self.runner})",
        ]
        if self.skipped:
            lines.append(f"  skipped           {len(self.skipped)} unreadable lines, not scored:")
            lines += [f"    {s['error']}" for s in self.skipped[:WORST]]
            if len(self.skipped) > WORST:
                lines.append(f"    ... and {len(self.skipped) - WORST} more (evaluate_result.json lists them all)")
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
             limit: Optional[int] = None, on_error: str = "stop", allow_outside_paths: bool = False,
             ray_address: Optional[str] = None, actors: Optional[int] = None, **model_kwargs: Any) -> EvalReport:
    """Recognize every line of a labelled set and score it as PaddleX does.

    Args:
        model: a loaded ``TextRecognizer`` or anything ``create_model`` takes.
        dataset: a PaddleX rec dataset dir (its ``val.txt``) or a label file.
        batch_size: lines per backend call (results do not depend on it).
        limit: score only the first N lines.
        on_error: ``"stop"`` at the first unreadable image, or ``"skip"`` it: skipped lines are left out of
            the metrics and listed in ``EvalReport.skipped``.
        allow_outside_paths: let the label file name images outside its own folder.
        ray_address: recognize on Ray Data instead (``"auto"``: a local Ray; else a cluster address), with
            ``actors`` actors of ``threads`` threads each (together the CPUs Ray has, by default); the texts
            are the ones this process would give.
    Example:
        >>> evaluate("out/rec-onnx", "../shared/datasets/ocr_rec_dataset_examples").metrics.acc
    """
    if limit is not None:
        limit = check_int("limit", limit, 1)
    samples: List[Sample] = load_samples(Path(dataset), limit, allow_outside=allow_outside_paths)
    if any(s.label is None for s in samples):
        raise DatasetError(f"{dataset} has no labels; evaluation needs a label file (val.txt).")
    rec = model if isinstance(model, TextRecognizer) else create_model(str(model), **model_kwargs)
    if not isinstance(rec, TextRecognizer):
        raise ModelFormatError(f"{model} is a text {TASK_NAMES[rec.model.task]} model; eval scores recognition models "
                               "on text lines (`edge-sdk ocr --gt LABELS` scores whole-image OCR).")
    if ray_address is not None:
        # the actors load the model as the caller named it (a zoo name resolves on each node)
        ref = str(model) if not isinstance(model, TextRecognizer) else str(rec.model.path)
        return _evaluate_on_ray(rec, ref, samples, str(dataset), batch_size, on_error, ray_address, actors,
                                model_kwargs)
    by_path: Dict[str, str] = {}
    t0 = time.perf_counter()
    with progress(len(samples), "eval", unit="line") as bar:
        batch_size = check_int("batch_size", batch_size, 1, MAX_BATCH_SIZE)
        on_error = check_choice("on_error", on_error, ON_ERROR)
        # one item per label line (the label file was read and checked above): a line naming a folder is
        # that line's error, not a folder of images to expand
        items = (Item(str(s.path), shown(s.path.name),
                      error=f"{shown(s.path)} is a directory, not an image file." if s.path.is_dir() else None)
                 for s in samples)
        run = rec.predict_items(items, batch_size=batch_size, keep_images=False, on_error=on_error)
        for res in run:
            by_path[str(res.input_path)] = res.rec_text
            bar.update(1)
    seconds = time.perf_counter() - t0
    skipped = {str(s.input_path) for s in run.skipped}
    kept = [(s, by_path[str(s.path)]) for s in samples if str(s.path) not in skipped]
    return _report(rec, str(dataset), kept, seconds, [x.to_dict() for x in run.skipped])


def _evaluate_on_ray(rec: TextRecognizer, ref: str, samples: List[Sample], dataset: str, batch_size: int,
                     on_error: str, address: str, actors: Optional[int], model_kwargs: Dict[str, Any]) -> EvalReport:
    from .bulk.ray_data import recognize_samples

    batch_size = check_int("batch_size", batch_size, 1, MAX_BATCH_SIZE)
    on_error = check_choice("on_error", on_error, ON_ERROR)
    threads = model_kwargs.pop("threads", None) or None
    run = recognize_samples(ref, samples, address, actors, threads, batch_size, **model_kwargs)
    rows, skipped = run.results(on_error)
    kept = [(samples[int(row["index"])], str(row["rec_text"])) for row in rows]
    report = _report(rec, dataset, kept, run.seconds, skipped)
    report.runner = run.plan
    return report


def _report(rec: TextRecognizer, dataset: str, kept: List[Tuple[Sample, str]], seconds: float,
            skipped: List[Dict[str, Any]]) -> EvalReport:
    preds = [p for _, p in kept]
    labels = [s.label or "" for s, _ in kept]
    if not kept:
        raise DatasetError(f"every line of {dataset} was skipped as unreadable; nothing to score.")
    scored = sorted(
        ({"path": shown(str(s.path)), "label": t, "pred": p, "ned": normalized_edit_distance(p, t)}
         for (s, _), p, t in zip(kept, preds, labels) if p != t),
        key=lambda w: -w["ned"],
    )
    info = rec.describe()
    return EvalReport(model={"path": info["path"], "backend": info["backend"], "format": info["format"],
                             "model_name": info["model"]},
                      dataset=shown(str(dataset)), metrics=rec_metrics(preds, labels), seconds=seconds,
                      worst=scored[:WORST], predictions=preds, skipped=skipped)
