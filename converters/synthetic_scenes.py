"""Whole-image scenes with known text: what a kiosk camera sees, rendered, with every line's box and text.

A scene is one of four kinds, each drawn from scratch with its own layout and look:
- ``sign``: a coloured panel (shop sign, direction board) on a textured wall, big lines, a bevelled edge;
- ``receipt``: a strip of white paper on a darker table, many small left-aligned lines, prices and dates;
- ``screen``: a dark display with bright text (a meter, a ticket machine), some lines glowing;
- ``label``: stickers on a product-like surface, short lines of mixed size.
Lines mix Latin words, numbers and Chinese words, are rotated a little (up to 8 degrees), and about one
line in twelve is upside down. The whole scene then gets a camera's look: a slight blur, sensor noise and
JPEG. Each line's box is the rotated rectangle around its ink, as ``[[x, y] x 4]`` (TL, TR, BR, BL of the
upright line), written in PaddleOCR's detection label format (read by ``edge_sdk.pipeline.evaluation``):
``images/scene_0001.jpg<TAB>[{"transcription": "...", "points": [[x, y], ...]}, ...]``.

Nothing here comes from a benchmark: the words are a built-in list and (with ``jieba``) Chinese words by
corpus frequency, so a recipe checked on these scenes was not tuned on the test data.

    python -m converters.synthetic_scenes out/scenes --count 40
"""
from __future__ import annotations

import argparse
import json
import math
import random
from pathlib import Path
from typing import List, Optional, Tuple

import cv2
import numpy as np

from edge_sdk.errors import ConversionError
from edge_sdk.pipeline.evaluation import TextBox

from .synthetic_lines import FONT_HINT, fonts

KINDS = ("sign", "receipt", "screen", "label")
LABEL_FILE = "Label.txt"
# everyday words of signs, receipts, screens and labels (written for this module)
WORDS = (
    "OPEN", "CLOSED", "EXIT", "ENTRANCE", "PUSH", "PULL", "SALE", "NEW", "FRESH", "COFFEE", "TEA", "BAKERY",
    "PHARMACY", "PARKING", "TICKETS", "PLATFORM", "GATE", "TOTAL", "SUBTOTAL", "CASH", "CARD", "CHANGE", "TAX",
    "RECEIPT", "THANK", "YOU", "WELCOME", "MENU", "WATER", "MILK", "BREAD", "APPLE", "ORANGE", "RICE",
    "Station", "Market", "Street", "Avenue", "Museum", "Library", "Hospital", "Airport", "Hotel", "Office",
    "Coffee", "Kitchen", "Garden", "Service", "Delivery", "Battery", "Voltage", "Power", "Status", "Ready",
    "Error", "Warning", "Pressure", "Temperature", "Speed", "Level", "Meter", "Energy", "Order", "Number",
    "Price", "Weight", "Net", "Expiry", "Batch", "Made", "in", "China", "Store", "below", "keep", "dry",
    "North", "South", "East", "West", "Floor", "Room", "Hall", "Exit", "only", "No", "smoking", "Staff",
    "daily", "from", "to", "per", "with", "and", "the", "for", "Please", "wait", "insert", "your", "ticket",
)
PALETTES = {  # (background, text) pairs, RGB
    "sign": (((200, 30, 35), (255, 240, 200)), ((20, 70, 150), (255, 255, 255)), ((250, 215, 40), (30, 20, 10)),
             ((30, 110, 60), (255, 255, 255)), ((120, 70, 40), (250, 235, 200))),
    "receipt": (((246, 244, 236), (30, 30, 30)), ((255, 255, 255), (50, 50, 60))),
    "screen": (((15, 20, 25), (120, 240, 140)), ((10, 10, 30), (240, 200, 60)), ((20, 25, 40), (230, 235, 255))),
    "label": (((255, 255, 255), (200, 20, 20)), ((235, 238, 242), (20, 40, 90)), ((255, 240, 120), (20, 20, 20))),
}


class _Texts:
    """Line texts: Latin words, numbers and (with jieba and a CJK font) Chinese words."""

    def __init__(self, rng: random.Random, cjk: bool) -> None:
        self.rng = rng
        self.zh: List[str] = []
        if cjk:
            try:
                import jieba
            except ImportError:
                jieba = None
            if jieba is not None:
                path = Path(jieba.__file__).parent / "dict.txt"
                for line in path.read_text(encoding="utf-8").splitlines():
                    parts = line.split()
                    if len(parts) >= 2 and 2 <= len(parts[0]) <= 4 and int(parts[1]) > 3000 \
                            and all("\u4e00" <= c <= "\u9fff" for c in parts[0]):
                        self.zh.append(parts[0])

    def line(self, kind: str) -> str:
        r = self.rng.random()
        if kind == "receipt" and r < 0.35:
            return f"{self.rng.choice(WORDS).upper()} {self.rng.randint(1, 99)}.{self.rng.randint(0, 99):02d}"
        if r < 0.15:
            return self.rng.choice((f"{self.rng.randint(2019, 2027)}-{self.rng.randint(1, 12):02d}-{self.rng.randint(1, 28):02d}",
                                    f"{self.rng.randint(0, 23):02d}:{self.rng.randint(0, 59):02d}",
                                    f"{self.rng.randint(10, 9999)}", f"{self.rng.randint(1, 500)}.{self.rng.randint(0, 9)}V"))
        if self.zh and r < 0.5:
            return "".join(self.rng.choice(self.zh) for _ in range(self.rng.randint(1, 3)))
        return " ".join(self.rng.choice(WORDS) for _ in range(self.rng.randint(1, 3)))


def _font_for(text: str) -> str:
    for f in fonts():
        if all(c in f.cmap for c in text if not c.isspace()):
            return f.path
    raise ConversionError(f"no font here draws {text!r}; {FONT_HINT}.")


def _background(kind: str, w: int, h: int, rng: random.Random,
                bg: Tuple[int, int, int]) -> Tuple[np.ndarray, Tuple[int, int, int, int]]:
    """A scene's backdrop (RGB) with a panel of colour ``bg``, and the panel, where its text goes (x0, y0, x1, y1)."""
    nrng = np.random.default_rng(rng.randrange(1 << 30))
    base = np.array([rng.randint(60, 200) for _ in range(3)], np.float32)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    grad = (xx / w * rng.uniform(-40, 40) + yy / h * rng.uniform(-40, 40))[..., None]
    texture = cv2.GaussianBlur(nrng.normal(0, rng.uniform(6, 20), (h, w)).astype(np.float32), (0, 0),
                               rng.uniform(1, 4))[..., None]
    img = np.clip(base + grad + texture, 0, 255)
    if kind == "receipt":
        pw, ph = int(w * rng.uniform(0.45, 0.6)), int(h * rng.uniform(0.8, 0.95))
    elif kind == "sign":
        pw, ph = int(w * rng.uniform(0.75, 0.95)), int(h * rng.uniform(0.55, 0.85))
    else:
        pw, ph = int(w * rng.uniform(0.65, 0.9)), int(h * rng.uniform(0.6, 0.85))
    x0, y0 = rng.randint(5, w - pw - 5), rng.randint(5, h - ph - 5)
    panel = np.array(bg, np.float32) + nrng.normal(0, 3, (ph, pw, 3))
    if kind == "screen":  # a glow toward the middle
        py, px = np.mgrid[0:ph, 0:pw].astype(np.float32)
        panel += (30 * np.exp(-(((px - pw / 2) / pw) ** 2 + ((py - ph / 2) / ph) ** 2) * 4))[..., None]
    img[y0:y0 + ph, x0:x0 + pw] = np.clip(panel, 0, 255)
    if kind == "sign":  # a bevelled frame
        cv2.rectangle(img, (x0, y0), (x0 + pw - 1, y0 + ph - 1), tuple(float(c) * 0.6 for c in bg), rng.randint(3, 8))
    return img, (x0, y0, x0 + pw, y0 + ph)


def _draw_line(canvas: np.ndarray, text: str, color: Tuple[int, int, int], size: int, angle: float,
               centre: Tuple[float, float], glow: bool, panel: Tuple[int, int, int, int]) -> Optional[np.ndarray]:
    """Draw ``text`` rotated by ``angle`` degrees around ``centre``; its ink box's corners, or None (nothing
    drawn) when it would leave the ``panel`` (x0, y0, x1, y1)."""
    from PIL import Image, ImageDraw, ImageFilter, ImageFont

    font = ImageFont.truetype(_font_for(text), size)
    left, top, right, bottom = font.getbbox(text)
    tw, th = right - left, bottom - top
    pad = size
    layer = Image.new("L", (tw + 2 * pad, th + 2 * pad), 0)
    ImageDraw.Draw(layer).text((pad - left, pad - top), text, font=font, fill=255)
    mask = np.asarray(layer).astype(np.float32) / 255.0
    if glow:
        mask = np.maximum(mask, 0.35 * np.asarray(layer.filter(ImageFilter.GaussianBlur(size / 6))) / 255.0)
    lh, lw = mask.shape
    m = cv2.getRotationMatrix2D((lw / 2, lh / 2), angle, 1.0)
    m[:, 2] += np.array(centre) - np.array([lw / 2, lh / 2])
    h, w = canvas.shape[:2]
    corners = np.array([[pad, pad], [pad + tw, pad], [pad + tw, pad + th], [pad, pad + th]], np.float32)
    quad = cv2.transform(corners[None], m)[0]
    x0, y0, x1, y1 = panel
    if quad[:, 0].min() < x0 + 3 or quad[:, 1].min() < y0 + 3 or quad[:, 0].max() > x1 - 4 or quad[:, 1].max() > y1 - 4:
        return None
    warped = cv2.warpAffine(mask, m, (w, h))[..., None]
    canvas[:] = canvas * (1 - warped) + np.array(color, np.float32) * warped
    return quad


def render_scene(kind: str, rng: random.Random, size: Tuple[int, int] = (800, 600),
                 cjk: bool = True, texts: Optional[_Texts] = None) -> Tuple[np.ndarray, List[TextBox]]:
    """One scene (BGR uint8) and its lines."""
    w, h = size
    texts = texts or _Texts(rng, cjk)
    bg, color = rng.choice(PALETTES[kind])
    img, (x0, y0, x1, y1) = _background(kind, w, h, rng, bg)
    lines: List[TextBox] = []
    taken: List[Tuple[float, float, float, float]] = []
    big = {"sign": (34, 64), "receipt": (16, 24), "screen": (24, 48), "label": (18, 40)}[kind]
    y = y0 + rng.randint(8, 30)
    tries = 0
    while y < y1 - big[0] and tries < 40:
        tries += 1
        text = texts.line(kind)
        size_px = rng.randint(*big)
        upside_down = rng.random() < 1 / 12
        angle = (180.0 if upside_down else 0.0) + rng.uniform(-8, 8) * (kind != "receipt")
        width_guess = size_px * (len(text) * (1.0 if any("\u4e00" <= c <= "\u9fff" for c in text) else 0.6))
        if width_guess > (x1 - x0) - 20:
            continue
        cx = (x0 + 10 + width_guess / 2) if kind == "receipt" else rng.uniform(x0 + 10 + width_guess / 2,
                                                                              max(x0 + 11 + width_guess / 2, x1 - 10 - width_guess / 2))
        cy = y + size_px * 0.6 + abs(math.sin(math.radians(angle))) * width_guess / 2
        quad = _draw_line(img, text, color, size_px, angle, (cx, cy), kind == "screen" and rng.random() < 0.5,
                          (x0, y0, x1, y1))
        if quad is None:
            y += size_px
            continue
        bx0, by0, bx1, by1 = quad[:, 0].min(), quad[:, 1].min(), quad[:, 0].max(), quad[:, 1].max()
        if any(not (bx1 < a0 or bx0 > a1 or by1 < b0 or by0 > b1) for a0, b0, a1, b1 in taken):
            y += size_px // 2
            continue
        taken.append((bx0 - 4, by0 - 4, bx1 + 4, by1 + 4))
        # TL, TR, BR, BL of the upright line: an upside-down line's first corner is its reading start
        lines.append(TextBox(text, [[int(round(px)), int(round(py))] for px, py in quad]))
        y = int(by1) + rng.randint(6, 30 if kind != "receipt" else 12)
    out = cv2.GaussianBlur(img, (0, 0), rng.uniform(0.3, 1.0))
    out = np.clip(out + np.random.default_rng(rng.randrange(1 << 30)).normal(0, rng.uniform(2, 6), out.shape), 0, 255)
    bgr = np.ascontiguousarray(out.astype(np.uint8)[:, :, ::-1])
    ok, buf = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, rng.randint(70, 95)])
    return cv2.imdecode(buf, cv2.IMREAD_COLOR), lines


def write_scenes(out: Path, count: int = 40, seed: int = 0, cjk: bool = True) -> Path:
    """``count`` scenes (the kinds in turn) as ``out/images/*.jpg`` and ``out/Label.txt``; the label file."""
    rng = random.Random(seed)
    texts = _Texts(rng, cjk)
    (out / "images").mkdir(parents=True, exist_ok=True)
    rows = []
    for i in range(count):
        kind = KINDS[i % len(KINDS)]
        size = rng.choice(((800, 600), (960, 720), (640, 480), (720, 960)))
        img, lines = render_scene(kind, rng, size, cjk, texts)
        rel = f"images/scene_{i:04d}_{kind}.jpg"
        cv2.imwrite(str(out / rel), img)
        rows.append(rel + "\t" + json.dumps([{"transcription": ln.text, "points": ln.points} for ln in lines],
                                            ensure_ascii=False))
    label = out / LABEL_FILE
    label.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return label


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("out", type=Path)
    ap.add_argument("--count", type=int, default=40)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    print(f"wrote {write_scenes(args.out, args.count, args.seed)}")


if __name__ == "__main__":
    main()
