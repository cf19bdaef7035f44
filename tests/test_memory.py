"""One glibc malloc arena per process (runtimes/memory.py), on the real model and real backends.

Each case runs in its own Python process: the limit is process-wide and set once, and glibc hands a
thread its arena at the thread's first allocation, so only a fresh process shows what a user's gets.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Dict, Optional

import pytest

from runtimes.memory import glibc_version

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "edge_sdk" / "samples"

pytestmark = pytest.mark.skipif(glibc_version() is None,
                                reason="malloc arenas are glibc's; this C library is not glibc")

# Recognize the sample lines on 2 streams (3 inference threads and the Python one), then count the
# arenas glibc reports (malloc_info: one <heap> element per arena).
CHILD = r"""
import ctypes, json, os, re, sys, tempfile
from edge_sdk import create_model
model, backend, streams = sys.argv[1], sys.argv[2], int(sys.argv[3])
rec = create_model(model, backend=backend, threads=2, streams=streams, cache_dir=None)
texts = [r.rec_text for r in rec.predict(sys.argv[4], batch_size=8)]
libc = ctypes.CDLL(None)
libc.fopen.restype = ctypes.c_void_p
libc.fopen.argtypes = [ctypes.c_char_p, ctypes.c_char_p]
libc.malloc_info.argtypes = [ctypes.c_int, ctypes.c_void_p]
libc.fclose.argtypes = [ctypes.c_void_p]
fd, path = tempfile.mkstemp(); os.close(fd)
fp = libc.fopen(path.encode(), b"w"); libc.malloc_info(0, fp); libc.fclose(fp)
arenas = len(re.findall(r"<heap nr=", open(path).read())); os.unlink(path)
print(json.dumps({"texts": texts, "arenas": arenas, "status": rec.session.describe()["malloc_arenas"]}))
"""


def run_child(model: Path, backend: str, streams: int, env: Optional[Dict[str, str]] = None) -> dict:
    base = {k: v for k, v in os.environ.items()
            if k not in ("MALLOC_ARENA_MAX", "GLIBC_TUNABLES", "EDGE_SDK_MALLOC_ARENAS")}
    proc = subprocess.run([sys.executable, "-c", CHILD, str(model), backend, str(streams), str(SAMPLES)],
                          capture_output=True, text=True, cwd=str(ROOT), env={**base, **(env or {})}, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_openvino_streams_share_one_arena_and_read_the_same(ov_artifact: Path) -> None:
    limited = run_child(ov_artifact, "openvino", 2)
    default = run_child(ov_artifact, "openvino", 2, {"EDGE_SDK_MALLOC_ARENAS": "0"})
    assert limited["status"] == "1" and limited["arenas"] == 1
    # what the limit prevents: glibc's default gives the inference threads arenas of their own
    assert default["status"] == "glibc default (EDGE_SDK_MALLOC_ARENAS=0)" and default["arenas"] > 1
    assert limited["texts"] == default["texts"] and len(limited["texts"]) == len(list(SAMPLES.glob("*.png")))
    assert any(limited["texts"])


def test_onnxruntime_process_keeps_one_arena(onnx_artifact: Path) -> None:
    got = run_child(onnx_artifact, "onnxruntime", 1)
    assert got["status"] == "1" and got["arenas"] == 1


def test_a_limit_the_process_started_with_is_kept(onnx_artifact: Path) -> None:
    got = run_child(onnx_artifact, "onnxruntime", 1, {"MALLOC_ARENA_MAX": "2"})
    assert got["status"] == "set by the environment"
    got = run_child(onnx_artifact, "onnxruntime", 1, {"EDGE_SDK_MALLOC_ARENAS": "3"})
    assert got["status"] == "3" and got["arenas"] <= 3


def test_a_bad_setting_is_one_clear_error(onnx_artifact: Path) -> None:
    env = {**os.environ, "EDGE_SDK_MALLOC_ARENAS": "few"}
    proc = subprocess.run([sys.executable, "-m", "edge_sdk", "predict", str(onnx_artifact),
                           str(SAMPLES / "sample_01_en.png")], capture_output=True, text=True, cwd=str(ROOT), env=env,
                          timeout=600)
    assert proc.returncode != 0
    assert "EDGE_SDK_MALLOC_ARENAS='few' is not a whole number of malloc arenas" in proc.stderr
    assert "Traceback" not in proc.stderr
