"""File-system helpers for atomic writes, and the temporary directories they need.

Every temporary directory edge-sdk makes carries a marker file (``.edge-sdk-tmp.json``: pid, host,
boot, process start, creation time, and the directory's own name) proving it is ours. A run killed
with ``kill -9`` cannot clean up after itself, so ``staging_dir`` first sweeps its parent for marked
directories whose owner is gone (same host, pid dead or reused, or another boot) or whose marker is
older than ``STALE_AFTER_S``. A directory without our marker, or whose name is not the one its
marker records (e.g. a staging dir already renamed into place), is never removed.
"""
from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import socket
import tempfile
import time
from pathlib import Path
from typing import Any, Dict, Iterator, Optional

log = logging.getLogger("edge_sdk.fs")

MARKER = ".edge-sdk-tmp.json"
PRODUCER = "edge-sdk"
# a marked dir older than this is stale even when its pid looks alive (another host, a reused pid)
STALE_AFTER_S = 3 * 24 * 3600.0
# only these names are looked at when sweeping: our own dirs are hidden (".x.staging-...") or "edge-sdk-..."
_SWEPT_PREFIXES = (".", "edge-sdk-")


def _read(path: str) -> Optional[str]:
    try:
        with open(path, encoding="ascii") as f:
            return f.read().strip()
    except (OSError, UnicodeDecodeError):
        return None


def _boot_id() -> Optional[str]:
    return _read("/proc/sys/kernel/random/boot_id")


def _process_start(pid: int) -> Optional[str]:
    """The start time of ``pid`` in clock ticks since boot (Linux); tells a reused pid from its first owner."""
    stat = _read(f"/proc/{pid}/stat")
    if not stat:
        return None
    fields = stat.rsplit(")", 1)[-1].split()  # the command name (field 2) may hold spaces and ")"
    return fields[19] if len(fields) > 19 else None


def _pid_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's live process
        return True
    except OSError:
        return False
    return True


def write_marker(directory: Path, name: Optional[str] = None, created: Optional[float] = None) -> None:
    """Mark ``directory`` as an edge-sdk temporary dir owned by this process, under ``name`` (default: its own)."""
    directory = Path(directory)
    info: Dict[str, Any] = {
        "producer": PRODUCER,
        "name": name or directory.name,
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "boot_id": _boot_id(),
        "process_start": _process_start(os.getpid()),
        "created": time.time() if created is None else created,
    }
    (directory / MARKER).write_text(json.dumps(info) + "\n", encoding="utf-8")


class _Unreadable(Exception):
    pass


def read_small_file(path: Path, cap: int = 1 << 20) -> Optional[bytes]:
    """The bytes of ``path`` when it is a regular file (not a symlink) of at most ``cap`` bytes, else None.

    ``limits.read_file_bounded`` without following a symlink, so a FIFO or device planted under a name
    we look for is skipped instead of hanging the run.
    """
    from .limits import read_file_bounded

    try:
        return read_file_bounded(path, cap, "file", _Unreadable, follow_symlinks=False)
    except _Unreadable:
        return None


def remove_marker(directory: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        (Path(directory) / MARKER).unlink()


def read_marker(directory: Path) -> Optional[Dict[str, Any]]:
    """Our marker in ``directory``, or None when there is none (or it is not ours)."""
    data = read_small_file(Path(directory) / MARKER, 64 << 10)
    if data is None:
        return None
    try:
        info = json.loads(data.decode("utf-8"))
    except (ValueError, UnicodeDecodeError):
        return None
    if not isinstance(info, dict) or info.get("producer") != PRODUCER:
        return None
    return info


def is_stale(directory: Path, now: Optional[float] = None) -> bool:
    """True when ``directory`` is a marked edge-sdk temporary dir whose owner can no longer use it."""
    directory = Path(directory)
    if directory.is_symlink() or not directory.is_dir():
        return False
    info = read_marker(directory)
    if info is None or info.get("name") != directory.name:
        return False
    now = time.time() if now is None else now
    created = info.get("created")
    if isinstance(created, (int, float)) and now - created > STALE_AFTER_S:
        return True
    if info.get("host") != socket.gethostname():
        return False  # another machine's (shared file system): only age tells
    boot = _boot_id()
    if boot and info.get("boot_id") and info["boot_id"] != boot:
        return True  # every process of an earlier boot is gone
    pid = info.get("pid")
    if not isinstance(pid, int) or not _pid_alive(pid):
        return True
    start = info.get("process_start")
    if start and _process_start(pid) not in (None, start):
        return True  # the pid now belongs to another process
    return False


def sweep_stale(parent: Path) -> int:
    """Remove the stale edge-sdk temporary dirs directly in ``parent``; returns how many were removed."""
    try:
        entries = list(os.scandir(parent))
    except OSError:
        return 0
    removed = 0
    now = time.time()
    for entry in entries:
        if not entry.name.startswith(_SWEPT_PREFIXES) or not entry.is_dir(follow_symlinks=False):
            continue
        path = Path(entry.path)
        if not is_stale(path, now):
            continue
        # rename first: a concurrent sweeper or a reader never sees a half-removed dir under the old name
        doomed = path.with_name(f"{path.name}.removing-{os.getpid()}")
        try:
            os.replace(path, doomed)
        except OSError:
            continue
        shutil.rmtree(doomed, ignore_errors=True)
        if doomed.exists():  # could not remove it all: mark what is left so a later sweep finishes it
            with contextlib.suppress(OSError):
                write_marker(doomed, created=0.0)
        else:
            removed += 1
    if removed:
        log.info("removed %d temporary dir(s) left by killed edge-sdk runs in %s", removed, parent)
    return removed


def staging_dir(parent: Path, prefix: str) -> Path:
    """A new marked temporary directory in ``parent`` (same file system, so a rename into place is atomic).

    Stale temporary dirs of killed runs in ``parent`` are swept first. ``mkdtemp`` makes it private
    (0700); give it the permissions a normal ``mkdir`` would, since it becomes the user's artifact or
    cache entry. Remove the marker (``remove_marker``) once it is renamed into place.
    """
    parent = Path(parent)
    sweep_stale(parent)
    d = Path(tempfile.mkdtemp(prefix=prefix, dir=parent))
    try:
        write_marker(d)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(d, 0o777 & ~umask)
    except BaseException:
        shutil.rmtree(d, ignore_errors=True)
        raise
    return d


@contextlib.contextmanager
def scratch_dir(parent: Path, prefix: str = ".edge-sdk-scratch-") -> Iterator[Path]:
    """A marked temporary directory in ``parent`` for the duration of the block, removed after it.

    Converters use it inside their staging dir instead of ``/tmp``, so a killed run's scratch goes
    with its staging dir in the next sweep. Python's default temporary dir (``tempfile.gettempdir()``)
    points into it during the block too: the temp files of the libraries a conversion calls
    (paddle2onnx's intermediate program, onnxruntime's quantizer) land there as well.
    """
    d = staging_dir(parent, prefix)
    previous = tempfile.tempdir
    tempfile.tempdir = str(d)
    try:
        yield d
    finally:
        tempfile.tempdir = previous
        shutil.rmtree(d, ignore_errors=True)
