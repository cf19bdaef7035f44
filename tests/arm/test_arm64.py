"""The SDK on an (emulated) Raspberry Pi: run inside the arm64 root by scripts/arm64_leg.sh.

The root has what a Pi user installs (the edge-ocr-sdk wheel with [onnx,openvino], no paddlepaddle, no paddle2onnx) and
the board's /proc/cpuinfo; the artifacts and x86's results for the same lines come from the x86 half
of the leg (scripts/arm64_handoff.py) through $EDGE_SDK_ARM_HANDOFF. Each test writes what it saw to
$EDGE_SDK_ARM_REPORT, which the leg prints.
"""
from __future__ import annotations

import json
import os
import platform
import time
from importlib.util import find_spec
from pathlib import Path
from typing import Any, Dict

import numpy as np
import pytest

if platform.machine() != "aarch64":
    pytest.skip("ARM module: it runs inside the arm64 root (scripts/arm64_leg.sh), not on this "
                f"{platform.machine()} machine", allow_module_level=True)

from click.testing import CliRunner  # noqa: E402

from edge_sdk.cli import main  # noqa: E402
from edge_sdk.errors import BackendUnavailableError  # noqa: E402
from edge_sdk.images import read_image  # noqa: E402
from edge_sdk import create_model, create_pipeline  # noqa: E402
from runtimes.device import this_device  # noqa: E402
from runtimes.selection import Artifact, advice, rank  # noqa: E402

BOARDS = {  # EDGE_SDK_ARM_BOARD -> what the probe must find
    "rpi4": {"board": "Raspberry Pi 4 Model B", "cpu": "Cortex-A72", "features": ["neon"]},
    "rpi5": {"board": "Raspberry Pi 5 Model B", "cpu": "Cortex-A76", "features": ["dotprod", "fp16", "neon"]},
}


@pytest.fixture(scope="module")
def board() -> str:
    name = os.environ.get("EDGE_SDK_ARM_BOARD", "")
    if name not in BOARDS:
        pytest.fail(f"EDGE_SDK_ARM_BOARD must be one of {', '.join(BOARDS)}, not {name!r}")
    return name


@pytest.fixture(scope="module")
def handoff() -> Path:
    path = Path(os.environ.get("EDGE_SDK_ARM_HANDOFF", ""))
    if not (path / "x86_reference.json").is_file():
        pytest.fail(f"no x86 handoff at {path!s}: run scripts/arm64_handoff.py first (scripts/arm64_leg.sh does)")
    return path


@pytest.fixture(scope="module")
def report() -> Dict[str, Any]:
    data: Dict[str, Any] = {}
    yield data
    out = os.environ.get("EDGE_SDK_ARM_REPORT")
    if out:
        Path(out).write_text(json.dumps(data, ensure_ascii=False, indent=1), encoding="utf-8")


def test_probe_names_the_board_and_its_features(board: str, report: Dict[str, Any]) -> None:
    p = this_device()
    want = BOARDS[board]
    report["device"] = {"board": p.board, "cpu": p.cpu_model, "features": p.features, "summary": p.summary()}
    assert p.arch == "aarch64" and p.arch_family == "arm"
    assert p.board.startswith(want["board"]) and p.cpu_model == want["cpu"] and p.features == want["features"]


def test_the_device_install_has_no_paddle(report: Dict[str, Any]) -> None:
    p = this_device()
    report["backends"] = p.backends
    assert find_spec("paddle") is None and find_spec("paddle2onnx") is None
    assert set(p.backends) == {"onnxruntime", "openvino"}
    assert p.ort_providers == ["CPUExecutionProvider"]  # Azure's is listed everywhere and ignored


def test_auto_chooses_by_the_arm_ranking(handoff: Path, report: Dict[str, Any]) -> None:
    sel = rank(this_device(), [Artifact.from_file(handoff / "rec-onnx" / "inference.onnx")])
    assert sel.rule.name == "arm" and sel.chosen.label == "onnxruntime:cpu"
    assert "skipped paddlelite:cpu" in sel.explain()
    rec = create_model(str(handoff / "rec-onnx"), cache_dir=None)
    assert rec.backend == "onnxruntime"
    report["auto"] = {"rec-onnx": f"{rec.backend}:{rec.device}", "why": rec.chosen_by}
    assert create_model(str(handoff / "rec-ov"), cache_dir=None).backend == "openvino"


@pytest.mark.parametrize("artifact, backend", [("rec-onnx", "onnxruntime"), ("rec-ov", "openvino")])
def test_results_equal_x86(handoff: Path, artifact: str, backend: str, report: Dict[str, Any]) -> None:
    ref = json.loads((handoff / "x86_reference.json").read_text(encoding="utf-8"))
    ref_probs = np.load(handoff / "x86_reference.npz")
    lines = [handoff / "lines" / name for name in ref["lines"]]
    rec = create_model(str(handoff / artifact), backend=backend, cache_dir=None)
    images = [read_image(p) for p in lines]
    t0 = time.perf_counter()
    probs = rec.run_lines(images)
    seconds_per_line = (time.perf_counter() - t0) / len(lines)
    texts = [t for t, _ in rec.recognize(images)]
    diff = max(float(np.abs(p - ref_probs[f"{artifact}/{line.name}"]).max()) for p, line in zip(probs, lines))
    report.setdefault("runs", {})[f"{artifact} {backend}"] = {
        "lines": len(lines), "texts_identical_to_x86": texts == ref["texts"][artifact], "max_abs_prob_diff": diff,
        "seconds_per_line": round(seconds_per_line, 2), "precision": rec.session.describe()["precision"],
        "texts": texts}
    assert texts == ref["texts"][artifact]
    assert diff < 1e-4, f"max abs prob diff vs x86 {diff:.2e}"


def test_whole_image_ocr_equals_x86(handoff: Path, report: Dict[str, Any]) -> None:
    """Detection, orientation and recognition (ONNX artifacts on onnxruntime) on a rendered scene."""
    ref = json.loads((handoff / "x86_reference.json").read_text(encoding="utf-8"))["ocr"]
    ocr = create_pipeline("OCR", det=str(handoff / "det-onnx"), cls=str(handoff / "cls-onnx"),
                          rec=str(handoff / "rec-onnx"), cache_dir=None)
    image = read_image(handoff / "page.png")
    t0 = time.perf_counter()
    res = ocr.ocr(image)
    seconds = time.perf_counter() - t0
    report["ocr"] = {"backends": [ocr.det.backend, ocr.cls.backend, ocr.rec.backend], "seconds": round(seconds, 2),
                     "rec_texts": res["rec_texts"], "texts_identical_to_x86": res["rec_texts"] == ref["rec_texts"]}
    assert res["rec_texts"] == ref["rec_texts"] and len(ref["rec_texts"]) >= 2
    assert res["dt_polys"].shape == np.array(ref["dt_polys"]).shape
    # float rounding on another CPU may move a box edge by a pixel, never more
    assert np.abs(res["dt_polys"].astype(int) - np.array(ref["dt_polys"])).max() <= 1


def test_paddle_lite_nb_is_checked_and_falls_back_cleanly(handoff: Path, report: Dict[str, Any]) -> None:
    nb_dir = handoff / "rec-lite-arm"
    if not (nb_dir / "inference.nb").is_file():
        pytest.fail("the handoff has no rec-lite-arm (the x86 half needs a Paddle Lite opt)")
    art = Artifact.from_file(nb_dir / "inference.nb")
    assert art.places == ("arm",)  # built for this CPU family: the manifest check passes
    sel = rank(this_device(), [art])
    (lite,) = [c for c in sel.candidates if c.backend == "paddlelite"]
    assert not lite.usable and "no aarch64 paddlelite wheel" in lite.reason
    x86_nb = rank(this_device(), [Artifact(nb_dir / "inference.nb", "fp32", ("x86",))]).candidates
    assert "was built for x86, this CPU is arm" in [c for c in x86_nb if c.backend == "paddlelite"][0].reason
    with pytest.raises(BackendUnavailableError, match="no aarch64 paddlelite wheel") as err:
        create_model(str(nb_dir), cache_dir=None)
    assert "\n" not in str(err.value)
    assert any("build Paddle Lite's Python library" in n for n in advice(this_device()))
    report["paddlelite"] = {"nb_places": list(art.places), "outcome": str(err.value)}


def test_devices_command(handoff: Path, board: str) -> None:
    res = CliRunner().invoke(main, ["devices", str(handoff / "rec-onnx")])
    assert res.exit_code == 0, res.output
    assert BOARDS[board]["board"] in res.output and "ranking 'arm'" in res.output
    assert "chosen      onnxruntime:cpu on inference.onnx" in res.output
