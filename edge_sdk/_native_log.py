"""Capture what native libraries print (paddle2onnx, Paddle, onnxruntime write straight to fd 1/2)."""
from __future__ import annotations

import contextlib
import os
import sys
import tempfile
import threading
from typing import Iterator, List

# fds 1 and 2 belong to the process: two threads redirecting them at once would each restore the other's
# temp file, and the process's output would vanish for good. One redirection at a time.
_REDIRECT = threading.RLock()


class CapturedLog:
    def __init__(self) -> None:
        self.text = ""

    def tail(self, n: int = 8) -> str:
        lines: List[str] = [line for line in self.text.splitlines() if line.strip()]
        return "\n".join(lines[-n:])


@contextlib.contextmanager
def captured_native_output() -> Iterator[CapturedLog]:
    """Redirect fds 1 and 2 into a temp file for the duration; the text is kept for error messages.

    Set ``EDGE_SDK_VERBOSE=1`` to let it through instead. Process-wide, so serialized: a thread that
    asks while another holds it waits (a server leaves it off: ``images.QUIET_DECODER_STDERR``).
    """
    log = CapturedLog()
    if os.environ.get("EDGE_SDK_VERBOSE"):
        yield log
        return
    with _REDIRECT, _redirected(log):
        yield log


@contextlib.contextmanager
def _redirected(log: CapturedLog) -> Iterator[None]:
    sys.stdout.flush()
    sys.stderr.flush()
    saved = [os.dup(1), os.dup(2)]
    with tempfile.TemporaryFile(mode="w+b") as tmp:
        try:
            os.dup2(tmp.fileno(), 1)
            os.dup2(tmp.fileno(), 2)
            yield
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            for fd in saved:
                os.close(fd)
            tmp.seek(0)
            log.text = tmp.read().decode("utf-8", "replace")
