"""The kiosk server (``edge_sdk.serve``) on real uvicorn with the real models: PaddleX serving's and
rapidocr_api's requests answered as offline ``predict`` answers them, limits, overload, shutdown."""
from __future__ import annotations

import base64
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, Dict, List

import cv2
import numpy as np
import pytest

pytest.importorskip("starlette", reason="the server's web stack is installed with the serve extra (leg 1)")

from converters.check_pages import sample_page  # noqa: E402
from edge_sdk import create_pipeline  # noqa: E402
from edge_sdk.datasets import default_samples  # noqa: E402
from edge_sdk.serve import ServerConfig, create_app  # noqa: E402
from serving import b64, free_port, get, multipart, png, post, post_json, running  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def ocr():  # type: ignore[no-untyped-def]
    return create_pipeline("OCR", threads=2)


@pytest.fixture(scope="module")
def port(ocr) -> int:  # type: ignore[no-untyped-def]
    with running(create_app(ocr.rec, ocr)) as p:
        yield p


@pytest.fixture(scope="module")
def pages() -> List[np.ndarray]:
    return [sample_page(s)[0] for s in range(3)]


# ONNX Runtime and OpenVINO pick kernels by batch size: a line's score run in a batch of 6 can differ from
# its score run alone in the 7th decimal (measured: at most 1.8e-7 on the sample lines); texts, boxes and
# orientation never do. Scores in a page result are rounded to 5 decimals, so they can differ by 1e-5.
SCORE_TOL = 2e-5


def same_rapid(got: Dict[str, Any], want: Dict[str, Any]) -> bool:
    return got.keys() == want.keys() and all(
        g["rec_txt"] == w["rec_txt"] and g["dt_boxes"] == w["dt_boxes"] and abs(g["score"] - w["score"]) <= SCORE_TOL
        for g, w in ((got[k], want[k]) for k in want))


def same_line(got: Dict[str, Any], want: Any) -> bool:
    return got["rec_text"] == want.rec_text and abs(got["rec_score"] - want.rec_score) <= SCORE_TOL


def metric(port: int, name: str) -> float:
    """A sample's value from GET /metrics."""
    text = get(port, "/metrics")[1].decode()
    found = re.search(rf"^{re.escape(name)} (\S+)$", text, re.M)
    assert found, f"{name} not in /metrics"
    return float(found.group(1))


def offline(ocr, img: np.ndarray, **settings: Any) -> Dict[str, Any]:  # type: ignore[no-untyped-def]
    """What offline predict gives for ``img``, as PaddleX's prunedResult."""
    res = next(ocr.predict(img, **settings))
    return {k: v for k, v in res.json["res"].items() if k not in ("input_path", "page_index")}


# PaddleX serving ---------------------------------------------------------------------------------------
def test_health_is_paddlex_s(port: int) -> None:
    status, body = get(port, "/health")
    data = json.loads(body)
    assert status == 200 and list(data) == ["logId", "errorCode", "errorMsg"]
    assert data["errorCode"] == 0 and data["errorMsg"] == "Healthy"


def test_paddlex_ocr_request_answers_as_offline_predict(port: int, ocr, pages) -> None:  # type: ignore[no-untyped-def]
    status, _, data = post_json(port, "/ocr", {"file": b64(png(pages[0])), "fileType": 1, "logId": "kiosk-1"})
    assert status == 200 and list(data) == ["logId", "result", "errorCode", "errorMsg"]
    assert data["logId"] == "kiosk-1" and data["errorCode"] == 0 and data["errorMsg"] == "Success"
    page = data["result"]["ocrResults"][0]
    assert page["prunedResult"] == offline(ocr, pages[0])
    assert len(page["prunedResult"]["rec_texts"]) >= 5
    assert data["result"]["dataInfo"] == {"width": 900, "height": 700, "type": "image"}
    drawn = cv2.imdecode(np.frombuffer(base64.b64decode(page["ocrImage"]), np.uint8), cv2.IMREAD_COLOR)
    assert drawn.shape == (700, 1800, 3)  # PaddleX's side-by-side picture
    assert "inputImage" in page


def test_paddlex_inference_params_are_honoured(port: int, ocr, pages) -> None:  # type: ignore[no-untyped-def]
    req = {"file": b64(png(pages[1])), "fileType": 1, "visualize": False, "textDetBoxThresh": 0.8,
           "textRecScoreThresh": 0.95, "useTextlineOrientation": False, "textDetLimitSideLen": 736,
           "textDetLimitType": "max", "useDocUnwarping": False}
    status, _, data = post_json(port, "/ocr", req)
    page = data["result"]["ocrResults"][0]
    assert status == 200 and set(page) == {"prunedResult"}
    want = offline(ocr, pages[1], box_thresh=0.8, text_rec_score_thresh=0.95, use_textline_orientation=False,
                   limit_side_len=736, limit_type="max")
    assert page["prunedResult"] == want
    assert want["text_det_params"]["box_thresh"] == 0.8 and want["text_det_params"]["limit_type"] == "max"
    assert want != offline(ocr, pages[1])


@pytest.mark.parametrize("payload, status, message", [
    ({}, 422, "body.file"),
    ({"file": 5}, 422, "string_type"),
    ({"file": "aGk=", "fileType": 0}, 422, "PDF input is not offered"),
    ({"file": "https://example.com/a.png"}, 422, "does not fetch URLs"),
    ({"file": "not base64!"}, 422, "not base64"),
    ({"file": b64(b"\x89PNG\r\n\x1a\n broken")}, 422, "Invalid input file"),
    ({"file": b64(b"")}, 422, "empty"),
    ({"file": "aGk=", "textDetBoxThresh": "high"}, 422, "valid float"),
    ({"file": b64(png(np.full((50, 50, 3), 200, np.uint8))), "textDetBoxThresh": 7}, 422, "box_thresh must be a number"),
    ({"file": "aGk=", "useDocOrientationClassify": True}, 422, "not offered"),
])
def test_paddlex_bad_requests_get_one_sentence_in_the_envelope(port: int, payload, status: int, message: str) -> None:  # type: ignore[no-untyped-def]
    got, _, data = post_json(port, "/ocr", {**payload, "logId": "bad-1"})
    assert got == status and data["errorCode"] == status and message in data["errorMsg"], data
    assert data["logId"] == "bad-1" and "result" not in data
    assert "Traceback" not in data["errorMsg"]


def test_unknown_paths_and_content_types_answer_in_the_envelope(port: int) -> None:
    status, body = get(port, "/nowhere")
    assert status == 404 and json.loads(body)["errorMsg"] == "Not Found"
    status, _, body = post(port, "/ocr", b"<xml/>", "text/xml")
    assert status == 415 and "application/json" in json.loads(body)["errorMsg"]
    status, _, body = post(port, "/ocr", b"{not json", "application/json")
    assert status == 422 and "json_invalid" in json.loads(body)["errorMsg"]


def test_paddlex_style_recognition_endpoint_answers_as_predict(port: int, ocr) -> None:  # type: ignore[no-untyped-def]
    for s in default_samples()[:4]:
        status, _, data = post_json(port, "/text-recognition", {"file": b64(s.path.read_bytes())})
        want = next(ocr.rec.predict(str(s.path)))
        assert status == 200 and data["result"]["recResults"][0]["prunedResult"] == {
            "rec_text": want.rec_text, "rec_score": want.rec_score}


# rapidocr_api -----------------------------------------------------------------------------------------
def rapid_expected(ocr, img: np.ndarray) -> Dict[str, Any]:  # type: ignore[no-untyped-def]
    res = offline(ocr, img)
    return {str(i): {"rec_txt": t, "dt_boxes": [[float(x), float(y)] for x, y in p], "score": s}
            for i, (t, p, s) in enumerate(zip(res["rec_texts"], res["rec_polys"], res["rec_scores"]))}


def test_rapidocr_upload_and_base64_forms_answer_as_offline_predict(port: int, ocr, pages) -> None:  # type: ignore[no-untyped-def]
    body, kind = multipart({"image_file": png(pages[2])})
    status, _, got = post(port, "/ocr", body, kind)
    want = rapid_expected(ocr, pages[2])
    assert status == 200 and json.loads(got) == want and len(want) >= 5
    from urllib.parse import urlencode

    status, _, got = post(port, "/ocr", urlencode({"image_data": b64(png(pages[2]))}).encode(),
                          "application/x-www-form-urlencoded")
    assert status == 200 and json.loads(got) == want
    body, kind = multipart({"image_file": png(np.full((80, 300, 3), 240, np.uint8))})
    assert json.loads(post(port, "/ocr", body, kind)[2]) == {}


def test_rapidocr_use_det_false_recognizes_the_whole_image_as_a_line(port: int, ocr) -> None:  # type: ignore[no-untyped-def]
    s = default_samples()[0]
    body, kind = multipart({"image_file": s.path.read_bytes(), "use_det": "false", "use_cls": "true", "use_rec": "true"})
    status, _, got = post(port, "/ocr", body, kind)
    want = next(ocr.rec.predict(str(s.path)))
    h, w = cv2.imread(str(s.path)).shape[:2]
    assert status == 200 and json.loads(got) == {"0": {"rec_txt": want.rec_text, "score": round(want.rec_score, 5),
                                                       "dt_boxes": [[0.0, 0.0], [w, 0.0], [w, h], [0.0, h]]}}


@pytest.mark.parametrize("fields, status, message", [
    ({"nothing": "here"}, 400, "image_file"),
    ({"image_data": "###"}, 400, "not base64"),
    ({"image_file": b"not an image"}, 400, "not a readable image"),
    ({"image_file": b"x", "use_det": "maybe"}, 422, "use_det must be true or false"),
    ({"image_file": b"x", "use_rec": "false"}, 400, "use_rec=false"),
])
def test_rapidocr_bad_forms_get_a_detail(port: int, fields, status: int, message: str) -> None:  # type: ignore[no-untyped-def]
    body, kind = multipart(fields)
    got, _, data = post(port, "/ocr", body, kind)
    assert got == status and message in json.loads(data)["detail"]


# limits, concurrency, overload -------------------------------------------------------------------------
def test_concurrent_clients_get_the_answers_one_client_gets(port: int, ocr, pages) -> None:  # type: ignore[no-untyped-def]
    """16 clients at once, lines and pages mixed: micro-batched together, every answer as offline."""
    lines = [(s.path.read_bytes(), next(ocr.rec.predict(str(s.path)))) for s in default_samples()]
    want_pages = [rapid_expected(ocr, p) for p in pages]
    errors: List[str] = []

    def client(i: int) -> None:
        for k in range(6):
            if (i + k) % 3:
                data, want = lines[(i + k) % len(lines)]
                status, _, got = post_json(port, "/text-recognition", {"file": b64(data)})
                ok = status == 200 and same_line(got["result"]["recResults"][0]["prunedResult"], want)
            else:
                body, kind = multipart({"image_file": png(pages[(i + k) % 3])})
                status, _, got = post(port, "/ocr", body, kind)
                ok = status == 200 and same_rapid(json.loads(got), want_pages[(i + k) % 3])
            if not ok:
                errors.append(f"client {i} request {k}: {status}")

    threads = [threading.Thread(target=client, args=(i,)) for i in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    metrics = get(port, "/metrics")[1].decode()
    count, total = metric(port, "edge_sdk_batch_requests_count"), metric(port, "edge_sdk_batch_requests_sum")
    assert total > count, "no two requests were ever batched together under 16 concurrent clients"
    assert 'edge_sdk_requests_total{client="rapidocr",endpoint="/ocr",status="200"}' in metrics
    assert metric(port, "edge_sdk_requests_inside") == 0


def test_overload_answers_503_with_retry_after_and_recovers(ocr, pages) -> None:  # type: ignore[no-untyped-def]
    """64 clients against a queue of 4: refusals with Retry-After, no wrong answer, then normal service."""
    want = rapid_expected(ocr, pages[0])
    body, kind = multipart({"image_file": png(pages[0])})
    codes: List[int] = []
    wrong: List[int] = []
    with running(create_app(ocr.rec, ocr, ServerConfig(queue_size=4))) as p:
        def client() -> None:
            for _ in range(2):
                status, headers, got = post(p, "/ocr", body, kind)
                codes.append(status)
                if status == 503:
                    assert headers.get("retry-after") == "1" and "busy" in json.loads(got)["detail"]
                elif status != 200 or not same_rapid(json.loads(got), want):
                    wrong.append(status)

        threads = [threading.Thread(target=client) for _ in range(64)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert wrong == [] and codes.count(503) > 0 and codes.count(200) >= 4, sorted(set(codes))
        status, _, got = post(p, "/ocr", body, kind)
        assert status == 200 and json.loads(got) == want
        assert metric(p, "edge_sdk_requests_inside") == 0


def test_size_pixel_and_time_limits(ocr, pages) -> None:  # type: ignore[no-untyped-def]
    cfg = ServerConfig(max_body_bytes=200_000, max_pixels=500_000)
    with running(create_app(ocr.rec, ocr, cfg)) as p:
        big = b64(b"\0" * 300_000)
        status, _, data = post_json(p, "/ocr", {"file": big})
        assert status == 413 and "limit" in data["errorMsg"]
        body, kind = multipart({"image_file": b"\0" * 300_000})
        status, _, data = post(p, "/ocr", body, kind)
        assert status == 413 and "limit" in json.loads(data)["detail"]
        huge = cv2.imencode(".png", np.zeros((1000, 1000, 3), np.uint8))[1].tobytes()  # 1 MP, small file
        status, _, data = post_json(p, "/ocr", {"file": b64(huge)})
        assert status == 422 and "MP limit" in data["errorMsg"]
    with running(create_app(ocr.rec, ocr, ServerConfig(timeout_s=0.001))) as p:
        status, _, data = post_json(p, "/ocr", {"file": b64(png(pages[0])), "visualize": False})
        assert status == 504 and "no answer within" in data["errorMsg"]
        time.sleep(1.0)  # the abandoned job ends (or is skipped) and gives its slot back
        assert metric(p, "edge_sdk_requests_inside") == 0


def test_recognition_only_server_says_where_lines_go(ocr) -> None:  # type: ignore[no-untyped-def]
    with running(create_app(ocr.rec)) as p:
        status, _, data = post_json(p, "/ocr", {"file": b64(default_samples()[0].path.read_bytes())})
        assert status == 422 and "/text-recognition" in data["errorMsg"]
        info = json.loads(get(p, "/models")[1])
        assert info["det"] is None and info["rec"]["model"] == "PP-OCRv4_mobile_rec" and "path" not in info["rec"]


# the command ---------------------------------------------------------------------------------------------
def test_cli_serves_finishes_in_flight_requests_on_sigterm_and_logs_json(pages) -> None:  # type: ignore[no-untyped-def]
    port = free_port()
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "edge_sdk.cli", "serve", "--det", "PP-OCRv4_mobile_det",
                             "--port", str(port), "--threads", "1"],
                            stderr=subprocess.PIPE, stdout=subprocess.PIPE, env=env, text=True)
    answers: List[Any] = []
    try:
        deadline = time.time() + 120
        while True:
            try:
                if get(port, "/health")[0] == 200:
                    break
            except OSError:
                if proc.poll() is not None or time.time() > deadline:
                    raise AssertionError(proc.stderr.read())
                time.sleep(0.2)
        body = json.dumps({"file": b64(png(pages[0])), "visualize": False}).encode()

        def client() -> None:
            try:
                answers.append(post(port, "/ocr", body, "application/json"))
            except OSError as exc:  # came after the server stopped listening: refused, not dropped
                answers.append((0, {}, str(exc).encode()))

        threads = [threading.Thread(target=client) for _ in range(8)]
        for t in threads:
            t.start()
        inside = 0
        while inside < 2 and time.time() < deadline:
            inside = int(metric(port, "edge_sdk_requests_inside"))
        proc.send_signal(signal.SIGTERM)
        for t in threads:
            t.join()
        assert proc.wait(60) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
    err = proc.stderr.read()
    served = [json.loads(a[2]) for a in answers if a[0] == 200]
    assert inside >= 2 and len(served) >= inside, (inside, [a[0] for a in answers])
    assert all(a[0] in (0, 200) for a in answers), [a[0] for a in answers]  # finished or refused, never cut
    assert all(s["result"]["ocrResults"][0]["prunedResult"]["rec_texts"] for s in served)
    logged = [json.loads(x) for x in err.splitlines() if x.startswith("{")]
    ocr_logged = [x for x in logged if x["path"] == "/ocr"]
    assert len(ocr_logged) == len(served) and all(x["status"] == 200 and x["client"] == "paddlex" for x in ocr_logged)
    assert all(x["log_id"] and x["ms"] > 0 and x["lines"] >= 5 for x in ocr_logged)


def test_cli_refuses_a_detector_as_recognizer_in_one_sentence() -> None:
    out = subprocess.run([sys.executable, "-m", "edge_sdk.cli", "serve", "--rec", "PP-OCRv4_mobile_det"],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode != 0 and "Traceback" not in out.stderr
    assert "not a recognition model" in out.stderr or "text detection model" in out.stderr, out.stderr


def test_kiosk_example_client_reads_a_page_in_both_styles(port: int, ocr, pages, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    frame = tmp_path / "frame.png"
    cv2.imwrite(str(frame), pages[0])
    want = offline(ocr, pages[0])["rec_texts"]
    for style in ("paddlex", "rapidocr"):
        out = subprocess.run([sys.executable, str(ROOT / "examples" / "kiosk" / "kiosk_client.py"), str(frame),
                              "--url", f"http://127.0.0.1:{port}", "--style", style],
                             capture_output=True, text=True, timeout=120)
        assert out.returncode == 0, out.stderr
        assert [ln.split("  ")[1] for ln in out.stdout.splitlines()] == want
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"nope")
    out = subprocess.run([sys.executable, str(ROOT / "examples" / "kiosk" / "kiosk_client.py"), str(bad),
                          "--url", f"http://127.0.0.1:{port}"], capture_output=True, text=True, timeout=120)
    assert out.returncode != 0 and out.stderr.startswith("422: Invalid input file") and "Traceback" not in out.stderr
