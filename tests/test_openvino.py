"""OpenVINO IR: conversion from every source format, the backend's precision and device handling, the cache."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import openvino as ov
import pytest

import runtimes
from converters import convert
from edge_sdk import create_model
from edge_sdk.datasets import SAMPLES_DIR
from edge_sdk.errors import BackendUnavailableError, ConversionError, EdgeSDKError, ModelFormatError
from edge_sdk.model_dir import OV_RT_INFO_DICT, ModelDir

CPU_CAPS = ov.Core().get_property("CPU", "OPTIMIZATION_CAPABILITIES")


def texts(model_path: Path, **kwargs: object) -> list:
    return [r.rec_text for r in create_model(str(model_path), **kwargs).predict(str(SAMPLES_DIR))]


def test_ir_layout_and_manifest(ov_artifact: Path) -> None:
    assert sorted(p.name for p in ov_artifact.iterdir()) == ["inference.bin", "inference.xml", "inference.yml",
                                                             "manifest.json"]
    m = json.loads((ov_artifact / "manifest.json").read_text())
    assert m["target"] == "openvino" and m["precision"] == "fp32" and "openvino" in m["tools"]
    assert m["input_spec"]["inputs"]["x"] == ["?", 3, 48, "?"]  # N and W dynamic
    assert m["input_spec"]["conversion_route"] == "OpenVINO Paddle frontend"
    assert m["parity"]["passed"] and m["parity"]["identical_text"] == 8


def test_dict_travels_in_rt_info(ov_artifact: Path, paddle_model: ModelDir, tmp_path: Path) -> None:
    model = ov.Core().read_model(str(ov_artifact / "inference.xml"))
    assert model.get_rt_info(OV_RT_INFO_DICT).astype(str).split("\n") == paddle_model.charset.dict_characters
    for name in ("inference.xml", "inference.bin"):  # an IR without inference.yml still finds its dict
        shutil.copy(ov_artifact / name, tmp_path / name)
    md = ModelDir.open(tmp_path)
    assert md.format == "openvino" and md.dict_source.endswith("rt_info") and len(md.charset) == 6625


def test_openvino_gives_the_same_texts_as_onnx(ov_artifact: Path, onnx_artifact: Path) -> None:
    assert texts(ov_artifact, backend="openvino") == texts(onnx_artifact, backend="onnxruntime")
    # the openvino backend also runs the ONNX artifact directly
    assert texts(onnx_artifact, backend="openvino") == texts(onnx_artifact, backend="onnxruntime")


def test_backend_contract_and_f32_by_default(ov_artifact: Path) -> None:
    s = runtimes.load_backend("openvino", ov_artifact / "inference.xml", threads=1)
    assert s.describe()["precision"] == "f32" and s.describe()["threads"] == 1
    for n, w in [(1, 320), (3, 800)]:
        y = s.run(np.zeros((n, 3, 48, w), np.float32))
        assert y.shape == (n, w // 8, 6625)


@pytest.mark.parametrize("precision,cap", [("bf16", "BF16"), ("f16", "FP16")])
def test_reduced_compute_precision_only_where_the_cpu_has_it(ov_artifact: Path, precision: str, cap: str) -> None:
    xml = ov_artifact / "inference.xml"
    if cap in CPU_CAPS:
        s = runtimes.load_backend("openvino", xml, precision=precision)
        assert s.describe()["precision"] == precision
        assert s.run(np.zeros((1, 3, 48, 320), np.float32)).shape == (1, 40, 6625)
    else:
        with pytest.raises(runtimes.DeviceUnavailable, match=f"cannot compute in {precision}"):
            runtimes.load_backend("openvino", xml, precision=precision)


def test_absent_device_is_reported(ov_artifact: Path) -> None:
    present = ov.Core().available_devices
    if any(d.startswith("GPU") for d in present):
        pytest.skip("this machine has an OpenVINO GPU; the absent-device message cannot be shown here")
    with pytest.raises(BackendUnavailableError, match=r"finds no GPU device here \(it sees CPU"):
        create_model(str(ov_artifact), backend="openvino", device="gpu")
    # through the ranking: the reason each candidate was dropped
    with pytest.raises(BackendUnavailableError, match=r"on device gpu here: openvino:gpu: OpenVINO sees no GPU device"):
        create_model(str(ov_artifact), device="gpu")
    with pytest.raises(EdgeSDKError, match="device must be one of .*, not 'tpu'"):
        create_model(str(ov_artifact), backend="openvino", device="tpu")
    with pytest.raises(EdgeSDKError, match="device must be one of .*, not 'tpu'"):
        create_model(str(ov_artifact), device="tpu")


def test_a_cpu_session_loads_no_other_device_plugin(ov_artifact: Path) -> None:
    """Listing OpenVINO's devices loads every plugin into the process for good (GPU, NPU: 5-8 MB of RSS);
    a CPU session must not list them. Run in a new process: this one has listed them already."""
    code = ("import sys; from edge_sdk import create_model\n"
            "m = create_model(sys.argv[1], backend='openvino', device='cpu')\n"
            "print(m.predict(sys.argv[2]).__next__().rec_text)\n"
            "print(sorted({l.split()[-1].rsplit('/', 1)[-1] for l in open('/proc/self/maps') if '_plugin' in l}))")
    out = subprocess.run([sys.executable, "-c", code, str(ov_artifact), str(SAMPLES_DIR / "sample_01_en.png")],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    text, plugins = out.stdout.strip().splitlines()[-2:]
    assert text and "libopenvino_intel_cpu_plugin.so" in plugins
    assert "npu_plugin" not in plugins and "gpu_plugin" not in plugins, plugins


def test_a_process_that_only_runs_models_loads_no_conversion_tools(ov_artifact: Path) -> None:
    """``import openvino`` brings ovc and the TensorFlow frontend (9 MB of RSS) and image headers PIL (2 MB):
    a process that recognizes PNG lines with an IR needs neither. ``openvino.convert_model`` still works
    when asked for afterwards, by attribute or through ``import_openvino(conversion=True)``."""
    code = ("import sys; from edge_sdk import create_model\n"
            "m = create_model(sys.argv[1], backend='openvino', device='cpu')\n"
            "print(len([r.rec_text for r in m.predict(sys.argv[2]) if r.rec_text]))\n"
            "mods = ('openvino.tools.ovc', 'openvino.frontend.tensorflow', 'openvino_telemetry', 'PIL')\n"
            "print(sorted(n for n in mods if sys.modules.get(n) is not None))\n"
            "print(sorted({l.split()[-1].rsplit('/', 1)[-1] for l in open('/proc/self/maps') if 'frontend' in l}))\n"
            "import openvino, runtimes\n"
            "from openvino.tools.ovc import convert_model\n"
            "print(openvino.convert_model is convert_model, runtimes.import_openvino(conversion=True).convert_model"
            " is convert_model)\n")
    out = subprocess.run([sys.executable, "-c", code, str(ov_artifact), str(SAMPLES_DIR)],
                         capture_output=True, text=True, timeout=300, cwd=str(Path(__file__).resolve().parents[1]))
    assert out.returncode == 0, out.stderr
    count, modules, frontends, convert_model = out.stdout.strip().splitlines()[-4:]
    assert int(count) == len(list(SAMPLES_DIR.glob("*.png")))
    assert modules == "[]", modules
    assert "tensorflow" not in frontends and "ir_frontend" in frontends, frontends
    assert convert_model == "True True"


def test_compiled_model_cache_is_written_and_reused(ov_artifact: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    first = texts(ov_artifact, cache_dir=cache)
    blobs = list(cache.glob("*.blob"))
    assert blobs, "OpenVINO wrote no compiled blob"
    stamp = [b.stat().st_mtime_ns for b in blobs]
    assert texts(ov_artifact, cache_dir=cache) == first
    assert [b.stat().st_mtime_ns for b in cache.glob("*.blob")] == stamp  # read, not rewritten


def test_fp16_weights_halve_the_size(paddle_model: ModelDir, ov_artifact: Path, tmp_path: Path) -> None:
    r = convert(str(paddle_model.path), "openvino", tmp_path / "rec-ov-fp16", precision="fp16")
    size32 = (ov_artifact / "inference.bin").stat().st_size
    size16 = (tmp_path / "rec-ov-fp16" / "inference.bin").stat().st_size
    assert 0.45 < size16 / size32 < 0.55
    assert r.parity.passed and r.manifest["precision"] == "fp16"
    assert "identical texts >= 95%" in r.parity.criteria


def test_pir_source_goes_through_onnx(pir_model: ModelDir, tmp_path: Path) -> None:
    r = convert(str(pir_model.path), "openvino", tmp_path / "rec-ov-pir")
    assert r.parity.passed and r.manifest["source"]["format"] == "paddle-pir"
    assert r.manifest["input_spec"]["conversion_route"].startswith("paddle2onnx, then OpenVINO ONNX frontend")
    assert r.manifest["input_spec"]["inputs"]["x"] == ["?", 3, 48, "?"]
    assert texts(tmp_path / "rec-ov-pir") == texts(pir_model.path)


def test_onnx_artifact_source_is_checked_against_its_paddle_origin(onnx_artifact: Path, tmp_path: Path) -> None:
    r = convert(str(onnx_artifact), "openvino", tmp_path / "from-onnx")
    assert r.parity.passed and r.parity.reference.startswith("paddle")
    assert r.manifest["input_spec"]["conversion_route"] == "OpenVINO ONNX frontend"


def test_bare_onnx_file_source_without_origin(onnx_artifact: Path, tmp_path: Path) -> None:
    bare = tmp_path / "rec.onnx"
    shutil.copy(onnx_artifact / "inference.onnx", bare)
    r = convert(str(bare), "openvino", tmp_path / "from-bare")
    assert r.parity.passed and r.parity.reference.startswith("onnxruntime")


def test_fp16_is_refused_for_onnx_and_openvino_ir_is_not_a_source(ov_artifact: Path, paddle_model: ModelDir,
                                                                  tmp_path: Path) -> None:
    with pytest.raises(ConversionError, match="target onnx does not support precision 'fp16'"):
        convert(str(paddle_model.path), "onnx", tmp_path / "o", precision="fp16")
    with pytest.raises(ConversionError, match="holds a openvino model"):
        convert(str(ov_artifact), "openvino", tmp_path / "o")
    assert not (tmp_path / "o").exists()


def test_corrupt_ir_is_a_clear_error(ov_artifact: Path, tmp_path: Path) -> None:
    shutil.copy(ov_artifact / "inference.yml", tmp_path)
    (tmp_path / "inference.xml").write_text("<net>broken")
    (tmp_path / "inference.bin").write_bytes(b"")
    with pytest.raises(ModelFormatError, match="OpenVINO could not load"):
        create_model(str(tmp_path))


def test_per_shape_kernel_cache_is_set_from_the_environment(ov_artifact: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from runtimes.base import BackendOptions
    from runtimes.openvino_backend import _runtime_cache_capacity

    monkeypatch.setenv("EDGE_SDK_OV_RUNTIME_CACHE", "256")
    assert _runtime_cache_capacity(BackendOptions()) == 256
    assert _runtime_cache_capacity(BackendOptions(extra={"cpu_runtime_cache_capacity": 8})) == 8
    create_model(str(ov_artifact), backend="openvino", cache_dir=None)  # the plugin takes it
    monkeypatch.delenv("EDGE_SDK_OV_RUNTIME_CACHE")
    assert _runtime_cache_capacity(BackendOptions()) == 0
    monkeypatch.setenv("EDGE_SDK_OV_RUNTIME_CACHE", "lots")
    with pytest.raises(EdgeSDKError, match="EDGE_SDK_OV_RUNTIME_CACHE='lots' is not a whole number"):
        create_model(str(ov_artifact), backend="openvino", cache_dir=None)


def test_onednn_primitive_cache_is_bounded_unless_the_user_sized_it() -> None:
    """oneDNN's kernel cache holds 128 primitives (two shapes of this model) in a process that loads the
    backend, and a capacity the user set in the environment stands."""
    import subprocess
    import sys

    code = "import os, runtimes.openvino_backend; print(os.environ['ONEDNN_PRIMITIVE_CACHE_CAPACITY'])"
    root = str(Path(__file__).resolve().parents[1])
    for preset, want in ((None, "128"), ("1024", "1024")):
        env = {k: v for k, v in os.environ.items() if k != "ONEDNN_PRIMITIVE_CACHE_CAPACITY"}
        if preset:
            env["ONEDNN_PRIMITIVE_CACHE_CAPACITY"] = preset
        out = subprocess.run([sys.executable, "-c", code], cwd=root, env=env, capture_output=True, text=True,
                             check=True)
        assert out.stdout.strip() == want


@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="needs 2 cores: one thread of two is the case tested")
def test_a_session_on_fewer_threads_than_cores_does_not_pin_them(ov_artifact: Path, tmp_path: Path) -> None:
    # Processes sharing a machine (Ray actors, server workers) must not all pin a thread to core 0.
    def pinning(threads: int, cache_dir: object) -> bool:
        rec = create_model(str(ov_artifact), backend="openvino", threads=threads, cache_dir=cache_dir)
        return bool(rec.session._compiled.get_property("ENABLE_CPU_PINNING"))

    assert pinning(1, None) is False
    assert pinning(1, tmp_path) is False and pinning(1, tmp_path) is False  # compiled, then from the cache
    assert pinning(0, None) is True  # every core: this process owns the machine, pinning is OpenVINO's default


@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="needs 2 cores: 2 streams of 1 thread each")
@pytest.mark.parametrize("precision", ["f32", "bf16"])
def test_two_streams_give_the_one_stream_results(ov_artifact: Path, ic15_val: Path, precision: str) -> None:
    """Batches run side by side on 2 streams (run_many): each line's text and score are what one stream
    with every thread gives, in input order."""
    if precision == "bf16" and "BF16" not in CPU_CAPS:
        pytest.skip("this CPU has no bf16")
    one = create_model(str(ov_artifact), backend="openvino", precision=precision, cache_dir=None)
    two = create_model(str(ov_artifact), backend="openvino", precision=precision, cache_dir=None, streams=2)
    assert one.session.streams == 1 and one.describe()["streams"] == 1
    assert two.session.streams == 2 and two.describe()["streams"] == 2
    assert int(two.session._compiled.get_property("NUM_STREAMS")) == 2
    lines = [str(ic15_val.parent / ln.split("\t")[0]) for ln in ic15_val.read_text(encoding="utf-8").splitlines()[:300]]
    want = list(one.predict(lines, batch_size=8, keep_images=False))
    got = list(two.predict(lines, batch_size=8, keep_images=False))
    assert [r.input_path for r in got] == lines
    assert [r.rec_text for r in got] == [r.rec_text for r in want]
    assert np.allclose([r.rec_score for r in got], [r.rec_score for r in want], atol=1e-5)


def test_each_width_runs_in_one_shape(ov_artifact: Path, ic15_val: Path) -> None:
    """A new input shape rebuilds OpenVINO's kernels, so a width's last batch is padded with blank rows
    when few are needed: one shape per width, and each line's text and score as it has alone."""
    model = create_model(str(ov_artifact), backend="openvino", cache_dir=None)
    assert model.session.new_shape_lines == 2  # FP32: a rebuild costs fewer lines than in bf16 or INT8
    if "BF16" in CPU_CAPS:
        assert create_model(str(ov_artifact), backend="openvino", precision="bf16",
                            cache_dir=None).session.new_shape_lines == 4
    lines = [str(ic15_val.parent / ln.split("\t")[0]) for ln in ic15_val.read_text(encoding="utf-8").splitlines()[:203]]
    want = list(model.predict(lines, batch_size=1, keep_images=False))
    shapes = []
    real_run = model.session.run
    model.session.run = lambda batch: shapes.append(batch.shape) or real_run(batch)  # type: ignore[method-assign]
    got = list(model.predict(lines, batch_size=8, keep_images=False))
    assert len({s[3] for s in shapes}) == len(set(shapes)) and sum(s[0] for s in shapes) > len(lines), shapes
    assert [r.rec_text for r in got] == [r.rec_text for r in want]
    assert np.allclose([r.rec_score for r in got], [r.rec_score for r in want], atol=1e-5)


def test_run_many_keeps_order_and_stops_early(ov_artifact: Path) -> None:
    session = runtimes.load_backend("openvino", ov_artifact / "inference.xml", streams=2, threads=0)
    assert session.streams == min(2, runtimes.default_threads())
    rng = np.random.default_rng(0)
    batches = [rng.random((n, 3, 48, w), dtype=np.float32) for n, w in ((2, 320), (1, 640), (3, 320), (1, 960))]
    outs = list(session.run_many(iter(batches)))
    assert [o.shape[:2] for o in outs] == [(b.shape[0], b.shape[3] // 8) for b in batches]
    for batch, out in zip(batches, outs):
        assert np.allclose(out, session.run(batch), atol=1e-5)
    made = []

    def counted():
        for b in batches * 10:
            made.append(1)
            yield b

    run = session.run_many(counted())
    next(run)
    run.close()  # the consumer stopped: at most streams + 1 batches were ever started
    assert len(made) <= session.streams + 2


def test_streams_option_is_checked(ov_artifact: Path) -> None:
    from edge_sdk.errors import OptionError

    with pytest.raises(OptionError, match="streams"):
        create_model(str(ov_artifact), backend="openvino", streams=0)
    with pytest.raises(OptionError, match="applies to text recognition models"):
        create_model("PP-OCRv4_mobile_det", streams=2)
