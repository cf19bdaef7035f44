"""Render the SDK's sample text lines (edge_sdk/samples/) with a font anyone can install.

Font: WenQuanYi Micro Hei, Debian package ``fonts-wqy-microhei`` (Apache-2.0 / GPLv3 with font exception).
Run: python scripts/render_samples.py   (needs Pillow and the font; output is committed)
"""
from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

FONT = "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"
OUT = Path(__file__).resolve().parents[1] / "edge_sdk" / "samples"

# (file stem, text, font size, foreground, background)
LINES = [
    ("sample_01_en", "Hello edge devices", 32, (20, 20, 20), (255, 255, 255)),
    ("sample_02_zh", "文本识别模型部署", 34, (10, 10, 10), (250, 250, 245)),
    ("sample_03_mixed", "PP-OCRv4 识别 2026", 30, (0, 0, 90), (235, 240, 250)),
    ("sample_04_digits", "20261125", 36, (30, 30, 30), (255, 255, 255)),
    ("sample_05_sign", "EXIT", 40, (255, 255, 255), (0, 120, 60)),
    ("sample_06_zh", "树莓派上的文字识别", 30, (40, 40, 40), (255, 250, 240)),
    ("sample_07_en", "Raspberry Pi 5", 30, (200, 30, 30), (255, 255, 255)),
    ("sample_08_price", "12.50", 36, (0, 0, 0), (255, 230, 0)),
]


def render(text: str, size: int, fg: tuple, bg: tuple) -> Image.Image:
    font = ImageFont.truetype(FONT, size)
    left, top, right, bottom = font.getbbox(text)
    pad_x, pad_y = size // 3, size // 4
    img = Image.new("RGB", (right - left + 2 * pad_x, bottom - top + 2 * pad_y), bg)
    ImageDraw.Draw(img).text((pad_x - left, pad_y - top), text, font=font, fill=fg)
    return img


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    labels = []
    for stem, text, size, fg, bg in LINES:
        render(text, size, fg, bg).save(OUT / f"{stem}.png", optimize=True)
        labels.append(f"{stem}.png\t{text}")
    (OUT / "labels.txt").write_text("\n".join(labels) + "\n", encoding="utf-8")
    print(f"wrote {len(LINES)} lines to {OUT}")


if __name__ == "__main__":
    main()
