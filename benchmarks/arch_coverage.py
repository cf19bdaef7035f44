"""Every seed architecture x target, with random weights: does every op convert, and how far apart are the logits?

Builds each ``zoo.json`` architecture (``converters/architectures.py``) with the class counts of the seed
models that use it, converts it to ONNX and OpenVINO IR (FP32), and compares the CTC logits of each artifact
with Paddle Inference's on real text lines (the SDK's samples and, when present, IC15 val lines).

    python benchmarks/arch_coverage.py [--lines 32] [--json out/arch.json]
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from converters import convert  # noqa: E402
from converters.architectures import TARGET_BACKENDS, architectures, logit_diffs, save  # noqa: E402
from edge_sdk.datasets import load_samples, shared_datasets_dir  # noqa: E402
from edge_sdk.preprocess import read_image  # noqa: E402
from edge_sdk.datasets import SAMPLES_DIR  # noqa: E402
from edge_sdk.zoo import MODELS  # noqa: E402

def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--lines", type=int, default=32, help="text lines compared per architecture")
    ap.add_argument("--archs", help="comma-separated subset of zoo.json's architectures")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    samples = list(load_samples(SAMPLES_DIR))
    ds = shared_datasets_dir()
    if ds is not None:
        samples += load_samples(ds / "ocr_rec_dataset_examples" / "val.txt", args.lines)
    images = [read_image(s.path) for s in samples[:args.lines]]
    wanted = args.archs.split(",") if args.archs else list(architectures())
    rows = []
    for arch in wanted:
        users = sorted({m.classes for m in MODELS.values() if m.architecture == arch and m.classes})
        for classes in users:
            with tempfile.TemporaryDirectory() as tmp:
                src = save(arch, classes, Path(tmp) / "paddle")
                arts = {}
                for target in TARGET_BACKENDS:
                    r = convert(str(src), target, Path(tmp) / target)
                    assert r.parity is not None and r.parity.passed, r.parity
                    arts[target] = Path(tmp) / target
                d = logit_diffs(src, arts, images)
            row = {"architecture": arch, "classes": classes,
                   "models": [m.name for m in MODELS.values() if m.architecture == arch and m.classes == classes], **d}
            rows.append(row)
            print(json.dumps(row), flush=True)
    print(f"\n| architecture | classes | models | onnx (onnxruntime) | openvino | logit std |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['architecture']} | {r['classes']} | {', '.join(r['models'])} | {r['onnx']:.2e} | {r['openvino']:.2e} "
              f"| {r['logit_std']:.2f} |")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
