"""A kiosk app's side of the OCR server: post a camera frame (or any image file) and print the lines,
in both request styles the server speaks. Standard library only, as a kiosk script would be.

    edge-sdk serve --det PP-OCRv4_mobile_det &        # or: systemctl start edge-sdk-ocr
    python examples/kiosk/kiosk_client.py frame.jpg [--url http://127.0.0.1:8080] [--style paddlex|rapidocr]
"""
from __future__ import annotations

import argparse
import base64
import json
import sys
import urllib.error
import urllib.request
import uuid
from pathlib import Path


def paddlex_style(url: str, image: bytes) -> list:
    """PaddleX serving's client: JSON with the image as base64; lines in result.ocrResults[0].prunedResult."""
    body = json.dumps({"file": base64.b64encode(image).decode(), "fileType": 1, "visualize": False}).encode()
    req = urllib.request.Request(f"{url}/ocr", body, {"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=60) as resp:
        res = json.load(resp)["result"]["ocrResults"][0]["prunedResult"]
    return list(zip(res["rec_texts"], res["rec_scores"], res["rec_polys"]))


def rapidocr_style(url: str, image: bytes) -> list:
    """rapidocr_api's client: a multipart upload in image_file; lines keyed "0", "1", ..."""
    boundary = uuid.uuid4().hex
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"image_file\"; filename=\"frame.jpg\"\r\n"
            "Content-Type: application/octet-stream\r\n\r\n").encode() + image + f"\r\n--{boundary}--\r\n".encode()
    req = urllib.request.Request(f"{url}/ocr", body, {"Content-Type": f"multipart/form-data; boundary={boundary}"})
    with urllib.request.urlopen(req, timeout=60) as resp:
        res = json.load(resp)
    return [(v["rec_txt"], v["score"], v["dt_boxes"]) for v in res.values()]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("image", type=Path)
    ap.add_argument("--url", default="http://127.0.0.1:8080")
    ap.add_argument("--style", choices=["paddlex", "rapidocr"], default="paddlex")
    args = ap.parse_args()
    try:
        lines = (paddlex_style if args.style == "paddlex" else rapidocr_style)(args.url, args.image.read_bytes())
    except urllib.error.HTTPError as exc:  # the server says what was wrong in one sentence
        body = json.loads(exc.read() or b"{}")
        sys.exit(f"{exc.code}: {body.get('errorMsg') or body.get('detail')}")
    except OSError as exc:
        sys.exit(f"cannot reach the OCR server at {args.url}: {exc}")
    for text, score, box in lines:
        print(f"{score:.3f}  {text}  {box}")


if __name__ == "__main__":
    main()
