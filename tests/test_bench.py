"""`edge-sdk bench`, for real on a few lines: every case in its own process, references, ratios, JSON.

Speed is never asserted here (the figures are the benchmark's output, not a test's); the structure,
the accounting and the error paths are.
"""
from __future__ import annotations

import json
import subprocess
import sys
from importlib.util import find_spec
from pathlib import Path

import pytest
from click.testing import CliRunner

from edge_sdk.cli import main
from edge_sdk.datasets import SAMPLES_DIR
from runtimes.device import this_device

ROOT = Path(__file__).resolve().parents[1]


def test_bench_runs_every_backend_and_both_references(onnx_artifact: Path, tmp_path: Path) -> None:
    if find_spec("rapidocr_onnxruntime") is None:
        pytest.fail("rapidocr_onnxruntime is missing: scripts/setup.sh installs it for bench's reference")
    out = tmp_path / "bench.json"
    res = CliRunner().invoke(main, ["bench", str(onnx_artifact), "--data", str(SAMPLES_DIR / "labels.txt"),
                                    "--widths", "320,640", "--runs", "3", "--rounds", "2", "--json", str(out)])
    assert res.exit_code == 0, res.output
    data = json.loads(out.read_text())
    cases = {c["label"]: c for c in data["cases"]}
    profile = this_device()
    expected = {"reference: RapidOCR rec (onnxruntime)", "rec-onnx onnxruntime"}
    if "paddle" in profile.backends:
        expected.add("reference: Paddle Inference")
    if "openvino" in profile.backends:
        expected.add("rec-onnx openvino")
        if "avx512_bf16" in profile.features or "amx_bf16" in profile.features:
            expected.add("rec-onnx openvino bf16")
    assert set(cases) == expected
    assert len({p for c in cases.values() for p in c["pids"]}) == 2 * len(cases)  # one process per case and round
    for c in cases.values():
        assert c["lines"] == 8 and c["lines_per_s"] > 0 and c["peak_rss_mb"] > 50 and c["cold_start_s"] > 0
        assert 20 < c["peak_anon_mb"] < c["peak_rss_mb"], c  # sampled private memory: part of the peak
        assert c["rounds"] == 2 and len(c["lines_per_s_passes"]) == 2 and c["lines_per_s"] == max(c["lines_per_s_passes"])
        assert set(c["latency_ms"]) == {"320", "640"} and c["latency_ms"]["320"]["p90"] >= c["latency_ms"]["320"]["p50"]
    # every SDK case ran with one malloc arena (runtimes/memory.py); RapidOCR as its users run it
    assert {c["malloc_arenas"] for c in cases.values() if not c["reference"] or "Paddle" in c["label"]} == {"1"}
    assert cases["reference: RapidOCR rec (onnxruntime)"]["malloc_arenas"] == "glibc default"
    # the same model, the same 8 sample lines: every FP32 case reads them all right (spaces aside)
    assert all(c["acc"] == 1.0 for c in cases.values() if c["precision"] == "f32"), {k: c["acc"] for k, c in cases.items()}
    assert data["baseline"] == "reference: RapidOCR rec (onnxruntime)"
    assert "x RapidOCR" in res.output and "\nreference: RapidOCR rec (onnxruntime)" in res.output
    assert "RSS MB  anon MB" in res.output
    assert data["auto"] == {str(onnx_artifact): ("openvino:cpu" if "openvino" in profile.backends else "onnxruntime:cpu")}
    assert "(auto)" in res.output and "fastest FP32 backend by lines/s" in res.output
    # exact FP32 reads all 8 sample lines right; the fastest case that loses none of them is named
    fastest = max((c for c in cases.values() if not c["reference"] and c["acc"] == 1.0), key=lambda c: c["lines_per_s"])
    assert data["fastest_within_max_acc_loss"] == fastest["label"]
    assert f"fastest within 0.3 acc points of exact FP32 (100.00%): {fastest['label']} (" in res.output


def test_bench_reports_a_failing_case_without_a_traceback(onnx_artifact: Path, tmp_path: Path) -> None:
    empty = tmp_path / "lines"
    empty.mkdir()
    (empty / "broken.png").write_bytes(b"not a png")
    res = CliRunner().invoke(main, ["bench", str(onnx_artifact), "--data", str(empty), "--backends", "onnxruntime",
                                    "--reference", "none", "--runs", "3", "--widths", "320"])
    assert res.exit_code == 1
    assert "1 case(s) failed: rec-onnx onnxruntime" in res.output and "Traceback" not in res.output
    assert "not a readable image" in res.output


def test_bench_bad_options(onnx_artifact: Path) -> None:
    runner = CliRunner()
    res = runner.invoke(main, ["bench", str(onnx_artifact), "--reference", "tflite"])
    assert res.exit_code == 2 and "unknown reference 'tflite'" in res.output
    res = runner.invoke(main, ["bench", str(onnx_artifact), "--widths", "wide"])
    assert res.exit_code == 2 and "not a comma-separated list of widths" in res.output
    res = runner.invoke(main, ["bench", str(onnx_artifact), "--backends", "paddlelite", "--reference", "none"])
    assert res.exit_code == 1 and "no installed backend can run these models" in res.output


def test_an_int8_case_is_compared_with_the_fp32_artifact_on_the_same_backend() -> None:
    """The INT8 speed-up is stated against the FP32 artifact of the same format on the same backend and
    compute precision, from the same run; a lone INT8 case gets no ratio rather than a wrong one."""
    from edge_sdk import bench as b

    def case(label: str, model_file: str, backend: str, art: str, lps: float, prec: str = "f32") -> b.Case:
        return b.Case(label, "sdk", label, backend, prec, artifact_precision=art, model_file=model_file,
                      result={"lines_per_s": lps})

    ir32 = case("ir32", "a/inference.xml", "openvino", "fp32", 100.0)
    onnx32_ov = case("onnx32 ov", "b/inference.onnx", "openvino", "fp32", 90.0)
    onnx32 = case("onnx32", "b/inference.onnx", "onnxruntime", "fp32", 80.0)
    ir8 = case("ir8", "c/inference.xml", "openvino", "int8", 200.0)
    ir8_bf16 = case("ir8 bf16", "c/inference.xml", "openvino", "int8", 210.0, "bf16")
    onnx8 = case("onnx8", "d/inference.onnx", "onnxruntime", "int8", 120.0)
    onnx8_ov = case("onnx8 ov", "d/inference.onnx", "openvino", "int8", 45.0)
    ref = b.Case("reference", "sdk", "p", "openvino", reference=True, result={"lines_per_s": 1.0})
    cases = [ref, ir32, onnx32_ov, onnx32, ir8, ir8_bf16, onnx8, onnx8_ov]
    assert b.fp32_counterpart(ir8, cases) is ir32 and b.speedup_over_fp32(ir8, cases) == pytest.approx(2.0)
    assert b.fp32_counterpart(onnx8, cases) is onnx32 and b.speedup_over_fp32(onnx8, cases) == pytest.approx(1.5)
    assert b.fp32_counterpart(onnx8_ov, cases) is onnx32_ov and b.speedup_over_fp32(onnx8_ov, cases) == pytest.approx(0.5)
    assert b.fp32_counterpart(ir8_bf16, cases) is None  # no FP32 artifact computed in bf16 here
    assert b.fp32_counterpart(ir32, cases) is None and b.fp32_counterpart(onnx8, [onnx8]) is None


def test_pipeline_mode_times_whole_images_beside_rapidocr(tmp_path: Path) -> None:
    from converters.synthetic_scenes import write_scenes

    label = write_scenes(tmp_path / "scenes", count=4, seed=3)
    out = tmp_path / "ocr.json"
    res = CliRunner().invoke(main, ["bench", "--pipeline", "OCR", "--data", str(label), "--reference", "rapidocr",
                                    "--json", str(out)])
    assert res.exit_code == 0, res.output
    cases = {c["label"]: c for c in json.loads(out.read_text())["cases"]}
    assert set(cases) == {"reference: RapidOCR pipeline (onnxruntime)",
                          "edge-sdk OCR: PP-OCRv4_mobile_det + ch_ppocr_mobile_v2.0_cls + PP-OCRv4_mobile_rec"}
    for c in cases.values():
        assert c["images"] == 4 and c["images_per_s"] > 0 and c["latency_ms"]["p50"] > 0
        assert 0 < c["scores"]["det_hmean"] <= 1 and c["scores"]["truth_lines"] > 8
    assert "x RapidOCR" in res.output
    bad = CliRunner().invoke(main, ["bench", "--pipeline", "OCR"])
    assert bad.exit_code == 2 and "--pipeline needs --data" in bad.output


@pytest.mark.skipif("openvino" not in this_device().backends, reason="OpenVINO is the backend with streams")
def test_bench_streams_adds_openvino_cases(onnx_artifact: Path, tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    res = CliRunner().invoke(main, ["bench", str(onnx_artifact), "--data", str(SAMPLES_DIR / "labels.txt"),
                                    "--backends", "openvino,onnxruntime", "--precisions", "f32", "--streams", "1,2",
                                    "--reference", "none", "--widths", "320", "--runs", "3", "--rounds", "1",
                                    "--json", str(out)])
    assert res.exit_code == 0, res.output
    cases = {c["label"]: c for c in json.loads(out.read_text())["cases"]}
    assert set(cases) == {"rec-onnx onnxruntime", "rec-onnx openvino", "rec-onnx openvino x2 streams"}
    assert all(c["acc"] == 1.0 for c in cases.values())
    assert [c["streams"] for c in cases.values()] == [1, 1, 2]
    assert "rec-onnx openvino x2 streams " in res.output and "x2 streams (auto)" not in res.output
    res = CliRunner().invoke(main, ["bench", str(onnx_artifact), "--streams", "0,2"])
    assert res.exit_code == 2 and "not a comma-separated list of stream counts" in res.output


def test_an_int8_case_with_streams_is_compared_with_fp32_on_as_many_streams() -> None:
    from edge_sdk import bench as b

    def case(label: str, art: str, streams: int, lps: float) -> b.Case:
        return b.Case(label, "sdk", label, "openvino", "f32", artifact_precision=art, streams=streams,
                      model_file=f"{art}/inference.xml", result={"lines_per_s": lps})

    fp32_1, fp32_2, int8_2 = case("a", "fp32", 1, 100.0), case("b", "fp32", 2, 110.0), case("c", "int8", 2, 220.0)
    assert b.fp32_counterpart(int8_2, [fp32_1, fp32_2, int8_2]) is fp32_2
    assert b.fp32_counterpart(int8_2, [fp32_1, int8_2]) is None


def test_rounds_keep_apart_two_models_that_share_a_label(onnx_artifact: Path, tmp_path: Path) -> None:
    """Two artifacts in different folders with one folder name get one label each time; each case still
    gets only its own rounds."""
    import shutil

    for parent in ("a", "b"):
        shutil.copytree(onnx_artifact, tmp_path / parent / onnx_artifact.name)
    out = tmp_path / "bench.json"
    res = CliRunner().invoke(main, ["bench", str(tmp_path / "a" / onnx_artifact.name), str(tmp_path / "b" / onnx_artifact.name),
                                    "--data", str(SAMPLES_DIR / "labels.txt"), "--backends", "onnxruntime",
                                    "--reference", "none", "--widths", "320", "--runs", "3", "--rounds", "2",
                                    "--json", str(out)])
    assert res.exit_code == 0, res.output
    cases = json.loads(out.read_text())["cases"]
    assert [c["label"] for c in cases] == [f"{onnx_artifact.name} onnxruntime"] * 2
    assert [c["rounds"] for c in cases] == [2, 2] and [len(c["lines_per_s_passes"]) for c in cases] == [2, 2]
    assert len({p for c in cases for p in c["pids"]}) == 4


def test_merge_rounds_keeps_the_best_speed_and_the_worst_memory() -> None:
    from edge_sdk.bench import merge_rounds

    def round_(pid: int, passes: list, p50: float, rss: float, anon: float, cold: float) -> dict:
        return {"pid": pid, "lines_per_s_passes": passes, "lines_per_s": max(passes), "cold_start_s": cold,
                "load_s": cold / 2, "latency_ms": {"320": {"p50": p50, "p90": p50 + 1}}, "peak_rss_mb": rss,
                "peak_anon_mb": anon, "acc": 0.65}

    merged = merge_rounds([round_(1, [100.0, 120.0], 5.0, 230, 120, 0.6), round_(2, [130.0], 6.0, 250, 118, 0.5)])
    assert merged["lines_per_s"] == 130.0 and merged["lines_per_s_passes"] == [100.0, 120.0, 130.0]
    assert merged["latency_ms"]["320"] == {"p50": 5.0, "p90": 6.0}  # the whole round with the lowest p50
    assert (merged["peak_rss_mb"], merged["peak_anon_mb"]) == (250, 120)
    assert (merged["cold_start_s"], merged["rounds"], merged["pids"], merged["acc"]) == (0.5, 2, [1, 2], 0.65)
    assert "pid" not in merged and "acc_rounds" not in merged
    unsteady = merge_rounds([round_(1, [100.0], 5.0, 230, 120, 0.6), {**round_(2, [101.0], 5.0, 230, 120, 0.6),
                                                                       "acc": 0.64}])
    assert (unsteady["acc"], unsteady["acc_rounds"]) == (0.64, [0.65, 0.64])  # the lowest, and both shown
    failed = merge_rounds([round_(1, [100.0], 5.0, 230, 120, 0.6), {"error": "the case's process died (killed)"}])
    assert failed == {"error": "the case's process died (killed)"}


def test_paired_ratios_divide_each_round_by_the_baseline_of_the_same_round() -> None:
    from edge_sdk.bench import Case, median, merge_rounds, paired_ratios, table

    def round_(pid: int, best: float) -> dict:
        return {"pid": pid, "lines_per_s_passes": [best - 5, best], "lines_per_s": best, "cold_start_s": 0.5,
                "load_s": 0.2, "latency_ms": {"320": {"p50": 5.0, "p90": 6.0}}, "peak_rss_mb": 200.0, "acc": 0.65}

    base = Case("reference: RapidOCR rec (onnxruntime)", "rapidocr", "rapidocr", "onnxruntime", reference=True)
    fast = Case("rec-ov openvino", "sdk", "out/rec-ov", "openvino")
    # the baseline's third round is a lucky one: the best-pass ratio (300 / 150 = 2.00) hides the rounds' 2.5
    base.result = merge_rounds([round_(1, 100.0), round_(2, 110.0), round_(3, 150.0)])
    fast.result = merge_rounds([round_(4, 250.0), round_(5, 275.0), round_(6, 300.0)])
    assert fast.result["lines_per_s_rounds"] == [250.0, 275.0, 300.0]
    assert paired_ratios(fast, base) == [2.5, 2.5, 2.0] and median(paired_ratios(fast, base)) == 2.5
    assert median([1.0, 3.0, 2.0, 4.0]) == 2.5
    rows = {line.split("  ")[0]: line.split() for line in table([base, fast], [320], {}).splitlines()[2:]}
    assert rows["rec-ov openvino"][-4:-2] == ["2.00", "2.50"]  # x RapidOCR (best passes), paired
    fast.result = merge_rounds([round_(4, 250.0), round_(5, 275.0)])  # a round missing: no pairs to make
    assert paired_ratios(fast, base) == []


def test_anon_peak_reads_another_process_private_memory_from_outside() -> None:
    """The sampler runs in the bench process, not in the case's (a thread there slowed OpenVINO down): it
    sees a child's 150 MB of private memory that is freed again before the child exits."""
    import subprocess
    import sys

    from edge_sdk.bench import AnonPeak

    code = ("import time; b = bytearray(150 * 2**20); b[::4096] = b'x' * len(b[::4096]); time.sleep(0.5); "
            "del b; time.sleep(0.3)")
    proc = subprocess.Popen([sys.executable, "-c", code])
    anon = AnonPeak(proc.pid)
    proc.wait()
    peak = anon.stop_mb()
    assert 150 <= peak < 250, peak
    assert AnonPeak(proc.pid).stop_mb() == 0  # a process that is gone reads as nothing, not an error


def test_batching_by_width_counts_the_work_of_both_batchings(onnx_artifact: Path, ic15_val: Path) -> None:
    """benchmarks/batching_by_width.py: RapidOCR's recognizer and the SDK's on the same engine and lines."""
    if find_spec("rapidocr_onnxruntime") is None:
        pytest.fail("rapidocr_onnxruntime is missing: scripts/setup.sh installs it for bench's reference")
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "batching_by_width.py"), str(onnx_artifact),
                           "--data", str(ic15_val), "--limit", "40", "--rounds", "2", "--passes", "1", "--batch-sizes", "2"],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].startswith("onnxruntime alone") and len(lines[2].split()) == 4, proc.stdout  # batch 1: 3 widths
    assert all(float(x) > 0 for line in lines[2:6] for x in line.split()[1:]), proc.stdout
    rows = [line.split() for line in lines[lines.index("") + 2:]]
    measured = [r for r in rows if r[1] in ("RapidOCR", "edge-sdk") and r[2] in ("rec", "onnxruntime")]
    assert len(measured) == 2, proc.stdout
    for r in measured:
        batch, lines_s, cols, us_col, shapes = int(r[3]), float(r[4]), float(r[5]), float(r[6]), int(r[7])
        assert batch == 2 and lines_s > 0 and us_col > 0 and shapes >= 1
        assert cols >= 320, r  # every line is padded to at least the model's minimum width
    ratio_lines = [line for line in lines if "edge-sdk / RapidOCR" in line]
    assert len(ratio_lines) == 1 and "paired" in ratio_lines[0], proc.stdout
    assert len(ratio_lines[0].split("(")[1].split(",")) == 2  # one ratio per round
