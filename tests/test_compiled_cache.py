"""OpenVINO's compiled-model cache (``cache_dir``): safe for processes starting together, harmless when broken.

``EDGE_SDK_CACHE_ROUNDS`` sets how many times 4 processes start at once on an empty cache (default 2).
"""
from __future__ import annotations

import errno
import json
import logging
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, List, Tuple

import numpy as np
import pytest

pytest.importorskip("openvino", reason="openvino is not installed")

import runtimes  # noqa: E402
from edge_sdk import create_model  # noqa: E402
from edge_sdk.datasets import SAMPLES_DIR  # noqa: E402
from runtimes import openvino_backend  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
PROCESSES = 4

# A child loads the model once every sibling is ready (imports done), so the four compile, export and
# write into the empty cache at the same moment.
CHILD = r"""
import json, os, sys, time
from pathlib import Path
from edge_sdk import create_model
from edge_sdk.datasets import SAMPLES_DIR
model, cache, go, ready = sys.argv[1:5]
Path(ready).touch()
while not os.path.exists(go):
    time.sleep(0.005)
rec = create_model(model, backend="openvino", cache_dir=cache)
out = [[r.rec_text, r.rec_score] for r in rec.predict(str(SAMPLES_DIR), keep_images=False)]
print(json.dumps({"results": out, "cache": rec.session.describe()["compiled_cache"]}))
"""


def predictions(model: Path, **kwargs: Any) -> List[Tuple[str, float]]:
    rec = create_model(str(model), backend="openvino", **kwargs)
    return [(r.rec_text, r.rec_score) for r in rec.predict(str(SAMPLES_DIR), keep_images=False)]


@pytest.fixture(scope="module")
def reference(ov_artifact: Path) -> List[Tuple[str, float]]:
    return predictions(ov_artifact, cache_dir=None)


def cache_warnings(caplog: pytest.LogCaptureFixture) -> List[str]:
    return [r.getMessage() for r in caplog.records if r.name == "runtimes.openvino" and r.levelno >= logging.WARNING]


def start_together(model: Path, cache: Path, work: Path, n: int = PROCESSES) -> List[subprocess.Popen]:
    go = work / "go"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    procs = [subprocess.Popen([sys.executable, "-c", CHILD, str(model), str(cache), str(go), str(work / f"ready{i}")],
                              cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for i in range(n)]
    while not all((work / f"ready{i}").exists() for i in range(n)):
        if any(p.poll() is not None for p in procs):
            break  # one died during import: let the asserts show its stderr
        time.sleep(0.01)
    go.touch()
    return procs


def test_four_processes_start_at_once_on_an_empty_cache(ov_artifact: Path, reference: list, tmp_path: Path) -> None:
    rounds = int(os.environ.get("EDGE_SDK_CACHE_ROUNDS", "2"))
    for r in range(rounds):
        cache, work = tmp_path / f"cache{r}", tmp_path / f"work{r}"
        work.mkdir()
        procs = start_together(ov_artifact, cache, work)
        outs = [p.communicate(timeout=600) for p in procs]
        for p, (out, err) in zip(procs, outs):
            assert p.returncode == 0, f"round {r}: a process exited {p.returncode}: {err[-2000:]}"
            assert "cannot be used" not in err and "damaged" not in err, err
        reports = [json.loads(out.strip().splitlines()[-1]) for out, _ in outs]
        assert all(rep["results"] == reports[0]["results"] for rep in reports), f"round {r}: outputs differ"
        assert [tuple(x) for x in reports[0]["results"]] == reference
        assert {rep["cache"] for rep in reports} <= {"written", "hit"}
        # one whole blob, no temporary file left behind
        assert [p.name.startswith("openvino-") and p.suffix == ".blob" for p in cache.iterdir()] == [True]
    # and the next process reads it
    work = tmp_path / "work-hit"
    work.mkdir()
    (out, err), = [p.communicate(timeout=600) for p in start_together(ov_artifact, tmp_path / "cache0", work, 1)]
    report = json.loads(out.strip().splitlines()[-1])
    assert report["cache"] == "hit" and [tuple(x) for x in report["results"]] == reference


def test_cache_hit_gives_the_uncached_results_and_honours_the_config(ov_artifact: Path, tmp_path: Path) -> None:
    xml = ov_artifact / "inference.xml"
    x = np.random.default_rng(0).uniform(-1, 1, (3, 3, 48, 480)).astype(np.float32)
    plain = runtimes.load_backend("openvino", xml, threads=1)
    written = runtimes.load_backend("openvino", xml, threads=1, cache_dir=str(tmp_path))
    hit = runtimes.load_backend("openvino", xml, threads=1, cache_dir=str(tmp_path))
    assert (written.describe()["compiled_cache"], hit.describe()["compiled_cache"]) == ("written", "hit")
    assert np.array_equal(hit.run(x), plain.run(x)) and np.array_equal(written.run(x), plain.run(x))
    # import_model applies the config it is given (with none it would compute in bf16 here, on all cores)
    compiled = hit._compiled  # type: ignore[attr-defined]
    assert compiled.get_property("INFERENCE_PRECISION_HINT").to_string() == "f32"
    assert compiled.get_property("INFERENCE_NUM_THREADS") == 1
    assert str(compiled.get_property("PERFORMANCE_HINT")) == "LATENCY"
    # whatever changes the compiled model changes the key: another thread count is another blob
    other = runtimes.load_backend("openvino", xml, threads=2, cache_dir=str(tmp_path))
    assert other.describe()["compiled_cache"] == "written" and len(list(tmp_path.glob("*.blob"))) == 2
    assert other._compiled.get_property("INFERENCE_NUM_THREADS") == 2  # type: ignore[attr-defined]


def test_reduced_precision_blob_is_its_own_and_keeps_its_precision(ov_artifact: Path, tmp_path: Path) -> None:
    import openvino as ov

    if "BF16" not in ov.Core().get_property("CPU", "OPTIMIZATION_CAPABILITIES"):
        pytest.skip("this CPU has no bf16")
    xml = ov_artifact / "inference.xml"
    x = np.random.default_rng(1).uniform(-1, 1, (1, 3, 48, 320)).astype(np.float32)
    first = runtimes.load_backend("openvino", xml, precision="bf16", cache_dir=str(tmp_path))
    hit = runtimes.load_backend("openvino", xml, precision="bf16", cache_dir=str(tmp_path))
    f32 = runtimes.load_backend("openvino", xml, cache_dir=str(tmp_path))
    assert [s.describe()["compiled_cache"] for s in (first, hit, f32)] == ["written", "hit", "written"]
    assert hit.describe()["precision"] == "bf16" and f32.describe()["precision"] == "f32"
    assert np.array_equal(hit.run(x), first.run(x))


def test_key_is_the_model_bytes_not_the_path(ov_artifact: Path, tmp_path: Path) -> None:
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(ov_artifact, copy)
    cache = tmp_path / "cache"
    a = runtimes.load_backend("openvino", ov_artifact / "inference.xml", cache_dir=str(cache))
    b = runtimes.load_backend("openvino", copy / "inference.xml", cache_dir=str(cache))
    assert (a.describe()["compiled_cache"], b.describe()["compiled_cache"]) == ("written", "hit")
    with open(copy / "inference.bin", "r+b") as f:  # other weights, same file names
        f.seek(4096)
        byte = f.read(1)
        f.seek(4096)
        f.write(bytes([byte[0] ^ 1]))
    c = runtimes.load_backend("openvino", copy / "inference.xml", cache_dir=str(cache))
    assert c.describe()["compiled_cache"] == "written" and len(list(cache.glob("*.blob"))) == 2


@pytest.mark.parametrize("damage", ["flipped byte", "truncated", "not a blob", "checksum ok but not importable"])
def test_damaged_blob_is_recompiled(ov_artifact: Path, reference: list, tmp_path: Path, damage: str,
                                    caplog: pytest.LogCaptureFixture) -> None:
    assert predictions(ov_artifact, cache_dir=tmp_path) == reference
    blob, = tmp_path.glob("*.blob")
    data = bytearray(blob.read_bytes())
    if damage == "flipped byte":  # OpenVINO itself imports this silently and computes garbage
        data[len(data) // 2] ^= 0xFF
    elif damage == "truncated":
        data = data[:len(data) // 3]
    elif damage == "not a blob":
        data = bytearray(b"\0" * 100)
    else:
        payload = b"an OpenVINO blob it is not" * 10
        data = bytearray(openvino_backend.pack_blob(payload))
    blob.write_bytes(bytes(data))
    with caplog.at_level(logging.WARNING, logger="runtimes.openvino"):
        rec = create_model(str(ov_artifact), backend="openvino", cache_dir=tmp_path)
        assert [(r.rec_text, r.rec_score) for r in rec.predict(str(SAMPLES_DIR), keep_images=False)] == reference
    assert rec.session.describe()["compiled_cache"] == "recompiled"
    warnings = cache_warnings(caplog)
    assert len(warnings) == 1 and "is damaged" in warnings[0] and "compiling the model again" in warnings[0]
    # the blob was replaced by a good one
    again = runtimes.load_backend("openvino", ov_artifact / "inference.xml", cache_dir=str(tmp_path))
    assert again.describe()["compiled_cache"] == "hit" and [p.name for p in tmp_path.iterdir()] == [blob.name]


def _check_runs_uncached(ov_artifact: Path, reference: list, cache_dir: Path, caplog: pytest.LogCaptureFixture,
                         loads: int = 2) -> List[str]:
    with caplog.at_level(logging.WARNING, logger="runtimes.openvino"):
        for _ in range(loads):
            rec = create_model(str(ov_artifact), backend="openvino", cache_dir=cache_dir)
            assert [(r.rec_text, r.rec_score) for r in rec.predict(str(SAMPLES_DIR), keep_images=False)] == reference
            assert rec.session.describe()["compiled_cache"] == "unusable"
    return cache_warnings(caplog)


def test_cache_dir_that_is_a_file_warns_once(ov_artifact: Path, reference: list, tmp_path: Path,
                                             caplog: pytest.LogCaptureFixture) -> None:
    f = tmp_path / "cache"
    f.write_text("not a directory")
    warnings = _check_runs_uncached(ov_artifact, reference, f, caplog)
    assert warnings == [f"compiled-model cache {f} cannot be used (it is not a directory); running without it."]
    assert f.read_text() == "not a directory"


def test_cache_dir_that_cannot_be_created_warns_once(ov_artifact: Path, reference: list, tmp_path: Path,
                                                     caplog: pytest.LogCaptureFixture) -> None:
    """A path under a regular file cannot be made, like a dir on read-only storage (tests run as root,
    for whom chmod does not stop writes)."""
    (tmp_path / "file").write_text("x")
    d = tmp_path / "file" / "cache"
    warnings = _check_runs_uncached(ov_artifact, reference, d, caplog)
    assert len(warnings) == 1 and f"compiled-model cache {d} cannot be used" in warnings[0]


def test_read_only_cache_dir(ov_artifact: Path, reference: list, tmp_path: Path,
                             caplog: pytest.LogCaptureFixture) -> None:
    d = tmp_path / "ro"
    d.mkdir()
    d.chmod(0o555)
    try:
        with caplog.at_level(logging.WARNING, logger="runtimes.openvino"):
            for _ in range(2):
                assert predictions(ov_artifact, cache_dir=d) == reference
        if os.geteuid() != 0:  # root writes through 0555
            assert len(cache_warnings(caplog)) == 1 and not list(d.iterdir())
    finally:
        d.chmod(0o755)


@pytest.mark.parametrize("err", [errno.EROFS, errno.ENOSPC, errno.EACCES])
def test_write_failures_warn_once_and_leave_nothing_behind(ov_artifact: Path, reference: list, tmp_path: Path,
                                                           caplog: pytest.LogCaptureFixture,
                                                           monkeypatch: pytest.MonkeyPatch, err: int) -> None:
    """Read-only storage fails at creating the temporary file; a full disk fails while writing it."""
    def fail(*args: Any, **kwargs: Any) -> Any:
        raise OSError(err, os.strerror(err))

    if err == errno.ENOSPC:
        monkeypatch.setattr(openvino_backend.os, "fsync", fail)
    else:
        monkeypatch.setattr(openvino_backend.tempfile, "mkstemp", fail)
    d = tmp_path / "cache"
    warnings = _check_runs_uncached(ov_artifact, reference, d, caplog)
    assert warnings == [f"compiled-model cache {d} cannot be used ({os.strerror(err)}); running without it."]
    assert not d.exists() or list(d.iterdir()) == []  # no blob, no temporary file


def test_read_only_storage_still_serves_a_blob_it_holds(ov_artifact: Path, reference: list, tmp_path: Path,
                                                         caplog: pytest.LogCaptureFixture,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    assert predictions(ov_artifact, cache_dir=tmp_path) == reference

    def read_only(*args: Any, **kwargs: Any) -> Any:
        raise OSError(errno.EROFS, os.strerror(errno.EROFS))

    monkeypatch.setattr(openvino_backend.tempfile, "mkstemp", read_only)
    with caplog.at_level(logging.WARNING, logger="runtimes.openvino"):
        rec = create_model(str(ov_artifact), backend="openvino", cache_dir=tmp_path)
        assert [(r.rec_text, r.rec_score) for r in rec.predict(str(SAMPLES_DIR), keep_images=False)] == reference
    assert rec.session.describe()["compiled_cache"] == "hit" and cache_warnings(caplog) == []


def test_stale_temporary_blobs_are_swept(ov_artifact: Path, tmp_path: Path) -> None:
    stale = tmp_path / ".openvino-abc.blob.x1.tmp"
    fresh = tmp_path / ".openvino-abc.blob.x2.tmp"
    other = tmp_path / "someone-elses.tmp"
    for p in (stale, fresh, other):
        p.write_bytes(b"partial")
    old = time.time() - 2 * openvino_backend._STALE_TMP_S
    os.utime(stale, (old, old))
    os.utime(other, (old, old))
    runtimes.load_backend("openvino", ov_artifact / "inference.xml", cache_dir=str(tmp_path))
    assert not stale.exists() and fresh.exists() and other.exists()


def test_cold_start_benchmark_runs(ov_artifact: Path, onnx_artifact: Path) -> None:
    out = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "cold_start.py"), str(ov_artifact),
                          str(onnx_artifact), "--runs", "1"], cwd=ROOT, capture_output=True, text=True,
                         env=dict(os.environ, PYTHONPATH=str(ROOT)))
    assert out.returncode == 0, out.stderr[-2000:]
    results = json.loads(out.stdout.strip().splitlines()[-1])
    assert set(results) == {"openvino, no cache", "openvino, cache warm", "onnxruntime"}
    assert results["openvino, cache warm"]["compiled_cache"] == "hit"
    assert results["openvino, no cache"]["compiled_cache"] == "off"
