"""Process-wide memory settings, applied once, before the first session starts its threads.

glibc's ``malloc`` gives each thread that allocates an arena of its own (up to 8 per core). The
inference threads (OpenVINO's CPU streams and TBB workers, onnxruntime's pool) and the Python thread
that builds batches then each keep their own free lists: memory one thread freed is not reused by the
next, and a process that recognizes text lines holds several half-empty heaps. One arena for the whole
process, measured on 2 cores over IC15 val (peak RSS, best of 3 passes through ``predict``):

- OpenVINO FP32 IR, 1 stream: 212-214 -> 198-203 MB, lines/s the same within the passes' spread;
- OpenVINO FP32, 2 streams: 247-255 -> 227-228 MB; INT8 computing in bf16 on 2 streams: 295-318 -> 265-270 MB;
- onnxruntime FP32: 169-170 -> 161 MB.

Two arenas saved nothing (the main thread's and one shared by the rest is what 2 cores give anyway), and
a fixed ``mmap`` threshold, which returns every large buffer to the system, saved 3 MB more but cost
10-17% lines/s (large buffers are allocated and freed on every batch: the batch's input, its output's
copy, the backends' own).

``$EDGE_SDK_MALLOC_ARENAS`` sets the number (``0`` leaves glibc's default). A limit the process was
started with (``MALLOC_ARENA_MAX``, ``GLIBC_TUNABLES=glibc.malloc.arena_max=...``) is left as it is; so
are C libraries other than glibc, where ``mallopt`` means something else or nothing.
"""
from __future__ import annotations

import ctypes
import os
import threading
from typing import Optional

from .base import env_whole_number

ARENAS_ENV = "EDGE_SDK_MALLOC_ARENAS"
DEFAULT_ARENAS = 1
_M_ARENA_MAX = -8  # glibc's <malloc.h>

_lock = threading.Lock()
_status: Optional[str] = None


def glibc_version() -> Optional[str]:
    """``"2.36"`` under glibc, None under any other C library (musl, macOS, Windows)."""
    try:
        found = os.confstr("CS_GNU_LIBC_VERSION")
    except (AttributeError, ValueError, OSError):
        return None
    if not found or not found.startswith("glibc "):
        return None
    return found.split()[1]


def wanted_arenas() -> int:
    """The arena limit to set: ``$EDGE_SDK_MALLOC_ARENAS`` (0 = leave glibc's), else ``DEFAULT_ARENAS``."""
    return env_whole_number(ARENAS_ENV, DEFAULT_ARENAS, "a whole number of malloc arenas (0 leaves glibc's default)")


def set_by_environment() -> bool:
    """True when the process was started with its own arena cap, which glibc read before any of this."""
    return bool(os.environ.get("MALLOC_ARENA_MAX")) or "arena_max" in os.environ.get("GLIBC_TUNABLES", "")


def limit_malloc_arenas() -> str:
    """Cap glibc's malloc arenas for this process (once); returns what was done, for ``describe()``.

    Called by ``runtimes.load_backend`` before a backend starts threads: arenas are handed out at a
    thread's first allocation, so threads that already allocated keep theirs.
    """
    global _status
    with _lock:
        if _status is None:
            _status = _apply()
        return _status


def _apply() -> str:
    want = wanted_arenas()
    if want == 0:
        return f"glibc default ({ARENAS_ENV}=0)"
    if set_by_environment():
        return "set by the environment"
    if glibc_version() is None:
        return "not glibc"
    try:
        ok = ctypes.CDLL(None).mallopt(_M_ARENA_MAX, want)
    except (OSError, AttributeError):
        ok = 0
    return str(want) if ok == 1 else "glibc default (mallopt refused)"


def status() -> Optional[str]:
    """What ``limit_malloc_arenas`` did in this process, None before the first backend loaded."""
    return _status
