"""``edge-sdk bench``: every backend and precision that can run the given models, side by side.

Each case runs in its own process (``edge_sdk.bench_worker``): one line at fixed widths (latency
p50/p90), a dataset through the SDK's batching (lines/s of the best of ``repeat`` passes, and acc when
labelled; on a shared 2-core machine one pass of the same case varied by up to 30%), peak RSS and cold
start (process exec to the first recognized line, no compiled-model cache). Two references can be
timed in the same run on the same images: the Paddle reference backend on the source model, and
RapidOCR's onnxruntime recognizer (``rapidocr_onnxruntime``), a user's current choice. Ratios are
lines/s against the first reference present (RapidOCR when run), so they come from one run: ``x RapidOCR``
the best pass over the baseline's best pass, ``paired`` the median over rounds of the two cases' ratio in
the same round (``paired_ratios``), which one lucky or unlucky pass of the baseline does not move.

The cases run in ``rounds``: every case once, then every case again, each time in a new process, and
``merge_rounds`` keeps each case's best pass. On a shared machine the load drifts over minutes, so a
baseline timed once at the start of a 12-minute run and a case timed once at its end can meet different
machines (RapidOCR's IC15 lines/s read 115.6 in one run and 128.9 in another); rounds spread every case's
passes over the whole run.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass, field
from importlib.util import find_spec
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Sequence

import runtimes
from runtimes.device import DeviceProfile
from runtimes.selection import Artifact, rank, reduced_precisions

from .errors import EdgeSDKError
from .hub import resolve
from .model_dir import ModelDir

DEFAULT_WIDTHS = (320, 640, 1280)
REFERENCES = ("rapidocr", "paddle")
RAPIDOCR_PIP = 'pip install --no-deps "rapidocr_onnxruntime==1.4.4" pyclipper shapely six'


@dataclass
class Case:
    label: str
    kind: str  # "sdk" or "rapidocr"
    model: str
    backend: str
    precision: str = "f32"
    python: str = sys.executable
    reference: bool = False
    artifact_precision: str = "fp32"
    size_mb: Optional[float] = None
    model_file: str = ""
    streams: int = 1  # OpenVINO inference streams (BackendOptions.streams)
    stages: Dict[str, Optional[str]] = field(default_factory=dict)  # pipeline cases: det, cls, rec models
    result: Dict[str, Any] = field(default_factory=dict)

    def spec(self, data: Path, limit: Optional[int], widths: Sequence[int], runs: int, batch_size: int,
             threads: int, repeat: int = 1) -> Dict[str, Any]:
        return {"kind": self.kind, "model": self.model, "backend": self.backend, "precision": self.precision,
                "data": str(data), "limit": limit, "widths": list(widths), "runs": runs, "batch_size": batch_size,
                "threads": threads, "repeat": repeat, "streams": self.streams, **self.stages}


def _size_mb(md: ModelDir) -> float:
    files = [md.model_file] + [md.model_file.with_suffix(s) for s in (".bin", ".pdiparams", ".onnx_data")]
    return round(sum(f.stat().st_size for f in files if f.is_file()) / 1e6, 1)


def plan_cases(models: Dict[str, ModelDir], profile: DeviceProfile, *, backends: Optional[Iterable[str]] = None,
               precisions: Optional[Iterable[str]] = None, references: Iterable[str] = REFERENCES,
               lite_python: Optional[str] = None, streams: Sequence[int] = (1,)) -> List[Case]:
    """The cases to run: each model (name -> resolved dir) on each installed backend that reads it, at each
    compute precision, and on OpenVINO with each of ``streams``."""
    keep_backends = set(backends) if backends else None
    keep_precisions = set(precisions) if precisions else None
    cases: List[Case] = []
    source_name = None
    for name, md in models.items():
        source_name = source_name or md.model_name
        tag = md.manifest.get("precision", "fp32") if md.manifest else "fp32"
        for backend in runtimes.backends_for(md.model_file):
            if keep_backends and backend not in keep_backends:
                continue
            python = sys.executable
            if backend not in profile.backends:
                if backend == "paddlelite" and lite_python:
                    python = lite_python
                else:
                    continue
            for precision in ["f32", *(reduced_precisions(profile) if backend == "openvino" else [])]:
                if keep_precisions and precision not in keep_precisions:
                    continue
                for n in (streams if backend == "openvino" else (1,)):
                    label = (f"{Path(name).name} {backend}" + (f" {precision}" if precision != "f32" else "")
                             + (f" x{n} streams" if n != 1 else ""))
                    cases.append(Case(label, "sdk", str(md.path), backend, precision, python, artifact_precision=tag,
                                      size_mb=_size_mb(md), model_file=str(md.model_file), streams=n))
    refs = list(references)
    if "paddle" in refs and source_name and "paddle" in profile.backends:
        src = resolve(source_name)
        cases = [c for c in cases if not (c.backend == "paddle" and c.model == str(src.path))]  # no double run
        cases.insert(0, Case("reference: Paddle Inference", "sdk", str(src.path), "paddle", reference=True,
                             size_mb=_size_mb(src)))
    if "rapidocr" in refs and find_spec("rapidocr_onnxruntime") is not None:
        cases.insert(0, Case("reference: RapidOCR rec (onnxruntime)", "rapidocr", "rapidocr_onnxruntime",
                             "rapidocr_onnxruntime", reference=True))
    return cases


def plan_pipeline_cases(stages: Dict[str, Optional[str]], profile: DeviceProfile,
                        references: Iterable[str] = REFERENCES) -> List[Case]:
    """Whole-image OCR cases: the SDK's pipeline of ``stages`` (det, cls, rec; each on the backend ``auto``
    picks for it), the same zoo models on Paddle Inference, and RapidOCR's full pipeline."""
    label = " + ".join(Path(str(m)).name for m in (stages["det"], stages.get("cls"), stages["rec"]) if m)
    cases = [Case(f"edge-sdk OCR: {label}", "sdk-ocr", label, "auto", stages=dict(stages))]
    refs = list(references)
    if "paddle" in refs and "paddle" in profile.backends:
        sources = {k: (resolve(str(v)).model_name or str(v)) if v else None for k, v in stages.items()}
        cases.insert(0, Case("reference: edge-sdk OCR on Paddle Inference", "sdk-ocr", "paddle", "paddle",
                             reference=True, stages=sources))
    if "rapidocr" in refs and find_spec("rapidocr_onnxruntime") is not None:
        cases.insert(0, Case("reference: RapidOCR pipeline (onnxruntime)", "rapidocr-ocr", "rapidocr_onnxruntime",
                             "rapidocr_onnxruntime", reference=True))
    return cases


def pipeline_table(cases: Sequence[Case]) -> str:
    ok = [c for c in cases if c.reference and "images_per_s" in c.result]
    base = next((c for c in ok if c.kind == "rapidocr-ocr"), ok[0] if ok else None)
    head = ["case", "backends", "cold s", "p50 ms/image", "p90", "images/s",
            f"x {'RapidOCR' if base and base.kind == 'rapidocr-ocr' else 'ref'}", "det H %", "e2e H %", "RSS MB"]
    rows = []
    for c in cases:
        r = c.result
        if "error" in r:
            rows.append([c.label, "", "", "", "", "", "", "", "", r["error"]])
            continue
        sc = r.get("scores", {})
        rows.append([c.label, r["backend"], f"{r['cold_start_s']:.2f}", f"{r['latency_ms']['p50']:.1f}",
                     f"{r['latency_ms']['p90']:.1f}", f"{r['images_per_s']:.2f}",
                     f"{r['images_per_s'] / base.result['images_per_s']:.2f}" if base else "",
                     f"{100 * sc['det_hmean']:.1f}" if sc else "", f"{100 * sc['e2e_hmean']:.1f}" if sc else "",
                     f"{r['peak_rss_mb']:.0f}"])
    widths_col = [max(len(str(x)) for x in col) for col in zip(head, *rows)]
    fmt = lambda row: "  ".join(str(x).ljust(w) for x, w in zip(row, widths_col)).rstrip()  # noqa: E731
    return "\n".join([fmt(head), fmt(["-" * w for w in widths_col])] + [fmt(r) for r in rows])


def missing_references(references: Iterable[str], profile: DeviceProfile) -> List[str]:
    notes = []
    if "rapidocr" in references and find_spec("rapidocr_onnxruntime") is None:
        notes.append(f"RapidOCR reference not run: rapidocr_onnxruntime is not installed ({RAPIDOCR_PIP}).")
    if "paddle" in references and "paddle" not in profile.backends:
        notes.append("Paddle reference not run: paddlepaddle is not installed (pip install paddlepaddle).")
    return notes


class AnonPeak:
    """Peak private (anonymous) resident memory of another process, read from ``/proc/<pid>/statm``
    every ``interval`` s by a thread of this one.

    Peak RSS also counts the shared libraries' file-backed pages, and how many of those a process maps
    depends on what the page cache holds (the same case measured 250 MB right after a CI run and 233 MB
    half an hour later); private memory does not. The sampling runs here, in the parent, and not in the
    case's own process: a 5 ms sampling thread inside the worker cost OpenVINO FP32 5-15% of its lines/s
    on 2 cores (waking up among the inference threads, and taking the GIL from the pipeline's). Sampled,
    so a spike shorter than the interval can be missed. Zero where /proc is not there.
    """

    def __init__(self, pid: int, interval: float = 0.01) -> None:
        import threading

        self.peak_pages = 0
        self._path = f"/proc/{pid}/statm"
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, args=(interval,), daemon=True, name="bench-anon")
        self._thread.start()

    def sample_pages(self) -> int:
        try:
            with open(self._path, "rb") as f:
                fields = f.read().split()
            return int(fields[1]) - int(fields[2])  # resident - file-backed/shared = anonymous
        except (OSError, ValueError, IndexError):
            return 0

    def _watch(self, interval: float) -> None:
        while not self._stop.wait(interval):
            self.peak_pages = max(self.peak_pages, self.sample_pages())

    def stop_mb(self) -> float:
        self._stop.set()
        self._thread.join()
        return round(self.peak_pages * os.sysconf("SC_PAGE_SIZE") / 2**20, 1)


def run_case(case: Case, spec: Dict[str, Any], timeout: float = 3600) -> Dict[str, Any]:
    env = dict(os.environ)
    root = str(Path(__file__).resolve().parents[1])
    env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    try:
        # native libraries in the worker may print bytes that are not UTF-8 (a corrupt model's name, a
        # locale's message): decode leniently, the result line itself is ASCII JSON
        proc = subprocess.Popen([case.python, "-m", "edge_sdk.bench_worker", json.dumps(spec)],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, encoding="utf-8", errors="replace",
                                env=env)
    except OSError as exc:
        return {"error": f"could not start {case.python}: {exc}"}
    anon = AnonPeak(proc.pid)
    try:
        stdout, stderr = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        return {"error": f"timed out after {timeout:.0f} s"}
    finally:
        peak_anon_mb = anon.stop_mb()
    for line in stdout.splitlines():
        if line.startswith("BENCH_RESULT "):
            try:
                result = json.loads(line[len("BENCH_RESULT "):])
            except ValueError:
                break
            if peak_anon_mb and "error" not in result:
                result["peak_anon_mb"] = peak_anon_mb
            return result
    tail = (stderr.strip().splitlines() or [f"exit code {proc.returncode}"])[-1]
    return {"error": f"the case's process died ({tail})"}


def merge_rounds(rounds: Sequence[Dict[str, Any]]) -> Dict[str, Any]:
    """One case's results from several rounds (a process each) as one: lines/s is the best pass of all
    rounds, latency the round with the lowest p50 at each width and cold start the lowest (a busy
    neighbour only ever slows these down); peak RSS and private memory the highest (a round's page cache
    and timing only ever make them look smaller). Accuracy is the lowest round's; rounds that disagree are
    listed in ``acc_rounds`` (a backend whose texts change between processes is not deterministic, and the
    bench says so). A case that failed in any round is reported failed."""
    failed = next((r for r in rounds if "error" in r), None)
    if failed is not None or not rounds:
        return failed or {"error": "no round ran"}
    out = dict(rounds[0])
    del out["pid"]  # every round's is in pids
    accs = [r["acc"] for r in rounds if "acc" in r]
    if accs:
        out["acc"] = min(accs)
        if len(set(accs)) > 1:
            out["acc_rounds"] = accs
    passes = [p for r in rounds for p in r["lines_per_s_passes"]]
    out.update(lines_per_s=max(passes), lines_per_s_passes=passes, lines_per_s_rounds=[r["lines_per_s"] for r in rounds],
               rounds=len(rounds), pids=[r["pid"] for r in rounds],
               cold_start_s=min(r["cold_start_s"] for r in rounds), load_s=min(r["load_s"] for r in rounds),
               peak_rss_mb=max(r["peak_rss_mb"] for r in rounds))
    out["latency_ms"] = {w: min((r["latency_ms"][w] for r in rounds), key=lambda lat: lat["p50"])
                         for w in rounds[0]["latency_ms"]}
    if all("peak_anon_mb" in r for r in rounds):
        out["peak_anon_mb"] = max(r["peak_anon_mb"] for r in rounds)
    return out


def paired_ratios(case: "Case", base: "Case") -> List[float]:
    """``case``'s lines/s over ``base``'s, round by round (each round's best pass), when both ran every round.

    Cases in one round run minutes apart, not an hour apart, so each of these ratios meets less of the
    machine's drift than the ratio of the two best passes of the whole run, which moves with the baseline's
    single luckiest pass (RapidOCR's IC15 passes in one run: 120, 119, 143, 135 lines/s)."""
    mine, theirs = case.result.get("lines_per_s_rounds"), base.result.get("lines_per_s_rounds")
    if not mine or not theirs or len(mine) != len(theirs):
        return []
    return [a / b for a, b in zip(mine, theirs)]


def median(values: Sequence[float]) -> float:
    ordered = sorted(values)
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2


def auto_choice(models: Iterable[ModelDir], profile: DeviceProfile) -> Dict[str, str]:
    """What ``backend='auto'`` picks for each model here, by the ranking."""
    out = {}
    for md in models:
        chosen = rank(profile, [Artifact.from_file(md.model_file, md.manifest)]).chosen
        out[str(md.path)] = f"{chosen.backend}:{chosen.device}" if chosen else "none"
    return out


def baseline(cases: Sequence[Case]) -> Optional[Case]:
    ok = [c for c in cases if c.reference and "lines_per_s" in c.result]
    return next((c for c in ok if c.kind == "rapidocr"), ok[0] if ok else None)


def table(cases: Sequence[Case], widths: Sequence[int], auto: Dict[str, str]) -> str:
    base = baseline(cases)
    head = ["case", "backend", "prec", "MB", "cold s"] + [f"p50@{w}" for w in widths] + \
        [f"p90@{widths[0]}", "lines/s", f"x {'RapidOCR' if base and base.kind == 'rapidocr' else 'ref'}",
         "paired", "x FP32", "acc %", "RSS MB", "anon MB"]
    rows = []
    for c in cases:
        r = c.result
        if "error" in r:
            rows.append([c.label, c.backend, c.precision, "", "", *[""] * len(widths), "", "", "", "", "", "", "",
                         r["error"]])
            continue
        lat = r.get("latency_ms", {})
        picked = " (auto)" if auto.get(c.model) == f"{r.get('backend')}:{r.get('device')}" and c.precision == "f32" \
            and c.streams == 1 and not c.reference else ""  # what create_model(model) runs: 1 stream
        prec = c.precision if c.artifact_precision == "fp32" else f"{c.artifact_precision}/{c.precision}"
        ratio = f"{r['lines_per_s'] / base.result['lines_per_s']:.2f}" if base else ""
        paired = paired_ratios(c, base) if base and len(r.get("lines_per_s_rounds", ())) > 1 else []
        vs_fp32 = speedup_over_fp32(c, cases)
        rows.append([c.label + picked, f"{r.get('backend')}:{r.get('device')}", prec,
                     f"{c.size_mb:.1f}" if c.size_mb else "", f"{r['cold_start_s']:.2f}",
                     *[f"{lat[str(w)]['p50']:.1f}" for w in widths], f"{lat[str(widths[0])]['p90']:.1f}",
                     f"{r['lines_per_s']:.1f}", ratio, f"{median(paired):.2f}" if paired else "",
                     f"{vs_fp32:.2f}" if vs_fp32 is not None else "",
                     f"{100 * r['acc']:.2f}" if "acc" in r else "", f"{r['peak_rss_mb']:.0f}",
                     f"{r['peak_anon_mb']:.0f}" if "peak_anon_mb" in r else ""])
    widths_col = [max(len(str(x)) for x in col) for col in zip(head, *rows)]
    fmt = lambda row: "  ".join(str(x).ljust(w) for x, w in zip(row, widths_col)).rstrip()  # noqa: E731
    return "\n".join([fmt(head), fmt(["-" * w for w in widths_col])] + [fmt(r) for r in rows])


def fp32_counterpart(case: Case, cases: Sequence[Case]) -> Optional[Case]:
    """For an integer artifact's case, the FP32 artifact's case on the same backend and compute precision in
    this run (the same file format first), to state the INT8 speed-up where it runs; else None."""
    if case.artifact_precision == "fp32" or "lines_per_s" not in case.result:
        return None
    same = [c for c in cases if c is not case and not c.reference and c.artifact_precision == "fp32"
            and c.backend == case.backend and c.precision == case.precision and c.streams == case.streams
            and "lines_per_s" in c.result]
    suffix = Path(case.model_file).suffix
    return next((c for c in same if Path(c.model_file).suffix == suffix), same[0] if same else None)


def speedup_over_fp32(case: Case, cases: Sequence[Case]) -> Optional[float]:
    fp32 = fp32_counterpart(case, cases)
    return case.result["lines_per_s"] / fp32.result["lines_per_s"] if fp32 is not None else None


def fastest_f32(cases: Sequence[Case]) -> Optional[Case]:
    ok = [c for c in cases if not c.reference and c.precision == "f32" and c.artifact_precision == "fp32"
          and "lines_per_s" in c.result]
    return max(ok, key=lambda c: c.result["lines_per_s"]) if ok else None


def check_data(data: Path) -> Path:
    if not Path(data).exists():
        raise EdgeSDKError(f"benchmark data {data} does not exist; pass a label file, dataset dir or image folder.")
    return Path(data)


def exact_acc(cases: Sequence[Case]) -> Optional[float]:
    """The exact FP32 acc on this data: the Paddle reference's, else the first FP32 artifact's at f32."""
    ref = next((c for c in cases if c.reference and c.kind == "sdk" and "acc" in c.result), None)
    fp32 = next((c for c in cases if not c.reference and c.precision == "f32" and c.artifact_precision == "fp32"
                 and "acc" in c.result), None)
    chosen = ref or fp32
    return chosen.result["acc"] if chosen else None


def fastest_within(cases: Sequence[Case], max_acc_loss: float) -> Optional[Case]:
    """The fastest SDK case whose acc is at most ``max_acc_loss`` points below the exact FP32 acc."""
    exact = exact_acc(cases)
    if exact is None:
        return None
    ok = [c for c in cases if not c.reference and "acc" in c.result and "lines_per_s" in c.result
          and 100 * (exact - c.result["acc"]) <= max_acc_loss + 1e-9]
    return max(ok, key=lambda c: c.result["lines_per_s"]) if ok else None
