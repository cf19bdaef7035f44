"""One run: a labelled set evaluated in this process and on a local Ray as N actors x 1 thread and as
1 actor x N threads (N = this machine's cores); acc, lines/s, and whether the texts are the same line by line.

    python benchmarks/ray_scaling.py out/rec-onnx ../shared/datasets/ocr_rec_dataset_examples/val.txt

Ray's start-up is not timed (each Ray configuration is timed from its dataset's first read); each actor's
model load is, as a bulk job pays it once per actor.
"""
from __future__ import annotations

import argparse
import os

from edge_sdk.evaluation import evaluate


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("model")
    ap.add_argument("data")
    ap.add_argument("--backend", default="auto")
    ap.add_argument("--batch-size", type=int, default=8)
    args = ap.parse_args()
    cores = os.cpu_count() or 1
    kw = dict(backend=args.backend, batch_size=args.batch_size)
    runs = [("this process", evaluate(args.model, args.data, threads=cores, **kw))]
    for actors, threads in ((cores, 1), (1, cores)):
        report = evaluate(args.model, args.data, ray_address="auto", actors=actors, threads=threads, **kw)
        runs.append((report.runner, report))
    base = runs[0][1]
    print(f"{args.model} on {args.data}: {base.metrics.samples} lines, backend {base.model['backend']}")
    print(f"{'run':<32} {'acc %':>7} {'norm_edit_dis':>13} {'lines/s':>8} {'x single':>8}  texts as single process")
    for name, r in runs:
        same = sum(a == b for a, b in zip(r.predictions, base.predictions))
        print(f"{name:<32} {100 * r.metrics.acc:>7.2f} {r.metrics.norm_edit_dis:>13.4f} {r.lines_per_s:>8.1f} "
              f"{r.lines_per_s / base.lines_per_s:>8.2f}  {same}/{len(base.predictions)} identical")


if __name__ == "__main__":
    main()
