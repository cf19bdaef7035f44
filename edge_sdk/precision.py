"""``precision="fastest"``: the fastest compute precision whose accuracy loss was checked on labelled lines.

Reduced compute precisions (bf16 on CPUs with AVX-512 BF16 or AMX, f16 on ARMv8.2, through OpenVINO) run
faster and drift: a few lines read differently. How many depends on the model, the CPU and the data, so
it is measured, not assumed. ``check_precisions`` runs a recognition model at f32 (the exact reference)
and at each reduced precision this device computes natively on the backend, over each labelled set the
user gives, and records acc per set and lines/s per precision. ``choose_precision`` then picks, for a
bound of N points, the fastest precision whose acc is at most N points below f32's on every checked set;
f32 when nothing is recorded or nothing else holds. f32 stays the default everywhere: "fastest" is asked
for by name.

Records live in ``$EDGE_SDK_HOME/precision-checks.json``, keyed by this device (CPU model and features),
the model file's sha256 and the backend: a check made on another CPU, or of another file, says nothing
here.
"""
from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

from runtimes.device import DeviceProfile, this_device
from runtimes.selection import reduced_precisions

from .errors import DatasetError, EdgeSDKError
from .hub import cache_root, resolve, sha256_hex, sha256_of
from .model_dir import TASK_NAMES, ModelDir

DEFAULT_MAX_ACC_LOSS = 0.3  # points of PaddleX acc
REDUCED_BACKENDS = ("openvino",)  # backends that compute in bf16/f16 when asked


def checks_file() -> Path:
    return cache_root() / "precision-checks.json"


def check_max_acc_loss(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 100:
        raise EdgeSDKError(f"max_acc_loss must be a number of acc points from 0 to 100, not {value!r}.")
    return float(value)


def record_key(profile: DeviceProfile, model: ModelDir, backend: str) -> str:
    cpu = json.dumps({"arch": profile.arch, "cpu": profile.cpu_model, "features": profile.features}, sort_keys=True)
    return f"{sha256_hex(cpu)[:16]}:{sha256_of(model.model_file)[:16]}:{backend}"


@dataclass
class SetResult:
    data: str
    lines: int
    acc: Dict[str, float]  # precision -> PaddleX acc (0..1)
    identical: Dict[str, int]  # precision -> lines that read exactly as at f32


@dataclass
class PrecisionCheck:
    model: str
    backend: str
    device: str
    sets: List[SetResult]
    lines_per_s: Dict[str, float]  # precision -> over all sets
    when: str = field(default_factory=lambda: time.strftime("%Y-%m-%dT%H:%M:%S"))

    @property
    def precisions(self) -> List[str]:
        return list(self.lines_per_s)

    def loss_points(self, precision: str) -> float:
        """The largest acc drop from f32 over the checked sets, in points (negative: it gained on all)."""
        return round(max(100 * (s.acc["f32"] - s.acc[precision]) for s in self.sets), 4) + 0.0  # no -0.0

    def to_dict(self) -> Dict[str, Any]:
        return {"model": self.model, "backend": self.backend, "device": self.device, "when": self.when,
                "lines_per_s": self.lines_per_s, "sets": [s.__dict__ for s in self.sets]}

    @classmethod
    def from_dict(cls, d: Dict[str, Any]) -> "PrecisionCheck":
        return cls(d["model"], d["backend"], d["device"], [SetResult(**s) for s in d["sets"]],
                   {k: float(v) for k, v in d["lines_per_s"].items()}, d.get("when", ""))

    def table(self) -> str:
        head = ["precision", "lines/s", "x f32"] + [f"acc % {set_name(s.data)} ({s.lines})" for s in self.sets] + \
            ["worst delta", "texts as f32"]
        rows = []
        total = sum(s.lines for s in self.sets)
        for p in self.precisions:
            rows.append([p, f"{self.lines_per_s[p]:.1f}", f"{self.lines_per_s[p] / self.lines_per_s['f32']:.2f}",
                         *[f"{100 * s.acc[p]:.2f}" for s in self.sets], f"{0.0 - self.loss_points(p):+.2f} pts",
                         f"{sum(s.identical[p] for s in self.sets)}/{total}"])
        widths = [max(len(str(x)) for x in col) for col in zip(head, *rows)]
        fmt = lambda row: "  ".join(str(x).ljust(w) for x, w in zip(row, widths)).rstrip()  # noqa: E731
        return "\n".join([fmt(head), fmt(["-" * w for w in widths])] + [fmt(r) for r in rows])


def set_name(data: str) -> str:
    """A labelled set as people name it: its folder and file (``ocr_rec_dataset_examples/val.txt``)."""
    p = Path(data)
    return f"{p.parent.name}/{p.name}" if p.is_file() or p.suffix else p.name


def _load() -> Dict[str, Any]:
    try:
        data = json.loads(checks_file().read_text(encoding="utf-8"))
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}


def _store(key: str, check: PrecisionCheck) -> None:
    data = _load()
    data[key] = check.to_dict()
    path = checks_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, indent=1, ensure_ascii=False), encoding="utf-8")
    os.replace(tmp, path)


def recorded(model: ModelDir, backend: str, profile: Optional[DeviceProfile] = None) -> Optional[PrecisionCheck]:
    entry = _load().get(record_key(profile or this_device(), model, backend))
    try:
        return PrecisionCheck.from_dict(entry) if entry else None
    except (KeyError, TypeError, ValueError):
        return None  # a record from an older layout: as if none


def available_precisions(backend: str, profile: DeviceProfile) -> List[str]:
    return ["f32"] + (reduced_precisions(profile) if backend in REDUCED_BACKENDS else [])


def check_precisions(model: Union[str, Path, ModelDir], data: Sequence[Union[str, Path]], backend: str = "auto",
                     batch_size: int = 8, limit: Optional[int] = None, threads: int = 0) -> PrecisionCheck:
    """Run ``model`` at f32 and at each reduced precision this device has on ``backend`` over each labelled
    set in ``data``, record the result for ``choose_precision`` and return it."""
    from .datasets import load_samples
    from .metrics import rec_metrics
    from .rec.recognizer import TextRecognizer

    md = model if isinstance(model, ModelDir) else resolve(str(model))
    if md.task != "rec":
        raise EdgeSDKError(f"{md.path} holds a text {TASK_NAMES[md.task]} model; precision checks score text "
                           "recognition on labelled lines.")
    if not data:
        raise DatasetError("a precision check needs at least one labelled set (--data LABELS).")
    sets = []
    for d in data:
        samples = load_samples(Path(d), limit)
        if any(s.label is None for s in samples):
            raise DatasetError(f"{d} has no labels; a precision check needs a label file (val.txt).")
        sets.append((str(d), samples))
    profile = this_device()
    first = TextRecognizer(md, backend=backend, threads=threads, precision="f32")
    precisions = available_precisions(first.backend, profile)
    texts: Dict[str, List[List[str]]] = {}
    seconds: Dict[str, float] = {}
    for p in precisions:
        rec = first if p == "f32" else TextRecognizer(md, backend=first.backend, threads=threads, device=first.device,
                                                       precision=p)
        texts[p], seconds[p] = [], 0.0
        list(rec.predict([s.path for s in sets[0][1][:4 * batch_size]], batch_size=batch_size, keep_images=False))  # warm-up
        for _, samples in sets:
            t0 = time.perf_counter()
            texts[p].append([r.rec_text for r in rec.predict([s.path for s in samples], batch_size=batch_size,
                                                            keep_images=False)])
            seconds[p] += time.perf_counter() - t0
    results = []
    for i, (name, samples) in enumerate(sets):
        labels = [s.label or "" for s in samples]
        results.append(SetResult(name, len(samples), {p: round(rec_metrics(texts[p][i], labels).acc, 6) for p in precisions},
                                 {p: sum(a == b for a, b in zip(texts[p][i], texts["f32"][i])) for p in precisions}))
    total = sum(len(s) for _, s in sets)
    check = PrecisionCheck(md.model_name or str(md.path), first.backend, first.device, results,
                           {p: round(total / seconds[p], 2) for p in precisions})
    _store(record_key(profile, md, first.backend), check)
    return check


def choose_precision(model: ModelDir, backend: str, max_acc_loss: float = DEFAULT_MAX_ACC_LOSS,
                     profile: Optional[DeviceProfile] = None) -> Tuple[str, str]:
    """``(precision, why)``: the fastest checked precision within ``max_acc_loss`` points of f32 on every
    checked set, for ``model`` on ``backend`` on this device; f32 when nothing else is checked or holds."""
    profile = profile or this_device()
    name = model.model_name or model.path.name
    if model.task != "rec":
        return "f32", f"f32: precision checks cover text recognition; a text {TASK_NAMES[model.task]} model runs exact."
    here = available_precisions(backend, profile)
    if len(here) == 1:
        return "f32", f"f32: {backend} on this CPU computes no reduced precision."
    check = recorded(model, backend, profile)
    if check is None:
        return "f32", (f"f32: no precision check of {name} on {backend} on this CPU is recorded; run "
                       f"`edge-sdk check-precision {model.path} --data LABELS` to let a faster one be chosen.")
    where = ", ".join(f"{set_name(s.data)} ({s.lines} lines)" for s in check.sets)
    fits = [p for p in check.precisions if p in here and check.loss_points(p) <= max_acc_loss]
    best = max(fits, key=lambda p: check.lines_per_s[p])
    if best == "f32":
        over = [f"{p} loses {check.loss_points(p):.2f} pts" for p in check.precisions if p != "f32" and p in here
                and check.loss_points(p) > max_acc_loss]
        why = "; ".join(over) + f", over the {max_acc_loss:g}-point bound" if over else "no reduced precision was faster"
        return "f32", f"f32: {why} (checked on {where}, {check.when})."
    return best, (f"{best}: {check.lines_per_s[best] / check.lines_per_s['f32']:.2f}x the lines/s of f32, acc "
                  f"{0.0 - check.loss_points(best):+.2f} pts at worst, within the {max_acc_loss:g}-point bound (checked on "
                  f"{where}, {check.when}).")
