"""The server's Prometheus metrics (``GET /metrics``) and its structured access log, kept per app."""
from __future__ import annotations

import json
import logging
import time
from typing import Any, Callable, Dict

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

access_log = logging.getLogger("edge_sdk.serve.access")

ENDPOINTS = ("/ocr", "/text-recognition", "/health", "/metrics", "/models", "/")
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class Metrics:
    def __init__(self, inside: Callable[[], int], waiting: Callable[[], int]) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter("edge_sdk_requests", "HTTP requests answered", ["endpoint", "client", "status"],
                                registry=r)
        self.latency = Histogram("edge_sdk_request_seconds", "Time from request to answer",
                                 ["endpoint"], buckets=LATENCY_BUCKETS, registry=r)
        self.errors = Counter("edge_sdk_errors", "Requests answered with an error, by reason", ["reason"], registry=r)
        self.batch_requests = Histogram("edge_sdk_batch_requests", "Requests run together in one inference batch",
                                        buckets=(1, 2, 4, 8, 16, 32, 64), registry=r)
        self.batch_lines = Histogram("edge_sdk_batch_items", "Line crops or pages in one inference batch",
                                     buckets=(1, 2, 4, 8, 16, 32, 64, 128), registry=r)
        self.batch_seconds = Histogram("edge_sdk_batch_seconds", "Inference time of one batch",
                                       buckets=LATENCY_BUCKETS, registry=r)
        g = Gauge("edge_sdk_requests_inside", "Requests admitted and not yet answered (the bounded queue)",
                  registry=r)
        g.set_function(inside)
        w = Gauge("edge_sdk_jobs_waiting", "Jobs waiting for the inference thread", registry=r)
        w.set_function(waiting)

    def batch(self, requests: int, items: int, seconds: float) -> None:
        self.batch_requests.observe(requests)
        self.batch_lines.observe(items)
        self.batch_seconds.observe(seconds)

    def render(self) -> bytes:
        return generate_latest(self.registry)


class AccessLog:
    """Pure ASGI middleware: one JSON line per request (``edge_sdk.serve.access``) and the request metrics.
    A handler adds fields (client format, log id, lines, error reason) to ``scope["state"]["access"]``."""

    def __init__(self, app: Any, metrics: Metrics) -> None:
        self.app, self.metrics = app, metrics

    async def __call__(self, scope: Dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        t0 = time.perf_counter()
        status = {"code": 500}
        scope.setdefault("state", {})["access"] = extra = {}

        async def send_status(message: Dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            seconds = time.perf_counter() - t0
            path = scope.get("path", "")
            endpoint = path if path in ENDPOINTS else "other"
            client = extra.get("client", "-")
            self.metrics.requests.labels(endpoint, client, str(status["code"])).inc()
            self.metrics.latency.labels(endpoint).observe(seconds)
            if status["code"] >= 400:
                self.metrics.errors.labels(extra.get("reason", str(status["code"]))).inc()
            if endpoint != "/metrics":
                peer = scope.get("client") or ("-", 0)
                access_log.info(json.dumps({
                    "ts": round(time.time(), 3), "peer": peer[0], "method": scope.get("method"), "path": path,
                    "status": status["code"], "ms": round(seconds * 1000, 2), **extra}, ensure_ascii=False))
