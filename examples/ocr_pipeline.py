"""Read whole images: text detection, line orientation and recognition, PaddleX's OCR pipeline.

Usage: python examples/ocr_pipeline.py [IMAGE_OR_DIR ...]   (default: a rendered receipt scene)
Writes <name>_ocr_res_img.png (boxes left, texts right) and <name>_res.json to ./output/.
"""
from __future__ import annotations

import random
import sys

import cv2

from edge_sdk import create_pipeline

inputs = sys.argv[1:]
if not inputs:  # a scene with known text, rendered here (converters/synthetic_scenes.py)
    from converters.synthetic_scenes import render_scene

    image, lines = render_scene("receipt", random.Random(3), (480, 560))
    cv2.imwrite("scene.png", image)
    inputs = ["scene.png"]

ocr = create_pipeline("OCR")  # PP-OCRv4_mobile_det + ch_ppocr_mobile_v2.0_cls + PP-OCRv4_mobile_rec, auto backends
for res in ocr.predict(inputs):
    for text, score in zip(res["rec_texts"], res["rec_scores"]):
        print(f"{score:.3f}  {text}")
    res.save_to_img("./output/")
    res.save_to_json("./output/")
