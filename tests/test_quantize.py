"""INT8 for ONNX (onnxruntime static QDQ) and OpenVINO (NNCF): calibration, recipe, artifact, report.

Accuracy of the current recipes on IC15 is measured in the closing notes, not asserted here yet."""
from __future__ import annotations

import json
from pathlib import Path

import onnx
import pytest

pytest.importorskip("nncf", reason="the quantize extra is installed in the Python 3.11 leg")

from converters import convert  # noqa: E402
from converters.quantize import RECIPES, recipe_for  # noqa: E402
from edge_sdk.errors import ConversionError  # noqa: E402
from edge_sdk.model_dir import ModelDir  # noqa: E402


def test_int8_needs_calibration_and_calib_needs_int8(paddle_model: ModelDir, tmp_path: Path) -> None:
    with pytest.raises(ConversionError, match="int8 needs calibration data: pass --calib"):
        convert(str(paddle_model.path), "onnx", tmp_path / "o", precision="int8")
    with pytest.raises(ConversionError, match="--calib applies to --precision int8 only"):
        convert(str(paddle_model.path), "onnx", tmp_path / "o", calib="x")
    assert not (tmp_path / "o").exists()


def test_recipe_is_per_family_data(paddle_model: ModelDir) -> None:
    r = recipe_for(paddle_model)
    assert r is RECIPES["PP-OCRv4"]
    assert r.onnx.op_types == ("MatMul",) and r.onnx.calibrate_method == "MinMax"
    assert r.openvino.preset == "MIXED" and r.openvino.float_first_convs == 8 and not r.openvino.fast_bias_correction
    assert str(r.openvino) == "NNCF MIXED preset, full bias correction, keeping first 8 convolutions in float"


@pytest.mark.parametrize("target", ["onnx", "openvino"])
def test_int8_artifact(target: str, paddle_model: ModelDir, ic15_val: Path, tmp_path: Path) -> None:
    train = ic15_val.parent / "train.txt"
    out = tmp_path / f"{target}-int8"
    r = convert(str(paddle_model.path), target, out, precision="int8", calib=str(train), calib_size=20,
                allow_mismatch=True)
    m = json.loads((out / "manifest.json").read_text())
    assert m["precision"] == "int8" and "calibrated on 20 lines" in m["conversion_notes"][0]
    assert r.parity is not None and r.parity.nonfinite_lines == 0 and r.parity.labelled is not None
    if target == "onnx":
        ops = {n.op_type for n in onnx.load(str(out / "inference.onnx")).graph.node}
        assert {"QuantizeLinear", "DequantizeLinear"} <= ops
        assert (out / "inference.onnx").stat().st_size < 9_000_000  # MatMuls int8, convolutions float
    else:
        import openvino as ov

        ops = {op.get_type_name() for op in ov.Core().read_model(str(out / "inference.xml")).get_ops()}
        assert "FakeQuantize" in ops or "FakeConvert" in ops
        assert (out / "inference.bin").stat().st_size < 4_000_000
