"""One benchmark case, in a process of its own: ``python -m edge_sdk.bench_worker '<case json>'``.

A fresh process per case keeps the figures honest: cold start counts the imports, and peak RSS is
this case's alone. Prints one JSON object on stdout. Kinds of case:
- ``sdk``: ``create_model(model, backend, precision)`` and its ``recognize``/``predict``;
- ``rapidocr``: RapidOCR's onnxruntime text recognizer (rec only, its bundled PP-OCRv4 rec ONNX), fed
  the same images, as a user of ``rapidocr_onnxruntime`` runs it today;
- ``sdk-ocr`` and ``rapidocr-ocr``: whole-image OCR, the SDK's pipeline (``create_pipeline``) or RapidOCR's
  full one (det + cls + rec), image by image: images/s, per-image latency and, on a detection label file,
  detection and end-to-end scores.
"""
from __future__ import annotations

import time

_T_MAIN = time.perf_counter()

import json  # noqa: E402
import os  # noqa: E402
import resource  # noqa: E402
import sys  # noqa: E402
from typing import Any, Callable, Dict, List, Sequence, Tuple  # noqa: E402


def process_age_s() -> float:
    """Seconds since this process was exec'd (Linux /proc), so cold start includes interpreter start."""
    try:
        with open("/proc/self/stat") as fh:
            start_ticks = int(fh.read().rsplit(")", 1)[1].split()[19])
        with open("/proc/uptime") as fh:
            uptime = float(fh.read().split()[0])
        return max(0.0, uptime - start_ticks / os.sysconf("SC_CLK_TCK"))
    except (OSError, ValueError, IndexError):
        return time.perf_counter() - _T_MAIN


def percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    k = (len(ordered) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def line_at_width(image: Any, width: int, height: int = 48) -> Any:
    """A real text line stretched so the shared preprocessing pads it to exactly ``width``."""
    import cv2

    return cv2.resize(image, (width, height), interpolation=cv2.INTER_LINEAR)


def time_latency(run_one: Callable[[Any], Any], line: Any, runs: int) -> Dict[str, float]:
    for _ in range(3):
        run_one(line)
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        run_one(line)
        times.append((time.perf_counter() - t0) * 1000)
    return {"p50": round(percentile(times, 0.5), 3), "p90": round(percentile(times, 0.9), 3)}


def sdk_case(case: Dict[str, Any]) -> Tuple[Dict[str, Any], Callable[[Any], Any], Callable[[List[str]], List[str]]]:
    from edge_sdk import create_model

    rec = create_model(case["model"], backend=case["backend"], threads=case["threads"], device=case.get("device", "auto"),
                       precision=case["precision"], cache_dir=None, streams=case.get("streams", 1))
    info = rec.describe()

    def run_one(img: Any) -> Any:
        return rec.recognize([img])

    def run_all(paths: List[str]) -> List[str]:
        return [r.rec_text for r in rec.predict(paths, batch_size=case["batch_size"], keep_images=False)]

    return {"backend": info["backend"], "device": str(info["device"]).lower(), "precision": info["precision"],
            "format": info["format"], "version": info.get("version"), "malloc_arenas": info.get("malloc_arenas")}, \
        run_one, run_all


def rapidocr_rec_config(batch_size: int, threads: int) -> Dict[str, Any]:
    """RapidOCR's own recognizer settings (its config.yaml), with its bundled model's full path, the
    batch and the threads set: what ``rapidocr_onnxruntime``'s ``TextRecognizer`` takes."""
    from pathlib import Path

    import rapidocr_onnxruntime
    from rapidocr_onnxruntime.utils import read_yaml

    pkg = Path(rapidocr_onnxruntime.__file__).parent
    config = read_yaml(pkg / "config.yaml")["Rec"]
    config.update(model_path=str(pkg / config["model_path"]), rec_batch_num=batch_size,
                  intra_op_num_threads=threads or os.cpu_count(), inter_op_num_threads=1)
    return config


def rapidocr_case(case: Dict[str, Any]) -> Tuple[Dict[str, Any], Callable[[Any], Any], Callable[[List[str]], List[str]]]:
    import cv2
    from rapidocr_onnxruntime.ch_ppocr_rec import TextRecognizer

    rec = TextRecognizer(rapidocr_rec_config(case["batch_size"], case["threads"]))

    def run_one(img: Any) -> Any:
        return rec([img])

    def run_all(paths: List[str]) -> List[str]:
        return [text for text, _ in rec([cv2.imread(p) for p in paths])[0]]

    from importlib.metadata import version

    from runtimes.memory import set_by_environment

    return {"backend": "rapidocr_onnxruntime", "device": "cpu", "precision": "f32", "format": "onnx",
            "version": version("rapidocr_onnxruntime"), "malloc_arenas": "set by the environment" if set_by_environment() else "glibc default"}, \
        run_one, run_all


def pipeline_main(case: Dict[str, Any]) -> Dict[str, Any]:
    from pathlib import Path

    import numpy as np

    from edge_sdk.inputs import iter_items
    from edge_sdk.pipeline.evaluation import OCRScores, read_det_labels
    from edge_sdk.images import read_image

    data = Path(case["data"])
    if data.is_file():
        rows = [(p, truth) for p, truth in read_det_labels(data)]
    else:
        rows = [(Path(item.input_path), None) for item in iter_items(str(data)) if item.input_path]
    rows = rows[:case.get("limit") or None]
    images = [read_image(p) for p, _ in rows]
    t0 = time.perf_counter()
    if case["kind"] == "rapidocr-ocr":
        from importlib.metadata import version

        from rapidocr_onnxruntime import RapidOCR

        engine = RapidOCR(intra_op_num_threads=case["threads"] or os.cpu_count())

        def run(img: Any) -> Tuple[List[Any], List[str]]:
            result = engine(img)[0] or []
            return [r[0] for r in result], [r[1] for r in result]

        info = {"backend": "rapidocr_onnxruntime", "device": "cpu", "precision": "f32", "format": "onnx",
                "version": version("rapidocr_onnxruntime")}
    else:
        from edge_sdk.pipeline import create_pipeline

        pipe = create_pipeline("OCR", det=case["det"], rec=case["rec"], cls=case.get("cls"), backend=case["backend"],
                               threads=case["threads"], cache_dir=None)

        def run(img: Any) -> Tuple[List[Any], List[str]]:
            res = pipe.ocr(img)
            return list(res["rec_polys"]), res["rec_texts"]

        d = pipe.describe()
        stages = [s for s in (d["det"], d["cls"], d["rec"]) if s]
        info = {"backend": "+".join(str(s["backend"]) for s in stages), "device": "cpu", "precision": "f32",
                "format": "+".join(str(s["format"]) for s in stages)}
    run(images[0])  # warm-up: the first image compiles and allocates
    out: Dict[str, Any] = {**info, "load_s": round(time.perf_counter() - t0, 3), "cold_start_s": round(process_age_s(), 3)}
    scores = OCRScores()
    times = []
    start = time.perf_counter()
    for (path, truth), img in zip(rows, images):
        t = time.perf_counter()
        polys, texts = run(img)
        times.append((time.perf_counter() - t) * 1000)
        if truth is not None:
            scores.add(path.name, truth, [np.asarray(p, np.float32) for p in polys], texts)
    elapsed = time.perf_counter() - start
    out.update(images=len(rows), images_per_s=round(len(rows) / elapsed, 3),
               latency_ms={"p50": round(percentile(times, 0.5), 1), "p90": round(percentile(times, 0.9), 1)})
    if scores.images:
        out["scores"] = scores.as_dict()
    out["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    return out


def main(case: Dict[str, Any]) -> Dict[str, Any]:
    if case["kind"] in ("sdk-ocr", "rapidocr-ocr"):
        return pipeline_main(case)
    from edge_sdk.datasets import load_samples
    from edge_sdk.metrics import rec_metrics
    from edge_sdk.images import read_image
    from pathlib import Path

    samples = load_samples(Path(case["data"]), case.get("limit"))
    first = read_image(samples[0].path)
    build = rapidocr_case if case["kind"] == "rapidocr" else sdk_case
    t0 = time.perf_counter()
    info, run_one, run_all = build(case)
    run_one(line_at_width(first, case["widths"][0]))
    out: Dict[str, Any] = {**info, "load_s": round(time.perf_counter() - t0, 3),
                           "cold_start_s": round(process_age_s(), 3)}
    out["latency_ms"] = {str(w): time_latency(run_one, line_at_width(first, w), case["runs"]) for w in case["widths"]}
    paths = [str(s.path) for s in samples]
    passes = []
    for _ in range(case.get("repeat", 1)):  # the best pass: a busy neighbour only ever slows one down
        t0 = time.perf_counter()
        texts = run_all(paths)
        passes.append(round(len(paths) / (time.perf_counter() - t0), 2))
    out["lines"] = len(paths)
    out["lines_per_s"] = max(passes)
    out["lines_per_s_passes"] = passes
    if all(s.label is not None for s in samples):
        m = rec_metrics(texts, [s.label for s in samples])
        out["acc"], out["norm_edit_dis"] = round(m.acc, 5), round(m.norm_edit_dis, 5)
    out["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    out["pid"] = os.getpid()
    return out


if __name__ == "__main__":
    try:
        result = main(json.loads(sys.argv[1]))
    except Exception as exc:  # reported to the parent as this case's error, not a traceback
        from edge_sdk.errors import EdgeSDKError
        from runtimes.base import first_line

        result = {"error": first_line(exc) if isinstance(exc, EdgeSDKError) else f"{type(exc).__name__}: {first_line(exc)}"}
    sys.stdout.write("\nBENCH_RESULT " + json.dumps(result) + "\n")
