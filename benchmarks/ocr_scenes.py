"""Whole-image OCR on labelled scenes: the SDK's pipeline on Paddle Inference (the reference), on its
converted FP32 artifacts, and RapidOCR's full pipeline (det + cls + rec on onnxruntime), side by side.

Detection precision/recall (IoU >= 0.5), end-to-end precision/recall (the matched box's text right,
spaces ignored), and images/s over the set in this process (one run; ratios are against RapidOCR).

    python benchmarks/ocr_scenes.py [--scenes out/scenes/Label.txt | --count 40] [--artifacts out/ocr]
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any, Dict, List

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from converters import convert  # noqa: E402
from converters.synthetic_scenes import write_scenes  # noqa: E402
from edge_sdk.pipeline import create_pipeline  # noqa: E402
from edge_sdk.pipeline.evaluation import OCRScores, read_det_labels  # noqa: E402
from edge_sdk.images import read_image  # noqa: E402


def run_sdk(pipe: Any, rows: List[Any]) -> Dict[str, Any]:
    scores = OCRScores()
    images = [read_image(p) for p, _ in rows]
    pipe.ocr(images[0])  # warm-up (compiles, allocates)
    outputs = []
    t0 = time.perf_counter()
    for (path, truth), img in zip(rows, images):
        res = pipe.ocr(img)
        scores.add(path.name, truth, list(res["rec_polys"]), res["rec_texts"])
        outputs.append((res["dt_polys"], res["rec_texts"]))
    return {"scores": scores, "seconds": time.perf_counter() - t0, "outputs": outputs}


def run_rapidocr(rows: List[Any]) -> Dict[str, Any]:
    from rapidocr_onnxruntime import RapidOCR

    engine = RapidOCR()
    scores = OCRScores()
    images = [read_image(p) for p, _ in rows]
    engine(images[0])
    t0 = time.perf_counter()
    for (path, truth), img in zip(rows, images):
        result, _ = engine(img)
        result = result or []
        scores.add(path.name, truth, [np.asarray(r[0], np.float32) for r in result], [r[1] for r in result])
    return {"scores": scores, "seconds": time.perf_counter() - t0}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--scenes", type=Path, help="a detection label file (default: render --count scenes)")
    ap.add_argument("--count", type=int, default=40)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--artifacts", type=Path, default=Path("out/ocr"), help="where the converted models go")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    label = args.scenes or write_scenes(Path("out/scenes"), args.count, args.seed)
    rows = read_det_labels(label)
    arts = args.artifacts
    for name, target in (("PP-OCRv4_mobile_det", "openvino"), ("ch_ppocr_mobile_v2.0_cls", "onnx"),
                         ("PP-OCRv4_mobile_rec", "openvino")):
        if not (arts / name / "manifest.json").is_file():
            r = convert(name, target, arts / name)
            print(f"{name} -> {target}: {'PASS' if r.parity and r.parity.passed else 'FAIL'}", flush=True)
    runs = {
        "edge-sdk, Paddle Inference (reference)": run_sdk(create_pipeline("OCR", backend="paddle"), rows),
        "edge-sdk, converted FP32 artifacts (auto backends)": run_sdk(create_pipeline(
            "OCR", det=str(arts / "PP-OCRv4_mobile_det"), cls=str(arts / "ch_ppocr_mobile_v2.0_cls"),
            rec=str(arts / "PP-OCRv4_mobile_rec")), rows),
    }
    try:
        runs["RapidOCR 1.4.4 (onnxruntime, its defaults)"] = run_rapidocr(rows)
    except ImportError:
        print("RapidOCR not run: pip install --no-deps rapidocr_onnxruntime==1.4.4 shapely six")
    base = runs.get("RapidOCR 1.4.4 (onnxruntime, its defaults)")
    print(f"\n{len(rows)} scenes ({label}), {sum(len(t) for _, t in rows)} lines\n")
    print("| pipeline | det P | det R | e2e P | e2e R | e2e H | images/s | x RapidOCR |")
    print("|---|---|---|---|---|---|---|---|")
    out = {}
    for name, r in runs.items():
        d = r["scores"].as_dict()
        ips = len(rows) / r["seconds"]
        ratio = f"{ips / (len(rows) / base['seconds']):.2f}" if base else ""
        print(f"| {name} | {100 * d['det_precision']:.1f} | {100 * d['det_recall']:.1f} | {100 * d['e2e_precision']:.1f} "
              f"| {100 * d['e2e_recall']:.1f} | {100 * d['e2e_hmean']:.1f} | {ips:.2f} | {ratio} |")
        out[name] = {**r["scores"].to_json(), "images_per_s": round(ips, 3)}
    ref, conv = list(runs.values())[:2]
    same = sum(np.array_equal(a[0], b[0]) and a[1] == b[1] for a, b in zip(ref["outputs"], conv["outputs"]))
    print(f"\nconverted FP32 vs Paddle Inference: identical boxes and texts on {same}/{len(rows)} images")
    if args.json:
        args.json.write_text(json.dumps(out, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
