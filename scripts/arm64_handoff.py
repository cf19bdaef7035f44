"""The x86 half of the ARM leg: build the artifacts a Pi user would copy over, and x86's results for them.

    .venv/bin/python scripts/arm64_handoff.py OUT_DIR

Writes OUT_DIR/rec-onnx, rec-ov (FP32) and, when a Paddle Lite opt is found, rec-lite-arm (an .nb
built with --valid-places arm); det-onnx and cls-onnx with page.png (a rendered label scene) for
whole-image OCR; OUT_DIR/lines/ with the few lines the emulated board runs (emulation
is ~35x slower than native: the first 4 lines of IC15 val when ../shared is there, plus 2 of the
SDK's own samples, Chinese and mixed); and OUT_DIR/x86_reference.npz + .json with x86's
probabilities and texts per backend, which tests/arm/test_arm64.py compares against.
"""
from __future__ import annotations

import json
import random
import shutil
import sys
import time
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from converters import convert  # noqa: E402
from converters.paddlelite_export import find_opt  # noqa: E402
from converters.synthetic_scenes import render_scene  # noqa: E402
from edge_sdk.datasets import SAMPLES_DIR, read_label_file, shared_datasets_dir  # noqa: E402
from edge_sdk.errors import BackendUnavailableError  # noqa: E402
from edge_sdk.images import read_image  # noqa: E402
from edge_sdk import create_model, create_pipeline  # noqa: E402

IC15_LINES = 4
SAMPLE_LINES = ("sample_02_zh.png", "sample_03_mixed.png")


def pick_lines(dest: Path) -> list:
    dest.mkdir(parents=True)
    picked = []
    shared = shared_datasets_dir()
    if shared is not None and (shared / "ocr_rec_dataset_examples" / "val.txt").is_file():
        for s in read_label_file(shared / "ocr_rec_dataset_examples" / "val.txt")[:IC15_LINES]:
            picked.append((s.path, s.label))
    labels = {s.path.name: s.label for s in read_label_file(SAMPLES_DIR / "labels.txt")}
    picked += [(SAMPLES_DIR / name, labels[name]) for name in SAMPLE_LINES]
    rows = []
    for i, (src, label) in enumerate(picked):
        name = f"{i:02d}_{src.name}"
        shutil.copyfile(src, dest / name)
        rows.append(f"{name}\t{label}")
    (dest / "labels.txt").write_text("\n".join(rows) + "\n", encoding="utf-8")
    return sorted(dest.glob("*.png"))


def main(out: Path) -> None:
    t0 = time.perf_counter()
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    convert("PP-OCRv4_mobile_rec", "onnx", out / "rec-onnx")
    convert("PP-OCRv4_mobile_rec", "openvino", out / "rec-ov")
    try:
        convert("PP-OCRv4_mobile_rec", "paddlelite", out / "rec-lite-arm", valid_places="arm", opt_path=find_opt())
    except BackendUnavailableError as exc:
        print(f"arm64_handoff: no arm .nb ({exc})", file=sys.stderr)
    convert("PP-OCRv4_mobile_det", "onnx", out / "det-onnx")
    convert("ch_ppocr_mobile_v2.0_cls", "onnx", out / "cls-onnx")
    page, _ = render_scene("label", random.Random(1), (480, 360))
    cv2.imwrite(str(out / "page.png"), page)
    ocr = create_pipeline("OCR", det=str(out / "det-onnx"), cls=str(out / "cls-onnx"), rec=str(out / "rec-onnx"),
                          backend="onnxruntime", cache_dir=None).ocr(read_image(out / "page.png"))
    lines = pick_lines(out / "lines")
    images = [read_image(p) for p in lines]
    arrays, texts = {}, {}
    for artifact, backend in (("rec-onnx", "onnxruntime"), ("rec-ov", "openvino")):
        rec = create_model(str(out / artifact), backend=backend, cache_dir=None)
        probs = rec.run_lines(images)
        for p, line in zip(probs, lines):
            arrays[f"{artifact}/{line.name}"] = p
        texts[artifact] = [t for t, _ in rec.recognize(images)]
    np.savez_compressed(out / "x86_reference.npz", **arrays)
    (out / "x86_reference.json").write_text(json.dumps(
        {"lines": [p.name for p in lines], "texts": texts,
         "ocr": {"dt_polys": ocr["dt_polys"].tolist(), "rec_texts": ocr["rec_texts"]}},
        ensure_ascii=False, indent=1), encoding="utf-8")
    print(f"arm64_handoff: {out} ready ({len(lines)} lines) in {time.perf_counter() - t0:.0f} s", file=sys.stderr)


if __name__ == "__main__":
    main(Path(sys.argv[1]).resolve())
