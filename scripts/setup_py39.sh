#!/usr/bin/env bash
# Set up the Python 3.9 leg: Debian 11's python3.9 beside the system Python, a venv in .venv39, and
# edge-sdk with the paddlelite extra (Paddle Lite's PyPI wheels stop at cp310; Debian 12 has only 3.11).
# Needs root for apt. Extras via $EDGE_SDK_EXTRAS39 (default paddlelite,onnx,openvino,convert,dev).
set -euo pipefail
cd "$(dirname "$0")/.."

EXTRAS=${EDGE_SDK_EXTRAS39:-paddlelite,onnx,openvino,convert,dev}
AUX=$PWD/.venv39-aux   # distutils for 3.9 and a pip wheel; later pip runs in .venv39 need it on PYTHONPATH

if ! command -v python3.9 >/dev/null || ! python3.9 -c 'import sys; assert sys.version_info[:2] == (3, 9)' 2>/dev/null; then
  if [ "$(id -u)" != 0 ]; then echo "setup_py39: python3.9 is missing and installing it needs root" >&2; exit 1; fi
  if [ ! -f /etc/apt/sources.list.d/bullseye.sources ]; then
    cat > /etc/apt/sources.list.d/bullseye.sources <<SRC
Types: deb
URIs: http://deb.debian.org/debian
Suites: bullseye
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
  fi
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3.9 >/dev/null   # python3.9-venv does not co-install
fi
PY39=$(command -v python3.9)
case "$PY39" in */pyenv/shims/*|*/.pyenv/shims/*) PY39=/usr/bin/python3.9 ;; esac

if [ ! -d "$AUX/root/usr/lib/python3.9/distutils" ]; then
  rm -rf "$AUX" && mkdir -p "$AUX"
  (cd "$AUX" && apt-get download -qq python3-distutils=3.9.2-1 python3-lib2to3=3.9.2-1 >/dev/null \
     && for f in *.deb; do dpkg-deb -x "$f" root; done && rm -f ./*.deb)
  cp -n /usr/lib/python3.9/distutils/*.py "$AUX/root/usr/lib/python3.9/distutils/"
fi
# pip on 3.9 imports distutils (Debian ships it separately): give it the extracted copy. Builds in pip's
# isolated env do not see PYTHONPATH, so setuptools there must use its own bundled distutils ("local").
export SETUPTOOLS_USE_DISTUTILS=local PYTHONPATH=$AUX/root/usr/lib/python3.9

if [ ! -x .venv39/bin/pip ]; then
  rm -rf .venv39
  "$PY39" -m venv --without-pip .venv39
  ls "$AUX"/pip-*.whl >/dev/null 2>&1 || python3 -m pip download -q --no-deps -d "$AUX" "pip<25"   # pip 25 needs 3.10
  whl=$(ls "$AUX"/pip-*.whl | head -1)
  .venv39/bin/python "$whl/pip" install -q "$whl"
fi
# the old distribution name of this checkout (see setup.sh)
.venv39/bin/python -m pip uninstall -q -y edge-sdk >/dev/null 2>&1 || true
# paddlepaddle imports setuptools but declares it only for Python >= 3.12
.venv39/bin/python -m pip install -q -c constraints-py39.txt setuptools -e ".[${EXTRAS}]"
echo "setup_py39: .venv39 ready ($(.venv39/bin/python --version), extras: ${EXTRAS})"
