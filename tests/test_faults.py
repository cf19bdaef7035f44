"""Faults: `kill -9` mid-conversion, temp dirs of killed runs, and output dirs that are not ours.

A killed conversion must leave no partial artifact (the output absent, or the previous artifact as it
was), and the next run must sweep the temp dirs the killed one left; a directory edge-sdk cannot prove
is its own (a user's dir with a similar name, a stray ``{}`` manifest) is never touched.
"""
from __future__ import annotations

import hashlib
import json
import os
import queue
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Dict, List, Optional, Set

import pytest

from converters import convert
from converters.artifact import check_output_path, write_manifest
from edge_sdk import _fs
from edge_sdk.errors import ConversionError
from edge_sdk.hub import cache_root
from edge_sdk.model_dir import ModelDir

MODEL = "PP-OCRv4_mobile_rec"
PARITY_LINE = "checking parity on"


# --- helpers -----------------------------------------------------------------------------------------

def _tree(d: Path) -> Dict[str, str]:
    """Every entry under ``d`` -> sha256 of its bytes ("dir" for directories)."""
    out = {}
    for p in sorted(d.rglob("*")):
        rel = str(p.relative_to(d))
        out[rel] = "dir" if p.is_dir() else hashlib.sha256(p.read_bytes()).hexdigest()
    return out


def _ours(parent: Path) -> List[Path]:
    """Directories in ``parent`` that carry an edge-sdk temp marker."""
    if not parent.is_dir():
        return []
    return sorted(p for p in parent.iterdir() if p.is_dir() and _fs.read_marker(p) is not None)


def _tmp_snapshot() -> Set[str]:
    """Names in the system temp dir that a conversion could leave: ours (edge-sdk-*) and paddle2onnx's
    intermediate program dirs (tmp* holding *.pdiparams or *.json)."""
    root = Path(tempfile.gettempdir())
    names = set()
    for p in root.iterdir():
        if p.name.startswith("edge-sdk-"):
            names.add(p.name)
        elif p.name.startswith("tmp") and p.is_dir():
            try:
                if any(f.suffix in (".pdiparams", ".pdmodel") or f.name.endswith(".json") for f in p.iterdir()):
                    names.add(p.name)
            except OSError:
                continue
    return names


class _Run:
    """`edge-sdk -v convert` in its own session (so the whole process group can be killed), stderr read
    line by line on a thread."""

    def __init__(self, out: Path) -> None:
        cmd = [sys.executable, "-m", "edge_sdk", "-v", "convert", MODEL, "--target", "onnx", "-o", str(out)]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                                     start_new_session=True, env=dict(os.environ))
        self.lines: "queue.Queue[Optional[str]]" = queue.Queue()
        self.stderr: List[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.stderr.append(line)
            self.lines.put(line)
        self.lines.put(None)

    def wait_for(self, text: str, timeout: float = 240) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self.lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError(f"no {text!r} on stderr within {timeout} s") from None
            if line is None:
                raise AssertionError(f"the conversion ended before {text!r}:\n{''.join(self.stderr)}")
            if text in line:
                return

    def kill(self) -> None:
        """SIGKILL the whole process group (it may have finished already)."""
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait(timeout=60)

    def finish(self, timeout: float = 600) -> None:
        rc = self.proc.wait(timeout=timeout)
        time.sleep(0.1)  # let the reader thread take the last lines
        assert rc == 0, "".join(self.stderr)


def _assert_no_partial_artifact(out: Path, previous: Optional[Dict[str, str]], may_be_done: bool = False) -> None:
    """``out`` is absent or the previous artifact, intact (or, when the kill may have come after the
    rename into place, a new complete artifact)."""
    if may_be_done and out.exists() and _tree(out) != previous:
        _assert_complete_artifact(out, killed=True)
    elif previous is None:
        assert not out.exists(), sorted(p.name for p in out.iterdir())
    else:
        assert out.is_dir() and _tree(out) == previous


def _assert_complete_artifact(out: Path, killed: bool = False) -> None:
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["producer"] == "edge-sdk" and manifest["parity"]["passed"]
    # a kill right after the rename into place may leave the staging marker (refused by no later check)
    names = sorted(p.name for p in out.iterdir() if not (killed and p.name == _fs.MARKER))
    assert manifest["files"] == names == ["inference.onnx", "inference.yml", "manifest.json"]
    assert ModelDir.open(out).format == "onnx"


# --- kill -9 -------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory, paddle_model: ModelDir) -> Path:
    """The output's parent; the model is in the cache (``paddle_model``) before any run starts."""
    return tmp_path_factory.mktemp("faults")


@pytest.fixture(scope="module")
def tmp_before() -> Set[str]:
    return _tmp_snapshot()


def test_kill_9_leaves_no_partial_artifact_and_the_next_run_sweeps(workdir: Path, tmp_before: Set[str]) -> None:
    out = workdir / "rec-onnx"
    # a user's own dirs with our naming but without our marker, and a live run's staging dir: must survive
    users = workdir / ".rec-onnx.staging-mine"
    users.mkdir()
    (users / "notes.txt").write_text("keep me")
    live = Path(tempfile.mkdtemp(prefix=".rec-onnx.staging-", dir=workdir))
    _fs.write_marker(live)  # this test process: alive

    previous: Optional[Dict[str, str]] = None
    for delay in (1.0, 3.0):
        run = _Run(out)
        time.sleep(delay)
        run.kill()  # on a fast machine the conversion may be complete by now: then its artifact must be
        _assert_no_partial_artifact(out, previous, may_be_done=True)
        previous = _tree(out) if out.exists() else None
    run = _Run(out)
    run.wait_for(PARITY_LINE)
    time.sleep(0.3)
    run.kill()
    _assert_no_partial_artifact(out, previous)
    left = [p for p in _ours(workdir) if p != live]
    assert left and all(p.name.startswith(".rec-onnx.staging-") for p in left)  # what the next run must sweep
    assert all(_fs.is_stale(p) for p in left)

    _Run(out).finish()
    _assert_complete_artifact(out)
    assert _ours(workdir) == [live] and not _fs.is_stale(live)
    assert (users / "notes.txt").read_text() == "keep me"
    assert not [p for p in _ours(cache_root() / "models") if _fs.is_stale(p)]
    assert _tmp_snapshot() - tmp_before == set()
    _fs.remove_marker(live)
    live.rmdir()


def test_kill_9_keeps_the_previous_artifact_and_a_rerun_replaces_it(workdir: Path, tmp_before: Set[str]) -> None:
    out = workdir / "rec-onnx"
    if not out.exists():  # normally left by the test above
        _Run(out).finish()
    previous = _tree(out)
    run = _Run(out)
    run.wait_for(PARITY_LINE)
    time.sleep(0.3)
    run.kill()
    _assert_no_partial_artifact(out, previous)
    assert [p.name for p in _ours(workdir) if p.name.startswith(".rec-onnx.staging-")]

    (out / "inference.onnx").touch()  # a later mtime: tells the replacement from the original
    mtime = (out / "inference.onnx").stat().st_mtime_ns
    _Run(out).finish()
    _assert_complete_artifact(out)
    assert (out / "inference.onnx").stat().st_mtime_ns != mtime  # replaced, not left
    assert _ours(workdir) == [] and sorted(p.name for p in workdir.iterdir() if p.name.startswith(".rec-onnx")) == [
        ".rec-onnx.staging-mine"]
    assert _tmp_snapshot() - tmp_before == set()


# --- what a conversion may replace ---------------------------------------------------------------------

def test_stray_manifest_with_a_user_file_is_refused_and_left_byte_identical(tmp_path: Path,
                                                                           paddle_model: ModelDir) -> None:
    out = tmp_path / "mine"
    out.mkdir()
    (out / "manifest.json").write_text("{}")
    (out / "thesis.tex").write_text("years of work")
    before = _tree(out)
    with pytest.raises(ConversionError, match=r"not an edge-sdk artifact \(its manifest.json does not name edge-sdk"
                                              r".*\); choose a new path or empty it first\."):
        convert(str(paddle_model.path), "onnx", out)
    assert _tree(out) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mine"]  # no staging dir either


@pytest.mark.parametrize("content, extra, why", [
    ("{}", None, "does not name edge-sdk"),
    ("[1, 2]", None, "not a JSON object"),
    ("{not json", None, "not valid JSON"),
    (json.dumps({"producer": "someone-else"}), None, "does not name edge-sdk"),
    (json.dumps({"producer": "edge-sdk", "files": ["inference.onnx", "manifest.json"]}), "notes.txt",
     "holds notes.txt, which its manifest.json does not list"),
    (json.dumps({"producer": "edge-sdk", "files": "inference.onnx"}), None, "files list .* is malformed"),
    (json.dumps({"tools": {"edge_sdk": "0.1.0"}}), "weights.bin", "holds weights.bin"),  # before "files"
])
def test_output_check_refuses_what_is_not_provably_ours(tmp_path: Path, content: str, extra: Optional[str],
                                                        why: str) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "manifest.json").write_text(content)
    (out / "inference.onnx").write_bytes(b"x")
    if extra:
        (out / extra).write_text("user data")
    before = _tree(out)
    with pytest.raises(ConversionError, match=why):
        check_output_path(out)
    assert _tree(out) == before


def test_output_check_accepts_artifacts_and_empty_dirs(tmp_path: Path) -> None:
    check_output_path(tmp_path / "absent")
    empty = tmp_path / "empty"
    empty.mkdir()
    check_output_path(empty)
    new = tmp_path / "new"
    new.mkdir()
    (new / "inference.onnx").write_bytes(b"x")
    (new / "inference.yml").write_text("Global: {}\n")
    write_manifest(new, {"tools": {"edge_sdk": "0.1.0"}})
    assert json.loads((new / "manifest.json").read_text())["files"] == ["inference.onnx", "inference.yml",
                                                                         "manifest.json"]
    check_output_path(new)
    old = tmp_path / "old"  # written before manifests had a files list: known artifact names only
    old.mkdir()
    for name in ("inference.xml", "inference.bin", "inference.yml"):
        (old / name).write_bytes(b"x")
    (old / "manifest.json").write_text(json.dumps({"manifest_version": 1, "tools": {"edge_sdk": "0.1.0"}}))
    check_output_path(old)
    (old / "sub").mkdir()
    with pytest.raises(ConversionError, match="holds sub"):
        check_output_path(old)
    fifo = tmp_path / "fifo"
    fifo.mkdir()
    os.mkfifo(fifo / "manifest.json")  # a planted FIFO must not hang the check
    with pytest.raises(ConversionError, match="not a readable regular file"):
        check_output_path(fifo)
    link = tmp_path / "link"
    link.symlink_to(new)
    with pytest.raises(ConversionError, match="symbolic link"):
        check_output_path(link)


# --- the sweep -----------------------------------------------------------------------------------------

@pytest.fixture
def dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def _marked(parent: Path, dirname: str, **fields: object) -> Path:
    d = parent / dirname
    d.mkdir()
    (d / "inference.onnx").write_bytes(b"partial")
    _fs.write_marker(d)
    if fields:
        info = json.loads((d / _fs.MARKER).read_text())
        info.update(fields)
        (d / _fs.MARKER).write_text(json.dumps(info))
    return d


def test_sweep_removes_only_stale_dirs_that_carry_our_marker(tmp_path: Path, dead_pid: int) -> None:
    dead = _marked(tmp_path, ".out.staging-dead", pid=dead_pid)
    old = _marked(tmp_path, ".out.staging-old", created=time.time() - _fs.STALE_AFTER_S - 60)
    reused = _marked(tmp_path, ".out.staging-reused", process_start="1")  # our pid, another process's start
    other_boot = _marked(tmp_path, ".out.old-1-abcd", boot_id="another-boot")
    live = _marked(tmp_path, ".out.staging-live")
    elsewhere = _marked(tmp_path, ".out.staging-nfs", pid=dead_pid, host="another-host")  # only age tells
    renamed = _marked(tmp_path, ".out.staging-renamed", pid=dead_pid, name=".out.staging-original")
    visible = _marked(tmp_path, "results", pid=dead_pid)  # not one of our names: never looked at
    users = tmp_path / ".out.staging-users"
    users.mkdir()
    (users / "notes.txt").write_text("keep")
    fifo = tmp_path / ".out.staging-fifo"  # a planted FIFO as the marker: skipped, not read (which would hang)
    fifo.mkdir()
    os.mkfifo(fifo / _fs.MARKER)
    foreign = tmp_path / ".cache-like"
    foreign.mkdir()
    (foreign / _fs.MARKER).write_text(json.dumps({"producer": "someone-else", "name": ".cache-like", "pid": dead_pid}))

    stage = _fs.staging_dir(tmp_path, ".out.staging-")  # sweeps first
    gone = [dead, old, other_boot] + ([reused] if _fs._process_start(os.getpid()) else [])
    assert all(not d.exists() for d in gone)
    kept = [live, elsewhere, renamed, visible, users, fifo, foreign, stage] + ([] if reused in gone else [reused])
    assert all(d.exists() for d in kept)
    assert (users / "notes.txt").read_text() == "keep"
    assert _fs.read_marker(stage)["pid"] == os.getpid()  # type: ignore[index]


def test_scratch_dir_holds_library_temp_files_and_is_removed(tmp_path: Path) -> None:
    before = tempfile.tempdir
    with _fs.scratch_dir(tmp_path) as scratch:
        assert tempfile.gettempdir() == str(scratch)
        inner = Path(tempfile.mkdtemp())
        assert inner.parent == scratch
    assert tempfile.tempdir == before and not scratch.exists()
    assert list(tmp_path.iterdir()) == []
