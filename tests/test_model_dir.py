"""Model directories: formats, dict sources, and the dict-vs-model check."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from edge_sdk import create_model
from edge_sdk.errors import ModelFormatError, ModelNotFoundError
from edge_sdk.model_dir import ModelDir


def _copy_program(src: ModelDir, dest: Path) -> Path:
    dest.mkdir()
    for name in ("inference.pdmodel", "inference.pdiparams"):
        shutil.copy(src.path / name, dest / name)
    return dest


def test_legacy_paddle_dir(paddle_model: ModelDir) -> None:
    assert paddle_model.format == "paddle-legacy"
    assert paddle_model.model_file.name == "inference.pdmodel"
    assert paddle_model.model_name == "PP-OCRv4_mobile_rec"
    assert paddle_model.spec.name == "PP-OCRv4_mobile_rec"


def test_inference_yml_is_paddlex_compatible(paddle_model: ModelDir) -> None:
    yml = yaml.safe_load((paddle_model.path / "inference.yml").read_text(encoding="utf-8"))
    assert yml["Global"]["model_name"] == "PP-OCRv4_mobile_rec"
    assert yml["PostProcess"]["name"] == "CTCLabelDecode"
    assert yml["PostProcess"]["character_dict"] == paddle_model.charset.dict_characters
    ops = [next(iter(op)) for op in yml["PreProcess"]["transform_ops"]]
    assert "RecResizeImg" in ops


def test_program_file_path_is_accepted(paddle_model: ModelDir) -> None:
    assert ModelDir.open(paddle_model.model_file).path == paddle_model.path


def test_dict_file_beside_model(paddle_model: ModelDir, tmp_path: Path) -> None:
    d = _copy_program(paddle_model, tmp_path / "m")
    (d / "ppocr_keys_v1.txt").write_text("\n".join(paddle_model.charset.dict_characters) + "\n", encoding="utf-8")
    md = ModelDir.open(d)
    assert md.charset.characters == paddle_model.charset.characters
    assert md.model_name is None and md.spec.preprocess == paddle_model.spec.preprocess


def test_no_dict_anywhere(paddle_model: ModelDir, tmp_path: Path) -> None:
    d = _copy_program(paddle_model, tmp_path / "m")
    with pytest.raises(ModelFormatError, match="no character dict.*--dict"):
        ModelDir.open(d)


def test_missing_params(paddle_model: ModelDir, tmp_path: Path) -> None:
    d = tmp_path / "m"
    d.mkdir()
    shutil.copy(paddle_model.model_file, d)
    with pytest.raises(ModelFormatError, match="no inference.pdiparams"):
        ModelDir.open(d)


def test_directory_without_model(tmp_path: Path) -> None:
    (tmp_path / "readme.txt").write_text("hi")
    with pytest.raises(ModelNotFoundError, match="no model in"):
        ModelDir.open(tmp_path)


def test_not_a_model_file(tmp_path: Path) -> None:
    f = tmp_path / "x.bin"
    f.write_bytes(b"1")
    with pytest.raises(ModelNotFoundError, match="not a model file"):
        ModelDir.open(f)


def test_dict_that_does_not_fit_the_model_is_refused(paddle_model: ModelDir, tmp_path: Path) -> None:
    small = tmp_path / "en_dict.txt"
    small.write_text("\n".join("0123456789abcdefghijklmnopqrstuvwxyz") + "\n", encoding="utf-8")
    with pytest.raises(ModelFormatError, match="gives 38 classes .* model outputs 6625"):
        create_model(str(paddle_model.path), backend="paddle", dict_path=small)


def test_corrupt_inference_yml(paddle_model: ModelDir, tmp_path: Path) -> None:
    d = _copy_program(paddle_model, tmp_path / "m")
    (d / "inference.yml").write_text("Global: [unclosed\n", encoding="utf-8")
    with pytest.raises(ModelFormatError, match="not valid YAML"):
        ModelDir.open(d)


def test_inference_yml_round_trips_awkward_characters(tmp_path: Path) -> None:
    from edge_sdk.model_dir import read_inference_yml, write_inference_yml
    from edge_sdk.zoo import Preprocess

    chars = [":", "'", '"', "yes", "no", "0", "1.5", "~", "null", "\\", "#", "-", "、", "\u3000", "é", "𠀀", "[", "{"]
    write_inference_yml(tmp_path, "m", chars, Preprocess())
    assert read_inference_yml(tmp_path)["PostProcess"]["character_dict"] == chars
