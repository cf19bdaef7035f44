"""Text lines rendered from a model's own dict: INT8 calibration that covers every script, and a check set.

A user's calibration set rarely covers every script of a 6625-class model, and INT8 ranges calibrated
on English alone clip the activations that Chinese lines drive (see ``quantize.py``). So the converter
renders lines from the model's dict itself:

- **calibration lines** (``calibration_lines``): every renderable dict character once per round (the
  recipe says how many rounds), in a shuffled order, cut into lines of 8-24 characters, each line in one
  font that has all of its glyphs;
- **the check set** (``check_set``): lines with known text per script of the dict (Han, Latin, digits,
  Kana, Hangul, Cyrillic, ...) and mixed lines with punctuation and symbols, written once as a PaddleX
  dataset under ``$EDGE_SDK_HOME/checksets/`` so a report can point at the lines it judged on.

Fonts: ``$EDGE_SDK_FONT`` first, then the system fonts in ``FONT_CANDIDATES``; a character is drawn
with the first font whose character map has it. Characters no font has are left out and counted
(``Coverage``); install ``fonts-wqy-microhei`` (CJK, Latin) and ``fonts-noto-core`` (other scripts).
Looks (``render_line``): a clean ``print`` style and a ``camera`` style (small, faint, blurred, JPEG),
dark on light and light on dark. Both sets are deterministic for a given dict, seed, generator version
and font files.
"""
from __future__ import annotations

import functools
import hashlib
import json
import os
import random
import shutil
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import cv2
import numpy as np

from edge_sdk import _fs
from edge_sdk.datasets import Sample, read_label_file
from edge_sdk.errors import ConversionError

GENERATOR_VERSION = 1
FONT_CANDIDATES = (
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf",
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/truetype/noto/NotoSans-Regular.ttf",
    "/usr/share/fonts/truetype/noto/NotoSansArabic-Regular.ttf",
    "/usr/share/fonts/truetype/noto/NotoSansDevanagari-Regular.ttf",
    "/usr/share/fonts/truetype/noto/NotoSansTamil-Regular.ttf",
    "/usr/share/fonts/truetype/noto/NotoSansTelugu-Regular.ttf",
    "/usr/share/fonts/truetype/noto/NotoSansKannada-Regular.ttf",
    "/usr/share/fonts/truetype/noto/NotoSansThai-Regular.ttf",
)
FONT_HINT = "apt install fonts-wqy-microhei fonts-noto-core (or set EDGE_SDK_FONT)"
# Unicode name prefixes -> script; anything else (punctuation, symbols, fullwidth forms) is "symbol"
_SCRIPTS = {"CJK": "Han", "LATIN": "Latin", "DIGIT": "digit", "HIRAGANA": "Kana", "KATAKANA": "Kana",
            "HANGUL": "Hangul", "CYRILLIC": "Cyrillic", "GREEK": "Greek", "ARABIC": "Arabic",
            "DEVANAGARI": "Devanagari", "TAMIL": "Tamil", "TELUGU": "Telugu", "KANNADA": "Kannada",
            "THAI": "Thai", "HEBREW": "Hebrew", "BENGALI": "Bengali", "GEORGIAN": "Georgian"}
CHECK_LINES = 600  # 1 line = 0.17 points: enough to judge a 0.5-point acc bound
# The common ("level 1") characters of the national standards: check lines are drawn from these where the
# dict has enough of them, since a line of rare characters is one FP32 itself rarely reads (18% of lines
# of random dict Han characters are read exactly, 67% of lines of GB 2312 level-1 ones), and a check
# set the reference fails tells little about the artifact. Calibration lines use every character.
_COMMON = {"Han": (("gb2312", 0xB0A1, 0xD7FE), ("big5", 0xA440, 0xC67E), ("shift_jis", 0x889F, 0x9872)),
           "Hangul": (("euc_kr", 0xB0A1, 0xC8FE),)}
MIN_COMMON = 300
MIN_SCRIPT = 30  # a script with fewer dict characters is calibrated on but not checked (see _check_texts)
_ASCII_LETTERS = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")
_COMMON_SYMBOLS = set("!\"#$%&'()*+,-./:;<=>?@[]_{|}~，。、：；！？（）《》“”‘’…—·￥%")


def script_of(ch: str) -> str:
    if "0" <= ch <= "9":
        return "digit"
    try:
        words = unicodedata.name(ch).split()
    except ValueError:
        return "symbol"
    return _SCRIPTS.get(words[0], "symbol")


@dataclass(frozen=True)
class Font:
    path: str
    cmap: frozenset = field(repr=False)

    @property
    def name(self) -> str:
        return Path(self.path).name


@functools.lru_cache(maxsize=4)
def available_fonts(env: Optional[str] = None) -> Tuple[Font, ...]:
    """The fonts to draw with, in preference order, each with its character map."""
    try:
        from fontTools.ttLib import TTCollection, TTFont
    except ImportError as exc:
        raise ConversionError("rendering calibration and check lines needs fontTools: pip install fonttools") from exc
    fonts = []
    for path in ([env] if env else []) + list(FONT_CANDIDATES):
        if not path or not Path(path).is_file():
            continue
        try:
            faces = TTCollection(path).fonts if path.lower().endswith((".ttc", ".otc")) else [TTFont(path, lazy=True)]
            cmap = faces[0].getBestCmap() or {}
        except Exception:  # a broken or non-font file: skip it, the coverage report says what is missing
            continue
        fonts.append(Font(path, frozenset(chr(c) for c in cmap)))
    return tuple(fonts)


def fonts() -> Tuple[Font, ...]:
    return available_fonts(os.environ.get("EDGE_SDK_FONT") or None)


@dataclass
class Coverage:
    """Which dict characters the available fonts can draw, by script."""

    by_font: Dict[str, List[str]]  # font path -> the characters it draws (first font that has them)
    missing: List[str]
    scripts: Dict[str, int]  # script -> drawable characters

    @property
    def drawable(self) -> int:
        return sum(len(v) for v in self.by_font.values())

    def describe(self) -> str:
        fonts_used = ", ".join(Path(p).name for p, chars in self.by_font.items() if chars) or "no font"
        miss = f"; {len(self.missing)} characters no font here has ({FONT_HINT})" if self.missing else ""
        return f"{self.drawable} dict characters drawn with {fonts_used}{miss}"


def coverage(chars: Sequence[str]) -> Coverage:
    by_font: Dict[str, List[str]] = {f.path: [] for f in fonts()}
    missing: List[str] = []
    scripts: Dict[str, int] = {}
    for ch in chars:
        if not ch.strip():
            continue
        font = next((f for f in fonts() if ch in f.cmap), None)
        if font is None:
            missing.append(ch)
            continue
        by_font[font.path].append(ch)
        scripts[script_of(ch)] = scripts.get(script_of(ch), 0) + 1
    return Coverage(by_font, missing, scripts)


STYLES = ("print", "camera")


def render_line(text: str, font_path: str, rng: random.Random, style: str = "print") -> np.ndarray:
    """One text line as a BGR uint8 image.

    ``print``: 28-48 px, strong contrast (dark on light, or light on dark), a tint, blur on half the lines,
    sensor noise. ``camera``: a camera's crop of a sign or a screen: contrast from faint to strong, more
    blur, JPEG, and shrunk to 10-28 px high (the model's resize brings it back up to its input height)."""
    from PIL import Image, ImageDraw, ImageFilter, ImageFont

    camera = style == "camera"
    size = rng.randint(12, 48) if camera else rng.randint(28, 48)
    font = ImageFont.truetype(font_path, size)
    dark = rng.random() < 0.3
    if camera:
        contrast = rng.uniform(40, 220)
        mid = rng.uniform(contrast / 2, 200 - contrast / 2) if dark else rng.uniform(60 + contrast / 2, 255 - contrast / 2)
        bgv, fgv = (mid - contrast / 2, mid + contrast / 2) if dark else (mid + contrast / 2, mid - contrast / 2)
    else:
        bgv = rng.randint(20, 80) if dark else rng.randint(190, 255)
        fgv = rng.randint(200, 255) if dark else rng.randint(0, 70)
    tint = [rng.randint(-20, 20) if camera else rng.randint(-15, 15) for _ in range(3)]
    bg = tuple(int(max(0, min(255, bgv + t))) for t in tint)
    fg = tuple(int(max(0, min(255, fgv + t))) for t in tint)
    left, top, right, bottom = font.getbbox(text)
    px, py = (rng.randint(1, 8), rng.randint(1, 8)) if camera else (rng.randint(2, 12), rng.randint(2, 10))
    img = Image.new("RGB", (max(1, right - left) + 2 * px, max(1, bottom - top) + 2 * py), bg)
    ImageDraw.Draw(img).text((px - left, py - top), text, font=font, fill=fg)
    if rng.random() < (0.6 if camera else 0.5):
        img = img.filter(ImageFilter.GaussianBlur(rng.uniform(0.3, 1.5 if camera else 1.0)))
    a = np.asarray(img).astype(np.float32)
    a += np.random.default_rng(rng.randrange(1 << 30)).normal(0, rng.uniform(0, 10 if camera else 8), a.shape)
    bgr = np.ascontiguousarray(np.clip(a, 0, 255).astype(np.uint8)[:, :, ::-1])
    if camera:
        bgr = _jpeg(bgr, rng.randint(30, 95))
        target = rng.randint(10, 28)  # a camera sees small text: the model's resize brings it back up to 48
        if bgr.shape[0] > target:
            width = max(1, round(bgr.shape[1] * target / bgr.shape[0]))
            bgr = _jpeg(cv2.resize(bgr, (width, target), interpolation=cv2.INTER_AREA), rng.randint(25, 90))
    return bgr


def _jpeg(bgr: np.ndarray, quality: int) -> np.ndarray:
    ok, jpg = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, quality])
    return cv2.imdecode(jpg, cv2.IMREAD_COLOR) if ok else bgr


def calibration_lines(chars: Sequence[str], seed: int = 0, rounds: int = 1,
                      cov: Optional[Coverage] = None) -> Tuple[List[Tuple[np.ndarray, str]], Coverage]:
    """Every drawable character of ``chars`` once per style and round, in lines of 8-24 characters (one
    font per line): for PP-OCRv4's 6623 characters, 2 x 419 lines a round. Round ``r`` is drawn with the
    seed ``seed + r`` and shuffled within itself; the rounds follow each other. ``cov``: ``coverage(chars)``
    when the caller has it already."""
    cov = cov or coverage(chars)
    if not cov.drawable:
        raise ConversionError(f"no font here draws any character of the model's dict; {FONT_HINT}.")
    lines: List[Tuple[np.ndarray, str]] = []
    for r in range(rounds):
        rng = random.Random(seed + r)
        drawn: List[Tuple[np.ndarray, str]] = []
        for style in STYLES:
            for path, font_chars in cov.by_font.items():
                pool = list(font_chars)
                rng.shuffle(pool)
                i = 0
                while i < len(pool):
                    k = rng.randint(8, 24)
                    text = "".join(pool[i:i + k])
                    i += k
                    drawn.append((render_line(text, path, rng, style), text))
        rng.shuffle(drawn)
        lines += drawn
    return lines, cov


@dataclass
class CheckSet:
    """The rendered check set: a PaddleX dataset on disk, and what it holds."""

    directory: Path
    samples: List[Sample]
    lines_by_kind: Dict[str, int]
    fonts: List[str]
    seed: int

    def spread(self, n: int) -> List[Sample]:
        """``n`` lines spread evenly over the set (every kind keeps its share), or all of them."""
        if n >= len(self.samples):
            return list(self.samples)
        return [self.samples[(i * len(self.samples)) // n] for i in range(n)]

    def describe(self) -> str:
        kinds = ", ".join(f"{k} {n}" for k, n in self.lines_by_kind.items())
        return (f"edge-sdk rendered check set, {len(self.samples)} lines ({kinds}; fonts {', '.join(self.fonts)}; "
                f"seed {self.seed}) at {self.directory}")


def common_subset(script: str, chars: Sequence[str]) -> List[str]:
    """The common characters of ``script`` among ``chars``: for Han and Hangul those in the level-1 set of the
    national standard that holds most of them, for Latin the ASCII letters, for symbols ASCII and CJK
    punctuation; all of ``chars`` when that leaves too few."""
    if script in ("Latin", "symbol"):
        wanted = _ASCII_LETTERS if script == "Latin" else _COMMON_SYMBOLS
        inside = [c for c in chars if c in wanted]
        return inside if len(inside) >= (26 if script == "Latin" else 5) else list(chars)
    best: List[str] = []
    for codec, lo, hi in _COMMON.get(script, ()):
        inside = []
        for ch in chars:
            try:
                b = ch.encode(codec)
            except UnicodeEncodeError:
                continue
            if len(b) == 2 and lo <= int.from_bytes(b, "big") <= hi:
                inside.append(ch)
        if len(inside) > len(best):
            best = inside
    return best if len(best) >= MIN_COMMON else list(chars)


def _check_texts(cov: Coverage, lines: int, rng: random.Random) -> List[Tuple[str, str, str]]:
    """(kind, text, font) for each check line.

    Each script is drawn in the one font that has most of its dict characters, from its common subset
    (rarer characters and fallback fonts are left to calibration). A script with fewer than
    ``MIN_SCRIPT`` dict characters is not checked: a model reads the scripts it holds a handful of
    (PP-OCRv4: Greek, Cyrillic, Kana, Hangul) in 0-10% of lines even in FP32, so such lines judge
    nothing. Four fifths of the lines are of one script each, the scripts sharing them by the square
    root of their size with at least 20 lines each (Latin, Cyrillic and Greek lines sometimes split in
    two words); the rest are mixed lines of the main font: two or three runs of its scripts, chosen by
    size, sometimes with a common punctuation mark of the dict."""
    pools: Dict[Tuple[str, str], List[str]] = {}  # (font, script) -> characters
    for path, chars in cov.by_font.items():
        for ch in chars:
            pools.setdefault((path, script_of(ch)), []).append(ch)
    scripts: Dict[str, Tuple[str, List[str]]] = {}  # script -> (font, common characters)
    for (path, script), chars in sorted(pools.items(), key=lambda kv: -len(kv[1])):
        if script not in scripts and script != "symbol" and (len(chars) >= MIN_SCRIPT or script == "digit"):
            scripts[script] = (path, common_subset(script, chars))
    if not scripts:  # a dict of symbols or of small scripts only: check what there is
        path, chars = max(((p, c) for (p, _), c in pools.items()), key=lambda pc: len(pc[1]))
        scripts["all"] = (path, list(chars))
    main_font = max(cov.by_font, key=lambda p: len(cov.by_font[p]))

    def run(script: str, short: bool = False) -> str:
        chars = scripts[script][1]
        n = rng.randint(4, 12) if script in ("Han", "Kana", "Hangul") else rng.randint(3, 9)
        n = min(n, 6) if short else n
        text = "".join(rng.choice(chars) for _ in range(n))
        if script in ("Latin", "Cyrillic", "Greek") and n > 5 and rng.random() < 0.5:
            cut = rng.randint(2, n - 2)
            text = text[:cut] + " " + text[cut:]  # two words: PaddleX acc ignores spaces
        return text

    weight = {s: len(c) ** 0.5 for s, (_, c) in scripts.items()}
    in_main = [s for s, (p, _) in scripts.items() if p == main_font]
    mixed = lines // 5 if len(in_main) > 1 else 0
    alloc = {s: max(20, round((lines - mixed) * w / sum(weight.values()))) for s, w in weight.items()}
    out: List[Tuple[str, str, str]] = [(s, run(s), scripts[s][0]) for s in scripts for _ in range(alloc[s])]
    symbols = common_subset("symbol", pools.get((main_font, "symbol"), []))
    while len(out) < lines and mixed:
        k = min(len(in_main), rng.randint(2, 3))
        picked: List[str] = []
        while len(picked) < k:
            s = rng.choices(in_main, [weight[x] for x in in_main])[0]
            if s not in picked:
                picked.append(s)
        parts = [run(s, short=True) for s in picked]
        if symbols and rng.random() < 0.5:
            parts.insert(rng.randint(1, len(parts)), rng.choice(symbols))
        out.append(("mixed", "".join(parts), main_font))
    return out


def check_set(chars: Sequence[str], lines: int = CHECK_LINES, seed: int = 1, root: Optional[Path] = None) -> CheckSet:
    """The rendered check set for a dict, rendered once into ``root`` (default ``$EDGE_SDK_HOME/checksets``)."""
    from edge_sdk.hub import cache_root

    cov = coverage(chars)
    if not cov.drawable:
        raise ConversionError(f"no font here draws any character of the model's dict; {FONT_HINT}.")
    used = [p for p, c in cov.by_font.items() if c]
    key = hashlib.sha256(json.dumps({
        "version": GENERATOR_VERSION, "chars": list(chars), "lines": lines, "seed": seed,
        # the renderer's own code: a change to how lines look is a new set, not a stale cached one
        "code": hashlib.sha256(Path(__file__).read_bytes()).hexdigest(),
        "fonts": [(p, os.path.getsize(p), int(os.path.getmtime(p))) for p in used],
    }, ensure_ascii=False).encode()).hexdigest()[:16]
    parent = Path(root) if root is not None else cache_root() / "checksets"
    target = parent / key
    if not (target / "labels.txt").is_file():
        parent.mkdir(parents=True, exist_ok=True)
        stage = _fs.staging_dir(parent, ".check-")
        try:
            rng = random.Random(seed)
            rows, kinds = [], {}
            for i, (kind, text, path) in enumerate(_check_texts(cov, lines, rng)):
                name = f"{i:04d}_{kind}.png"
                style = "camera" if rng.random() < 1 / 3 else "print"
                if not cv2.imwrite(str(stage / name), render_line(text, path, rng, style)):
                    raise ConversionError(f"could not write the rendered check set into {parent}.")
                rows.append(f"{name}\t{text}")
                kinds[kind] = kinds.get(kind, 0) + 1
            (stage / "labels.txt").write_text("\n".join(rows) + "\n", encoding="utf-8")
            (stage / "meta.json").write_text(json.dumps(
                {"generator": "converters/synthetic_lines.py", "version": GENERATOR_VERSION, "seed": seed,
                 "lines_by_kind": kinds, "fonts": [Path(p).name for p in used]}, indent=1) + "\n", encoding="utf-8")
            _fs.remove_marker(stage)
            try:
                stage.rename(target)
            except OSError:  # another process rendered it first: theirs is the same set
                shutil.rmtree(stage, ignore_errors=True)
        except BaseException:
            shutil.rmtree(stage, ignore_errors=True)
            raise
    meta = json.loads((target / "meta.json").read_text(encoding="utf-8"))
    return CheckSet(target, read_label_file(target / "labels.txt"), meta["lines_by_kind"], meta["fonts"], seed)
