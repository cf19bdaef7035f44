"""Every seed architecture, built with random weights from PaddleOCR's modelling code, converts to ONNX,
OpenVINO and (from the legacy program, in the Paddle Lite leg) Paddle Lite with its logits within float
rounding of Paddle Inference's (real weights only change values)."""
from __future__ import annotations

from pathlib import Path
from typing import Dict

import pytest

from converters import convert
from converters.architectures import LEGACY_TARGETS, TARGET_BACKENDS, architectures, build, logit_diffs, save
from edge_sdk.datasets import SAMPLES_DIR, load_samples
from edge_sdk.model_dir import ModelDir
from edge_sdk.images import read_image
from edge_sdk.zoo import MODELS

# each architecture with the class count of its first seed model
CASES = {arch: next(m.classes for m in MODELS.values() if m.architecture == arch and m.classes)
         for arch in architectures()}


def test_every_seed_model_has_a_buildable_architecture() -> None:
    seeds = [m for m in MODELS.values() if m.seed]
    assert len(seeds) == 18 and all(m.architecture in CASES for m in seeds), [m.name for m in seeds if not m.architecture]
    assert set(CASES) == {"PP-OCRv4_mobile", "PP-OCRv4_server", "PP-OCRv3_mobile", "SVTRv2", "RepSVTR"}
    # zoo.json claims for each model only what the test below proves
    for m in MODELS.values():
        assert set(m.arch_proven_targets) == (set(TARGET_BACKENDS) if m.architecture else set()), m.name


def _assert_logits_match(src: Path, arts: Dict[str, Path]) -> None:
    images = [read_image(s.path) for s in load_samples(SAMPLES_DIR)]
    d = logit_diffs(src, arts, images)
    # logits, not a flat softmax: random weights with real BatchNorm statistics give a spread of values
    assert d["logit_std"] > 0.1
    for target in arts:
        assert d[target] <= 1e-4 * max(1.0, d["logit_max"]) + 1e-5, (target, d)


@pytest.mark.slow
@pytest.mark.parametrize("arch", list(CASES))
def test_architecture_converts_with_matching_logits(arch: str, tmp_path: Path) -> None:
    classes = CASES[arch]
    src = save(arch, classes, tmp_path / "paddle")
    md = ModelDir.open(src)
    assert md.format == "paddle-pir" and len(md.charset.characters) == classes
    arts = {}
    for target in TARGET_BACKENDS:
        if target in LEGACY_TARGETS:
            continue
        r = convert(str(src), target, tmp_path / target)
        assert r.parity is not None and r.parity.passed, r.parity.failures if r.parity else None
        arts[target] = tmp_path / target
    _assert_logits_match(src, arts)


@pytest.mark.slow
@pytest.mark.paddlelite
@pytest.mark.parametrize("arch", list(CASES))
def test_architecture_converts_to_paddle_lite_with_matching_logits(arch: str, tmp_path: Path) -> None:
    pytest.importorskip("paddlelite", reason="the Paddle Lite runtime runs in the Python 3.9 leg")
    classes = CASES[arch]
    src = save(arch, classes, tmp_path / "paddle", legacy=True)
    assert ModelDir.open(src).format == "paddle-legacy"
    r = convert(str(src), "paddlelite", tmp_path / "paddlelite", valid_places="x86")
    assert r.parity is not None and r.parity.passed, r.parity.failures if r.parity else None
    _assert_logits_match(src, {"paddlelite": tmp_path / "paddlelite"})


def test_build_is_deterministic_for_a_seed() -> None:
    import numpy as np
    import paddle

    x = paddle.to_tensor(np.random.RandomState(0).uniform(-1, 1, (1, 3, 48, 160)).astype("float32"))
    a = build("PP-OCRv3_mobile", 97, seed=3)(x).numpy()
    b = build("PP-OCRv3_mobile", 97, seed=3)(x).numpy()
    c = build("PP-OCRv3_mobile", 97, seed=4)(x).numpy()
    assert a.shape == (1, 20, 97) and (a == b).all() and not np.allclose(a, c)


def test_legacy_writer_emits_classic_ops_and_restores_paddle(tmp_path: Path) -> None:
    import paddle
    from paddle.base.proto import framework_pb2

    from converters.legacy_program import save_legacy

    class Net(paddle.nn.Layer):  # type: ignore[misc]
        def forward(self, x):  # type: ignore[no-untyped-def]
            return paddle.matmul(paddle.multiply(x, paddle.nn.functional.sigmoid(x)), x, transpose_y=True)

    before = (paddle.multiply, paddle.matmul, paddle.nn.functional.sigmoid)
    save_legacy(Net(), [paddle.static.InputSpec([None, 4, 4], "float32", name="x")], tmp_path / "inference")
    assert (paddle.multiply, paddle.matmul, paddle.nn.functional.sigmoid) == before
    desc = framework_pb2.ProgramDesc()
    desc.ParseFromString((tmp_path / "inference.pdmodel").read_bytes())
    ops = [op.type for op in desc.blocks[0].ops]
    assert {"elementwise_mul", "matmul_v2", "sigmoid"} <= set(ops), ops
    x = paddle.ones([1, 4, 4])  # eager mode still goes to the C functions
    assert paddle.multiply(x, x).shape == [1, 4, 4]
