"""Recognize text lines on a Raspberry Pi: every image in a folder, or a frame from a camera.

    python recognize.py rec-onnx ./lines                 # each image in ./lines is one text line
    python recognize.py rec-onnx --camera 0 --roi 0,200,640,80   # a strip of camera 0's frame

MODEL is an artifact converted on a laptop (`edge-sdk convert PP-OCRv4_mobile_rec --target onnx -o rec-onnx`)
and copied over; the Pi needs only the edge-sdk wheel with its `[onnx,openvino]` extras (README, "On a Raspberry Pi"). The backend is chosen
for the board (`edge-sdk devices rec-onnx` says which and why). Prints text, score and latency per line.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from edge_sdk import create_model
from edge_sdk.errors import EdgeSDKError


def grab_frame(index: int, roi: str):  # type: ignore[no-untyped-def]
    import cv2

    cap = cv2.VideoCapture(index)
    try:
        ok, frame = cap.read()
    finally:
        cap.release()
    if not ok or frame is None:
        raise EdgeSDKError(f"no frame from camera {index} (is one connected, and is /dev/video{index} readable?).")
    if roi:
        x, y, w, h = (int(v) for v in roi.split(","))
        frame = frame[y:y + h, x:x + w]
    return frame


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("model", help="artifact dir (rec-onnx, rec-ov, rec-lite-arm) or a zoo name")
    ap.add_argument("folder", nargs="?", help="folder of text-line images")
    ap.add_argument("--camera", type=int, help="grab one frame from this OpenCV camera index instead")
    ap.add_argument("--roi", default="", help="x,y,w,h of the text line in the camera frame")
    ap.add_argument("--threads", type=int, default=0, help="CPU threads (0 = all cores)")
    args = ap.parse_args()
    try:
        t0 = time.perf_counter()
        model = create_model(args.model, threads=args.threads)
        print(f"loaded {args.model} on {model.backend}:{model.device} in {time.perf_counter() - t0:.2f} s "
              f"({model.chosen_by})", file=sys.stderr)
        if args.camera is not None:
            inputs = [grab_frame(args.camera, args.roi)]
            names = [f"camera {args.camera}"]
        elif args.folder:
            paths = sorted(p for p in Path(args.folder).iterdir() if p.suffix.lower() in (".png", ".jpg", ".jpeg", ".bmp"))
            if not paths:
                raise EdgeSDKError(f"no images in {args.folder}.")
            inputs, names = [str(p) for p in paths], [p.name for p in paths]
        else:
            ap.error("give a FOLDER or --camera N")
        for name, item in zip(names, inputs):
            t0 = time.perf_counter()
            (res,) = list(model.predict(item, keep_images=False))
            print(f"{name}\t{res.rec_text}\t{res.rec_score:.3f}\t{(time.perf_counter() - t0) * 1000:.0f} ms")
    except EdgeSDKError as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
