#!/usr/bin/env bash
# README command 2: set up, then run the test suite on the real model and backends.
# The model is fetched once into .cache/edge-sdk inside the checkout; extra args go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export EDGE_SDK_HOME=${EDGE_SDK_HOME:-$PWD/.cache/edge-sdk}
exec .venv/bin/python -m pytest "$@"
