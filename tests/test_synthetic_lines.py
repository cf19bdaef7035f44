"""Lines rendered from the model's dict: calibration that covers every character, and the check set."""
from __future__ import annotations

import collections
from pathlib import Path

import pytest

pytest.importorskip("fontTools", reason="rendering lines needs the convert extra (fonttools)")

from converters import synthetic_lines as sl  # noqa: E402
from edge_sdk.errors import ConversionError  # noqa: E402
from edge_sdk.model_dir import ModelDir  # noqa: E402

WQY = "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"


@pytest.fixture(scope="module")
def chars(paddle_model: ModelDir) -> list:
    if not Path(WQY).is_file():
        pytest.skip(f"no CJK font: apt install fonts-wqy-microhei ({WQY})")
    return list(paddle_model.charset.dict_characters)


def test_scripts_of_characters() -> None:
    assert [sl.script_of(c) for c in "中aZ7ジのㄱПβ，★Ａ"] == [
        "Han", "Latin", "Latin", "digit", "Kana", "Kana", "Hangul", "Cyrillic", "Greek", "symbol", "symbol", "symbol"]


def test_the_fonts_here_draw_the_whole_dict(chars: list) -> None:
    cov = sl.coverage(chars)
    assert cov.drawable + len(cov.missing) == len([c for c in chars if c.strip()])
    assert cov.drawable >= 6600 and cov.scripts["Han"] >= 6200 and cov.scripts["Latin"] >= 52
    assert cov.describe().startswith(f"{cov.drawable} dict characters drawn with wqy-microhei.ttc")


def test_calibration_lines_hold_every_drawable_character_once_per_style(chars: list) -> None:
    lines, cov = sl.calibration_lines(chars, seed=3)
    counts = collections.Counter("".join(text for _, text in lines))
    drawable = {c for f in cov.by_font.values() for c in f}
    assert set(counts) == drawable and set(counts.values()) == {len(sl.STYLES)}
    short = [t for _, t in lines if not 8 <= len(t) <= 24]  # only the last line of a font's pool may be shorter
    assert all(len(t) < 8 for t in short) and len(short) <= len(sl.STYLES) * len(cov.by_font)
    assert all(img.ndim == 3 and img.shape[2] == 3 and img.dtype.name == "uint8" for img, _ in lines)
    again, _ = sl.calibration_lines(chars, seed=3)  # deterministic: the same lines, pixel for pixel
    assert [t for _, t in again] == [t for _, t in lines]
    assert all((a == b).all() for (a, _), (b, _) in zip(again[:20], lines[:20]))
    # rounds: each character once per style and round; round r is the draw of seed + r
    three, _ = sl.calibration_lines(chars, seed=2, rounds=3)
    assert set(collections.Counter("".join(t for _, t in three)).values()) == {3 * len(sl.STYLES)}
    assert [t for _, t in three].index(lines[0][1]) >= len(three) // 3  # seed 3 is the second round
    last = [t for _, t in sl.calibration_lines(chars, seed=4)[0]]
    assert [t for _, t in three[len(three) - len(last):]] == last


def test_the_check_set_is_rendered_once_and_covers_the_dicts_scripts(chars: list, tmp_path: Path) -> None:
    cs = sl.check_set(chars, root=tmp_path)
    assert len(cs.samples) == sl.CHECK_LINES and cs.directory.parent == tmp_path
    assert {"Han", "Latin", "digit", "mixed"} <= set(cs.lines_by_kind)
    assert cs.lines_by_kind["Han"] > cs.lines_by_kind["Latin"] >= 20
    # PP-OCRv4 holds only a handful of Greek, Cyrillic, Kana and Hangul characters: calibrated, not checked
    assert not {"Greek", "Cyrillic", "Kana", "Hangul"} & set(cs.lines_by_kind)
    assert all(s.label and s.path.is_file() and s.path.parent == cs.directory for s in cs.samples)
    labels = "".join(s.label for s in cs.samples)
    assert set(labels) - {" "} <= set(chars)
    mtime = (cs.directory / "labels.txt").stat().st_mtime_ns
    again = sl.check_set(chars, root=tmp_path)
    assert again.directory == cs.directory and (cs.directory / "labels.txt").stat().st_mtime_ns == mtime
    assert [p.name for p in tmp_path.iterdir()] == [cs.directory.name]  # no staging dir left behind
    spread = cs.spread(60)
    assert len(spread) == 60 and len({s.path for s in spread}) == 60
    assert {s.path.stem.split("_", 1)[1] for s in spread} == set(cs.lines_by_kind)  # every kind keeps its share
    assert cs.describe().startswith("edge-sdk rendered check set, 600 lines (Han ")


def test_the_check_set_labels_are_what_the_model_reads(paddle_model: ModelDir, chars: list, tmp_path: Path) -> None:
    """The reference model reads most check lines exactly: the rendered text and its label agree."""
    from edge_sdk.rec.recognizer import TextRecognizer

    cs = sl.check_set(chars, root=tmp_path)
    lines = cs.spread(120)
    rec = TextRecognizer(paddle_model, backend="openvino" if _has("openvino") else "onnxruntime")
    from edge_sdk.metrics import rec_metrics
    from edge_sdk.images import read_image

    texts = [t for t, _ in rec.recognize([read_image(s.path) for s in lines], batch_size=8)]
    by_kind = collections.defaultdict(list)
    for s, t in zip(lines, texts):
        by_kind[s.path.stem.split("_", 1)[1]].append(rec_metrics([t], [s.label]).acc)
    share = {k: sum(v) / len(v) for k, v in by_kind.items()}
    assert share["digit"] >= 0.9 and share["Han"] >= 0.5 and share["Latin"] >= 0.5, share
    assert rec_metrics(texts, [s.label for s in lines]).norm_edit_dis >= 0.85  # a third are small, blurred crops


def test_no_font_for_the_dict_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sl, "fonts", lambda: ())
    with pytest.raises(ConversionError, match="no font here draws any character of the model's dict; apt install"):
        sl.calibration_lines(["中", "a"])


def _has(module: str) -> bool:
    from importlib.util import find_spec

    return find_spec(module) is not None
