"""Cold start: a new process, create_model, first prediction. OpenVINO with and without its
compiled-model cache, onnxruntime on the same model as a baseline, all measured in this run.

Usage: python benchmarks/cold_start.py OV_ARTIFACT [ONNX_ARTIFACT] [--runs 5]
Prints per case the median of: process wall time (start to exit), and inside the process the time
to load the model (create_model) and to produce the first result, and what the compiled-model cache
did (``off``, ``written``, ``hit``; the SDK's own cache, see runtimes/openvino_backend.py).
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Any, Dict, List, Optional

CHILD = r"""
import json, sys, time
t0 = time.perf_counter()
from edge_sdk import create_model
from edge_sdk.datasets import SAMPLES_DIR
t1 = time.perf_counter()
cache = sys.argv[3] if sys.argv[3] != "-" else None
model = create_model(sys.argv[1], backend=sys.argv[2], cache_dir=cache)
t2 = time.perf_counter()
next(iter(model.predict(str(SAMPLES_DIR / "sample_01_en.png"))))
t3 = time.perf_counter()
print(json.dumps({"import_s": t1 - t0, "load_s": t2 - t1, "first_result_s": t3 - t2,
                  "compiled_cache": model.session.describe().get("compiled_cache", "-")}))
"""


def run_case(model: str, backend: str, cache: Optional[str], runs: int) -> Dict[str, Any]:
    rows: List[Dict[str, Any]] = []
    for _ in range(runs):
        start = time.perf_counter()
        proc = subprocess.run([sys.executable, "-c", CHILD, model, backend, cache or "-"],
                              capture_output=True, text=True)
        if proc.returncode != 0:
            sys.exit(f"the {backend} child process failed (exit {proc.returncode}):\n{proc.stderr[-3000:]}")
        out = proc.stdout
        row = json.loads(out.strip().splitlines()[-1])
        row["process_s"] = time.perf_counter() - start
        rows.append(row)
    summary: Dict[str, Any] = {k: statistics.median(r[k] for r in rows) for k in rows[0] if k != "compiled_cache"}
    summary["compiled_cache"] = "/".join(sorted({str(r["compiled_cache"]) for r in rows}))
    return summary


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("ov_artifact")
    ap.add_argument("onnx_artifact", nargs="?")
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()

    results: Dict[str, Dict[str, Any]] = {}
    with tempfile.TemporaryDirectory() as cache:
        results["openvino, no cache"] = run_case(args.ov_artifact, "openvino", None, args.runs)
        run_case(args.ov_artifact, "openvino", cache, 1)  # populate the cache
        results["openvino, cache warm"] = run_case(args.ov_artifact, "openvino", cache, args.runs)
    if args.onnx_artifact:
        results["onnxruntime"] = run_case(args.onnx_artifact, "onnxruntime", None, args.runs)

    base = results["openvino, no cache"]["load_s"] + results["openvino, no cache"]["first_result_s"]
    print(f"cold start, median of {args.runs} new processes each")
    print(f"{'case':22} {'process':>8} {'import':>8} {'load':>8} {'1st line':>9} {'load+1st vs no cache':>21} "
          f"{'cache':>8}")
    for name, r in results.items():
        ratio = (r["load_s"] + r["first_result_s"]) / base
        print(f"{name:22} {r['process_s']:7.2f}s {r['import_s']:7.2f}s {r['load_s']:7.3f}s {r['first_result_s']:8.3f}s "
              f"{ratio:20.2f}x {r['compiled_cache']:>8}")
    print(json.dumps(results))


if __name__ == "__main__":
    main()
