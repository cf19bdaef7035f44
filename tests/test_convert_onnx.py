"""Paddle -> ONNX conversion: the artifact, its manifest, its parity report, and atomic writes."""
from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

import onnx
import pytest

from converters import convert, onnx_export
from edge_sdk.errors import ConversionError, ModelFormatError
from edge_sdk.model_dir import ModelDir
from edge_sdk.zoo import MODELS, ParityCriteria


def test_artifact_layout(onnx_artifact: Path) -> None:
    assert sorted(p.name for p in onnx_artifact.iterdir()) == ["inference.onnx", "inference.yml", "manifest.json"]


def test_dict_travels_in_onnx_metadata(onnx_artifact: Path, paddle_model: ModelDir) -> None:
    meta = {p.key: p.value for p in onnx.load(str(onnx_artifact / "inference.onnx")).metadata_props}
    assert meta["character"].split("\n") == paddle_model.charset.dict_characters
    assert meta["model_name"] == "PP-OCRv4_mobile_rec"


def test_bare_onnx_file_reads_dict_from_metadata(onnx_artifact: Path, tmp_path: Path) -> None:
    shutil.copy(onnx_artifact / "inference.onnx", tmp_path / "rec.onnx")
    md = ModelDir.open(tmp_path / "rec.onnx")
    assert md.dict_source.endswith("metadata") and len(md.charset) == 6625


def test_manifest(onnx_artifact: Path, paddle_model: ModelDir) -> None:
    m = json.loads((onnx_artifact / "manifest.json").read_text(encoding="utf-8"))
    assert m["target"] == "onnx" and m["precision"] == "fp32" and m["model_name"] == "PP-OCRv4_mobile_rec"
    assert len(m["source"]["sha256"]) == 64 and m["source"]["format"] == "paddle-legacy"
    assert m["tools"]["paddle2onnx"].startswith("2.0") and "onnxruntime" in m["tools"]
    spec = m["input_spec"]
    assert spec["inputs"]["x"][1:3] == [3, 48] and all(isinstance(d, str) for d in (spec["inputs"]["x"][0], spec["inputs"]["x"][3]))
    assert spec["classes"] == 6625 and spec["color"] == "BGR"
    p = m["parity"]
    assert p["passed"] and p["lines"] == 8 and p["identical_text"] == 8 and p["max_abs_prob_diff"] < 1e-3
    # checked as converted (graph as written) and as deployed (onnxruntime's fusions on)
    assert p["deployed_identical_text"] == 8 and 0 < p["deployed_max_abs_prob_diff"] < 1e-3
    assert p["labelled"]["reference"]["acc"] == p["labelled"]["candidate"]["acc"]


def test_unsupported_target_and_precision(tmp_path: Path, paddle_model: ModelDir) -> None:
    with pytest.raises(ConversionError, match="unknown target 'tflite'"):
        convert(str(paddle_model.path), "tflite", tmp_path / "o")
    with pytest.raises(ConversionError, match="does not support precision 'int4'.*fp32"):
        convert(str(paddle_model.path), "onnx", tmp_path / "o", precision="int4")
    assert not (tmp_path / "o").exists()


def test_an_onnx_artifact_converts_again_checked_against_its_paddle_origin(onnx_artifact: Path, tmp_path: Path) -> None:
    r = convert(str(onnx_artifact), "onnx", tmp_path / "o")  # ONNX is a source format too
    assert r.parity is not None and r.parity.passed and r.parity.reference.startswith("paddle")
    assert ModelDir.open(tmp_path / "o").charset.dict_characters == ModelDir.open(onnx_artifact).charset.dict_characters


def test_corrupt_source_program_is_refused_before_anything_is_written(paddle_model: ModelDir, tmp_path: Path) -> None:
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "inference.pdmodel").write_bytes(b"\x00garbage program")  # Paddle itself would segfault on this
    shutil.copy(paddle_model.path / "inference.pdiparams", broken)
    shutil.copy(paddle_model.path / "inference.yml", broken)
    out = tmp_path / "out" / "rec-onnx"
    with pytest.raises(ModelFormatError, match="is not a Paddle program"):
        convert(str(broken), "onnx", out)
    assert not out.exists()


def test_failed_export_leaves_no_artifact_and_no_staging_dir(paddle_model: ModelDir, tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    def half_export(source: ModelDir, stage: Path, precision: str) -> Path:
        (stage / "inference.onnx").write_bytes(b"partial")
        raise ConversionError("export died half-way")

    monkeypatch.setattr(onnx_export, "export", half_export)
    out = tmp_path / "out" / "rec-onnx"
    with pytest.raises(ConversionError, match="half-way"):
        convert(str(paddle_model.path), "onnx", out)
    assert list((tmp_path / "out").iterdir()) == []


def test_parity_failure_writes_nothing_unless_allowed(paddle_model: ModelDir, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    strict = dataclasses.replace(MODELS["PP-OCRv4_mobile_rec"], parity={"fp32": ParityCriteria(max_abs_prob_diff=0.0)})
    monkeypatch.setitem(MODELS, "PP-OCRv4_mobile_rec", strict)
    out = tmp_path / "rec"
    with pytest.raises(ConversionError, match=r"does not match the source \(max abs prob diff .* > 0\).*nothing was written"):
        convert(str(paddle_model.path), "onnx", out, check_limit=2)
    assert not out.exists()
    kept = convert(str(paddle_model.path), "onnx", out, check_limit=2, allow_mismatch=True)
    assert not kept.parity.passed and json.loads((out / "manifest.json").read_text())["parity"]["passed"] is False


def test_output_that_is_not_an_artifact_is_not_overwritten(paddle_model: ModelDir, tmp_path: Path) -> None:
    out = tmp_path / "precious"
    out.mkdir()
    (out / "notes.txt").write_text("keep me")
    with pytest.raises(ConversionError, match="not an edge-sdk artifact"):
        convert(str(paddle_model.path), "onnx", out)
    assert (out / "notes.txt").read_text() == "keep me"


def test_reconverting_replaces_an_artifact(paddle_model: ModelDir, tmp_path: Path) -> None:
    out = tmp_path / "rec"
    first = convert(str(paddle_model.path), "onnx", out, check_limit=2)
    second = convert(str(paddle_model.path), "onnx", out, check_limit=3)
    assert first.parity.lines == 2 and second.parity.lines == 3
    assert json.loads((out / "manifest.json").read_text())["parity"]["lines"] == 3
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rec"]
