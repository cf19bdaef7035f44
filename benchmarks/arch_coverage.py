"""Every seed architecture x target, with random weights: does every op convert, and how far apart are the logits?

Builds each ``zoo.json`` architecture (``converters/architectures.py``) with the class counts of the seed
models that use it, converts it to ONNX and OpenVINO IR (FP32) from the PIR program and, where the paddlelite
runtime is installed (the Python 3.9 environment), to Paddle Lite (x86) from the legacy program, and compares
the CTC logits of each artifact with Paddle Inference's on real text lines (the SDK's samples and, when
present, IC15 val lines).

    .venv39/bin/python benchmarks/arch_coverage.py [--lines 32] [--json out/arch.json]
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
from importlib.util import find_spec
from pathlib import Path
from typing import Dict

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from converters import convert  # noqa: E402
from converters.architectures import LEGACY_TARGETS, TARGET_BACKENDS, architectures, logit_diffs, save  # noqa: E402
from edge_sdk.datasets import load_samples, shared_datasets_dir  # noqa: E402
from edge_sdk.images import read_image  # noqa: E402
from edge_sdk.datasets import SAMPLES_DIR  # noqa: E402
from edge_sdk.zoo import MODELS  # noqa: E402

OPTIONS = {"paddlelite": {"valid_places": "x86"}}  # the .nb runs here, on x86


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
    available = [t for t, backend in TARGET_BACKENDS.items() if find_spec(backend) is not None]
    rows = []
    for arch in wanted:
        users = sorted({m.classes for m in MODELS.values() if m.architecture == arch and m.classes})
        for classes in users:
            d: Dict[str, float] = {}
            with tempfile.TemporaryDirectory() as tmp:
                for legacy in (False, True):
                    targets = [t for t in TARGET_BACKENDS if (t in LEGACY_TARGETS) == legacy and t in available]
                    if not targets:
                        continue
                    src = save(arch, classes, Path(tmp) / f"paddle-{legacy}", legacy=legacy)
                    arts = {}
                    for target in targets:
                        r = convert(str(src), target, Path(tmp) / target, **OPTIONS.get(target, {}))
                        assert r.parity is not None and r.parity.passed, r.parity
                        arts[target] = Path(tmp) / target
                    d.update(logit_diffs(src, arts, images))
            row = {"architecture": arch, "classes": classes,
                   "models": [m.name for m in MODELS.values() if m.architecture == arch and m.classes == classes], **d}
            rows.append(row)
            print(json.dumps(row), flush=True)
    cols = [t for t in TARGET_BACKENDS if t in available]
    print("\n| architecture | classes | models | " + " | ".join(f"{t} ({TARGET_BACKENDS[t]})" for t in cols)
          + " | logit std |")
    print("|---|---|---|" + "---|" * len(cols) + "---|")
    for r in rows:
        print(f"| {r['architecture']} | {r['classes']} | {', '.join(r['models'])} | "
              + " | ".join(f"{r[t]:.2e}" for t in cols) + f" | {r['logit_std']:.2f} |")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
