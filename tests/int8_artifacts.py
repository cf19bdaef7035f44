"""Test helper: what every INT8 artifact's manifest must say (test_quantize.py, test_int8_cross_domain.py)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest


def assert_int8_artifact(out: Path, target: str, calib_note: str) -> None:
    """An INT8 artifact's manifest: precision, calibration note, and the speed measured in the conversion."""
    m = json.loads((out / "manifest.json").read_text())
    assert m["precision"] == "int8" and calib_note in m["conversion_notes"][0], m["conversion_notes"][0]
    times = "once" if target == "onnx" else "3 times"  # the recipe's rendered rounds
    assert f"rendered lines holding each dict character {times}" in m["conversion_notes"][0]
    speed = m["speed"]  # measured in the conversion: INT8 and FP32 on the same backend, same lines
    assert speed["backend"] == ("onnxruntime" if target == "onnx" else "openvino") and speed["lines"] == 64
    assert speed["widths"] == [320, 640] and speed["batch_size"] == 8
    assert speed["speedup_vs_fp32"] == pytest.approx(speed["int8_lines_per_s"] / speed["fp32_lines_per_s"], rel=0.02)
