"""INT8 across domains: calibrate on one domain, check on the others, for every static-INT8 target.

For each target (openvino, onnx) and calibration set (IC15 train: English scene words; the Chinese
domain's train split from ``benchmarks/zh_domain.py``), convert with the shipped recipe (the rendered
dict lines are added as always), then compare the INT8 artifact with the Paddle FP32 reference on every
check set: IC15 val, the Chinese domain's val split and the SDK's rendered check set. Prints a markdown
table of acc deltas (PaddleX acc, points) and identical-text shares, and the speed-up each conversion
measured over its FP32 artifact.

    python benchmarks/zh_domain.py out/zh_domain
    python benchmarks/int8_cross_domain.py --zh out/zh_domain --out out/int8x
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from converters import convert  # noqa: E402
from converters.parity import check_parity  # noqa: E402
from converters.synthetic_lines import check_set  # noqa: E402
from edge_sdk.datasets import load_samples, shared_datasets_dir  # noqa: E402
from edge_sdk.hub import resolve  # noqa: E402
from edge_sdk.model_dir import ModelDir  # noqa: E402
from edge_sdk.rec.recognizer import TextRecognizer  # noqa: E402
from edge_sdk.zoo import ParityCriteria  # noqa: E402

BACKEND = {"openvino": "openvino", "onnx": "onnxruntime"}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--zh", type=Path, required=True, help="the Chinese domain (benchmarks/zh_domain.py output)")
    ap.add_argument("--ic15", type=Path, help="IC15 dir [default: ../shared/datasets/ocr_rec_dataset_examples]")
    ap.add_argument("--model", default="PP-OCRv4_mobile_rec")
    ap.add_argument("--targets", default="openvino,onnx")
    ap.add_argument("--out", type=Path, default=Path("out/int8x"))
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    ic15 = args.ic15 or (shared_datasets_dir() or Path("missing")) / "ocr_rec_dataset_examples"
    src = resolve(args.model)
    checks = {"IC15 val": load_samples(ic15 / "val.txt"), "zh val": load_samples(args.zh / "val.txt"),
              "rendered check set": check_set(src.charset.dict_characters).samples}
    calibs = {"IC15 train (English)": ic15 / "train.txt", "zh train (Chinese)": args.zh / "train.txt"}
    reference = TextRecognizer(src, backend="paddle")
    rows = []
    for target in args.targets.split(","):
        for calib_name, calib in calibs.items():
            out = args.out / f"{target}-int8-{'en' if 'IC15' in calib_name else 'zh'}"
            t0 = time.perf_counter()
            res = convert(args.model, target, out, precision="int8", calib=[str(calib)], allow_mismatch=True,
                          check_data=str(ic15 / "val.txt"), check_limit=64)
            took = time.perf_counter() - t0
            art = TextRecognizer(ModelDir.open(out), backend=BACKEND[target], precision="f32", cache_dir=None)
            row = {"target": target, "calibration": calib_name, "convert_s": round(took),
                   "speedup_vs_fp32": res.manifest["speed"]["speedup_vs_fp32"], "checks": {}}
            for check_name, samples in checks.items():
                rep = check_parity(reference, art, samples, check_name, ParityCriteria(max_acc_drop=0.005), 8)
                lab = rep.labelled or {}
                row["checks"][check_name] = {
                    "lines": rep.lines, "fp32_acc": round(100 * lab["reference"]["acc"], 2),
                    "acc_delta": round(100 * (lab["candidate"]["acc"] - lab["reference"]["acc"]), 2),
                    "identical_pct": round(rep.identical_text_pct, 1)}
            rows.append(row)
            print(json.dumps(row, ensure_ascii=False), flush=True)
    names = list(checks)
    print("\n| target | calibrated on | " + " | ".join(f"{n}: acc delta (identical)" for n in names)
          + " | INT8 / FP32 speed |")
    print("|---|---|" + "---|" * len(names) + "---|")
    for r in rows:
        cells = [f"{c['acc_delta']:+.2f} pts ({c['identical_pct']:.1f}%)" for c in (r["checks"][n] for n in names)]
        print(f"| {r['target']} int8 | {r['calibration']} | " + " | ".join(cells) + f" | {r['speedup_vs_fp32']:.2f}x |")
    print("FP32 acc: " + ", ".join(f"{n} {rows[0]['checks'][n]['fp32_acc']:.2f}% ({rows[0]['checks'][n]['lines']} lines)"
                                   for n in names))
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
