#!/usr/bin/env bash
# Set up this checkout on a fresh machine: system fonts and Chromium (as root), a virtual environment in .venv,
# and edge-sdk installed editable with the extras in $EDGE_SDK_EXTRAS (default onnx,openvino,convert,quantize,serve,ray,dev).
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${PYTHON:-python3}
EXTRAS=${EDGE_SDK_EXTRAS:-onnx,openvino,convert,quantize,serve,ray,dev}

if ! "$PY" -c 'import sys; sys.exit(sys.version_info < (3, 9))'; then
  echo "setup: edge-sdk needs Python >= 3.9; $PY is $("$PY" --version 2>&1)" >&2
  exit 1
fi

# Fonts from Debian: WenQuanYi Micro Hei, which save_to_img draws CJK text with and the converter renders
# calibration and check lines with (edge_sdk/fonts.py, converters/synthetic_lines.py); AR PL UMing and UKai,
# which the Chinese test domain is rendered with (benchmarks/zh_domain.py: never the SDK's own font).
# Chromium and its driver from Debian: the server's try-it page is tested in a real headless browser.
fonts=""
command -v chromium >/dev/null && command -v chromedriver >/dev/null || fonts="$fonts chromium chromium-driver"
[ -f /usr/share/fonts/truetype/wqy/wqy-microhei.ttc ] || fonts="$fonts fonts-wqy-microhei"
[ -f /usr/share/fonts/truetype/arphic/uming.ttc ] || fonts="$fonts fonts-arphic-uming"
[ -f /usr/share/fonts/truetype/arphic/ukai.ttc ] || fonts="$fonts fonts-arphic-ukai"
if [ -n "$fonts" ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    apt-get update -qq
    # shellcheck disable=SC2086
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $fonts >/dev/null
  else
    echo "setup: missing Debian packages; run 'sudo apt install$fonts' (fonts: CJK text in saved images, INT8 calibration lines, the Chinese test domain; chromium: the server page's test)" >&2
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
