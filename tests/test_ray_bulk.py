"""Bulk recognition on Ray Data: a local Ray (2 CPUs) started and stopped here, the real model and IC15 lines."""
from __future__ import annotations

import sys
from pathlib import Path

import cv2
import pytest
import ray  # the [ray] extra: CI installs it (leg 2, Python 3.9 for Paddle Lite, leaves this file out)
from click.testing import CliRunner

from converters.check_pages import sample_page
from edge_sdk import create_model, create_pipeline
from edge_sdk.bulk import (
    RESULT_COLUMNS, RayRun, actor_plan, cluster_plan, image_files_dataset, lines_dataset, ocr_dataset, recognize_dataset,
    recognize_samples,
)
from edge_sdk.cli import main
from edge_sdk.datasets import load_samples
from edge_sdk.errors import BackendUnavailableError, InputError
from edge_sdk.evaluation import evaluate

LINES = 120  # enough lines for several Ray blocks and both actors; the full-set run is the benchmark


@pytest.fixture(scope="module", autouse=True)
def ray_stopped_at_the_end():
    yield
    ray.shutdown()
    assert not ray.is_initialized()


@pytest.fixture
def local_ray():
    """A local Ray with 2 CPUs, started by the first test that needs it and kept for the next ones."""
    if not ray.is_initialized():
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    return ray


@pytest.fixture
def no_ray():
    """No Ray in this process: what a command line starts, it must stop."""
    ray.shutdown()
    yield
    assert not ray.is_initialized()


def test_eval_on_ray_gives_the_single_process_texts(local_ray, onnx_artifact: Path, ic15_val: Path) -> None:
    alone = evaluate(str(onnx_artifact), ic15_val, limit=LINES, backend="onnxruntime", threads=1)
    on_ray = evaluate(str(onnx_artifact), ic15_val, limit=LINES, backend="onnxruntime", ray_address="auto",
                      actors=2, threads=1)
    assert on_ray.runner == "Ray: 2 actors x 1 thread" and alone.runner == "this process"
    assert on_ray.predictions == alone.predictions  # line by line, in the label file's order
    assert on_ray.metrics == alone.metrics
    assert on_ray.metrics.samples == LINES and 0.3 < on_ray.metrics.acc < 1.0


def test_rows_carry_paddlex_keys_and_write_to_parquet(local_ray, onnx_artifact: Path, ic15_val: Path,
                                                      tmp_path: Path) -> None:
    samples = load_samples(ic15_val, 40)
    want = [t for t, _ in create_model(str(onnx_artifact), backend="onnxruntime").recognize(
        [cv2.imread(str(s.path)) for s in samples], 8)]
    ds = recognize_dataset(lines_dataset(ic15_val, limit=40), onnx_artifact, actors=1, threads=2,
                           backend="onnxruntime", worker_stats=True)
    ds.write_parquet(str(tmp_path / "texts"))
    back = ray.data.read_parquet(str(tmp_path / "texts")).take_all()
    assert len(back) == 40
    assert set(RESULT_COLUMNS) | {"index", "path", "label", "worker_pid", "worker_rss_mb"} <= set(back[0])
    back.sort(key=lambda r: r["index"])
    assert [r["rec_text"] for r in back] == want
    assert [r["label"] for r in back] == [s.label for s in samples]
    assert all(r["error"] == "" and r["worker_rss_mb"] > 0 for r in back)


def test_image_bytes_rows_and_a_corrupt_one(local_ray, onnx_artifact: Path, ic15_val: Path, tmp_path: Path) -> None:
    samples = load_samples(ic15_val, 6)
    folder = tmp_path / "lines"
    folder.mkdir()
    for s in samples:
        (folder / s.path.name).write_bytes(s.path.read_bytes())
    (folder / "zz_broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    ds = image_files_dataset(str(folder))
    rows = sorted(recognize_dataset(ds, onnx_artifact, actors=2, threads=1, backend="onnxruntime").take_all(),
                  key=lambda r: r["path"])
    assert len(rows) == 7 and "bytes" not in rows[0]
    broken = rows[-1]
    assert broken["path"].endswith("zz_broken.png") and "not a readable image" in broken["error"]
    assert broken["rec_text"] == ""
    by_name = {Path(r["path"]).name: r["rec_text"] for r in rows[:-1]}
    rec = create_model(str(onnx_artifact), backend="onnxruntime")
    assert by_name == {s.path.name: rec.recognize([cv2.imread(str(s.path))])[0][0] for s in samples}


def test_cli_eval_and_predict_with_ray(no_ray, onnx_artifact: Path, ic15_val: Path, tmp_path: Path) -> None:
    res = CliRunner().invoke(main, ["eval", str(onnx_artifact), str(ic15_val), "--limit", "30", "-b", "onnxruntime",
                                    "--threads", "1", "-o", str(tmp_path / "ev"), "--ray"])
    assert res.exit_code == 0, res.output
    assert "(Ray: 2 actors x 1 thread)" in res.output
    assert not ray.is_initialized()
    samples = load_samples(ic15_val, 31)
    folder = tmp_path / "lines"
    folder.mkdir()
    for s in samples[1:]:
        (folder / s.path.name).write_bytes(s.path.read_bytes())
    inputs = [str(samples[0].path), str(folder)]  # an image file and a folder, in that order
    single = CliRunner().invoke(main, ["predict", str(onnx_artifact), *inputs, "-b", "onnxruntime"])
    on_ray = CliRunner().invoke(main, ["predict", str(onnx_artifact), *inputs, "-b", "onnxruntime",
                                       "--actors", "1", "--ray", "auto"])
    assert single.exit_code == 0 and on_ray.exit_code == 0, on_ray.output
    assert on_ray.stdout == single.stdout and len(single.stdout.splitlines()) == 31


def test_whole_image_ocr_on_ray_reads_what_the_pipeline_reads(local_ray, tmp_path: Path) -> None:
    folder = tmp_path / "pages"
    folder.mkdir()
    for i in range(2):
        cv2.imwrite(str(folder / f"page_{i}.png"), sample_page(i)[0])
    pipe = create_pipeline("OCR", threads=2)
    want = {p.name: list(pipe.ocr(cv2.imread(str(p)))["rec_texts"]) for p in sorted(folder.iterdir())}
    assert all(len(texts) >= 6 for texts in want.values())
    assert cluster_plan(None, None) == {"actors": 2, "threads": 1} and cluster_plan(1, None)["threads"] == 2
    # 1 actor x 2 threads holds both CPUs: the reads must reserve none (image_files_dataset)
    rows = ocr_dataset(image_files_dataset(str(folder)), actors=1, threads=2).take_all()
    assert {Path(r["path"]).name: list(r["rec_texts"]) for r in rows} == want
    assert all(r["error"] == "" and len(r["rec_polys"]) == len(r["rec_texts"]) for r in rows)


def test_cli_ray_errors_are_one_sentence(no_ray, onnx_artifact: Path, ic15_val: Path, tmp_path: Path) -> None:
    res = CliRunner().invoke(main, ["predict", str(onnx_artifact), str(ic15_val), "--save-dir", str(tmp_path / "o"),
                                    "--ray"])
    assert res.exit_code != 0 and "--save-dir is not offered with --ray" in res.output
    assert not (tmp_path / "o").exists()
    res = CliRunner().invoke(main, ["eval", str(onnx_artifact), str(ic15_val), "--limit", "5",
                                    "--ray", "127.0.0.1:1"])
    assert res.exit_code != 0 and "cannot start or join Ray at '127.0.0.1:1'" in res.output
    assert "Traceback" not in res.output


def test_actor_plan_fills_the_cores() -> None:
    assert actor_plan(2, None, None) == {"actors": 2, "threads": 1}
    assert actor_plan(2, 1, None) == {"actors": 1, "threads": 2}
    assert actor_plan(8, None, 2) == {"actors": 4, "threads": 2}
    assert actor_plan(2, 3, 1) == {"actors": 3, "threads": 1}  # asked for: kept, even past the cores


def test_unreadable_rows_stop_the_run_or_are_listed() -> None:
    rows = [{"index": 0, "input_path": "a.png", "rec_text": "HI", "error": ""},
            {"index": 1, "input_path": "b.png", "rec_text": "", "error": "b.png is not a readable image."}]
    run = RayRun(rows, 1.0, 2, 1)
    assert run.results("skip") == ([rows[0]], [{"input_path": "b.png", "error": "b.png is not a readable image."}])
    with pytest.raises(InputError, match=r"^b\.png is not a readable image\.$"):
        run.results("stop")
    assert run.plan == "Ray: 2 actors x 1 thread" and RayRun([], 0.0, 1, 2).plan == "Ray: 1 actor x 2 threads"


def test_without_ray_installed_the_error_says_how_to_get_it(monkeypatch: pytest.MonkeyPatch,
                                                          onnx_artifact: Path, ic15_val: Path) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray -> ImportError
    with pytest.raises(BackendUnavailableError, match=r"pip install 'edge-sdk\[ray\]'"):
        recognize_samples(str(onnx_artifact), load_samples(ic15_val, 2))
