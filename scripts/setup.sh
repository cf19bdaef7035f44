#!/usr/bin/env bash
# Set up this checkout on a fresh machine: system font (as root), a virtual environment in .venv,
# and edge-sdk installed editable with the extras in $EDGE_SDK_EXTRAS (default onnx,openvino,convert,quantize,dev).
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${PYTHON:-python3}
EXTRAS=${EDGE_SDK_EXTRAS:-onnx,openvino,convert,quantize,dev}

if ! "$PY" -c 'import sys; sys.exit(sys.version_info < (3, 9))'; then
  echo "setup: edge-sdk needs Python >= 3.9; $PY is $("$PY" --version 2>&1)" >&2
  exit 1
fi

# save_to_img draws CJK text: WenQuanYi Micro Hei from Debian (edge_sdk/fonts.py says why and where).
if [ ! -f /usr/share/fonts/truetype/wqy/wqy-microhei.ttc ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fonts-wqy-microhei >/dev/null
  else
    echo "setup: no CJK font; run 'sudo apt install fonts-wqy-microhei' for CJK text in saved images" >&2
  fi
fi

[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q --upgrade "pip>=23"
# The distribution was named edge-sdk before it became edge-ocr-sdk (PyPI's edge-sdk is another project):
# drop that old editable install of this checkout so the two do not fight over the edge-sdk command.
.venv/bin/python -m pip uninstall -q -y edge-sdk >/dev/null 2>&1 || true
.venv/bin/python -m pip install -q -c constraints.txt -e ".[${EXTRAS}]"
# edge-sdk bench's "user's current choice" reference, RapidOCR's recognizer. --no-deps: its
# requirements would install opencv-python over opencv-python-headless (both own cv2/).
.venv/bin/python -m pip install -q -c constraints.txt --no-deps rapidocr_onnxruntime pyclipper shapely six
echo "setup: .venv ready ($(.venv/bin/python --version), extras: ${EXTRAS})"
