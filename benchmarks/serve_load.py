"""Load test: `edge-sdk serve` against rapidocr_api on 127.0.0.1, same requests, same run.

Each server runs in its own process (ours from this checkout; rapidocr_api 0.2.0 with rapidocr 2.1 and
onnxruntime in its own venv, ``.venv-rapidocr-api``, made here on first use: its opencv-python would fight
our headless OpenCV). N client threads with keep-alive connections post a bounded number of requests;
reported per case: requests/s, p50/p99 latency, errors, wrong answers (ours, against offline ``predict``
in this process, one input at a time: a text or box that differs, or a score more than 2e-5 off), how
many scores are bit-equal to offline and the largest difference (batched kernels differ in the 7th
decimal), and the server's RSS before, at the end and at its peak.

Cases:
- ``lines``: IC15 val cropped lines. Ours: PaddleX-style ``POST /text-recognition`` (recognition only),
  and rapidocr_api's own form on ``/ocr`` (det + cls + rec on each crop, the same work rapidocr_api does:
  it has no recognition-only mode, ``use_det=false`` fails in 0.2.0).
- ``scenes``: rendered whole-image scenes (``converters.synthetic_scenes``), rapidocr_api's form on both.
- ``soak``: 10,000 line requests at 4 clients, RSS every 1,000.
- ``overload``: 64 clients against a queue of 16: 503s with Retry-After, no wrong answer, then recovery.

    python benchmarks/serve_load.py [--cases lines,scenes,soak,overload] [--requests 400] [--clients 1,4,16]
"""
from __future__ import annotations

import argparse
import base64
import http.client
import json
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from edge_sdk.datasets import load_samples, shared_datasets_dir  # noqa: E402

RAPID_VENV = ROOT / ".venv-rapidocr-api"
RAPID_PINS = ["rapidocr_api==0.2.0", "rapidocr==2.1.0", "onnxruntime==1.32.0"]  # rapidocr_api 0.2 targets rapidocr<3
SCORE_TOL = 2e-5  # batched vs alone: ONNX Runtime/OpenVINO kernels differ in the 7th decimal; pages round to 5


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_mb(pid: int) -> float:
    """Resident memory of a process and its children (uvicorn workers), MB."""
    total = 0.0
    pids = [pid]
    try:
        pids += [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        pass
    for p in pids:
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) / 1024
        except OSError:
            pass
    return total


class Served:
    """A server process on a free port, stopped with SIGTERM."""

    def __init__(self, name: str, cmd: List[str], port: int, ready_path: str, env: Optional[Dict[str, str]] = None):
        self.name, self.port = name, port
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                                     env={**os.environ, **(env or {})}, cwd=str(ROOT))
        deadline = time.time() + 300
        while True:
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
                conn.request("GET", ready_path)
                conn.getresponse().read()
                break
            except OSError:
                if self.proc.poll() is not None or time.time() > deadline:
                    raise SystemExit(f"{name} did not start: {self.proc.stderr.read()[-2000:]}")
                time.sleep(0.3)

    def rss(self) -> float:
        return rss_mb(self.proc.pid)

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(60)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def ours(port: int, det: bool, queue: int = 16) -> Served:
    cmd = [sys.executable, "-m", "edge_sdk.cli", "serve", "--port", str(port), "--no-access-log",
           "--queue", str(queue), "--no-visualize"] + (["--det", "PP-OCRv4_mobile_det"] if det else [])
    return Served("edge-sdk serve", cmd, port, "/health")


def rapidocr_api(port: int) -> Served:
    py = RAPID_VENV / "bin" / "python"
    if not py.exists():
        print(f"setting up rapidocr_api in {RAPID_VENV.name} ({', '.join(RAPID_PINS)})", file=sys.stderr)
        subprocess.run([sys.executable, "-m", "venv", str(RAPID_VENV)], check=True)
        subprocess.run([str(py), "-m", "pip", "install", "-q", *RAPID_PINS], check=True)
    return Served("rapidocr_api", [str(RAPID_VENV / "bin" / "rapidocr_api"), "-ip", "127.0.0.1", "-p", str(port),
                                   "-workers", "1"], port, "/")


# requests --------------------------------------------------------------------------------------------
Request = Tuple[str, bytes, str]  # path, body, content type


def paddlex_rec(image: bytes) -> Request:
    return "/text-recognition", json.dumps({"file": base64.b64encode(image).decode()}).encode(), "application/json"


def rapid_form(image: bytes) -> Request:
    return "/ocr", urlencode({"image_data": base64.b64encode(image).decode()}).encode(), "application/x-www-form-urlencoded"


def load(port: int, requests: Sequence[Request], clients: int, total: int,
         check: Optional[Callable[[int, Any], bool]] = None, rss: Optional[Callable[[], float]] = None,
         every: int = 0, warmup: int = 20) -> Dict[str, Any]:
    """``total`` requests (cycling through ``requests``) from ``clients`` threads; latencies and outcomes."""
    lock = threading.Lock()
    state = {"next": 0}
    lat: List[float] = []
    statuses: Dict[int, int] = {}
    wrong: List[int] = []
    rss_marks: List[Tuple[int, float]] = []
    peak = {"mb": rss() if rss else 0.0}

    def take() -> Optional[int]:
        with lock:
            i = state["next"]
            if i >= total:
                return None
            state["next"] = i + 1
            if rss and every and i % every == 0:
                rss_marks.append((i, rss()))
            return i

    def client() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        while True:
            i = take()
            if i is None:
                break
            path, body, kind = requests[i % len(requests)]
            t0 = time.perf_counter()
            try:
                conn.request("POST", path, body, {"Content-Type": kind})
                resp = conn.getresponse()
                data = resp.read()
                status = resp.status
                if resp.getheader("connection", "").lower() == "close":
                    conn.close()
                    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
            except (OSError, http.client.HTTPException):
                status, data = 0, b""
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
            dt = time.perf_counter() - t0
            with lock:
                statuses[status] = statuses.get(status, 0) + 1
                if status == 200:
                    lat.append(dt)
            if status == 200 and check is not None and not check(i % len(requests), json.loads(data)):
                with lock:
                    wrong.append(i)
        conn.close()

    stop = threading.Event()
    if warmup:  # first requests pay for lazy allocations and shape plans; not timed
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        for path, body, kind in list(requests)[:warmup]:
            conn.request("POST", path, body, {"Content-Type": kind})
            conn.getresponse().read()
        conn.close()

    def sample() -> None:
        while not stop.wait(0.25):
            peak["mb"] = max(peak["mb"], rss())

    sampler = threading.Thread(target=sample, daemon=True) if rss else None
    if sampler:
        sampler.start()
    before = rss() if rss else 0.0
    t0 = time.perf_counter()
    threads = [threading.Thread(target=client) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - t0
    stop.set()
    after = rss() if rss else 0.0
    lat.sort()

    def pct(q: float) -> float:
        return lat[min(len(lat) - 1, int(q * len(lat)))] * 1000 if lat else float("nan")

    return {"ok": statuses.get(200, 0), "statuses": statuses, "errors": total - statuses.get(200, 0),
            "wrong": len(wrong), "rps": statuses.get(200, 0) / elapsed, "p50": pct(0.5), "p99": pct(0.99),
            "rss_before": before, "rss_after": after, "rss_peak": max(peak["mb"], after), "rss_marks": rss_marks,
            "seconds": elapsed}


def row(server: str, what: str, clients: int, r: Dict[str, Any], check: Optional[Checker] = None) -> str:
    return (f"{server:<14} {what:<30} {clients:>3}  {r['rps']:8.1f}  {r['p50']:7.1f}  {r['p99']:7.1f}  "
            f"{r['errors']:>6}  {r['wrong']:>5}  {check.summary() if check else '-':>14}  "
            f"{r['rss_before']:6.0f} {r['rss_after']:6.0f} {r['rss_peak']:6.0f}")


HEADER = (f"{'server':<14} {'requests':<30} {'cl':>3}  {'req/s':>8}  {'p50 ms':>7}  {'p99 ms':>7}  {'errors':>6}  "
          f"{'wrong':>5}  {'scores =/max d':>14}  {'RSS MB before/after/peak':>20}")


# expected answers ------------------------------------------------------------------------------------
class Checker:
    """Compares each answer with offline ``predict`` (run here, one input at a time): texts and boxes must
    be equal, scores within ``SCORE_TOL``; counts how many scores are bit-equal and the largest difference."""

    def __init__(self, want: List[List[Tuple[str, Any, float]]], lines_of: Callable[[Any], List[Tuple[str, Any, float]]]):
        self.want, self.lines_of = want, lines_of
        self.lock = threading.Lock()
        self.scores = self.equal = 0
        self.max_diff = 0.0

    def __call__(self, i: int, got: Any) -> bool:
        lines = self.lines_of(got)
        if len(lines) != len(self.want[i]) or any(g[:2] != w[:2] for g, w in zip(lines, self.want[i])):
            return False
        diffs = [abs(g[2] - w[2]) for g, w in zip(lines, self.want[i])]
        with self.lock:
            self.scores += len(diffs)
            self.equal += sum(d == 0 for d in diffs)
            self.max_diff = max([self.max_diff, *diffs])
        return all(d <= SCORE_TOL for d in diffs)

    def summary(self) -> str:
        """Since the last summary: scores bit-equal to offline, and the largest difference."""
        out = f"{self.equal}/{self.scores} ={self.max_diff:.0e}" if self.scores else "-"
        self.scores = self.equal = 0
        self.max_diff = 0.0
        return out


def line_checker(images: List[bytes]) -> Checker:
    from edge_sdk import create_model
    from edge_sdk.images import decode_image

    rec = create_model("PP-OCRv4_mobile_rec")
    want = []
    for b in images:
        text, score = rec.recognize([decode_image(b)])[0]
        want.append([(text, None, score)])

    def lines_of(got: Any) -> List[Tuple[str, Any, float]]:
        p = got["result"]["recResults"][0]["prunedResult"]
        return [(p["rec_text"], None, p["rec_score"])]

    return Checker(want, lines_of)


def page_checker(images: List[bytes]) -> Checker:
    from edge_sdk import create_pipeline
    from edge_sdk.images import decode_image

    pipe = create_pipeline("OCR")
    want = []
    for b in images:
        res = pipe.ocr(decode_image(b))
        want.append([(t, [[float(x), float(y)] for x, y in p], s)
                     for t, p, s in zip(res["rec_texts"], res["rec_polys"], res["rec_scores"])])

    def lines_of(got: Any) -> List[Tuple[str, Any, float]]:
        return [(got[str(k)]["rec_txt"], got[str(k)]["dt_boxes"], got[str(k)]["score"]) for k in range(len(got))]

    return Checker(want, lines_of)


# cases -----------------------------------------------------------------------------------------------
def ic15_lines(limit: int) -> List[bytes]:
    root = Path(os.environ.get("EDGE_SDK_IC15", "")) if os.environ.get("EDGE_SDK_IC15") else None
    if root is None:
        shared = shared_datasets_dir()
        if shared is None:
            raise SystemExit("the lines case needs IC15 val: put ../shared beside the checkout or set EDGE_SDK_IC15")
        root = shared / "ocr_rec_dataset_examples"
    return [s.path.read_bytes() for s in load_samples(root / "val.txt", limit)]


def scene_images(count: int) -> List[bytes]:
    import tempfile

    from converters.synthetic_scenes import write_scenes

    with tempfile.TemporaryDirectory() as tmp:
        label = write_scenes(Path(tmp), count, seed=7)
        return [p.read_bytes() for p in sorted((label.parent / "images").glob("*.jpg"))]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cases", default="lines,scenes,soak,overload")
    ap.add_argument("--clients", default="1,4,16")
    ap.add_argument("--requests", type=int, default=400, help="line requests per case (scenes: a quarter)")
    ap.add_argument("--reference-requests", type=int, default=100,
                    help="requests per case for rapidocr_api (it is slower; its rate is still a rate)")
    ap.add_argument("--soak", type=int, default=10_000)
    args = ap.parse_args()
    cases = args.cases.split(",")
    clients = [int(c) for c in args.clients.split(",")]
    print(f"load on 127.0.0.1, {os.cpu_count()} cores; client threads in this process; one server at a time")
    if "lines" in cases:
        lines = ic15_lines(500)
        check = line_checker(lines)
        print(f"\nIC15 val lines ({len(lines)} distinct crops), {args.requests} requests per case "
              f"({args.reference_requests} for rapidocr_api)")
        print(HEADER)
        results: Dict[Tuple[str, int], Dict[str, Any]] = {}
        srv = ours(free_port(), det=True)
        for c in clients:
            r = load(srv.port, [paddlex_rec(b) for b in lines], c, args.requests, check, srv.rss)
            results[("rec", c)] = r
            print(row("edge-sdk", "POST /text-recognition", c, r, check), flush=True)
        page_check = page_checker(lines)
        for c in clients:
            r = load(srv.port, [rapid_form(b) for b in lines], c, args.requests, page_check, srv.rss)
            results[("ocr", c)] = r
            print(row("edge-sdk", "POST /ocr form (det+cls+rec)", c, r, page_check), flush=True)
        srv.stop()
        rapid = rapidocr_api(free_port())
        for c in clients:
            r = load(rapid.port, [rapid_form(b) for b in lines], c, args.reference_requests, None, rapid.rss)
            results[("rapid", c)] = r
            print(row("rapidocr_api", "POST /ocr form (det+cls+rec)", c, r), flush=True)
        rapid.stop()
        for c in clients:
            base = results[("rapid", c)]["rps"]
            print(f"  {c:>2} clients: req/s vs rapidocr_api: recognition-only {results[('rec', c)]['rps'] / base:.2f}x, "
                  f"same det+cls+rec work {results[('ocr', c)]['rps'] / base:.2f}x")
    if "scenes" in cases:
        scenes = scene_images(24)
        check = page_checker(scenes)
        n = max(len(scenes), args.requests // 4)
        print(f"\nrendered scenes ({len(scenes)} images), {n} requests per case")
        print(HEADER)
        results = {}
        srv = ours(free_port(), det=True)
        for c in clients:
            r = load(srv.port, [rapid_form(b) for b in scenes], c, n, check, srv.rss)
            results[("ocr", c)] = r
            print(row("edge-sdk", "POST /ocr form", c, r, check), flush=True)
        srv.stop()
        rapid = rapidocr_api(free_port())
        for c in clients:
            r = load(rapid.port, [rapid_form(b) for b in scenes], c, min(n, args.reference_requests), None, rapid.rss)
            results[("rapid", c)] = r
            print(row("rapidocr_api", "POST /ocr form", c, r), flush=True)
        rapid.stop()
        for c in clients:
            print(f"  {c:>2} clients: req/s vs rapidocr_api {results[('ocr', c)]['rps'] / results[('rapid', c)]['rps']:.2f}x")
    if "soak" in cases:
        lines = ic15_lines(500)
        check = line_checker(lines)
        srv = ours(free_port(), det=False)
        r = load(srv.port, [paddlex_rec(b) for b in lines], 4, args.soak, check, srv.rss, every=1000)
        srv.stop()
        print(f"\nsoak: {args.soak} line requests at 4 clients: {r['rps']:.1f} req/s, errors {r['errors']}, "
              f"wrong {r['wrong']}, scores bit-equal/max diff {check.summary()}, p99 {r['p99']:.1f} ms")
        print("  RSS MB by request: " + ", ".join(f"{i}: {mb:.0f}" for i, mb in r["rss_marks"])
              + f", end: {r['rss_after']:.0f}")
    if "overload" in cases:
        scenes = scene_images(8)
        check = page_checker(scenes)
        srv = ours(free_port(), det=True, queue=16)
        r = load(srv.port, [rapid_form(b) for b in scenes], 64, 640, check, srv.rss)
        after = load(srv.port, [rapid_form(b) for b in scenes], 1, 16, check, srv.rss, warmup=0)
        alive = srv.proc.poll() is None
        srv.stop()
        print(f"\noverload: 64 clients, queue 16, 640 scene requests: statuses {dict(sorted(r['statuses'].items()))}, "
              f"wrong answers {r['wrong']}, server alive {alive}; then 1 client, 16 requests: "
              f"statuses {after['statuses']}, wrong {after['wrong']}")


if __name__ == "__main__":
    main()
