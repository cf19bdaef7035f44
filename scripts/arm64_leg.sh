#!/usr/bin/env bash
# CI's ARM leg: the SDK as a Raspberry Pi user runs it, under qemu-user emulation (needs root).
#   1. x86 (.venv): convert the artifacts a user would copy over and record x86's results for a few
#      lines (scripts/arm64_handoff.py -> .arm64/handoff).
#   2. build the edge-ocr-sdk wheel, build or reuse the arm64 bookworm root and install the wheel there with
#      README's own device line ([onnx,openvino] only; scripts/arm64_root.sh).
#   3. per board (Pi 4 = Cortex-A72, Pi 5 = Cortex-A76): `edge-sdk devices`, then tests/arm in the root.
#   4. print what each board saw: board, CPU features, chosen backend, texts vs x86, max abs prob diff,
#      seconds per line under emulation, and the leg's time.
# Run after scripts/setup.sh and scripts/setup_py39.sh (the arm .nb needs .venv39's paddle_lite_opt).
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)
export EDGE_SDK_HOME=${EDGE_SDK_HOME:-$PWD/.cache/edge-sdk}
export EDGE_SDK_PADDLE_LITE_OPT=${EDGE_SDK_PADDLE_LITE_OPT:-$PWD/.venv39/bin/paddle_lite_opt}
BOARDS=${EDGE_SDK_ARM_BOARDS:-rpi4 rpi5}

t=$(date +%s)
.venv/bin/python scripts/arm64_handoff.py .arm64/handoff
echo "arm64 leg: x86 handoff in $(( $(date +%s) - t )) s"

# The wheel a user builds on the laptop and copies to the Pi (README, "On a Raspberry Pi").
rm -rf .arm64/handoff/dist
.venv/bin/python -m pip wheel . --no-deps -q -w .arm64/handoff/dist
echo "arm64 leg: wheel $(cd .arm64/handoff/dist && ls *.whl)"

t=$(date +%s)
bash scripts/arm64_root.sh build
echo "arm64 leg: root ready in $(( $(date +%s) - t )) s"

status=0
for board in $BOARDS; do
  t=$(date +%s)
  echo "=== arm64 leg: $board ==="
  rm -f ".arm64/report-$board.json"
  bash scripts/arm64_root.sh run "$board" -- edge-sdk devices /sdk/.arm64/handoff/rec-onnx || status=1
  EDGE_SDK_ARM_BOARD=$board EDGE_SDK_ARM_HANDOFF=$PWD/.arm64/handoff EDGE_SDK_ARM_REPORT=$PWD/.arm64/report-$board.json \
    bash scripts/arm64_root.sh run "$board" -- pytest tests/arm -v -rA || status=1
  if [ "$board" = "${BOARDS%% *}" ]; then  # the README's Pi example, once
    bash scripts/arm64_root.sh run "$board" -- python examples/raspberry_pi/recognize.py \
      /sdk/.arm64/handoff/rec-onnx /sdk/.arm64/handoff/lines || status=1
  fi
  echo "arm64 leg: $board in $(( $(date +%s) - t )) s"
done

.venv/bin/python - "$BOARDS" <<'EOF'
import json, sys
from pathlib import Path
for board in sys.argv[1].split():
    f = Path(f".arm64/report-{board}.json")
    if not f.is_file():
        print(f"{board}: no report (the tests did not get far)"); continue
    r = json.loads(f.read_text())
    d = r.get("device", {})
    print(f"{board}: {d.get('board')} | {d.get('cpu')} | features {' '.join(d.get('features', []))}")
    print(f"  auto: {r.get('auto', {}).get('rec-onnx')}  ({r.get('auto', {}).get('why', '')})")
    for name, run in r.get("runs", {}).items():
        print(f"  {name:<22} texts identical to x86: {run['texts_identical_to_x86']}  max abs prob diff "
              f"{run['max_abs_prob_diff']:.2e}  {run['seconds_per_line']:.2f} s/line ({run['lines']} lines, {run['precision']})")
    if "paddlelite" in r:
        print(f"  paddle lite .nb (places {','.join(r['paddlelite']['nb_places'])}): {r['paddlelite']['outcome']}")
EOF
echo "arm64 leg: exit ${status}; total $(( $(date +%s) - start )) s"
exit "$status"
