"""TextRecResult: PaddleX's fields, print, JSON and image output."""
from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from edge_sdk.errors import InputError
from edge_sdk.fonts import cjk_font_path
from edge_sdk.rec.result import TextRecResult

IMG = np.full((32, 120, 3), 200, np.uint8)


def make(path: str = "/data/line_7.png") -> TextRecResult:
    return TextRecResult(path, "识别 OK", 0.9876, input_img=IMG)


def test_paddlex_fields_and_indexing() -> None:
    r = make()
    assert r.json == {"res": {"input_path": "/data/line_7.png", "page_index": None, "rec_text": "识别 OK",
                              "rec_score": 0.9876}}
    assert r["rec_text"] == "识别 OK"
    with pytest.raises(KeyError):
        r["nope"]


def test_print(capsys: pytest.CaptureFixture) -> None:
    make().print(json_format=True)
    assert json.loads(capsys.readouterr().out) == make().json
    make().print(json_format=False)
    out = capsys.readouterr().out
    assert "'rec_text': '识别 OK'" in out and "'rec_score': 0.9876" in out


def test_save_to_json_dir_and_file(tmp_path: Path) -> None:
    assert make().save_to_json(tmp_path) == tmp_path / "line_7_res.json"
    assert json.loads((tmp_path / "line_7_res.json").read_text(encoding="utf-8")) == make().json
    target = tmp_path / "sub" / "res.json"
    assert make().save_to_json(target) == target and target.is_file()
    assert "识别" in target.read_text(encoding="utf-8")  # ensure_ascii=False, as PaddleX


def test_save_to_img_draws_text_under_the_line(tmp_path: Path) -> None:
    out = make().save_to_img(tmp_path)
    assert out == tmp_path / "line_7_res.png"
    img = cv2.imread(str(out))
    assert img.shape[0] > IMG.shape[0] and img.shape[1] >= IMG.shape[1]
    assert np.array_equal(img[:32, :120], IMG)
    band = img[32:]
    assert (band < 128).any()  # some text was drawn
    jpg = make("/x/a.jpg").save_to_img(tmp_path / "explicit.jpg")
    assert jpg == tmp_path / "explicit.jpg" and jpg.is_file()


def test_array_results_get_a_stable_name(tmp_path: Path) -> None:
    r = TextRecResult(None, "x", 0.5, input_img=IMG, name="array_3")
    assert r.save_to_json(tmp_path).name == "array_3_res.json"


def test_cjk_font_is_available_for_drawing() -> None:
    path = cjk_font_path()
    assert path is not None, "install fonts-wqy-microhei (the CI script does) so save_to_img can draw CJK text"
    from PIL import ImageFont

    font = ImageFont.truetype(str(path), 20)
    # a CJK glyph must not be the same box as an unknown code point
    assert font.getmask("识").getbbox() != font.getmask("\U0010fffd").getbbox()


def test_to_img_needs_the_image() -> None:
    with pytest.raises(InputError, match="keep_images=True"):
        TextRecResult("a.png", "x", 0.5).to_img()
