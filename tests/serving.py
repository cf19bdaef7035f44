"""Test helper: the kiosk server's app on a real uvicorn, in a thread of the test process, on a free port."""
from __future__ import annotations

import contextlib
import http.client
import json
import socket
import threading
import time
from typing import Any, Dict, Iterator, Tuple


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def running(app: Any) -> Iterator[int]:
    """Serve ``app`` on 127.0.0.1 until the block ends; yields the port."""
    import uvicorn

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                                           access_log=False, lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.time() + 30
    while not server.started:
        if time.time() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    try:
        yield port
    finally:
        server.should_exit = True
        thread.join(30)


def post(port: int, path: str, body: bytes, content_type: str, timeout: float = 60) -> Tuple[int, Dict[str, str], bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("POST", path, body, {"Content-Type": content_type})
        resp = conn.getresponse()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
    finally:
        conn.close()


def post_json(port: int, path: str, payload: Any, timeout: float = 60) -> Tuple[int, Dict[str, str], Any]:
    status, headers, body = post(port, path, json.dumps(payload).encode(), "application/json", timeout)
    return status, headers, json.loads(body)


def multipart(fields: Dict[str, Any]) -> Tuple[bytes, str]:
    """A multipart/form-data body as requests builds it: bytes values are file parts."""
    boundary = "edge-sdk-test-boundary"
    out = b""
    for name, value in fields.items():
        if isinstance(value, bytes):
            out += (f"--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"; filename=\"img.png\"\r\n"
                    "Content-Type: image/png\r\n\r\n").encode() + value + b"\r\n"
        else:
            out += f"--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n".encode()
    return out + f"--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


def get(port: int, path: str) -> Tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("GET", path)
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def b64(data: bytes) -> str:
    import base64

    return base64.b64encode(data).decode()


def png(img: Any) -> bytes:
    import cv2

    ok, buf = cv2.imencode(".png", img)
    return buf.tobytes()


__all__ = ["running", "post", "post_json", "multipart", "get", "b64", "png", "free_port"]
