"""precision="fastest": checked on labelled lines with the real model, chosen within a bound, explained."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from edge_sdk import create_model, precision
from edge_sdk.cli import main
from edge_sdk.datasets import SAMPLES_DIR
from edge_sdk.errors import DatasetError, EdgeSDKError
from edge_sdk.hub import resolve
from edge_sdk.model_dir import ModelDir
from edge_sdk.precision import PrecisionCheck, SetResult, check_precisions, choose_precision, record_key
from runtimes.device import this_device
from runtimes.selection import reduced_precisions

pytestmark = pytest.mark.usefixtures("records")


@pytest.fixture
def records(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Each test keeps its precision checks in its own file, not the user's."""
    path = tmp_path / "precision-checks.json"
    monkeypatch.setattr(precision, "checks_file", lambda: path)
    return path


def _openvino_here() -> bool:
    return "openvino" in this_device().backends


def test_a_check_runs_each_precision_this_cpu_has_and_fastest_follows_it(ov_artifact: Path, ic15_val: Path,
                                                                        records: Path) -> None:
    if not _openvino_here():
        pytest.skip("openvino is not installed: reduced precisions are OpenVINO's")
    check = check_precisions(str(ov_artifact), [SAMPLES_DIR / "labels.txt", ic15_val], limit=96)
    reduced = reduced_precisions(this_device())
    assert check.backend == "openvino" and check.precisions == ["f32", *reduced]
    assert [s.lines for s in check.sets] == [8, 96]
    # f32 is the reference: it reads every line as itself and loses nothing
    assert all(s.identical["f32"] == s.lines for s in check.sets) and check.loss_points("f32") == 0
    assert check.sets[0].acc["f32"] == 1.0  # the SDK's sample lines, spaces aside, all right at f32
    assert json.loads(records.read_text())  # recorded for this device, model file and backend
    model = create_model(str(ov_artifact), precision="fastest", max_acc_loss=100)
    loose, _ = choose_precision(ModelDir.open(ov_artifact), "openvino", 100)
    assert model.describe()["precision"] == loose
    if reduced:  # within 100 points every checked precision fits: the fastest measured one wins
        assert loose == max(check.precisions, key=check.lines_per_s.__getitem__)
        assert "Precision (fastest within 100 points)" in model.chosen_by
    exact = create_model(str(ov_artifact), precision="fastest", max_acc_loss=0)
    assert exact.describe()["precision"] in ["f32"] + [p for p in reduced if check.loss_points(p) <= 0]
    assert create_model(str(ov_artifact)).describe()["precision"] == "f32"  # the default stays exact


def _record(model: ModelDir, profile, acc: dict, speed: dict) -> None:  # type: ignore[no-untyped-def]
    sets = [SetResult(name, 1000, a, {p: 990 for p in a}) for name, a in acc.items()]
    data = {record_key(profile, model, "openvino"): PrecisionCheck("m", "openvino", "cpu", sets, speed).to_dict()}
    precision.checks_file().write_text(json.dumps(data))


def test_the_choice_takes_the_worst_set_and_the_bound(paddle_model: ModelDir) -> None:
    from runtimes.device import DeviceProfile

    # a described CPU with AVX-512 BF16, not this machine's: the decision reads records, not hardware
    profile = DeviceProfile(arch="x86_64", cpu_model="described bf16 CPU", features=["avx512_bf16", "avx512f"],
                            source="test data")
    assert choose_precision(paddle_model, "openvino", 0.3, profile)[1].startswith("f32: no precision check")
    _record(paddle_model, profile, {"a/val.txt": {"f32": 0.650, "bf16": 0.652}, "b/val.txt": {"f32": 0.900, "bf16": 0.898}},
            {"f32": 200.0, "bf16": 340.0})
    chosen, why = choose_precision(paddle_model, "openvino", 0.3, profile)
    assert chosen == "bf16" and "1.70x the lines/s of f32" in why and "-0.20 pts at worst" in why
    chosen, why = choose_precision(paddle_model, "openvino", 0.1, profile)  # b/val.txt loses 0.2 points
    assert chosen == "f32" and "bf16 loses 0.20 pts, over the 0.1-point bound" in why
    assert choose_precision(paddle_model, "onnxruntime", 0.3, profile)[0] == "f32"  # no reduced precision there
    other = DeviceProfile(arch="x86_64", cpu_model="another CPU", features=["avx512_bf16"], source="test data")
    assert choose_precision(paddle_model, "openvino", 0.3, other)[1].startswith("f32: no precision check")


def test_bad_requests_get_one_clear_sentence(paddle_model: ModelDir, tmp_path: Path) -> None:
    with pytest.raises(EdgeSDKError, match="max_acc_loss must be a number of acc points from 0 to 100, not -1"):
        create_model(str(paddle_model.path), precision="fastest", max_acc_loss=-1)
    with pytest.raises(EdgeSDKError, match="precision must be one of"):
        create_model(str(paddle_model.path), precision="quickest")
    unlabelled = tmp_path / "lines"
    unlabelled.mkdir()
    (unlabelled / "a.png").write_bytes((SAMPLES_DIR / "sample_01_en.png").read_bytes())
    with pytest.raises(DatasetError, match="has no labels"):
        check_precisions(str(paddle_model.path), [unlabelled])
    with pytest.raises(EdgeSDKError, match="holds a text detection model"):
        check_precisions(str(resolve("PP-OCRv4_mobile_det").path), [SAMPLES_DIR / "labels.txt"])


def test_the_cli_checks_records_and_devices_explains(ov_artifact: Path, tmp_path: Path) -> None:
    if not _openvino_here():
        pytest.skip("openvino is not installed: reduced precisions are OpenVINO's")
    runner = CliRunner()
    res = runner.invoke(main, ["check-precision", str(ov_artifact), "--data", str(SAMPLES_DIR / "labels.txt")])
    assert res.exit_code == 0, res.output
    assert "precision  lines/s  x f32" in res.output and "\nf32 " in res.output and "fastest within 0.3 points:" in res.output
    res = runner.invoke(main, ["devices", str(ov_artifact), "--precision", "fastest", "--max-acc-loss", "0.5"])
    assert res.exit_code == 0, res.output
    _, why = choose_precision(ModelDir.open(ov_artifact), "openvino", 0.5)
    assert f"precision   fastest within 0.5 points for {ov_artifact}: {why}" in res.output
    res = runner.invoke(main, ["predict", str(ov_artifact), str(SAMPLES_DIR / "sample_01_en.png"), "--precision", "fastest"])
    assert res.exit_code == 0 and "Hello" in res.output, res.output
    (tmp_path / "a.png").write_bytes((SAMPLES_DIR / "sample_01_en.png").read_bytes())
    res = runner.invoke(main, ["check-precision", str(ov_artifact), "--data", str(tmp_path)])
    assert res.exit_code != 0 and "has no labels" in res.output and "Traceback" not in res.output
