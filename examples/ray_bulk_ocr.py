"""Bulk recognition on Ray Data: a label file, a folder of line crops, or (with --pages) whole images,
written to Parquet; the same script on a laptop (a local Ray) and on a cluster (--address).

    python examples/ray_bulk_ocr.py ../shared/datasets/ocr_rec_dataset_examples/val.txt --lines 20000 \\
        --out out/bulk_texts
    python examples/ray_bulk_ocr.py s3://archive/crops/ --address ray://head:10001 --out s3://archive/texts
    python examples/ray_bulk_ocr.py edge_sdk/samples/ocr --pages --out out/bulk_pages

A label file or dataset dir is read here and its lines repeated up to --lines (to size a run); any other
source is read by Ray itself (``image_files_dataset``: local folders, S3, GCS, ...). Every node
needs ``pip install 'edge-sdk[ray]'`` and the model (a zoo name is downloaded per node; a path must exist
on every node). At the end: rows, errors, lines/s, and each actor's peak RSS after its first and its last
batch (flat when memory does not grow with the run).
"""
from __future__ import annotations

import argparse
import time
from collections import defaultdict
from pathlib import Path

import ray

from edge_sdk.bulk import cluster_plan, image_files_dataset, ocr_dataset, ray_session, recognize_dataset, samples_dataset
from edge_sdk.datasets import load_samples
from edge_sdk.zoo import DEFAULT_MODEL


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("source", help="label file, dataset dir, image folder, or any path Ray reads (s3://...)")
    ap.add_argument("--out", required=True, help="Parquet output directory (local or any path Ray writes)")
    ap.add_argument("--model", default=DEFAULT_MODEL, help="recognition model: zoo name or path on every node")
    ap.add_argument("--pages", action="store_true", help="whole images: detection + orientation + recognition")
    ap.add_argument("--address", default="auto", help="'auto' starts a local Ray; else a cluster address")
    ap.add_argument("--actors", type=int, help="model actors [default: Ray's CPUs / --threads]")
    ap.add_argument("--threads", type=int, help="backend threads per actor [default: 1, or CPUs / --actors]")
    ap.add_argument("--backend", default="auto")
    ap.add_argument("--lines", type=int, help="label file: repeat its lines up to this many")
    args = ap.parse_args()

    with ray_session(args.address):
        plan = cluster_plan(args.actors, args.threads)  # actors x threads = the cluster's CPUs
        local = Path(args.source)
        if not args.pages and (local.is_file() or (local / "val.txt").is_file()):
            samples = load_samples(local)
            if args.lines:
                samples = (samples * (args.lines // len(samples) + 1))[:args.lines]
            ds = samples_dataset(samples)
        else:
            ds = image_files_dataset(args.source)
        if args.pages:
            out = ocr_dataset(ds, worker_stats=True, rec=args.model, backend=args.backend, **plan)
        else:
            out = recognize_dataset(ds, args.model, worker_stats=True, backend=args.backend, **plan)
        t0 = time.perf_counter()
        out.write_parquet(args.out)
        seconds = time.perf_counter() - t0
        rows = ray.data.read_parquet(args.out, columns=["error", "worker_pid", "worker_rss_mb"]).take_all()

    unit = "images" if args.pages else "lines"
    errors = sum(1 for r in rows if r["error"])
    print(f"wrote {len(rows)} rows to {args.out} ({errors} unreadable, listed in the 'error' column)")
    print(f"{len(rows) / seconds:.1f} {unit}/s on {plan['actors']} actor(s) x {plan['threads']} thread(s) "
          f"({seconds:.1f} s, model loading included)")
    by_actor = defaultdict(list)
    for r in rows:
        by_actor[r["worker_pid"]].append(r["worker_rss_mb"])
    for pid, rss in sorted(by_actor.items()):
        print(f"actor pid {pid}: {len(rss)} {unit}, peak RSS {min(rss):.0f} MB after its first batch, "
              f"{max(rss):.0f} MB at the end")


if __name__ == "__main__":
    main()
