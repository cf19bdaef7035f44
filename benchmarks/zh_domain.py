"""Build a second labelled domain for accuracy checks: Chinese text lines on sign/label/paper backgrounds.

IC15 (English scene words) is the shared development set. INT8 recipes and thresholds are also checked
on this set, which is built to differ from IC15 *and* from the lines edge-sdk renders for its own
calibration and check set (``converters/synthetic_lines.py``: random dict characters, WenQuanYi Micro
Hei, flat backgrounds):

- text: real Chinese words, drawn by corpus frequency from jieba's dictionary (pip ``jieba``), joined
  into 4-18 character lines, sometimes with Chinese punctuation, numbers, prices, dates or a Latin word;
- fonts: AR PL UMing (Ming/Song) and AR PL UKai (Kai, brush), Debian ``fonts-arphic-uming`` and
  ``fonts-arphic-ukai``: never the font edge-sdk calibrates with;
- looks: shop-sign colours, paper and screen backgrounds with gradients and speckle, slight rotation and
  perspective, blur, JPEG compression.

Output is a PaddleX recognition dataset: ``images/`` plus ``train.txt`` and ``val.txt`` (disjoint
lines, different seeds). Deterministic for a given seed, jieba version and font files.

    python benchmarks/zh_domain.py out/zh_domain --train 300 --val 1000
"""
from __future__ import annotations

import argparse
import bisect
import itertools
import json
import random
import sys
from pathlib import Path
from typing import Dict, List, Sequence, Tuple

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

FONTS = ("/usr/share/fonts/truetype/arphic/uming.ttc", "/usr/share/fonts/truetype/arphic/ukai.ttc")
FONT_PACKAGES = "fonts-arphic-uming fonts-arphic-ukai"
PUNCT = "，。、：！？"
LATIN_WORDS = ("WiFi", "USB", "LED", "App", "VIP", "OK", "KTV", "ATM", "GPS", "DIY")
# (background, foreground) RGB pairs: shop signs, labels, paper, screens
PALETTES = (
    ((200, 30, 35), (255, 240, 200)), ((20, 70, 150), (255, 255, 255)), ((250, 215, 40), (30, 20, 10)),
    ((30, 110, 60), (255, 255, 255)), ((245, 240, 228), (25, 25, 25)), ((255, 255, 255), (200, 20, 20)),
    ((20, 20, 25), (240, 200, 60)), ((235, 238, 242), (20, 40, 90)), ((120, 70, 40), (250, 235, 200)),
)


class Words:
    """jieba's dictionary as a frequency-weighted sampler of words made of characters in ``charset``."""

    def __init__(self, charset: set) -> None:
        import jieba

        path = Path(jieba.__file__).parent / "dict.txt"
        words: List[str] = []
        weights: List[float] = []
        for line in path.read_text(encoding="utf-8").splitlines():
            parts = line.split()
            if len(parts) < 2 or not all("\u4e00" <= c <= "\u9fff" and c in charset for c in parts[0]):
                continue
            words.append(parts[0])
            weights.append(float(parts[1]) ** 0.75)  # flatter than the corpus, as word2vec samples
        self.words = words
        self.cum = list(itertools.accumulate(weights))

    def draw(self, rng: random.Random) -> str:
        return self.words[bisect.bisect(self.cum, rng.random() * self.cum[-1])]


def line_text(words: Words, rng: random.Random, charset: set) -> str:
    target = rng.randint(4, 18)
    parts: List[str] = []
    while sum(map(len, parts)) < target:
        r = rng.random()
        if r < 0.06:
            parts.append(rng.choice((f"{rng.randint(1990, 2030)}年", f"{rng.randint(1, 12)}月{rng.randint(1, 28)}日",
                                     f"{rng.randint(1, 999)}元", f"￥{rng.randint(1, 500)}.{rng.randint(0, 99):02d}",
                                     f"{rng.randint(10, 99)}%", f"{rng.randint(1, 9999)}号")))
        elif r < 0.09:
            parts.append(rng.choice(LATIN_WORDS))
        elif r < 0.16 and parts and parts[-1][-1] not in PUNCT:
            parts.append(rng.choice(PUNCT))
        else:
            parts.append(words.draw(rng))
    text = "".join(parts).strip(PUNCT)
    return "".join(c for c in text if c in charset) or words.draw(rng)


def background(h: int, w: int, base: Tuple[int, int, int], rng: random.Random) -> np.ndarray:
    img = np.empty((h, w, 3), np.float32)
    img[:] = base
    gx = np.linspace(-1, 1, w, dtype=np.float32)[None, :, None]
    gy = np.linspace(-1, 1, h, dtype=np.float32)[:, None, None]
    img += rng.uniform(-25, 25) * gx + rng.uniform(-20, 20) * gy  # uneven light
    nrng = np.random.default_rng(rng.randrange(1 << 30))
    speckle = cv2.GaussianBlur(nrng.normal(0, 1, (h, w)).astype(np.float32), (0, 0), rng.uniform(0.8, 3.0))
    img += rng.uniform(2, 14) * speckle[:, :, None] / (speckle.std() + 1e-6)  # paper grain, print texture
    return img


def render(text: str, rng: random.Random, fonts: Sequence[str]) -> np.ndarray:
    size = rng.randint(24, 56)
    font = ImageFont.truetype(rng.choice(fonts), size, index=0)
    bg, fg = rng.choice(PALETTES)
    if rng.random() < 0.5:
        bg, fg = tuple(min(255, max(0, c + rng.randint(-20, 20))) for c in bg), fg
    left, top, right, bottom = font.getbbox(text)
    px, py = rng.randint(size // 6, size // 2), rng.randint(size // 8, size // 3)
    h, w = bottom - top + 2 * py, right - left + 2 * px
    ink = Image.new("L", (w, h), 0)
    ImageDraw.Draw(ink).text((px - left, py - top), text, font=font, fill=255)
    alpha = np.asarray(ink, np.float32)[:, :, None] / 255.0
    img = background(h, w, bg, rng) * (1 - alpha) + np.array(fg, np.float32) * alpha
    # slight rotation and perspective, as a hand-held camera sees a sign
    src = np.float32([[0, 0], [w, 0], [w, h], [0, h]])
    jitter = lambda: rng.uniform(-0.06, 0.06) * h  # noqa: E731
    dst = src + np.float32([[jitter(), jitter()] for _ in range(4)])
    angle = np.deg2rad(rng.uniform(-2.5, 2.5))
    rot = np.float32([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    dst = (dst - [w / 2, h / 2]) @ rot.T + [w / 2, h / 2]
    img = cv2.warpPerspective(img, cv2.getPerspectiveTransform(src, np.float32(dst)), (w, h),
                              borderMode=cv2.BORDER_REPLICATE)
    if rng.random() < 0.6:
        img = cv2.GaussianBlur(img, (0, 0), rng.uniform(0.4, 1.3))
    img = np.clip(img + np.random.default_rng(rng.randrange(1 << 30)).normal(0, rng.uniform(0, 5), img.shape), 0, 255)
    bgr = cv2.cvtColor(img.astype(np.uint8), cv2.COLOR_RGB2BGR)
    ok, jpg = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, rng.randint(45, 95)])
    assert ok
    return cv2.imdecode(jpg, cv2.IMREAD_COLOR)


def build(out: Path, n_train: int, n_val: int, seed: int, charset: set) -> Dict[str, object]:
    fonts = [f for f in FONTS if Path(f).is_file()]
    if len(fonts) != len(FONTS):
        raise SystemExit(f"zh_domain needs the fonts {', '.join(FONTS)}: apt install {FONT_PACKAGES}")
    words = Words(charset)
    (out / "images").mkdir(parents=True, exist_ok=True)
    for split, n, split_seed in (("train", n_train, seed * 2 + 1), ("val", n_val, seed * 2 + 2)):
        rng = random.Random(split_seed)
        rows = []
        for i in range(n):
            text = line_text(words, rng, charset)
            rel = f"images/{split}_{i:05d}.jpg"
            cv2.imwrite(str(out / rel), render(text, rng, fonts), [cv2.IMWRITE_JPEG_QUALITY, 100])
            rows.append(f"{rel}\t{text}")
        (out / f"{split}.txt").write_text("\n".join(rows) + "\n", encoding="utf-8")
    import jieba

    meta = {"what": "zh_domain: rendered Chinese lines (benchmarks/zh_domain.py)", "seed": seed,
            "train": n_train, "val": n_val, "fonts": fonts, "jieba": jieba.__version__}
    (out / "meta.json").write_text(json.dumps(meta, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return meta


def model_charset(model: str) -> set:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from edge_sdk.hub import resolve

    return set(resolve(model).charset.dict_characters)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("out", type=Path)
    ap.add_argument("--train", type=int, default=300)
    ap.add_argument("--val", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--model", default="PP-OCRv4_mobile_rec", help="only characters in its dict are used")
    args = ap.parse_args()
    meta = build(args.out, args.train, args.val, args.seed, model_charset(args.model))
    print(f"wrote {args.train} train + {args.val} val lines to {args.out} (fonts: {', '.join(meta['fonts'])})")


if __name__ == "__main__":
    main()
