"""INT8 for ONNX (onnxruntime static QDQ) and OpenVINO (NNCF): calibration, recipe, artifact, report.

Accuracy of the current recipes on IC15 is measured in the closing notes, not asserted here yet."""
from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

import onnx
import pytest

pytest.importorskip("nncf", reason="the quantize extra is installed in the Python 3.11 leg")

from converters import convert  # noqa: E402
import numpy as np  # noqa: E402

from converters.quantize import RECIPES, recipe_for  # noqa: E402
from edge_sdk.datasets import SAMPLES_DIR  # noqa: E402
from edge_sdk.errors import ConversionError  # noqa: E402
from edge_sdk.model_dir import ModelDir  # noqa: E402
from int8_artifacts import assert_int8_artifact  # noqa: E402


def test_int8_needs_calibration_lines_and_calib_options_need_int8(paddle_model: ModelDir, tmp_path: Path) -> None:
    with pytest.raises(ConversionError, match="int8 needs calibration lines: pass --calib DATASET, or leave out "
                                              "--no-rendered-calib"):
        convert(str(paddle_model.path), "onnx", tmp_path / "o", precision="int8", rendered_calib=False)
    with pytest.raises(ConversionError, match="--calib applies to --precision int8 only"):
        convert(str(paddle_model.path), "onnx", tmp_path / "o", calib="x")
    with pytest.raises(ConversionError, match="--no-rendered-calib applies to --precision int8 only"):
        convert(str(paddle_model.path), "openvino", tmp_path / "o", rendered_calib=False)
    with pytest.raises(ConversionError, match="--calib: dataset .*nowhere does not exist"):
        convert(str(paddle_model.path), "openvino", tmp_path / "o", precision="int8", calib=[str(tmp_path / "nowhere")])
    assert not (tmp_path / "o").exists()


def test_calibration_mixes_sets_and_adds_lines_rendered_from_the_dict(paddle_model: ModelDir, ic15_val: Path) -> None:
    from converters.quantize import calibration_set

    cal = calibration_set(paddle_model, [str(ic15_val.parent / "train.txt"), str(SAMPLES_DIR)], size=10)
    rendered = len(cal.batches) - 10 - 8
    # each drawable dict character once per style: ~419 lines of 8-24 characters per style for 6623 characters
    assert 2 * 6600 / 24 <= rendered <= 2 * 6623 / 8
    assert str(cal).startswith(f"10 lines of {ic15_val.parent / 'train.txt'} + 8 lines of {SAMPLES_DIR} + "
                               f"{rendered} rendered lines holding each dict character once")
    assert all(b.shape[:3] == (1, 3, 48) and b.dtype == np.float32 for b in cal.batches)
    only = calibration_set(paddle_model, [str(SAMPLES_DIR)], rendered=False)
    assert len(only.batches) == 8 and str(only) == f"8 lines of {SAMPLES_DIR}"
    assert len(calibration_set(paddle_model, ["rendered"], rendered=False).batches) == rendered
    three = calibration_set(paddle_model, [str(SAMPLES_DIR)], rounds=3)  # the OpenVINO recipe's rounds
    assert 3 * (rendered - 4) <= len(three.batches) - 8 <= 3 * (rendered + 4)
    assert "rendered lines holding each dict character 3 times" in str(three)


FIRST, MIDDLE, LAST = 8, (11, 19, 27, 28), 5  # PP-OCRv4's float scope, chosen by measurement (converters/quantize.py)


def test_recipe_is_per_family_data(paddle_model: ModelDir) -> None:
    r = recipe_for(paddle_model)
    assert r is RECIPES["PP-OCRv4"]
    assert r.onnx.op_types == ("MatMul",) and r.onnx.calibrate_method == "MinMax"
    assert r.openvino.preset == "MIXED" and not r.openvino.fast_bias_correction
    assert (r.openvino.float_first_convs, r.openvino.float_convs, r.openvino.float_last_convs) == (FIRST, MIDDLE, LAST)
    assert (r.openvino.rendered_rounds, r.onnx.rendered_rounds) == (3, 1)
    assert str(r.openvino) == (f"NNCF MIXED preset, full bias correction, keeping first {FIRST} convolutions and "
                               f"convolutions 11, 19, 27, 28 and last {LAST} convolutions and the head in float")


def test_float_scope_is_found_by_position(paddle_model: ModelDir) -> None:
    """The neck's last convolutions and the CTC head stay float whatever the frontend names them."""
    import openvino as ov

    from converters.quantize import float_scope

    model = ov.convert_model(str(paddle_model.model_file))
    ops = list(model.get_ordered_ops())
    convs = [op.get_friendly_name() for op in ops if op.get_type_name() in ("Convolution", "GroupConvolution")]
    names = float_scope(model, 8, 5, (19, 27))  # any extra indices, in order
    assert names[:10] == convs[:8] + [convs[19], convs[27]] and set(convs[-5:]) <= set(names)
    assert not (set(convs[8:-5]) - {convs[19], convs[27]}) & set(names)
    kinds = {op.get_type_name() for op in ops if op.get_friendly_name() in names}
    assert {"MatMul", "Softmax"} <= kinds and not kinds & {"Constant", "Parameter", "Result"}
    assert float_scope(model, 0, 0) == []


def test_int8_onnx_artifact(paddle_model: ModelDir, ic15_val: Path, tmp_path: Path) -> None:
    """The OpenVINO INT8 artifact is checked the same way in test_int8_cross_domain.py (its conversion is the
    slowest step of the suite: one run serves both)."""
    train = ic15_val.parent / "train.txt"
    out = tmp_path / "onnx-int8"
    r = convert(str(paddle_model.path), "onnx", out, precision="int8", calib=str(train), calib_size=20,
                allow_mismatch=True)
    assert_int8_artifact(out, "onnx", f"calibrated on 20 lines of {train} + ")
    assert r.parity is not None and r.parity.nonfinite_lines == 0 and r.parity.labelled is not None
    # without --check-data, the rendered multi-script check set judges it, and the report says so
    assert r.parity.lines == 600 and r.parity.data.startswith("edge-sdk rendered check set, 600 lines (Han ")
    ops = {n.op_type for n in onnx.load(str(out / "inference.onnx")).graph.node}
    assert {"QuantizeLinear", "DequantizeLinear"} <= ops
    assert (out / "inference.onnx").stat().st_size < 9_000_000  # MatMuls int8, convolutions float


def test_max_acc_drop_needs_int8_and_labelled_check_data(paddle_model: ModelDir, tmp_path: Path) -> None:
    from click.testing import CliRunner

    from edge_sdk.cli import main

    with pytest.raises(ConversionError, match="--max-acc-drop applies to --precision int8 only"):
        convert(str(paddle_model.path), "onnx", tmp_path / "o", max_acc_drop=0.5)
    unlabelled = tmp_path / "imgs"
    unlabelled.mkdir()
    shutil.copy(SAMPLES_DIR / "sample_01_en.png", unlabelled / "a.png")  # an image folder has no labels
    with pytest.raises(ConversionError, match="--max-acc-drop needs labelled lines"):
        convert(str(paddle_model.path), "onnx", tmp_path / "o", precision="int8", calib=str(unlabelled),
                check_data=str(unlabelled), max_acc_drop=0.5)
    with pytest.raises(ConversionError, match="option\\(s\\) max_acc_drop do not apply to target paddlelite"):
        convert(str(paddle_model.path), "paddlelite", tmp_path / "o", precision="int8", max_acc_drop=0.5)
    r = CliRunner().invoke(main, ["convert", str(paddle_model.path), "-t", "onnx", "-o", str(tmp_path / "o"),
                                  "--max-acc-drop", "0.5"])
    assert r.exit_code != 0 and "Error: --max-acc-drop applies to --precision int8 only." in r.output
    assert "Traceback" not in r.output and not (tmp_path / "o").exists()


@pytest.fixture
def naive_recipes(monkeypatch: pytest.MonkeyPatch) -> None:
    """A recipe that quantizes every Conv and MatMul (ONNX) and keeps nothing float (OpenVINO): it costs this
    model points, so accuracy control has work to do."""
    from converters.quantize import Int8Recipe

    monkeypatch.setattr("converters.quantize.RECIPES", {})
    monkeypatch.setattr("converters.quantize.DEFAULT", Int8Recipe())


def convert_with_goal(model: ModelDir, target: str, out: Path, ic15_val: Path, calib_size: int, check_limit: int,
                      max_acc_drop: float):  # type: ignore[no-untyped-def]
    """INT8 with --max-acc-drop: calibrated on IC15 train only (the ladder re-quantizes at each step: the
    rendered lines would multiply its time), scored on the first ``check_limit`` IC15 val lines."""
    return convert(str(model.path), target, out, precision="int8", calib=str(ic15_val.parent / "train.txt"),
                   calib_size=calib_size, rendered_calib=False, check_data=str(ic15_val), check_limit=check_limit,
                   max_acc_drop=max_acc_drop)


def test_onnx_max_acc_drop_keeps_the_most_sensitive_nodes_in_fp32(naive_recipes: None, paddle_model: ModelDir,
                                                                  ic15_val: Path, tmp_path: Path) -> None:
    out = tmp_path / "onnx-int8"
    r = convert_with_goal(paddle_model, "onnx", out, ic15_val, calib_size=32, check_limit=100, max_acc_drop=2.0)
    assert r.parity is not None and r.parity.passed and r.parity.labelled is not None
    drop = r.parity.labelled["reference"]["acc"] - r.parity.labelled["candidate"]["acc"]
    assert drop <= 0.02 + 1e-9
    note = r.manifest["conversion_notes"][-1]
    assert note.startswith("--max-acc-drop 2: acc drop")
    # every Conv and MatMul quantized loses more than 2 points here, so the ladder had to keep some in FP32
    kept = int(note.split("keeping ")[1].split(" of ")[0])
    assert kept > 0
    graph = onnx.load(str(out / "inference.onnx")).graph
    producers = {o: n.op_type for n in graph.node for o in n.output}
    first_conv = next(n for n in graph.node if n.op_type == "Conv")
    assert first_conv.name in note  # the stem convolution is the most sensitive node, kept in FP32
    assert producers.get(first_conv.input[1]) != "DequantizeLinear"
    quantized_convs = [n for n in graph.node if n.op_type == "Conv" and producers.get(n.input[1]) == "DequantizeLinear"]
    assert quantized_convs, "the ladder stops keeping nodes in FP32 once the drop fits"


def test_onnx_max_acc_drop_fails_cleanly_when_out_of_reach(naive_recipes: None, monkeypatch: pytest.MonkeyPatch,
                                                           paddle_model: ModelDir, ic15_val: Path, tmp_path: Path) -> None:
    from converters.quantize import DEFAULT, OnnxInt8Recipe

    # a recipe that may keep nothing in FP32: the naive quantization is all it can try
    monkeypatch.setattr("converters.quantize.DEFAULT", dataclasses.replace(DEFAULT, onnx=OnnxInt8Recipe(max_float_share=0.0)))
    out = tmp_path / "onnx-int8"
    with pytest.raises(ConversionError, match=r"ONNX INT8 cannot keep the acc drop within 1 points on .*val.txt: the "
                                              r"best was \d+\.\d\d points with 0 of \d+ quantizable nodes in FP32"):
        convert_with_goal(paddle_model, "onnx", out, ic15_val, calib_size=16, check_limit=100, max_acc_drop=1.0)
    assert not out.exists() and not list(tmp_path.glob(".onnx-int8*"))


def test_openvino_max_acc_drop_reverts_quantizers_with_nncf(naive_recipes: None, paddle_model: ModelDir,
                                                           ic15_val: Path, tmp_path: Path) -> None:
    out = tmp_path / "ov-int8"
    r = convert_with_goal(paddle_model, "openvino", out, ic15_val, calib_size=32, check_limit=60, max_acc_drop=1.0)
    assert r.parity is not None and r.parity.passed and r.parity.labelled is not None
    assert r.parity.labelled["reference"]["acc"] - r.parity.labelled["candidate"]["acc"] <= 0.01 + 1e-9
    note = r.manifest["conversion_notes"][-1]
    assert "NNCF accuracy control on 60 lines" in note and "Metric of initial model" in note
    # the naive recipe (first convolutions quantized, fast bias correction) costs several points on these lines
    assert "reverted back to the floating-point precision" in note


def test_the_int8_acc_bound_allows_for_its_paired_sampling_error() -> None:
    """600 check lines with ~50 whose correctness INT8 changes: the acc delta's standard error is ~1.2
    points, so the 0.5-point bound holds up to 1.645 of them; a collapse is far outside."""
    from edge_sdk.zoo import DEFAULT_PARITY

    c = DEFAULT_PARITY["int8"]

    def lab(ref: float, cand: float) -> dict:
        return {"reference": {"acc": ref, "norm_edit_dis": 0.9}, "candidate": {"acc": cand, "norm_edit_dis": 0.9}}

    assert c.failures(0.5, 0.9, 0, lab(0.70, 0.69), {"lost": 30, "gained": 24, "lines": 600}) == []
    failed = c.failures(0.5, 0.9, 0, lab(0.70, 0.50), {"lost": 120, "gained": 0, "lines": 600})
    assert len(failed) == 1 and failed[0].startswith("acc drops 20.00 points > 0.5 + 3.00 (its sampling error)")
    assert c.failures(0.5, 0.9, 0, lab(0.70, 0.69)) == ["acc drops 1.00 points > 0.5"]  # unpaired: the bare bound
    bare = dataclasses.replace(c, acc_drop_z=None)  # what --max-acc-drop asks for
    assert bare.failures(0.5, 0.9, 0, lab(0.70, 0.69), {"lost": 30, "gained": 24, "lines": 600}) == \
        ["acc drops 1.00 points > 0.5"]
    assert "unless within 1.645 paired standard errors" in str(c)
