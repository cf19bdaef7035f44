"""The kiosk server (``edge-sdk serve``): PaddleX serving's and rapidocr_api's requests on one local port.

    >>> from edge_sdk.serve import create_app, ServerConfig
    >>> app = create_app(create_model("PP-OCRv4_mobile_rec"))           # any ASGI server runs it
    >>> run(rec, pipeline, host="127.0.0.1", port=8080)                 # uvicorn, as the CLI does

Layout: ``app`` (routes, limits, admission, answers), ``scheduler`` (the bounded queue and the one
inference thread that micro-batches requests), ``paddlex_api`` and ``rapidocr_api`` (the two wire
formats), ``metrics`` (Prometheus and the access log), ``page/`` (the try-it web page).
"""
from __future__ import annotations

import contextlib
import logging
import signal
import threading
from typing import Any, Iterator, Optional

import uvicorn

from .app import ServerConfig, create_app

__all__ = ["ServerConfig", "create_app", "run"]


def run(rec: Any, pipeline: Any = None, host: str = "127.0.0.1", port: int = 8080,
        config: Optional[ServerConfig] = None, access_log: bool = True) -> None:
    """Serve until SIGINT/SIGTERM; then stop taking connections, answer every request inside, and return."""
    config = config or ServerConfig()
    if access_log:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(message)s"))
        access = logging.getLogger("edge_sdk.serve.access")
        access.addHandler(handler)
        access.setLevel(logging.INFO)
        access.propagate = False
    uv = uvicorn.Config(create_app(rec, pipeline, config), host=host, port=port, access_log=False,
                        log_level="info", timeout_graceful_shutdown=int(config.timeout_s) + 5,
                        limit_concurrency=8 * config.queue_size + 64)  # connections; requests are bounded by the queue
    _GracefulServer(uv).run()


class _GracefulServer(uvicorn.Server):
    """uvicorn's server, except that a SIGTERM/SIGINT that ended in a clean shutdown (every request inside
    answered) exits 0: uvicorn re-raises the signal afterwards, so the process would die of it."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        old = {sig: signal.signal(sig, self.handle_exit) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield
        finally:
            for sig, handler in old.items():
                signal.signal(sig, handler)
