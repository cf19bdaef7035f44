#!/usr/bin/env bash
# README command 1: set up, convert the default model to ONNX (checked against Paddle), and
# recognize the SDK's sample lines with it.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/edge-sdk convert PP-OCRv4_mobile_rec --target onnx -o out/rec-onnx
.venv/bin/edge-sdk predict out/rec-onnx edge_sdk/samples --save-dir out/pred
echo "demo: images with their recognized text are in out/pred/"
