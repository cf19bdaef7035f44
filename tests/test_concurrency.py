"""One recognizer (one backend session) shared by threads gives every thread the single-thread answer.

Every backend installed in the running interpreter is checked on real IC15 val lines: onnxruntime,
OpenVINO and Paddle Inference in the Python 3.11 leg, Paddle Lite in the Python 3.9 leg (``-m paddlelite``).
``EDGE_SDK_THREAD_LINES`` sets how many lines each thread predicts (default 40; 12 for Paddle Lite,
which runs ~6 lines/s here).
"""
from __future__ import annotations

import logging
import os
import sys
import threading
from pathlib import Path
from typing import Any, Dict, List, Tuple

import numpy as np
import pytest

import runtimes
from edge_sdk import create_model

THREADS = 8
CHUNK = 10  # lines per predict() call; each call's lines are the same in every thread and in the reference


def _lines(default: int) -> int:
    return int(os.environ.get("EDGE_SDK_THREAD_LINES", default))


@pytest.fixture(scope="module")
def lite_x86(tmp_path_factory: pytest.TempPathFactory, paddle_model: Any) -> Path:
    """An x86 .nb of the real model (as tests/test_paddlelite.py makes it)."""
    pytest.importorskip("paddlelite", reason="paddlelite is not installed: run the Python 3.9 leg")
    from converters import convert

    return convert(str(paddle_model.path), "paddlelite", tmp_path_factory.mktemp("lite") / "rec-lite-x86",
                   valid_places="x86").output


def _model_path(backend: str, request: pytest.FixtureRequest) -> Path:
    if not runtimes.is_available(backend):
        pytest.skip(f"{backend} is not installed in this interpreter")
    if backend == "onnxruntime":
        return request.getfixturevalue("onnx_artifact")
    if backend == "openvino":
        return request.getfixturevalue("ov_artifact")
    if backend == "paddle":
        return request.getfixturevalue("paddle_model").path
    return request.getfixturevalue("lite_x86")


def _run_threads(n: int, work: Any) -> List[BaseException]:
    """Run ``work(k)`` in ``n`` threads released together; the exceptions they raised."""
    barrier = threading.Barrier(n)
    errors: List[BaseException] = []

    def target(k: int) -> None:
        try:
            barrier.wait()
            work(k)
        except BaseException as exc:  # noqa: BLE001 - every failure counts
            errors.append(exc)

    threads = [threading.Thread(target=target, args=(k,)) for k in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return errors


CASES = [
    pytest.param("onnxruntime", 0, 1, id="onnxruntime"),
    pytest.param("openvino", 0, 1, id="openvino"),
    pytest.param("openvino", 0, 2, id="openvino-2streams"),  # each call's batches run side by side as well
    pytest.param("paddle", 0, 1, id="paddle"),
    pytest.param("paddle", 1, 1, id="paddle-threads1-clones"),  # cores // 1 predictors: the clones run too
    pytest.param("paddlelite", 0, 1, id="paddlelite", marks=pytest.mark.paddlelite),
]


@pytest.mark.parametrize("batch_size", [1, 8])
@pytest.mark.parametrize("backend,threads,streams", CASES)
def test_one_recognizer_shared_by_8_threads(backend: str, threads: int, streams: int, batch_size: int,
                                            request: pytest.FixtureRequest, ic15_val_samples: list) -> None:
    rec = create_model(str(_model_path(backend, request)), backend=backend, threads=threads, cache_dir=None,
                       streams=streams)
    assert rec.backend == backend and rec.session.concurrency in ("native", "pool", "lock")
    n = _lines(12 if backend == "paddlelite" else 40)
    paths = [str(s.path) for s in ic15_val_samples[:n]]
    chunks = [paths[i:i + CHUNK] for i in range(0, len(paths), CHUNK)]

    def predict(chunk: List[str]) -> Tuple[List[str], np.ndarray]:
        results = list(rec.predict(chunk, batch_size=batch_size, keep_images=False))
        return [r.rec_text for r in results], np.array([r.rec_score for r in results], dtype=np.float64)

    reference = [predict(c) for c in chunks]  # one thread
    got: Dict[int, List[Tuple[int, Tuple[List[str], np.ndarray]]]] = {k: [] for k in range(THREADS)}

    def work(k: int) -> None:
        # each thread starts at another chunk, so concurrent calls carry different lines: a result
        # handed to the wrong caller shows
        for j in range(len(chunks)):
            c = (j + k) % len(chunks)
            got[k].append((c, predict(chunks[c])))

    errors = _run_threads(THREADS, work)
    assert not errors, f"{len(errors)} exceptions, first: {errors[0]!r}"
    for k in range(THREADS):
        assert sorted(c for c, _ in got[k]) == list(range(len(chunks)))
        for c, (texts, scores) in got[k]:
            ref_texts, ref_scores = reference[c]
            assert texts == ref_texts, f"thread {k}, lines {c * CHUNK}..: texts differ from the single-thread run"
            assert np.isclose(scores, ref_scores, rtol=1e-6, atol=1e-7).all(), \
                f"thread {k}: max score diff {np.abs(scores - ref_scores).max()}"


def test_openvino_pool_gives_each_concurrent_run_its_own_request(request: pytest.FixtureRequest) -> None:
    session = runtimes.load_backend("openvino", _model_path("openvino", request) / "inference.xml", threads=1)
    assert session.concurrency == "pool"
    rng = np.random.default_rng(0)
    inputs = [rng.uniform(-1, 1, (1 + i % 3, 3, 48, 320 + 40 * (i % 4))).astype(np.float32) for i in range(24)]
    reference = [session.run(x) for x in inputs]
    outputs: Dict[int, List[Tuple[int, np.ndarray]]] = {k: [] for k in range(THREADS)}

    def work(k: int) -> None:
        for j in range(len(inputs)):
            i = (j + 3 * k) % len(inputs)
            outputs[k].append((i, session.run(inputs[i])))

    errors = _run_threads(THREADS, work)
    assert not errors, f"{len(errors)} exceptions, first: {errors[0]!r}"  # no "Infer Request is busy"
    for k in range(THREADS):
        for i, y in outputs[k]:
            assert np.array_equal(y, reference[i]), f"thread {k}, input {i}: not the single-thread output"
    pool = session._requests  # type: ignore[attr-defined]
    assert pool.max_size >= runtimes.default_threads()
    assert 1 <= session.describe()["infer_requests"] <= pool.max_size
    # two callers at once hold two different requests; a returned request is lent again, not remade
    with pool.take() as a, pool.take() as b:
        assert a is not b
    created = pool.created
    with pool.take() as c:
        assert c in (a, b)
    assert pool.created == created
    # outputs are copies: a later run on the same request does not change an earlier result
    y0 = session.run(inputs[0])
    session.run(inputs[1])
    assert np.array_equal(y0, reference[0])


def test_pool_waits_when_every_object_is_lent() -> None:
    made: List[object] = []

    def factory() -> object:
        made.append(object())
        return made[-1]

    pool = runtimes.base.ObjectPool(2, factory=factory)
    got: List[object] = []
    third_done = threading.Event()

    def third() -> None:
        with pool.take() as obj:
            got.append(obj)
        third_done.set()

    with pool.take() as a:
        with pool.take() as b:
            t = threading.Thread(target=third)
            t.start()
            assert not third_done.wait(0.3)  # both lent, the bound reached: the third caller waits
        t.join()
    assert third_done.is_set() and got == [b] and len(made) == 2 and a is not b


def test_paddle_pool_size_follows_cores_over_threads(request: pytest.FixtureRequest) -> None:
    model = _model_path("paddle", request) / "inference.pdmodel"
    cores = runtimes.default_threads()
    assert runtimes.load_backend("paddle", model).describe()["predictors"] == 1
    assert runtimes.load_backend("paddle", model, threads=1).describe()["predictors"] == cores


def test_too_many_threads_are_clamped_with_one_warning(request: pytest.FixtureRequest,
                                                       caplog: pytest.LogCaptureFixture,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    import runtimes.base

    monkeypatch.setattr(runtimes.base, "_warned", set())  # once per process: other tests may have warned already
    model = _model_path("onnxruntime", request) / "inference.onnx"
    cores = runtimes.default_threads()
    with caplog.at_level(logging.WARNING, logger="runtimes"):
        session = runtimes.load_backend("onnxruntime", model, threads=5000)
        assert session.describe()["threads"] == cores
        assert session.run(np.zeros((1, 3, 48, 320), np.float32)).shape == (1, 40, 6625)
        again = runtimes.load_backend("onnxruntime", model, threads=5000)
        assert again.describe()["threads"] == cores
    warnings = [r.getMessage() for r in caplog.records if "cores available" in r.getMessage()]
    assert warnings == [f"threads=5000 is more than the {cores} cores available; using {cores}"]
    assert runtimes.BackendOptions(threads=cores).resolved_threads() == cores
    assert runtimes.BackendOptions(threads=0).resolved_threads() == cores


def test_every_backend_says_how_it_is_thread_safe() -> None:
    want = {"onnxruntime": "native", "openvino": "pool", "paddle": "pool", "paddlelite": "lock"}
    for name in runtimes.available_backends():
        cls = runtimes.backend_class(name)
        assert cls.concurrency == want[name]
        assert f"Concurrency ``{want[name]}``" in (sys.modules[cls.__module__].__doc__ or "")


def test_native_output_capture_from_many_threads_leaves_stderr_working() -> None:
    """Capturing what native decoders print swaps fd 2 for the whole process: from many threads at once it
    must not leave fd 2 pointing at another thread's temp file (a server's log vanished that way)."""
    import os
    import subprocess
    import sys

    code = (
        "import os, threading\n"
        "from edge_sdk._native_log import captured_native_output\n"
        "def work():\n"
        "    for _ in range(200):\n"
        "        with captured_native_output():\n"
        "            os.write(2, b'hidden\\n')\n"
        "ts = [threading.Thread(target=work) for _ in range(8)]\n"
        "[t.start() for t in ts]; [t.join() for t in ts]\n"
        "os.write(2, b'still here\\n')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                         env={k: v for k, v in os.environ.items() if k != "EDGE_SDK_VERBOSE"})
    assert out.returncode == 0 and out.stderr == "still here\n", out.stderr
