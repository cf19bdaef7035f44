"""Why a speed-up over RapidOCR depends on the lines: the same engine, batched two ways, on each dataset.

    .venv/bin/python benchmarks/batching_by_width.py MODEL [--data FILE ...] [--batch-sizes 1,2,6,8]
        [--limit 600] [--rounds 3] [--passes 2]

MODEL is an ONNX artifact (``edge-sdk convert ... --target onnx``); ``--data`` is given once per
labelled set (default: IC15 val). For every set and batch size, RapidOCR's recognizer
(``rapidocr_onnxruntime``, its bundled PP-OCRv4 rec ONNX) and the SDK's recognizer on onnxruntime run
the same lines with the same 2 threads, each run in a process of its own, best of ``--passes``. The two
alternate over ``--rounds`` (RapidOCR first in odd rounds, second in even ones): lines/s is each one's best
round, ``paired`` the median over rounds of the two runs' ratio in the same round, which a slow minute on a
shared machine moves much less than the ratio of two bests:

- RapidOCR sorts the lines by aspect ratio, cuts them into batches of N and pads each batch to its widest
  line: one input shape per batch, and N lines however wide they are;
- the SDK batches only lines of one padded width (a multiple of 32), at most ``MAX_BATCH_COLUMNS``
  columns a batch (``edge_sdk/rec/recognizer.py``).

First, onnxruntime alone on RapidOCR's model, random input: microseconds per input column at batch
1/2/4/8 x width 320/640/1280 (best of 5 runs each), the cost of a batch's size without any batching
policy or dataset. Then, per set, lines/s, the input columns computed per line (padding included),
microseconds per column and the number of distinct input shapes. On sets where nearly every line pads
to the minimum width (IC15's words: 320 columns) the two batchings do the same work. On sets of long
lines RapidOCR's batches of 6-8 hold thousands of columns, which cost onnxruntime more per column
(rounding its widths to multiples of 32, 16 shapes instead of 82, changed nothing), so its lines/s
falls further than the SDK's, and a ratio to it comes out higher there.
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Dict, List, Optional

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = ROOT.parent / "shared/datasets/ocr_rec_dataset_examples/val.txt"
THREADS = 2
ENGINE_BATCHES = (1, 2, 4, 8)
ENGINE_WIDTHS = (320, 640, 1280)


def _images(data: str, limit: int) -> List[Any]:
    sys.path.insert(0, str(ROOT))
    import cv2

    from edge_sdk.datasets import load_samples

    return [cv2.imread(str(s.path)) for s in load_samples(Path(data), limit=limit or None)]


def rapidocr_worker(data: str, limit: int, batch: int, passes: int) -> Dict[str, Any]:
    images = _images(data, limit)
    from rapidocr_onnxruntime.ch_ppocr_rec import TextRecognizer

    from edge_sdk.bench_worker import rapidocr_rec_config

    rec = TextRecognizer(rapidocr_rec_config(batch, THREADS))
    # RapidOCR's batching, reproduced to count its work: lines sorted by aspect ratio, batches of
    # ``batch`` padded to int(48 * the largest ratio, at least 320 / 48)
    ratios = sorted(img.shape[1] / float(img.shape[0]) for img in images)
    widths = [int(48 * max(320 / 48, max(ratios[i:i + batch]))) for i in range(0, len(ratios), batch)]
    columns = sum(w * len(ratios[i * batch:(i + 1) * batch]) for i, w in enumerate(widths))
    best = min(_timed(lambda: rec(images)) for _ in range(passes))
    return {"lines": len(images), "seconds": best, "columns": columns, "shapes": len(set(widths))}


def sdk_worker(model: str, data: str, limit: int, batch: int, passes: int) -> Dict[str, Any]:
    images = _images(data, limit)
    from edge_sdk import create_model

    rec = create_model(model, backend="onnxruntime", threads=THREADS, cache_dir=None)
    shapes: List[tuple] = []
    run_many = rec.session.run_many

    def counted(batches):  # type: ignore[no-untyped-def]
        for b in batches:
            shapes.append(b.shape)
            yield b

    rec.session.run_many = lambda batches: run_many(counted(batches))  # type: ignore[method-assign]
    best = min(_timed(lambda: rec.recognize(images, batch_size=batch)) for _ in range(passes))
    per_pass = shapes[:len(shapes) // passes]
    return {"lines": len(images), "seconds": best, "columns": sum(s[0] * s[3] for s in per_pass),
            "shapes": len({s for s in per_pass})}


def engine_worker() -> Dict[str, float]:
    sys.path.insert(0, str(ROOT))
    import numpy as np
    import onnxruntime as ort

    from edge_sdk.bench_worker import rapidocr_rec_config

    opts = ort.SessionOptions()
    opts.intra_op_num_threads, opts.inter_op_num_threads = THREADS, 1
    model = rapidocr_rec_config(1, THREADS)["model_path"]
    sess = ort.InferenceSession(model, opts, providers=["CPUExecutionProvider"])
    name = sess.get_inputs()[0].name
    rng = np.random.default_rng(0)
    out: Dict[str, float] = {}
    for batch in ENGINE_BATCHES:
        for width in ENGINE_WIDTHS:
            x = rng.uniform(-1, 1, (batch, 3, 48, width)).astype(np.float32)
            sess.run(None, {name: x})
            best = min(_timed(lambda: sess.run(None, {name: x})) for _ in range(5))
            out[f"{batch}x{width}"] = 1e6 * best / (batch * width)
    return out


def _timed(fn: Any) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


FAILURES: Dict[str, str] = {}


def _run_worker(args: argparse.Namespace, engine: str, data: str = "", batch: int = 1) -> Optional[Dict[str, Any]]:
    """``engine``'s worker in a process of its own: its JSON, or None with the reason in ``FAILURES``."""
    proc = subprocess.run([sys.executable, __file__, args.model, "--worker", engine, "--data", data, "--batch", str(batch),
                           "--limit", str(args.limit), "--passes", str(args.passes)], capture_output=True, text=True)
    if proc.returncode != 0:
        FAILURES[engine] = (proc.stderr.strip().splitlines() or ["?"])[-1]
        return None
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model")
    ap.add_argument("--data", action="append", help="a label file; repeat for several (default: IC15 val)")
    ap.add_argument("--batch-sizes", default="1,2,6,8")
    ap.add_argument("--limit", type=int, default=600, help="lines per set (0: all)")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--passes", type=int, default=2)
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    ap.add_argument("--batch", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()
    datas = args.data or [str(DEFAULT_DATA)]
    if args.worker == "engine":
        print(json.dumps(engine_worker()))
        return 0
    if args.worker:
        r = (rapidocr_worker(datas[0], args.limit, args.batch, args.passes) if args.worker == "rapidocr"
             else sdk_worker(args.model, datas[0], args.limit, args.batch, args.passes))
        print(json.dumps(r))
        return 0
    status = 0
    cost = _run_worker(args, "engine")
    if cost is None:
        print(f"onnxruntime alone failed: {FAILURES['engine']}")
        status = 1
    else:
        print("onnxruntime alone, RapidOCR's model, us per input column (batch x width):")
        print(f"{'batch':>5} " + " ".join(f"{w:>7}" for w in ENGINE_WIDTHS))
        for b in ENGINE_BATCHES:
            print(f"{b:>5} " + " ".join(f"{cost[f'{b}x{w}']:>7.1f}" for w in ENGINE_WIDTHS))
        print()
    print(f"{'data':<28} {'engine':<24} {'batch':>5} {'lines/s':>8} {'cols/line':>9} {'us/col':>7} {'shapes':>6}")
    for data in datas:
        name = Path(data).parent.name
        for batch in [int(b) for b in args.batch_sizes.split(",") if b.strip()]:
            best: Dict[str, Dict[str, Any]] = {}
            ratios: List[float] = []
            for rnd in range(args.rounds):
                this_round: Dict[str, float] = {}
                for engine in (("rapidocr", "sdk") if rnd % 2 == 0 else ("sdk", "rapidocr")):
                    r = _run_worker(args, engine, data, batch)
                    if r is None:
                        continue
                    this_round[engine] = r["lines"] / r["seconds"]
                    if engine not in best or r["seconds"] < best[engine]["seconds"]:
                        best[engine] = r
                if len(this_round) == 2:
                    ratios.append(this_round["sdk"] / this_round["rapidocr"])
            for engine, label in (("rapidocr", "RapidOCR rec"), ("sdk", "edge-sdk onnxruntime")):
                if engine not in best:
                    print(f"{name:<28} {label:<24} {batch:>5} failed: {FAILURES.get(engine, '?')}")
                    status = 1
                    continue
                r = best[engine]
                print(f"{name:<28} {label:<24} {batch:>5} {r['lines'] / r['seconds']:>8.1f} {r['columns'] / r['lines']:>9.1f} "
                      f"{1e6 * r['seconds'] / r['columns']:>7.2f} {r['shapes']:>6}")
            if len(best) == 2:
                ratio = (best["sdk"]["lines"] / best["sdk"]["seconds"]) / (best["rapidocr"]["lines"] / best["rapidocr"]["seconds"])
                paired = statistics.median(ratios)
                print(f"{name:<28} {'edge-sdk / RapidOCR':<24} {batch:>5} {ratio:>7.2f}x  paired {paired:.2f}x "
                      f"({', '.join(f'{x:.2f}' for x in ratios)})")
    return status


if __name__ == "__main__":
    sys.exit(main())
