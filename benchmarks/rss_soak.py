"""Memory over a long run: RSS after every 1000 lines, for each backend, in a process of its own.

    .venv/bin/python benchmarks/rss_soak.py MODEL [--lines 10000] [--backends openvino,onnxruntime]
        [--data ../shared/datasets/ocr_rec_dataset_examples/val.txt] [--batch-size 8]

MODEL is anything ``create_model`` takes (an ONNX artifact runs on both backends). The lines of
``--data`` are recognized in order, round after round, until ``--lines`` have been done; the resident
set size is read from /proc after each block of 1000. A leak shows as growth from the first block to
the last: the script prints both and their ratio, and exits 1 when the last is more than 5% above the
first (``--tolerance``). Each backend runs in its own process, so one's allocator does not hide another's.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path
from typing import Any, Dict, List

ROOT = Path(__file__).resolve().parents[1]
BLOCK = 1000


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024.0
    return 0.0


def worker(model: str, backend: str, data: str, lines: int, batch_size: int) -> Dict[str, Any]:
    sys.path.insert(0, str(ROOT))
    from edge_sdk import create_model
    from edge_sdk.datasets import load_samples

    paths = [str(s.path) for s in load_samples(Path(data))]
    rec = create_model(model, backend=backend, cache_dir=None)

    def stream():  # type: ignore[no-untyped-def]
        n = 0
        while True:
            for p in paths:
                if n == lines:
                    return
                n += 1
                yield p

    samples: List[float] = []
    done = 0
    for _ in rec.predict(stream(), batch_size=batch_size, keep_images=False):
        done += 1
        if done % BLOCK == 0:
            samples.append(round(rss_mb(), 1))
    return {"backend": rec.backend, "lines": done, "rss_mb": samples}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model")
    ap.add_argument("--lines", type=int, default=10000)
    ap.add_argument("--backends", default="openvino,onnxruntime")
    ap.add_argument("--data", default=str(ROOT.parent / "shared/datasets/ocr_rec_dataset_examples/val.txt"))
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--tolerance", type=float, default=0.05)
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        print(json.dumps(worker(args.model, args.worker, args.data, args.lines, args.batch_size)))
        return 0
    status = 0
    print(f"{'backend':<12} {'lines':>6} {'RSS @1000':>10} {'RSS @last':>10} {'last/first':>10}  every 1000 lines (MB)")
    for backend in [b.strip() for b in args.backends.split(",") if b.strip()]:
        proc = subprocess.run([sys.executable, __file__, args.model, "--worker", backend, "--lines", str(args.lines),
                               "--data", args.data, "--batch-size", str(args.batch_size)],
                              capture_output=True, text=True)
        if proc.returncode != 0:
            print(f"{backend:<12} failed: {(proc.stderr.strip().splitlines() or ['?'])[-1]}")
            status = 1
            continue
        r = json.loads(proc.stdout.strip().splitlines()[-1])
        first, last = r["rss_mb"][0], r["rss_mb"][-1]
        ratio = last / first
        flag = "" if ratio <= 1 + args.tolerance else f"  GROWS more than {100 * args.tolerance:g}%"
        status |= int(bool(flag))
        print(f"{r['backend']:<12} {r['lines']:>6} {first:>10.1f} {last:>10.1f} {ratio:>10.3f}  "
              f"{' '.join(f'{x:.0f}' for x in r['rss_mb'])}{flag}")
    return status


if __name__ == "__main__":
    sys.exit(main())
