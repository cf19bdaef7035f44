"""Text accuracy of a model on a PaddleX label file (the seed of `edge-sdk eval`).

Usage:
    python examples/accuracy.py out/rec-onnx ../shared/datasets/ocr_rec_dataset_examples/val.txt [--batch-size 8]

Prints exact-match accuracy (case- and space-sensitive), PaddleX's acc and norm_edit_dis (spaces
ignored), case-insensitive alphanumeric accuracy, and lines/s.
"""
from __future__ import annotations

import argparse
import time

from edge_sdk import create_model
from edge_sdk.datasets import read_label_file
from edge_sdk.metrics import rec_metrics


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model")
    ap.add_argument("label_file")
    ap.add_argument("--backend", default="auto")
    ap.add_argument("--batch-size", type=int, default=8)
    args = ap.parse_args()

    samples = read_label_file(args.label_file)
    model = create_model(args.model, backend=args.backend)
    t0 = time.perf_counter()
    preds = [r.rec_text for r in model.predict([str(s.path) for s in samples], batch_size=args.batch_size,
                                               keep_images=False)]
    seconds = time.perf_counter() - t0
    m = rec_metrics(preds, [s.label or "" for s in samples])
    print(f"model {args.model} on {args.label_file} ({model.backend}, batch {args.batch_size})")
    print(f"  lines             {m.samples}")
    print(f"  exact-match acc   {100 * m.exact_acc:.2f}%  (case- and space-sensitive)")
    print(f"  acc (PaddleX)     {100 * m.acc:.2f}%  (spaces ignored)")
    print(f"  norm_edit_dis     {m.norm_edit_dis:.4f}")
    print(f"  alnum acc         {100 * m.alnum_acc:.2f}%  (lower-case, letters and digits only)")
    print(f"  speed             {m.samples / seconds:.1f} lines/s")


if __name__ == "__main__":
    main()
