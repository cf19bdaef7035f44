"""Recognize text lines with the default model, PaddleX-style.

Usage: python examples/quickstart.py [IMAGE_OR_DIR ...]   (default: the SDK's sample lines)
"""
from __future__ import annotations

import sys

from edge_sdk import create_model
from edge_sdk.datasets import SAMPLES_DIR

model = create_model("PP-OCRv4_mobile_rec")  # or a path: Paddle inference dir, converted artifact
for res in model.predict(sys.argv[1:] or str(SAMPLES_DIR), batch_size=1):
    res.print(json_format=False)
    res.save_to_img("./output/")
    res.save_to_json("./output/")
