"""Device probe, the backend ranking, auto/autotune and `edge-sdk devices`.

The ranking is checked against recorded device profiles (tests/data/device_profiles): the CI machine's
is a real recording; the others describe hardware this project does not have and say so in their
``source``. The probe, auto and autotune also run for real on this machine.
"""
from __future__ import annotations

import json
import os
import platform
from pathlib import Path
from typing import List

import pytest
from click.testing import CliRunner

import runtimes
from edge_sdk.cli import main
from edge_sdk.errors import ModelFormatError
from edge_sdk import create_model
from runtimes.device import DeviceProfile, distribution_version, parse_cpuinfo, probe, this_device
from runtimes.onnxruntime_backend import provider_options
from runtimes.selection import RANKING, Artifact, advice, rank

PROFILES = Path(__file__).parent / "data" / "device_profiles"
SHARED_ARM64 = Path(__file__).resolve().parents[2] / "shared" / "arm64"


def profile(name: str) -> DeviceProfile:
    return DeviceProfile.load(PROFILES / f"{name}.json")


def art(name: str, precision: str = "fp32", places: tuple = ()) -> Artifact:
    return Artifact(Path(f"/models/{name}"), precision, places)


def usable(sel) -> List[str]:  # type: ignore[no-untyped-def]
    return [f"{c.label} {c.artifact.model_file.suffix}" for c in sel.usable]


# -- the probe, for real ---------------------------------------------------------------------------
def _modules_after(code: str) -> List[str]:
    """Which of onnxruntime and openvino a fresh interpreter has imported after running ``code``."""
    import subprocess
    import sys

    probe_code = code + "\nimport sys; print(' '.join(m for m in ('onnxruntime', 'openvino') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", probe_code], cwd=str(Path(__file__).resolve().parents[1]),
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    return out.stdout.split()


def test_backend_device_lists_are_read_on_first_use() -> None:
    """Each backend's device list imports that backend: the probe reads it only when something asks."""
    assert _modules_after("from runtimes.device import probe; p = probe(); assert p.backends") == []
    assert _modules_after("from runtimes.device import probe; p = probe(); assert p.ort_providers") == ["onnxruntime"]
    assert _modules_after("from runtimes.device import probe; p = probe(); assert p.openvino_devices") == ["openvino"]
    # a profile pickled (Ray) still reads them, and serialised it has them all
    assert _modules_after("import pickle; from runtimes.device import probe; "
                          "p = pickle.loads(pickle.dumps(probe())); assert p.ort_providers") == ["onnxruntime"]
    assert _modules_after("from runtimes.device import probe; d = probe().to_dict(); "
                          "assert d['ort_providers'] and d['openvino_devices']") == ["onnxruntime", "openvino"]


def test_backend_versions_are_read_without_importlib_metadata() -> None:
    """importlib.metadata costs a process 3 MB of RSS; the probe reads the versions pip wrote into folder
    names, and they are the ones importlib.metadata reports."""
    import importlib.metadata
    import subprocess
    import sys

    code = ("import sys; from runtimes.device import probe; p = probe()\n"
            "print(p.backends['openvino']); print('importlib.metadata' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], cwd=str(Path(__file__).resolve().parents[1]),
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split() == [importlib.metadata.version("openvino"), "False"], out.stdout
    for dist in ("onnxruntime", "openvino", "paddlepaddle", "PyYAML", "opencv_python-headless"):
        assert distribution_version(dist) == importlib.metadata.version(dist)
    assert distribution_version("no-such-distribution") is None


def test_a_model_on_a_named_backend_loads_no_other_backend(onnx_artifact: Path, ov_artifact: Path) -> None:
    """onnxruntime in an OpenVINO process costs ~20 MB of RSS, and openvino in an onnxruntime one ~27 MB."""
    run = "from edge_sdk import create_model; create_model({!r}, backend={!r}, cache_dir=None).recognize([])"
    assert _modules_after(run.format(str(ov_artifact), "openvino")) == ["openvino"]
    assert _modules_after(run.format(str(onnx_artifact), "onnxruntime")) == ["onnxruntime"]
    if not this_device().has_nvidia_gpu:  # with one, auto asks onnxruntime for its CUDA provider first
        assert _modules_after(run.format(str(ov_artifact), "auto")) == ["openvino"]


def test_probe_this_machine() -> None:
    p = probe()
    assert p.arch == platform.machine() and p.cores == len(os.sched_getaffinity(0))
    assert p.source == "probed" and p.memory_mb and p.memory_mb > 256
    for name in ("onnxruntime", "openvino"):
        assert name in p.backends, f"{name} is installed in the test env but the probe missed it"
    import onnxruntime
    import openvino

    assert p.backends["onnxruntime"] == onnxruntime.__version__
    assert "CPUExecutionProvider" in p.ort_providers and "AzureExecutionProvider" not in p.ort_providers
    assert "CPU" in p.openvino_devices and set(p.openvino_devices) == set(openvino.Core().available_devices)
    if p.arch_family == "x86":
        flags = next(line for line in Path("/proc/cpuinfo").read_text().splitlines() if line.startswith("flags")).split()
        assert ("avx2" in p.features) == ("avx2" in flags)
        assert ("avx512_vnni" in p.features) == ("avx512_vnni" in flags)
        assert p.cpu_vendor in ("Intel", "AMD", "Hygon")
    assert DeviceProfile.from_dict(json.loads(json.dumps(p.to_dict()))) == p


def _fake_root(tmp_path: Path, cpuinfo: str, files: dict) -> Path:  # type: ignore[type-arg]
    (tmp_path / "proc").mkdir(parents=True)
    (tmp_path / "proc" / "cpuinfo").write_text(cpuinfo)
    for rel, text in files.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text)
    return tmp_path


@pytest.mark.parametrize("board, model, features", [
    ("rpi4", "Cortex-A72", ["neon"]),
    ("rpi5", "Cortex-A76", ["dotprod", "fp16", "neon"]),
])
def test_probe_reads_a_raspberry_pi_cpuinfo(tmp_path: Path, board: str, model: str, features: List[str]) -> None:
    src = SHARED_ARM64 / f"cpuinfo-{board}"
    if not src.is_file():
        pytest.skip(f"{src} not found: the Pi cpuinfo files live in ../shared/arm64")
    root = _fake_root(tmp_path, src.read_text(), {})
    p = probe(str(root), machine="aarch64", backends=False)
    assert (p.cpu_vendor, p.cpu_model, p.features) == ("ARM", model, features)
    assert p.board.startswith(f"Raspberry Pi {board[-1]} Model B") and p.cores == 2  # the file lists 2 processors
    assert "i8mm" not in p.features  # neither the A72 nor the A76 has it


def test_probe_reads_a_jetson_fake_filesystem(tmp_path: Path) -> None:
    """A fake Jetson Orin: its cpuinfo, device-tree model and tegra release file, written here."""
    cpuinfo = "".join(f"processor\t: {i}\nFeatures\t: fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics fphp asimdhp "
                      "cpuid asimdrdm lrcpc dcpop asimddp\nCPU implementer\t: 0x41\nCPU architecture: 8\n"
                      "CPU part\t: 0xd42\n\n" for i in range(6))
    root = _fake_root(tmp_path, cpuinfo, {
        "proc/device-tree/model": "NVIDIA Jetson Orin Nano Developer Kit\x00",
        "etc/nv_tegra_release": "# R36 (release), REVISION: 3.0, GCID: 36923193, BOARD: generic, EABI: aarch64\n",
        "proc/meminfo": "MemTotal:        7800000 kB\n",
    })
    p = probe(str(root), machine="aarch64", backends=False)
    assert p.cpu_model == "Cortex-A78AE" and p.cores == 6 and p.memory_mb == 7617
    assert p.board == "NVIDIA Jetson Orin Nano Developer Kit" and p.jetson.startswith("R36 (release)")
    assert p.has_nvidia_gpu and p.features == ["dotprod", "fp16", "neon"]


def test_parse_x86_cpuinfo_keeps_inference_features_only() -> None:
    text = ("vendor_id\t: GenuineIntel\nmodel name\t: Intel(R) Xeon(R) Platinum 8480+\n"
            "flags\t\t: fpu sse2 avx2 fma avx512f avx512_vnni avx512_bf16 amx_tile amx_bf16 amx_int8 rdrand\n")
    info = parse_cpuinfo(text, "x86")
    assert info["vendor"] == "Intel" and info["model"].startswith("Intel(R) Xeon")
    assert info["features"] == ["amx_bf16", "amx_int8", "amx_tile", "avx2", "avx512_bf16", "avx512_vnni",
                                "avx512f", "fma"]


# -- the ranking, on recorded profiles ------------------------------------------------------------
def test_recorded_profiles_say_where_they_come_from() -> None:
    for f in sorted(PROFILES.glob("*.json")):
        p = DeviceProfile.load(f)
        assert p.source != "probed"
        assert ("recorded" in p.source) or ("test data" in p.source), f.name


@pytest.mark.parametrize("name, artifacts, precision, expected", [
    # this CI machine (AMD EPYC, recorded): OpenVINO first for every format it reads
    ("x86_amd_epyc_ci", ["inference.onnx"], "f32", ["openvino:cpu .onnx", "onnxruntime:cpu .onnx"]),
    ("x86_amd_epyc_ci", ["inference.pdmodel"], "f32", ["openvino:cpu .pdmodel", "paddle:cpu .pdmodel"]),
    ("x86_amd_epyc_ci", ["inference.onnx"], "bf16", ["openvino:cpu .onnx"]),
    # Intel mini-PC with an iGPU: CPU first, the iGPU next
    ("x86_intel_core_i5_1135g7", ["inference.xml", "inference.onnx"], "f32",
     ["openvino:cpu .xml", "openvino:cpu .onnx", "openvino:gpu .xml", "openvino:gpu .onnx", "onnxruntime:cpu .onnx"]),
    # desktop NVIDIA: TensorRT, then CUDA, then the CPU order
    ("x86_nvidia_rtx_desktop", ["inference.onnx"], "f32",
     ["onnxruntime:tensorrt .onnx", "onnxruntime:cuda .onnx", "openvino:cpu .onnx", "onnxruntime:cpu .onnx"]),
    # Pi 4 without Paddle Lite (no aarch64 wheel): onnxruntime, then OpenVINO
    ("rpi4_bookworm", ["inference.nb", "inference.onnx"], "f32", ["onnxruntime:cpu .onnx", "openvino:cpu .onnx"]),
    # Pi 5 with Paddle Lite built: the .nb first
    ("rpi5_bookworm_paddlelite", ["inference.onnx", "inference.nb"], "f32",
     ["paddlelite:cpu .nb", "onnxruntime:cpu .onnx", "openvino:cpu .onnx"]),
    ("rpi5_bookworm_paddlelite", ["inference.onnx"], "f16", ["openvino:cpu .onnx"]),
    # Jetson: TensorRT, CUDA, then ARM CPU
    ("jetson_orin_nano", ["inference.onnx"], "f32",
     ["onnxruntime:tensorrt .onnx", "onnxruntime:cuda .onnx", "onnxruntime:cpu .onnx"]),
])
def test_ranking_on_recorded_profiles(name: str, artifacts: List[str], precision: str, expected: List[str]) -> None:
    sel = rank(profile(name), [art(a) for a in artifacts], precision)
    assert usable(sel) == expected, sel.explain()


def test_an_int8_artifact_runs_first_where_its_accuracy_was_checked() -> None:
    epyc = profile("x86_amd_epyc_ci")
    int8 = Artifact(Path("/models/inference.onnx"), "int8", (), "onnxruntime")
    sel = rank(epyc, [int8])
    assert usable(sel) == ["onnxruntime:cpu .onnx", "openvino:cpu .onnx"]
    assert [c.reason for c in sel.usable] == ["rank 1", "rank 2"]
    assert sel.explain().startswith("onnxruntime:cpu on inference.onnx: the int8 artifact's accuracy was checked "
                                    "on onnxruntime, so it runs there before the 'x86' ranking")
    # FP32 keeps the device's order; an int8 artifact without a record of its check too
    assert rank(epyc, [Artifact(Path("/models/inference.onnx"), "fp32", (), "onnxruntime")]).chosen.label == "openvino:cpu"
    assert rank(epyc, [art("inference.onnx", "int8")]).chosen.label == "openvino:cpu"
    # and a checked backend that is not installed is dropped as usual, the rest in order
    epyc.backends.pop("onnxruntime")
    assert rank(epyc, [int8]).chosen.label == "openvino:cpu"


def test_an_int8_artifact_measured_no_faster_than_fp32_goes_after_the_fp32_artifact() -> None:
    """`auto` with both artifacts: the INT8 one only where its conversion measured it faster."""
    epyc = profile("x86_amd_epyc_ci")
    fp32 = Artifact(Path("/m/rec-onnx/inference.onnx"), "fp32", (), "onnxruntime")
    slow = Artifact(Path("/m/rec-onnx-int8/inference.onnx"), "int8", (), "onnxruntime", speedup=0.9)
    fast = Artifact(Path("/m/rec-ov-int8/inference.xml"), "int8", (), "openvino", speedup=1.9)
    sel = rank(epyc, [slow, fp32])
    assert [(c.label, c.artifact.precision) for c in sel.usable][:2] == [("openvino:cpu", "fp32"), ("onnxruntime:cpu", "fp32")]
    assert "ranked after the FP32 artifacts, as its conversion measured it no faster: rec-onnx-int8/inference.onnx " \
           "(0.90x its FP32 on onnxruntime)" in sel.explain()
    assert rank(epyc, [slow]).chosen.label == "onnxruntime:cpu"  # alone it keeps its checked backend
    assert "ranked after" not in rank(epyc, [slow]).explain()
    sel = rank(epyc, [fp32, fast])
    assert (sel.chosen.label, sel.chosen.artifact.precision) == ("openvino:cpu", "int8")
    assert Artifact.from_file(Path("/m/x.onnx"), {"precision": "int8", "checked_backend": "onnxruntime",
                                                  "speed": {"speedup_vs_fp32": 0.87}}).not_faster
    assert not Artifact.from_file(Path("/m/x.onnx"), {"precision": "int8", "speed": {"speedup_vs_fp32": "x"}}).not_faster


def test_artifacts_record_the_backend_they_were_checked_on(onnx_artifact: Path) -> None:
    m = json.loads((onnx_artifact / "manifest.json").read_text(encoding="utf-8"))
    assert m["checked_backend"] == "onnxruntime"
    assert Artifact.from_file(onnx_artifact / "inference.onnx").checked_backend == "onnxruntime"


def test_rules_pick_the_device_class() -> None:
    assert [rank(profile(n)).rule.name for n in ("x86_amd_epyc_ci", "x86_intel_core_i5_1135g7", "x86_nvidia_rtx_desktop",
                                                 "rpi4_bookworm", "jetson_orin_nano")] == \
        ["x86", "x86", "nvidia-gpu", "arm", "jetson"]
    assert RANKING[-1].when == {}  # a catch-all rule always matches
    riscv = DeviceProfile(arch="riscv64", backends={"onnxruntime": "1.32.0"})
    assert rank(riscv).rule.name == "other" and rank(riscv).chosen.label == "onnxruntime:cpu"


def test_falls_down_the_list_when_a_backend_or_artifact_is_missing() -> None:
    pi5 = profile("rpi5_bookworm_paddlelite")
    # an .nb built for x86 cannot run on the Pi: dropped with the reason
    sel = rank(pi5, [art("inference.nb", places=("x86",)), art("inference.onnx")])
    assert sel.chosen.label == "onnxruntime:cpu"
    assert "built for x86, this CPU is arm" in sel.explain()
    # onnxruntime uninstalled: OpenVINO
    pi5.backends.pop("onnxruntime")
    assert rank(pi5, [art("inference.onnx")]).chosen.label == "openvino:cpu"
    # nothing that reads a .pdmodel on a Pi
    assert rank(profile("rpi4_bookworm"), [art("inference.json")]).chosen is None


def test_explain_names_the_rule_and_the_skipped() -> None:
    sel = rank(profile("rpi4_bookworm"), [art("inference.onnx")])
    text = sel.explain()
    assert text.startswith("onnxruntime:cpu on inference.onnx: first usable in the 'arm' ranking")
    assert "skipped paddlelite:cpu (reads .nb; no such model given)" in text
    notes = " ".join(advice(profile("rpi4_bookworm")))
    assert "no aarch64 paddlelite wheel" in notes


def test_cuda_and_tensorrt_provider_settings_fake_gpu() -> None:
    """No GPU here: these check the settings handed to onnxruntime, not a GPU run."""
    opts = runtimes.BackendOptions(device="tensorrt", cache_dir="/c")
    providers = dict(provider_options("tensorrt", opts, "x"))
    assert list(providers) == ["TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider"]
    assert providers["CUDAExecutionProvider"]["cudnn_conv_algo_search"] == "HEURISTIC"
    trt = providers["TensorrtExecutionProvider"]
    assert trt["trt_profile_min_shapes"] == "x:1x3x48x320" and trt["trt_profile_max_shapes"] == "x:8x3x48x3200"
    assert trt["trt_engine_cache_path"] == "/c/tensorrt"


def test_cuda_on_this_machine_is_refused_clearly(onnx_artifact: Path) -> None:
    if "CUDAExecutionProvider" in this_device().ort_providers:
        pytest.skip("this machine has CUDA; the refusal cannot be shown here")
    with pytest.raises(runtimes.DeviceUnavailable, match="onnxruntime here has no CUDAExecutionProvider"):
        runtimes.load_backend("onnxruntime", onnx_artifact / "inference.onnx", device="cuda")


# -- auto, autotune and the CLI, for real -----------------------------------------------------------
def test_auto_falls_back_when_the_first_candidate_fails(onnx_artifact: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A broken OpenVINO install (simulated: its load raises) sends auto to the next candidate."""
    real = runtimes.load_backend

    def broken_openvino(name, *args, **kwargs):  # type: ignore[no-untyped-def]
        if name == "openvino":
            raise runtimes.BackendNotInstalled("openvino is broken here (simulated)")
        return real(name, *args, **kwargs)

    monkeypatch.setattr(runtimes, "load_backend", broken_openvino)
    rec = create_model(str(onnx_artifact))
    assert rec.backend == "onnxruntime"
    if "openvino" in this_device().backends:
        assert "Fell back past: openvino:cpu: openvino is broken here (simulated)" in rec.chosen_by


def test_autotune_times_the_top_candidates_and_caches(onnx_artifact: Path, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EDGE_SDK_HOME", str(tmp_path))
    rec = create_model(str(onnx_artifact), backend="autotune", cache_dir=None)
    tuning = rec.tuning
    assert tuning is not None and not tuning.cached
    expected = {c.label for c in rank(this_device(), [Artifact.from_file(onnx_artifact / "inference.onnx")]).usable[:3]}
    assert set(tuning.timings_ms) == expected and all(v > 0 for v in tuning.timings_ms.values())
    assert f"{rec.backend}:{rec.device}" == tuning.winner == min(tuning.timings_ms, key=tuning.timings_ms.get)
    assert 320 in tuning.widths and 640 in tuning.widths
    stored = json.loads((tmp_path / "autotune.json").read_text())
    assert [v["winner"] for v in stored.values()] == [tuning.winner]
    again = create_model(str(onnx_artifact), backend="autotune", cache_dir=None)
    assert again.tuning.cached and again.backend == rec.backend and "cached" in again.chosen_by


def test_devices_command(onnx_artifact: Path) -> None:
    runner = CliRunner()
    res = runner.invoke(main, ["devices", str(onnx_artifact)])
    assert res.exit_code == 0, res.output
    p = this_device()
    assert f"{p.cores} cores usable" in res.output and "ranking '" in res.output
    expected = rank(p, [Artifact.from_file(onnx_artifact / "inference.onnx")]).chosen
    assert f"chosen      {expected.label} on inference.onnx" in res.output
    res = runner.invoke(main, ["devices", "--json"])
    data = json.loads(res.output)
    assert data["device"]["arch"] == platform.machine() and data["chosen"]["usable"]


def test_corrupt_paddle_program_through_openvino_is_one_line(paddle_model, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    bad = tmp_path / "bad"
    bad.mkdir()
    for f in paddle_model.path.iterdir():
        (bad / f.name).write_bytes(f.read_bytes())
    (bad / "inference.pdmodel").write_bytes((paddle_model.path / "inference.pdmodel").read_bytes()[:5000])
    with pytest.raises(ModelFormatError) as err:
        create_model(str(bad))
    assert "\n" not in str(err.value) and "Exception from src" not in str(err.value)
