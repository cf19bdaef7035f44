"""The PIR format (inference.json), as PaddleX 3.x ships its models: loaded, run, and converted."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from converters import convert
from edge_sdk import create_model
from edge_sdk.datasets import SAMPLES_DIR
from edge_sdk.model_dir import ModelDir


def test_pir_dir_is_recognized(pir_model: ModelDir) -> None:
    assert pir_model.format == "paddle-pir" and pir_model.model_file.name == "inference.json"
    assert pir_model.model_name == "PP-OCRv4_mobile_rec" and len(pir_model.charset) == 6625


def test_pir_and_legacy_give_the_same_results(pir_model: ModelDir, paddle_model: ModelDir) -> None:
    pir = list(create_model(str(pir_model.path)).predict(str(SAMPLES_DIR)))
    legacy = list(create_model(str(paddle_model.path)).predict(str(SAMPLES_DIR)))
    assert [r.rec_text for r in pir] == [r.rec_text for r in legacy]
    # the two programs run the same weights through differently fused kernels: scores agree to float
    # rounding, not to the last digit (rounding both to 5 decimals split 0.949955 into 0.94996 / 0.94995)
    np.testing.assert_allclose([r.rec_score for r in pir], [r.rec_score for r in legacy], rtol=0, atol=1e-4)


def test_pir_converts_to_onnx(pir_model: ModelDir, tmp_path: Path) -> None:
    result = convert(str(pir_model.path), "onnx", tmp_path / "rec-onnx")
    assert result.parity.passed and result.parity.identical_text == result.parity.lines == 8
    assert result.manifest["source"]["format"] == "paddle-pir"
    texts = [r.rec_text for r in create_model(str(tmp_path / "rec-onnx")).predict(str(SAMPLES_DIR))]
    assert texts == [r.rec_text for r in create_model(str(pir_model.path)).predict(str(SAMPLES_DIR))]
