"""The font ``save_to_img`` draws with.

CJK text needs a CJK font, and edge-sdk ships none (a CJK font is 5-20 MB). It uses, in order:
``$EDGE_SDK_FONT``; WenQuanYi Micro Hei from Debian/Raspberry Pi OS package ``fonts-wqy-microhei``
(``apt install fonts-wqy-microhei``); Noto Sans CJK (``fonts-noto-cjk``); Droid Sans Fallback
(``fonts-droid-fallback``). With none of them Pillow's built-in font is used and CJK characters draw
as boxes, with a warning saying which package fixes it.
"""
from __future__ import annotations

import functools
import logging
import os
from pathlib import Path
from typing import Optional

log = logging.getLogger("edge_sdk.fonts")

CANDIDATES = (
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf",
)
INSTALL_HINT = "apt install fonts-wqy-microhei (or set EDGE_SDK_FONT to a .ttf/.ttc with CJK glyphs)"


@functools.lru_cache(maxsize=1)
def cjk_font_path() -> Optional[Path]:
    env = os.environ.get("EDGE_SDK_FONT")
    if env:
        if Path(env).is_file():
            return Path(env)
        log.warning("EDGE_SDK_FONT=%s does not exist; looking for a system CJK font instead", env)
    for cand in CANDIDATES:
        if Path(cand).is_file():
            return Path(cand)
    log.warning("no CJK font found, CJK text will draw as boxes; %s", INSTALL_HINT)
    return None


def load_font(size: int):  # type: ignore[no-untyped-def]
    from PIL import ImageFont

    path = cjk_font_path()
    if path is None:
        return ImageFont.load_default(size=size) if hasattr(ImageFont, "load_default") else ImageFont.load_default()
    return ImageFont.truetype(str(path), size)
