"""Runtime backends on the real model: the contract float32[N,3,48,W] -> float32[N,W/8,6625]."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import runtimes
from edge_sdk.model_dir import ModelDir

ROOT = Path(__file__).resolve().parents[1]

BACKEND_FILES = {"paddle": "inference.pdmodel", "onnxruntime": "inference.onnx"}


@pytest.fixture(scope="module")
def model_files(paddle_model: ModelDir, onnx_artifact: Path) -> dict:
    return {"paddle": paddle_model.model_file, "onnxruntime": onnx_artifact / "inference.onnx"}


@pytest.mark.parametrize("backend", sorted(BACKEND_FILES))
@pytest.mark.parametrize("n,w", [(1, 320), (3, 640), (2, 1000)])
def test_contract_dynamic_batch_and_width(model_files: dict, backend: str, n: int, w: int) -> None:
    session = runtimes.load_backend(backend, model_files[backend], threads=1)
    x = np.random.default_rng(0).uniform(-1, 1, size=(n, 3, 48, w)).astype(np.float32)
    y = session.run(x)
    assert y.shape == (n, w // 8, 6625) and y.dtype == np.float32
    assert np.allclose(y.sum(-1), 1.0, atol=1e-3)  # softmax outputs


def test_backends_agree_on_same_input(model_files: dict) -> None:
    x = np.random.default_rng(1).uniform(-1, 1, size=(2, 3, 48, 320)).astype(np.float32)
    a = runtimes.load_backend("paddle", model_files["paddle"]).run(x)
    b = runtimes.load_backend("onnxruntime", model_files["onnxruntime"]).run(x)
    assert np.abs(a - b).max() < 1e-3


def test_threads_are_honoured(model_files: dict) -> None:
    s = runtimes.load_backend("onnxruntime", model_files["onnxruntime"], threads=1)
    assert s.describe()["threads"] == 1
    assert runtimes.load_backend("paddle", model_files["paddle"], threads=0).describe()["threads"] == runtimes.default_threads()


def test_onnxruntime_can_run_the_graph_as_written(model_files: dict) -> None:
    """optimize_graph=False switches off onnxruntime's fusions: same results up to float reordering."""
    x = np.random.default_rng(2).uniform(-1, 1, size=(1, 3, 48, 320)).astype(np.float32)
    fused = runtimes.load_backend("onnxruntime", model_files["onnxruntime"], threads=1)
    plain = runtimes.load_backend("onnxruntime", model_files["onnxruntime"], threads=1, optimize_graph=False)
    assert fused.graph_optimization_switch and not runtimes.backend_class("paddle").graph_optimization_switch
    a, b = fused.run(x), plain.run(x)
    assert np.abs(a - b).max() < 1e-3 and not np.array_equal(a, b)


def test_registry_errors(model_files: dict) -> None:
    with pytest.raises(runtimes.BackendNotInstalled, match="unknown backend 'tvm'"):
        runtimes.load_backend("tvm", model_files["paddle"])
    with pytest.raises(runtimes.ModelLoadError, match="cannot load inference.pdmodel"):
        runtimes.load_backend("onnxruntime", model_files["paddle"])
    with pytest.raises(runtimes.DeviceUnavailable, match="no device 'npu'"):
        runtimes.load_backend("onnxruntime", model_files["onnxruntime"], device="npu")


def test_corrupt_onnx_file_is_a_load_error(tmp_path: Path) -> None:
    f = tmp_path / "inference.onnx"
    f.write_bytes(b"not a protobuf")
    with pytest.raises(runtimes.ModelLoadError, match="onnxruntime could not load"):
        runtimes.load_backend("onnxruntime", f)


def test_formats_map_to_backends() -> None:
    assert runtimes.backends_for(Path("a/inference.onnx")) == ["onnxruntime", "openvino"]
    assert runtimes.backends_for(Path("a/inference.xml")) == ["openvino"]
    assert runtimes.backends_for(Path("a/inference.pdmodel")) == ["openvino", "paddle"]  # OpenVINO reads legacy Paddle
    assert set(runtimes.available_backends()) >= {"paddle", "onnxruntime", "openvino"}


def test_only_openvino_takes_a_reduced_compute_precision(model_files: dict) -> None:
    with pytest.raises(runtimes.DeviceUnavailable, match="precision 'bf16' is an OpenVINO setting"):
        runtimes.load_backend("onnxruntime", model_files["onnxruntime"], precision="bf16")


def test_openvino_telemetry_is_off_unless_asked_for() -> None:
    """import openvino sends usage events from a forked process by default (no consent file, not in CI);
    through the SDK it gets OpenVINO's own no-op stub, unless EDGE_SDK_OPENVINO_TELEMETRY=1."""
    import os
    import subprocess
    import sys

    code = ("import runtimes, sys; runtimes.import_openvino(); import openvino.tools.ovc.telemetry_utils as t; "
            "print(t.tm.__name__)")
    env = {k: v for k, v in os.environ.items() if k not in ("CI", "TF_BUILD", "JENKINS_URL")}
    off = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=str(ROOT))
    assert off.returncode == 0, off.stderr
    assert off.stdout.strip() == "openvino.tools.ovc.telemetry_stub"
    on = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=str(ROOT),
                        env={**env, "EDGE_SDK_OPENVINO_TELEMETRY": "1", "CI": "true"})  # CI: nothing is sent
    assert on.returncode == 0, on.stderr
    assert on.stdout.strip() != "openvino.tools.ovc.telemetry_stub"


@pytest.mark.parametrize("guarded", [True, False])
def test_import_openvino_leaves_out_ovc_only_where_openvino_imports_without_it(tmp_path: Path, guarded: bool) -> None:
    """A fake ``openvino`` package (not the real one: this is about OpenVINO versions we do not have) whose
    ``__init__`` imports ovc inside ``try/except ImportError``, as 2026.4 does, loads without it, and
    ``convert_model`` comes on demand; one that imports ovc unconditionally is imported the ordinary way."""
    import os
    import subprocess
    import sys

    pkg = tmp_path / "openvino"
    (pkg / "tools" / "ovc").mkdir(parents=True)
    (pkg / "tools" / "__init__.py").write_text("")
    (pkg / "tools" / "ovc" / "__init__.py").write_text("def convert_model(path):\n    return 'converted ' + path\n")
    body = "from openvino.tools.ovc import convert_model\n"
    if guarded:
        body = "try:\n    " + body.replace("\n", "\n    ").rstrip() + "\nexcept ImportError:\n    pass\n"
    (pkg / "__init__.py").write_text("LOADED = True\n" + body)
    code = ("import sys, runtimes\nov = runtimes.import_openvino()\n"
            "print(ov.LOADED, 'openvino.tools.ovc' in sys.modules, ov.convert_model('x'))\n"
            "print(runtimes.import_openvino(conversion=True).convert_model('y'))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=str(ROOT),
                         env={**os.environ, "PYTHONPATH": f"{tmp_path}:{ROOT}"})
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == [f"True {not guarded} converted x", "converted y"]
