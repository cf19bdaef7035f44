"""The bad-input matrix: what a careless user or an attacker hands the SDK, and what it must answer.

Every case is one row: how to build the input, and the answer expected. For the CLI an error is a
non-zero exit whose stderr ends in exactly one ``Error: ...`` line matching the row's pattern, with no
traceback and no "this is a bug" line; for the Python API it is an ``EdgeSDKError`` subclass whose
message matches. A row that expects success checks the result itself (the text of a real line, the
number of results, the skipped inputs), so a silent wrong answer fails too. Rows that need a real
process (a FIFO that would block, a file only root can read, a non-UTF-8 argv) run ``edge-sdk`` in a
subprocess with a timeout, so a hang fails the row instead of the suite.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import struct
import subprocess
import sys
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional

import cv2
import numpy as np
import pytest
from click.testing import CliRunner

from edge_sdk import create_model
from edge_sdk.cli import main
from edge_sdk.datasets import SAMPLES_DIR
from edge_sdk.errors import EdgeSDKError, InputError, OptionError

GOOD = SAMPLES_DIR / "sample_01_en.png"
GOOD_TEXT = "Hello edge devices"
GOOD_ZH = SAMPLES_DIR / "sample_02_zh.png"
ERROR_LINE = re.compile(r"^Error: \S")


# --- helpers that make bad files ---------------------------------------------------------------------
def png_header_only(path: Path, width: int, height: int) -> Path:
    """A PNG whose header claims width x height, with one tiny IDAT (a decompression-bomb header)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 1000))
                     + chunk(b"IEND", b""))
    return path


def encoded(path: Path, img: np.ndarray, ext: str = ".png") -> Path:
    ok, buf = cv2.imencode(ext, img)
    assert ok
    path.write_bytes(buf.tobytes())
    return path


def good_bytes(ext: str = ".png") -> bytes:
    img = cv2.imread(str(GOOD))
    ok, buf = cv2.imencode(ext, img)
    assert ok
    return buf.tobytes()


def write(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


# name -> (builder(tmp) -> path, expected error pattern or None for "recognized correctly")
IMAGES: Dict[str, Any] = {
    "empty-file": (lambda d: write(d / "empty.png", b""), r"empty \(0 bytes\)"),
    "random-bytes": (lambda d: write(d / "noise.png", os.urandom(4096)), r"not a readable image"),
    "text-as-png": (lambda d: write(d / "text.png", b"hello, I am text\n" * 20), r"not a readable image"),
    "png-magic-only": (lambda d: write(d / "magic.png", b"\x89PNG\r\n\x1a\n"), r"not a readable image"),
    "png-truncated-10": (lambda d: write(d / "t10.png", good_bytes()[:10]), r"not a readable image"),
    "png-truncated-half": (lambda d: write(d / "thalf.png", good_bytes()[: len(good_bytes()) // 2]),
                           r"not a readable image"),
    "png-no-iend": (lambda d: write(d / "noend.png", good_bytes()[:-12]), r"not a readable image"),
    "jpeg-truncated": (lambda d: write(d / "t.jpg", good_bytes(".jpg")[:200]), r"not a readable image"),
    "jpeg-header-only": (lambda d: write(d / "h.jpg", b"\xff\xd8\xff\xe0" + b"\0" * 20), r"not a readable image"),
    "bmp-corrupt": (lambda d: write(d / "c.bmp", b"BM" + os.urandom(60)), r"not a readable image"),
    "tiff-truncated": (lambda d: write(d / "t.tif", good_bytes(".tiff")[:64]), r"not a readable image"),
    "gif": (lambda d: write(d / "a.gif", b"GIF89a\x01\x00\x01\x00\x00\x00\x00;"), r"not a readable image|no pixels"),
    "bomb-30000x30000": (lambda d: png_header_only(d / "bomb.png", 30000, 30000), r"(30000 x 30000 pixels|900 MP).*over the 64 MP limit"),
    "bomb-100000x1000": (lambda d: png_header_only(d / "wide.png", 100000, 1000), r"100000 x 1000 pixels .*limit"),
    "header-zero-width": (lambda d: png_header_only(d / "zero.png", 0, 48), r"not a readable image"),
    "directory": (lambda d: (d / "adir.png").mkdir() or d / "adir.png", r"no images .* in directory"),
    "missing": (lambda d: d / "missing.png", r"not found"),
    "dangling-symlink": (lambda d: (d / "dangling.png").symlink_to(d / "nowhere.png") or d / "dangling.png",
                         r"not found"),
    "dev-null": (lambda d: Path("/dev/null"), r"not a regular file"),
    "jpeg-named-png": (lambda d: write(d / "jpeg_inside.png", good_bytes(".jpg")), None),
    "png-named-jpg": (lambda d: write(d / "png_inside.jpg", good_bytes(".png")), None),
    "no-suffix": (lambda d: write(d / "line_without_suffix", good_bytes(".png")), None),
    "grayscale": (lambda d: encoded(d / "gray.png", cv2.cvtColor(cv2.imread(str(GOOD)), cv2.COLOR_BGR2GRAY)), None),
    "bgra": (lambda d: encoded(d / "bgra.png", cv2.cvtColor(cv2.imread(str(GOOD)), cv2.COLOR_BGR2BGRA)), None),
    "16-bit": (lambda d: encoded(d / "deep.png", cv2.imread(str(GOOD)).astype(np.uint16) * 257), None),
    "space-and-unicode-name": (lambda d: write(d / "a line é 文字.png", good_bytes()), None),
    "newline-in-name": (lambda d: write(d / "two\nlines.png", good_bytes()), None),
    "strip-1x100000": (lambda d: encoded(d / "strip.png", np.full((1, 100000, 3), 255, np.uint8)),
                       r"4800000 columns long .* over the 204800 limit"),
    "one-pixel": (lambda d: encoded(d / "px.png", np.full((1, 1, 3), 255, np.uint8)), "empty-ok"),
    "one-column-tall": (lambda d: encoded(d / "tall.png", np.full((500, 1, 3), 255, np.uint8)), "empty-ok"),
}


@dataclass
class Ctx:
    onnx: Path
    paddle: Path
    tmp: Path


def _runner() -> CliRunner:
    try:  # click < 8.2 mixes stderr into stdout unless told not to; 8.2+ always keeps them apart
        return CliRunner(mix_stderr=False)  # type: ignore[call-arg]
    except TypeError:
        return CliRunner()


def run_cli(args: List[str], input_text: Optional[str] = None) -> Any:
    return _runner().invoke(main, args, input=input_text, catch_exceptions=True)


def assert_cli_error(result: Any, pattern: str) -> None:
    stderr = result.stderr
    assert result.exit_code not in (0, None), f"exit 0 for a bad input; stdout: {result.stdout!r}"
    assert result.exception is None or isinstance(result.exception, SystemExit), \
        f"an uncaught {type(result.exception).__name__}: {result.exception!r}"
    assert "Traceback" not in stderr + result.stdout, stderr
    assert "this is a bug" not in stderr, stderr
    lines = [line for line in stderr.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("Error")]
    assert len(errors) == 1 and ERROR_LINE.match(errors[0]) and lines[-1] == errors[0], stderr
    assert re.search(pattern, errors[0], re.I | re.S), errors[0]


def assert_cli_ok(result: Any) -> str:
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert result.exit_code == 0, result.stderr
    assert "Traceback" not in result.stderr
    return result.stdout


@pytest.fixture(scope="module")
def ctx(onnx_artifact: Path, paddle_model, tmp_path_factory: pytest.TempPathFactory) -> Ctx:  # type: ignore[no-untyped-def]
    return Ctx(onnx=onnx_artifact, paddle=paddle_model.path, tmp=tmp_path_factory.mktemp("bad"))


@pytest.fixture(scope="module")
def rec(onnx_artifact: Path):  # type: ignore[no-untyped-def]
    return create_model(str(onnx_artifact), backend="onnxruntime")


def _image(ctx: Ctx, name: str) -> Path:
    d = ctx.tmp / "images" / re.sub(r"\W", "_", name)
    shutil.rmtree(d, ignore_errors=True)  # each test builds its own copy
    d.mkdir(parents=True)
    return IMAGES[name][0](d)


# --- 1. images: CLI, API, and mixed with a good line under --on-error skip -----------------------------
@pytest.mark.parametrize("name", list(IMAGES))
def test_image_cli(name: str, ctx: Ctx) -> None:
    path = _image(ctx, name)
    pattern = IMAGES[name][1]
    result = run_cli(["predict", str(ctx.onnx), str(path), "--backend", "onnxruntime"])
    if pattern is None:
        out = assert_cli_ok(result)
        assert out.strip("\n").split("\t")[-2].strip() == GOOD_TEXT, out
    elif pattern == "empty-ok":
        out = assert_cli_ok(result)
        assert len(out.strip().splitlines()) == 1
    else:
        assert_cli_error(result, pattern)


@pytest.mark.parametrize("name", list(IMAGES))
def test_image_api(name: str, ctx: Ctx, rec) -> None:  # type: ignore[no-untyped-def]
    path = _image(ctx, name)
    pattern = IMAGES[name][1]
    if pattern is None:
        assert [r.rec_text.strip() for r in rec.predict(str(path))] == [GOOD_TEXT]
    elif pattern == "empty-ok":
        res = list(rec.predict(str(path)))
        assert len(res) == 1 and 0.0 <= res[0].rec_score <= 1.0
    else:
        with pytest.raises(InputError, match=re.compile(pattern, re.I | re.S)):
            list(rec.predict(str(path)))


@pytest.mark.parametrize("name", [n for n, (_, p) in IMAGES.items() if p not in (None, "empty-ok")])
def test_image_skipped_between_good_lines(name: str, ctx: Ctx, rec) -> None:  # type: ignore[no-untyped-def]
    """--on-error skip: the bad one is listed, both good ones (same batch window) are recognized."""
    path = _image(ctx, name)
    run = rec.predict([str(GOOD), str(path), str(GOOD_ZH)], batch_size=8, on_error="skip")
    assert [r.rec_text.strip() for r in run] == [GOOD_TEXT, "文本识别模型部署"]
    assert len(run.skipped) == 1 and run.skipped[0].input_path == str(path)
    assert re.search(IMAGES[name][1], run.skipped[0].error, re.I | re.S)


@pytest.mark.parametrize("name", ["random-bytes", "missing", "bomb-30000x30000", "directory", "dev-null"])
def test_image_stop_keeps_lines_before_it(name: str, ctx: Ctx, rec) -> None:  # type: ignore[no-untyped-def]
    """--on-error stop (the default): the lines before the bad one come out, then the error."""
    path = _image(ctx, name)
    got: List[str] = []
    with pytest.raises(InputError):
        for r in rec.predict([str(GOOD), str(GOOD_ZH), str(path), str(GOOD)], batch_size=8):
            got.append(r.rec_text.strip())
    assert got == [GOOD_TEXT, "文本识别模型部署"]


@pytest.mark.parametrize("name", ["random-bytes", "missing", "empty-file"])
def test_image_cli_skip_lists_it(name: str, ctx: Ctx, tmp_path: Path) -> None:
    path = _image(ctx, name)
    result = run_cli(["predict", str(ctx.onnx), str(GOOD), str(path), str(GOOD_ZH), "--backend", "onnxruntime",
                      "--batch-size", "8", "--on-error", "skip", "--json", "--save-dir", str(tmp_path)])
    out = assert_cli_ok(result)
    rows = [json.loads(line) for line in out.splitlines()]
    assert [r["res"]["rec_text"].strip() for r in rows[:-1]] == [GOOD_TEXT, "文本识别模型部署"]
    assert rows[-1]["skipped"][0]["input_path"] == str(path)
    assert "skipped 1 of 3 inputs" in result.stderr
    assert json.loads((tmp_path / "skipped.json").read_text())["skipped"][0]["input_path"] == str(path)


# --- 2. arrays and other objects given to predict ------------------------------------------------------
ARRAYS: Dict[str, Any] = {
    "empty-2d": (lambda: np.zeros((0, 0), np.uint8), r"no pixels"),
    "empty-rows": (lambda: np.zeros((0, 10, 3), np.uint8), r"no pixels"),
    "empty-cols": (lambda: np.zeros((48, 0), np.uint8), r"no pixels"),
    "1-d": (lambda: np.zeros(100, np.uint8), r"shape"),
    "5-d": (lambda: np.zeros((1, 1, 48, 100, 3), np.uint8), r"shape"),
    "2-channels": (lambda: np.zeros((48, 100, 2), np.uint8), r"shape"),
    "5-channels": (lambda: np.zeros((48, 100, 5), np.uint8), r"shape"),
    "float32": (lambda: np.zeros((48, 100, 3), np.float32), r"dtype float32"),
    "float64": (lambda: np.ones((48, 100), np.float64), r"dtype float64"),
    "bool": (lambda: np.ones((48, 100), bool), r"dtype bool"),
    "int32": (lambda: np.ones((48, 100, 3), np.int32), r"dtype int32"),
    "int8": (lambda: -np.ones((48, 100, 3), np.int8), r"dtype int8"),
    "complex": (lambda: np.ones((48, 100), np.complex64), r"dtype complex64"),
    "object": (lambda: np.array([[None, 1], [2, 3]], dtype=object), r"dtype object"),
    "stack-of-floats": (lambda: np.zeros((2, 48, 100, 3), np.float32), r"dtype float32"),
}


@pytest.mark.parametrize("name", list(ARRAYS))
def test_array_api(name: str, rec) -> None:  # type: ignore[no-untyped-def]
    arr, pattern = ARRAYS[name][0](), ARRAYS[name][1]
    with pytest.raises(InputError, match=pattern):
        list(rec.predict(arr))


def _good_array() -> np.ndarray:
    return cv2.imread(str(GOOD))


GOOD_ARRAYS: Dict[str, Callable[[], Any]] = {
    "non-contiguous": lambda: np.ascontiguousarray(np.pad(_good_array(), ((0, 0), (0, 0), (0, 1))))[:, :, :3],
    "fortran-order": lambda: np.asfortranarray(_good_array()),
    "reversed-view": lambda: _good_array()[:, ::-1][:, ::-1],
    "uint16": lambda: _good_array().astype(np.uint16) * 257,
    "gray-hw1": lambda: cv2.cvtColor(_good_array(), cv2.COLOR_BGR2GRAY)[:, :, None],
    "stack-4d": lambda: np.stack([_good_array(), _good_array()]),
    "tuple-of-paths": lambda: (str(GOOD),),
    "generator": lambda: (p for p in [str(GOOD)]),
    "path-object": lambda: GOOD,
}


@pytest.mark.parametrize("name", list(GOOD_ARRAYS))
def test_odd_but_valid_inputs_are_recognized(name: str, rec) -> None:  # type: ignore[no-untyped-def]
    texts = [r.rec_text for r in rec.predict(GOOD_ARRAYS[name]())]
    assert texts and all(t.strip() == GOOD_TEXT for t in texts), texts


OBJECTS: Dict[str, Any] = {
    "none": (None, r"cannot predict on a NoneType"),
    "int": (5, r"cannot predict on a int"),
    "bytes": (b"\x89PNG", r"raw bytes"),
    "dict": ({"image": 1}, r"input 0 is a str|not found"),
    "list-with-none": ([str(GOOD), None], r"input 1 is a NoneType"),
    "list-with-int": ([3], r"input 0 is a int"),
    "nested-list": ([[str(GOOD)]], r"input 0 is a list"),
    "empty-string": ("", r"not found|is a directory|no images"),
}


@pytest.mark.parametrize("name", list(OBJECTS))
def test_wrong_objects_api(name: str, rec) -> None:  # type: ignore[no-untyped-def]
    obj, pattern = OBJECTS[name]
    with pytest.raises(InputError, match=pattern):
        list(rec.predict(obj))


def test_empty_list_gives_no_results(rec) -> None:  # type: ignore[no-untyped-def]
    assert list(rec.predict([])) == []


# --- 3. options of the Python API ------------------------------------------------------------------------
CREATE_OPTIONS: Dict[str, Any] = {
    "backend-int": ({"backend": 1}, r"backend must be one of"),
    "backend-unknown": ({"backend": "tensorflow"}, r"backend must be one of"),
    "backend-none": ({"backend": None}, r"backend must be one of"),
    "threads-str": ({"threads": "2"}, r"threads must be a whole number"),
    "threads-float": ({"threads": 2.5}, r"threads must be a whole number"),
    "threads-bool": ({"threads": True}, r"threads must be a whole number"),
    "threads-negative": ({"threads": -1}, r"threads must be at least 0"),
    "device-unknown": ({"device": "tpu"}, r"device must be one of"),
    "device-int": ({"device": 0}, r"device must be one of"),
    "precision-unknown": ({"precision": "f64"}, r"precision must be one of"),
    "precision-none": ({"precision": None}, r"precision must be one of"),
    "precision-bf16-onnxruntime": ({"precision": "bf16", "backend": "onnxruntime"}, r"precision"),
    "cache-dir-int": ({"cache_dir": 5}, r"cache_dir must be a path"),
    "cache-dir-list": ({"cache_dir": ["a"]}, r"cache_dir must be a path"),
    "dict-int": ({"dict_path": 3}, r"dict_path must be a path"),
    "dict-missing": ({"dict_path": "/nonexistent/dict.txt"}, r"dict file .* does not exist"),
    "dict-dir": ({"dict_path": "/tmp"}, r"dict file .* is a directory"),
    "dict-dev-null": ({"dict_path": "/dev/null"}, r"not a regular file"),
    "device-gpu-none-here": ({"device": "gpu"}, r"no backend can run|cannot|no .*GPU"),
    "backend-paddlelite-onnx": ({"backend": "paddlelite"}, r"cannot run|paddlelite"),
}


@pytest.mark.parametrize("name", list(CREATE_OPTIONS))
def test_create_model_options(name: str, ctx: Ctx) -> None:
    kwargs, pattern = CREATE_OPTIONS[name]
    with pytest.raises(EdgeSDKError, match=pattern):
        create_model(str(ctx.onnx), **kwargs)


MODEL_ARGS: Dict[str, Any] = {
    "none": (None, r"model must be a path"),
    "int": (42, r"model must be a path"),
    "empty": ("", r"model must be a path"),
    "unknown-name": ("PP-OCRv99_rec", r"unknown model 'PP-OCRv99_rec'"),
    "missing-dir": ("./no/such/model", r"does not exist"),
    "dev-null": ("/dev/null", r"not a file or directory"),
    "text-file": (str(SAMPLES_DIR / "labels.txt"), r"is not a model file"),
}


@pytest.mark.parametrize("name", list(MODEL_ARGS))
def test_create_model_model_arg(name: str) -> None:
    model, pattern = MODEL_ARGS[name]
    with pytest.raises(EdgeSDKError, match=pattern):
        create_model(model)


PREDICT_OPTIONS: Dict[str, Any] = {
    "batch-str": ({"batch_size": "8"}, r"batch_size must be a whole number"),
    "batch-zero": ({"batch_size": 0}, r"batch_size must be from 1 to 256"),
    "batch-negative": ({"batch_size": -3}, r"batch_size must be from 1 to 256"),
    "batch-float": ({"batch_size": 1.5}, r"batch_size must be a whole number"),
    "batch-none": ({"batch_size": None}, r"batch_size must be a whole number"),
    "batch-huge": ({"batch_size": 10 ** 9}, r"batch_size must be from 1 to 256"),
    "batch-bool": ({"batch_size": True}, r"batch_size must be a whole number"),
    "keep-images-str": ({"keep_images": "yes"}, r"keep_images must be True or False"),
    "on-error-unknown": ({"on_error": "ignore"}, r"on_error must be one of"),
    "on-error-none": ({"on_error": None}, r"on_error must be one of"),
    "max-pixels-zero": ({"max_pixels": 0}, r"max_pixels must be at least 1"),
    "max-pixels-str": ({"max_pixels": "big"}, r"max_pixels must be a whole number"),
    "allow-outside-str": ({"allow_outside_paths": "no"}, r"allow_outside_paths must be True or False"),
}


@pytest.mark.parametrize("name", list(PREDICT_OPTIONS))
def test_predict_options(name: str, rec) -> None:  # type: ignore[no-untyped-def]
    kwargs, pattern = PREDICT_OPTIONS[name]
    with pytest.raises(OptionError, match=pattern):
        rec.predict(str(GOOD), **kwargs)  # refused when called, not later when iterated


def test_max_pixels_is_honoured(rec) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(InputError, match=r"287 x 48 pixels .* over the 0 MP limit"):
        list(rec.predict(str(GOOD), max_pixels=1000))
    assert [r.rec_text.strip() for r in rec.predict(str(GOOD), max_pixels=287 * 48)] == [GOOD_TEXT]


def test_numpy_integer_options_work(rec) -> None:  # type: ignore[no-untyped-def]
    assert [r.rec_text.strip() for r in rec.predict(str(GOOD), batch_size=np.int64(4))] == [GOOD_TEXT]


def test_too_many_threads_are_clamped(ctx: Ctx, caplog: pytest.LogCaptureFixture) -> None:
    m = create_model(str(ctx.onnx), backend="onnxruntime", threads=5000)
    assert m.describe()["threads"] <= (os.cpu_count() or 1)
    assert [r.rec_text.strip() for r in m.predict(str(GOOD))] == [GOOD_TEXT]


def test_cache_dir_that_is_a_file_still_predicts(ctx: Ctx, tmp_path: Path) -> None:
    f = write(tmp_path / "cache-file", b"not a dir")
    m = create_model(str(ctx.onnx), backend="openvino", cache_dir=f)
    assert [r.rec_text.strip() for r in m.predict(str(GOOD))] == [GOOD_TEXT]
    assert f.read_bytes() == b"not a dir"


# --- 4. tampered model directories ------------------------------------------------------------------------
def _copy_onnx(ctx: Ctx, d: Path) -> Path:
    shutil.copytree(ctx.onnx, d)
    return d


def _copy_paddle(ctx: Ctx, d: Path) -> Path:
    shutil.copytree(ctx.paddle, d)
    return d


def _edit(path: Path, data: Any) -> None:
    path.write_bytes(data if isinstance(data, bytes) else str(data).encode("utf-8"))


def _ov_ir(ctx: Ctx, d: Path) -> Path:
    import openvino as ov

    d.mkdir(parents=True)
    ov.save_model(ov.Core().read_model(str(ctx.onnx / "inference.onnx")), str(d / "inference.xml"))
    shutil.copy(ctx.onnx / "inference.yml", d / "inference.yml")
    return d


def _tiny_onnx(path: Path) -> None:
    """A valid ONNX that is not a recognizer: Identity over [N, 3, H, W]."""
    import onnx
    from onnx import TensorProto, helper

    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3, "H", "W"])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 3, "H", "W"])
    model = helper.make_model(helper.make_graph([helper.make_node("Identity", ["x"], ["y"])], "g", [x], [y]),
                              opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.save(model, str(path))


MODEL_DIRS: Dict[str, Any] = {
    "empty-dir": (lambda c, d: d.mkdir() or d, r"no model in"),
    "only-manifest": (lambda c, d: d.mkdir() or _edit(d / "manifest.json", "{}") or d, r"no model in"),
    "onnx-empty": (lambda c, d: _edit(_copy_onnx(c, d) / "inference.onnx", b"") or d, r"onnx"),
    "onnx-random": (lambda c, d: _edit(_copy_onnx(c, d) / "inference.onnx", os.urandom(5000)) or d, r"onnx"),
    "onnx-truncated": (lambda c, d: _edit(_copy_onnx(c, d) / "inference.onnx",
                                          (c.onnx / "inference.onnx").read_bytes()[:100000]) or d, r"onnx"),
    "onnx-is-a-dir": (lambda c, d: d.mkdir() or (d / "inference.onnx").mkdir() or d, r"no model in"),
    "onnx-not-a-recognizer": (lambda c, d: (_copy_onnx(c, d) and _tiny_onnx(d / "inference.onnx")) or d,
                              r"not \[N, T, classes\]"),
    "manifest-invalid-json": (lambda c, d: _edit(_copy_onnx(c, d) / "manifest.json", "{not json") or d,
                              r"manifest.json is not valid JSON"),
    "manifest-list": (lambda c, d: _edit(_copy_onnx(c, d) / "manifest.json", "[1, 2]") or d,
                      r"holds a JSON list, not an object"),
    "manifest-string": (lambda c, d: _edit(_copy_onnx(c, d) / "manifest.json", '"x"') or d,
                        r"holds a JSON str"),
    "manifest-number": (lambda c, d: _edit(_copy_onnx(c, d) / "manifest.json", "3") or d, r"holds a JSON int"),
    "manifest-null": (lambda c, d: _edit(_copy_onnx(c, d) / "manifest.json", "null") or d, r"holds a JSON NoneType"),
    "manifest-runtime-string": (lambda c, d: _edit(_copy_onnx(c, d) / "manifest.json", '{"runtime": "fast"}') or d,
                                r"'runtime' must be an object"),
    "manifest-runtime-list": (lambda c, d: _edit(_copy_onnx(c, d) / "manifest.json", '{"runtime": [1]}') or d,
                              r"'runtime' must be an object"),
    "manifest-source-string": (lambda c, d: _edit(_copy_onnx(c, d) / "manifest.json", '{"source": "x"}') or d,
                               r"'source' must be an object"),
    "manifest-not-utf8": (lambda c, d: _edit(_copy_onnx(c, d) / "manifest.json", b'{"a": "\xff\xfe"}') or d,
                          r"manifest.json is not valid JSON"),
    "manifest-is-dir": (lambda c, d: (_copy_onnx(c, d) / "manifest.json").unlink() or (d / "manifest.json").mkdir()
                        or d, r"manifest .* is a directory"),
    "yml-invalid": (lambda c, d: _edit(_copy_onnx(c, d) / "inference.yml", "a: [b\n  c: {") or d, r"not valid YAML"),
    "yml-list": (lambda c, d: _edit(_copy_onnx(c, d) / "inference.yml", "- a\n- b\n") or d,
                 r"holds a YAML list, not a mapping"),
    "yml-scalar": (lambda c, d: _edit(_copy_onnx(c, d) / "inference.yml", "just text\n") or d,
                   r"holds a YAML str, not a mapping"),
    "yml-global-string": (lambda c, d: _edit(_copy_onnx(c, d) / "inference.yml", "Global: text\n") or d,
                          r"'Global' must be a mapping"),
    "yml-postprocess-list": (lambda c, d: _edit(_copy_onnx(c, d) / "inference.yml", "PostProcess: [1]\n") or d,
                             r"'PostProcess' must be a mapping"),
    "yml-dict-string": (lambda c, d: _edit(_copy_onnx(c, d) / "inference.yml",
                                           "PostProcess:\n  character_dict: abc\n") or d,
                        r"character_dict must be a list"),
    "yml-dict-too-short": (lambda c, d: _edit(_copy_onnx(c, d) / "inference.yml",
                                              "PostProcess:\n  character_dict: [a, b, c]\n") or d,
                           r"gives 5 classes .* model outputs 6625"),
    "yml-model-name-int": (lambda c, d: _edit(_copy_onnx(c, d) / "inference.yml", "Global:\n  model_name: 7\n") or d,
                           r"model_name must be text"),
    "yml-not-utf8": (lambda c, d: _edit(_copy_onnx(c, d) / "inference.yml", b"Global: \xff\xfe\n") or d,
                     r"not valid YAML"),
    "yml-is-dir": (lambda c, d: (_copy_onnx(c, d) / "inference.yml").unlink() or (d / "inference.yml").mkdir() or d,
                   r"inference.yml .* is a directory"),
    "pdmodel-no-params": (lambda c, d: (_copy_paddle(c, d) / "inference.pdiparams").unlink() or d,
                          r"has no inference.pdiparams beside it"),
    "pdmodel-corrupt": (lambda c, d: _edit(_copy_paddle(c, d) / "inference.pdmodel", os.urandom(3000)) or d,
                        r"inference.pdmodel|Paddle|could not load"),
    "pdiparams-empty": (lambda c, d: _edit(_copy_paddle(c, d) / "inference.pdiparams", b"") or d,
                        r"pdiparams|could not load|empty"),
    "pir-json-invalid": (lambda c, d: d.mkdir() or _edit(d / "inference.json", "{oops") or
                         _edit(d / "inference.pdiparams", b"\0" * 64) or
                         _edit(d / "inference.yml", (c.onnx / "inference.yml").read_bytes()) or d,
                         r"inference.json|could not load|not a Paddle"),
    "ir-xml-corrupt": (lambda c, d: _edit(_ov_ir(c, d) / "inference.xml", "<net><oops") or d,
                       r"not a loadable OpenVINO IR|could not load"),
    "ir-bin-missing": (lambda c, d: (_ov_ir(c, d) / "inference.bin").unlink() or d,
                       r"not a loadable OpenVINO IR|could not load"),
    "ir-bin-truncated": (lambda c, d: _edit(_ov_ir(c, d) / "inference.bin",
                                            (d / "inference.bin").read_bytes()[:1000]) or d,
                         r"not a loadable OpenVINO IR|could not load"),
    "nb-garbage": (lambda c, d: d.mkdir() or _edit(d / "inference.nb", os.urandom(2000)) or
                   _edit(d / "inference.yml", (c.onnx / "inference.yml").read_bytes()) or d,
                   r"paddlelite|Paddle Lite|could not load"),
    "no-dict-anywhere": (lambda c, d: d.mkdir() or _tiny_onnx(d / "inference.onnx") or d, r"no character dict"),
}


@pytest.mark.parametrize("name", list(MODEL_DIRS))
def test_model_dir_api(name: str, ctx: Ctx) -> None:
    (ctx.tmp / "models-api").mkdir(exist_ok=True)
    d = MODEL_DIRS[name][0](ctx, ctx.tmp / "models-api" / name)
    with pytest.raises(EdgeSDKError, match=re.compile(MODEL_DIRS[name][1], re.I)):
        create_model(str(d))


@pytest.mark.parametrize("name", list(MODEL_DIRS))
def test_model_dir_cli(name: str, ctx: Ctx) -> None:
    (ctx.tmp / "models-cli").mkdir(exist_ok=True)
    d = MODEL_DIRS[name][0](ctx, ctx.tmp / "models-cli" / name)
    assert_cli_error(run_cli(["predict", str(d), str(GOOD)]), MODEL_DIRS[name][1])


# --- 5. label files: predict, eval, check-dataset, convert --check-data -----------------------------
def _dataset(root: Path, val_lines: List[str], train_lines: Optional[List[str]] = None,
             encoding: str = "utf-8") -> Path:
    (root / "images").mkdir(parents=True, exist_ok=True)
    shutil.copy(GOOD, root / "images" / "good.png")
    shutil.copy(GOOD_ZH, root / "images" / "zh.png")
    (root / "val.txt").write_bytes("".join(line + "\n" for line in val_lines).encode(encoding))
    (root / "train.txt").write_text("".join(line + "\n" for line in (train_lines or ["images/zh.png\t文本识别模型部署"])),
                                    encoding="utf-8")
    return root


LABELS: Dict[str, Any] = {
    "outside-dotdot": (["images/good.png\tHello edge devices", "../../../../etc/passwd\tx"], r"outside the dataset"),
    "outside-absolute": (["/etc/hostname\tx"], r"outside the dataset"),
    "missing-image": (["images/nope.png\tx"], r"not found"),
    "image-is-dir": (["images\tx"], r"is a directory"),
    "corrupt-image": (["val.txt\tx"], r"not a readable image"),
    "no-tab": (["images/good.png Hello"], r"has no TAB|not found"),
    "only-blank-lines": (["", "   "], r"no samples|lists no images"),
}


@pytest.mark.parametrize("name", list(LABELS))
def test_label_file_eval(name: str, ctx: Ctx) -> None:
    root = _dataset(ctx.tmp / "labels-eval" / name, LABELS[name][0])
    assert_cli_error(run_cli(["eval", str(ctx.onnx), str(root), "--backend", "onnxruntime", "-o",
                              str(root / "out")]), LABELS[name][1])


@pytest.mark.parametrize("name", list(LABELS))
def test_label_file_predict(name: str, ctx: Ctx) -> None:
    root = _dataset(ctx.tmp / "labels-predict" / name, LABELS[name][0])
    pattern = r"has no TAB|not found" if name == "no-tab" else LABELS[name][1]
    result = run_cli(["predict", str(ctx.onnx), str(root / "val.txt"), "--backend", "onnxruntime"])
    assert_cli_error(result, pattern)


# unreadable images in --check-data are found by the parity check, after the export: eval and predict cover them
@pytest.mark.parametrize("name", [n for n in LABELS if n not in ("missing-image", "image-is-dir", "corrupt-image")])
def test_label_file_convert_check_data(name: str, ctx: Ctx) -> None:
    root = _dataset(ctx.tmp / "labels-convert" / name, LABELS[name][0])
    out = ctx.tmp / "labels-convert-out" / name
    result = run_cli(["convert", str(ctx.paddle), "--target", "onnx", "-o", str(out), "--check-data",
                      str(root / "val.txt")])
    assert_cli_error(result, LABELS[name][1])
    assert not out.exists(), "a refused conversion left something at the output path"


def test_outside_path_in_eval_skip_and_allow(ctx: Ctx, tmp_path: Path) -> None:
    outside = write(tmp_path / "outside" / "line.png", good_bytes())
    root = _dataset(tmp_path / "ds", ["images/good.png\tHello edge devices", f"{outside}\tHello edge devices"])
    assert_cli_error(run_cli(["eval", str(ctx.onnx), str(root), "-b", "onnxruntime", "-o", str(tmp_path / "o1")]),
                     r"outside the dataset")
    out = assert_cli_ok(run_cli(["eval", str(ctx.onnx), str(root), "-b", "onnxruntime", "--allow-outside-paths",
                                 "-o", str(tmp_path / "o2")]))
    assert ": 2 lines" in out and "acc               100.00%" in out


def test_bom_and_crlf_label_file(ctx: Ctx, tmp_path: Path) -> None:
    root = _dataset(tmp_path / "ds", ["images/good.png\tHello edge devices\r"], encoding="utf-8-sig")
    out = assert_cli_ok(run_cli(["eval", str(ctx.onnx), str(root), "-b", "onnxruntime", "-o", str(tmp_path / "o")]))
    assert ": 1 lines" in out and "acc               100.00%" in out
    out = assert_cli_ok(run_cli(["predict", str(ctx.onnx), str(root / "val.txt"), "-b", "onnxruntime"]))
    assert out.split("\t")[1].strip() == GOOD_TEXT


def test_eval_on_error_skip(ctx: Ctx, tmp_path: Path) -> None:
    root = _dataset(tmp_path / "ds", ["images/good.png\tHello edge devices", "images/nope.png\tx",
                                      "images/zh.png\t文本识别模型部署"])
    result = run_cli(["eval", str(ctx.onnx), str(root), "-b", "onnxruntime", "--on-error", "skip",
                      "-o", str(tmp_path / "o")])
    out = assert_cli_ok(result)
    assert ": 2 lines" in out and "acc               100.00%" in out and "skipped           1" in out
    report = json.loads((tmp_path / "o" / "evaluate_result.json").read_text())
    assert len(report["edge_sdk"]["skipped"]) == 1 and report["metrics"]["acc"] == 1.0


CHECK_DATASET: Dict[str, Any] = {
    "outside-dotdot": (["images/good.png\tHello", "../../../../etc/passwd\tx"], "paths outside dataset"),
    "outside-absolute": (["/etc/hostname\tx"], "paths outside dataset"),
    "symlink-out": ("symlink", "paths outside dataset"),
    "missing-image": (["images/nope.png\tx"], "missing images"),
    "three-fields": (["images/good.png\ta\tb"], "malformed lines"),
    "not-utf8": ("bytes", "bad encoding lines"),
    "empty-label": (["images/good.png\t"], "empty labels"),
}


@pytest.mark.parametrize("name", list(CHECK_DATASET))
def test_check_dataset_lists_problems_and_copies_nothing_outside(name: str, ctx: Ctx) -> None:
    root = ctx.tmp / "check" / name
    lines, problem = CHECK_DATASET[name]
    if lines == "symlink":
        _dataset(root, ["images/link.png\tx"])
        (root / "images" / "link.png").symlink_to("/etc/hostname")
    elif lines == "bytes":
        _dataset(root, ["images/good.png\tHello"])
        (root / "val.txt").write_bytes(b"images/good.png\t\xff\xfe\n")
    else:
        _dataset(root, lines)
    out = ctx.tmp / "check-out" / name
    result = run_cli(["check-dataset", str(root), "-o", str(out), "--model", "none"])
    assert_cli_error(result, r"dataset check failed: .*" + problem)
    copied = {p.name for p in (out / "demo_img").iterdir()}
    assert copied <= {"good.png", "zh.png"}, copied
    for f in (out / "demo_img").iterdir():
        assert f.read_bytes() in (GOOD.read_bytes(), GOOD_ZH.read_bytes())


def test_check_dataset_bom(ctx: Ctx, tmp_path: Path) -> None:
    root = _dataset(tmp_path / "ds", ["images/good.png\tHello"], encoding="utf-8-sig")
    out = assert_cli_ok(run_cli(["check-dataset", str(root), "-o", str(tmp_path / "o"), "--model", "none"]))
    assert "1 val samples" in out


def test_check_dataset_missing_label_files(tmp_path: Path) -> None:
    (tmp_path / "ds").mkdir()
    assert_cli_error(run_cli(["check-dataset", str(tmp_path / "ds"), "-o", str(tmp_path / "o")]),
                     r"has no train.txt or val.txt")
    assert_cli_error(run_cli(["check-dataset", str(tmp_path / "nope"), "-o", str(tmp_path / "o")]),
                     r"does not exist")


def test_split_never_overwrites_a_backup(tmp_path: Path) -> None:
    root = _dataset(tmp_path / "ds", ["images/good.png\tHello"], ["images/zh.png\t文本识别模型部署"])
    first = (root / "val.txt").read_bytes()
    assert_cli_ok(run_cli(["check-dataset", str(root), "-o", str(tmp_path / "o"), "--model", "none",
                           "--split", "50:50"]))
    second = (root / "val.txt").read_bytes()
    assert_cli_ok(run_cli(["check-dataset", str(root), "-o", str(tmp_path / "o"), "--model", "none",
                           "--split", "50:50"]))
    assert (root / "val.txt.bak").read_bytes() == first and (root / "val.txt.bak.1").read_bytes() == second


# --- 6. CLI options ----------------------------------------------------------------------------------------
def _cli_option_cases() -> Dict[str, Any]:
    g = str(GOOD)
    return {
        "batch-zero": (lambda c: ["predict", str(c.onnx), g, "--batch-size", "0"], r"--batch-size"),
        "batch-text": (lambda c: ["predict", str(c.onnx), g, "--batch-size", "eight"], r"--batch-size"),
        "batch-negative": (lambda c: ["predict", str(c.onnx), g, "--batch-size", "-2"], r"--batch-size"),
        "threads-negative": (lambda c: ["predict", str(c.onnx), g, "--threads", "-1"], r"--threads"),
        "threads-text": (lambda c: ["predict", str(c.onnx), g, "--threads", "many"], r"--threads"),
        "precision": (lambda c: ["predict", str(c.onnx), g, "--precision", "f64"], r"--precision"),
        "backend": (lambda c: ["predict", str(c.onnx), g, "--backend", "tflite"], r"--backend"),
        "device": (lambda c: ["predict", str(c.onnx), g, "--device", "tpu"], r"device must be one of"),
        "on-error": (lambda c: ["predict", str(c.onnx), g, "--on-error", "ignore"], r"--on-error"),
        "max-pixels-zero": (lambda c: ["predict", str(c.onnx), g, "--max-pixels", "0"], r"--max-pixels"),
        "save-dir-is-file": (lambda c: ["predict", str(c.onnx), g, "--save-dir", str(SAMPLES_DIR / "labels.txt")],
                             r"--save-dir"),
        "save-dir-under-file": (lambda c: ["predict", str(c.onnx), g, "--save-dir",
                                           str(SAMPLES_DIR / "labels.txt" / "sub")], r"not a directory"),
        "no-inputs": (lambda c: ["predict", str(c.onnx)], r"Missing argument"),
        "dict-missing": (lambda c: ["predict", str(c.onnx), g, "--dict", "/no/dict.txt"], r"does not exist"),
        "dict-too-small": (lambda c: ["predict", str(c.onnx), g, "--dict", str(SAMPLES_DIR / "labels.txt")],
                           r"classes .* model outputs 6625"),
        "eval-limit-zero": (lambda c: ["eval", str(c.onnx), str(SAMPLES_DIR / "labels.txt"), "--limit", "0"],
                            r"--limit"),
        "eval-missing-dataset": (lambda c: ["eval", str(c.onnx), "/no/such/set"], r"does not exist"),
        "eval-unlabelled-folder": (lambda c: ["eval", str(c.onnx), str(c.tmp / "images" / "grayscale")],
                                   r"has no labels"),
        "bench-widths": (lambda c: ["bench", str(c.onnx), "--widths", "wide"], r"--widths"),
        "bench-runs": (lambda c: ["bench", str(c.onnx), "--runs", "1"], r"--runs"),
        "bench-reference": (lambda c: ["bench", str(c.onnx), "--reference", "tesseract"], r"--reference"),
        "bench-missing-model": (lambda c: ["bench", "/no/model"], r"does not exist"),
        "convert-target": (lambda c: ["convert", str(c.paddle), "--target", "tflite", "-o", str(c.tmp / "x1")],
                           r"--target"),
        "convert-precision-fp16-onnx": (lambda c: ["convert", str(c.paddle), "--target", "onnx", "--precision",
                                                   "fp16", "-o", str(c.tmp / "x2")],
                                        r"does not support precision 'fp16'"),
        "convert-int16-openvino": (lambda c: ["convert", str(c.paddle), "--target", "openvino", "--precision",
                                              "int16", "-o", str(c.tmp / "x3")], r"does not support precision"),
        "convert-calib-fp32": (lambda c: ["convert", str(c.paddle), "--target", "onnx", "--calib",
                                          str(SAMPLES_DIR / "labels.txt"), "-o", str(c.tmp / "x4")],
                               r"--calib applies to --precision int8"),
        "convert-no-rendered-calib-fp32": (lambda c: ["convert", str(c.paddle), "--target", "openvino",
                                                      "--no-rendered-calib", "-o", str(c.tmp / "x4b")],
                                           r"--no-rendered-calib applies to --precision int8"),
        "convert-int8-no-calib-at-all": (lambda c: ["convert", str(c.paddle), "--target", "onnx", "--precision", "int8",
                                                    "--no-rendered-calib", "-o", str(c.tmp / "x4c")],
                                         r"int8 needs calibration lines"),
        "convert-calib-missing": (lambda c: ["convert", str(c.paddle), "--target", "onnx", "--precision", "int8",
                                             "--calib", "/no/calib/set", "-o", str(c.tmp / "x4d")],
                                  r"--calib: dataset /no/calib/set does not exist"),
        "convert-max-acc-drop-fp32": (lambda c: ["convert", str(c.paddle), "--target", "onnx", "--max-acc-drop", "1",
                                                 "-o", str(c.tmp / "x5")], r"--max-acc-drop applies"),
        "convert-max-acc-drop-range": (lambda c: ["convert", str(c.paddle), "--target", "onnx", "--precision",
                                                  "int8", "--max-acc-drop", "200", "-o", str(c.tmp / "x6")],
                                       r"--max-acc-drop"),
        "convert-valid-places-onnx": (lambda c: ["convert", str(c.paddle), "--target", "onnx", "--valid-places",
                                                 "arm", "-o", str(c.tmp / "x7")], r"do not apply to target onnx"),
        "convert-output-is-file": (lambda c: ["convert", str(c.paddle), "--target", "onnx", "-o",
                                              str(SAMPLES_DIR / "labels.txt")], r"is a file|--output"),
        "convert-missing-source": (lambda c: ["convert", "/no/model", "--target", "onnx", "-o", str(c.tmp / "x8")],
                                   r"does not exist"),
        "convert-onnx-to-paddlelite": (lambda c: ["convert", str(c.onnx), "--target", "paddlelite", "-o",
                                                  str(c.tmp / "x9")], r"Paddle Lite's opt reads only Paddle programs"),
        "convert-check-limit-zero": (lambda c: ["convert", str(c.paddle), "--target", "onnx", "--check-limit", "0",
                                                "-o", str(c.tmp / "x10")], r"--check-limit"),
        "check-dataset-split-one": (lambda c: ["check-dataset", str(c.tmp), "--split", "50"], r"is not TRAIN:VAL"),
        "check-dataset-split-sum": (lambda c: ["check-dataset", str(c.tmp), "--split", "60:50"], r"adding to 100"),
        "devices-missing-model": (lambda c: ["devices", "/no/model"], r"does not exist"),
        "devices-autotune-no-model": (lambda c: ["devices", "--autotune"], r"--autotune needs a MODEL"),
        "unknown-command": (lambda c: ["recognise"], r"No such command"),
        "models-extra-arg": (lambda c: ["models", "extra"], r"unexpected extra argument"),
    }


CLI_OPTIONS = _cli_option_cases()


@pytest.mark.parametrize("name", list(CLI_OPTIONS))
def test_cli_options(name: str, ctx: Ctx) -> None:
    args, pattern = CLI_OPTIONS[name]
    assert_cli_error(run_cli(args(ctx)), pattern)


def test_convert_refuses_a_directory_that_is_not_its_artifact(ctx: Ctx, tmp_path: Path) -> None:
    out = tmp_path / "mine"
    out.mkdir()
    (out / "manifest.json").write_text("{}")
    (out / "thesis.tex").write_text("years of work")
    result = run_cli(["convert", str(ctx.paddle), "--target", "onnx", "-o", str(out)])
    assert_cli_error(result, r"not an edge-sdk artifact|not .*artifact")
    assert (out / "thesis.tex").read_text() == "years of work" and (out / "manifest.json").read_text() == "{}"


# --- 7. what needs a real process: FIFOs, permissions, bytes in argv, environment -------------------------
def _proc(args: List[Any], env: Optional[Dict[str, str]] = None, user: Optional[int] = None) -> subprocess.CompletedProcess:
    cmd: List[Any] = [sys.executable, "-m", "edge_sdk", *args]
    if user is not None:
        setpriv = shutil.which("setpriv")
        if os.geteuid() != 0 or setpriv is None:
            pytest.skip("needs root and setpriv to run as another user (permission checks are void for root)")
        cmd = [setpriv, f"--reuid={user}", f"--regid={user}", "--clear-groups", *cmd]
    full_env = {**os.environ, **(env or {})}
    return subprocess.run(cmd, capture_output=True, timeout=120, env=full_env)


def _assert_proc_error(proc: subprocess.CompletedProcess, pattern: str) -> None:
    stderr = proc.stderr.decode("utf-8", "replace")
    assert proc.returncode != 0, proc.stdout
    assert "Traceback" not in stderr and "this is a bug" not in stderr, stderr
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert lines and lines[-1].startswith("Error: ") and sum(line.startswith("Error") for line in lines) == 1, stderr
    assert re.search(pattern, lines[-1], re.I), lines[-1]


@pytest.fixture()
def fifo(tmp_path: Path) -> Path:
    f = tmp_path / "pipe.png"
    os.mkfifo(f)
    return f


def test_fifo_as_image_does_not_hang(ctx: Ctx, fifo: Path) -> None:
    _assert_proc_error(_proc(["predict", str(ctx.onnx), str(fifo), "-b", "onnxruntime"]), r"not a regular file")


def test_fifo_as_label_file_does_not_hang(ctx: Ctx, tmp_path: Path) -> None:
    f = tmp_path / "val.txt"
    os.mkfifo(f)
    _assert_proc_error(_proc(["eval", str(ctx.onnx), str(f), "-b", "onnxruntime"]), r"not a (regular )?file")


def test_fifo_as_dict_does_not_hang(ctx: Ctx, tmp_path: Path) -> None:
    f = tmp_path / "dict.txt"
    os.mkfifo(f)
    _assert_proc_error(_proc(["predict", str(ctx.onnx), str(GOOD), "--dict", str(f)]), r"not a regular file")


def test_fifo_as_manifest_does_not_hang(ctx: Ctx, tmp_path: Path) -> None:
    d = _copy_onnx(ctx, tmp_path / "m")
    (d / "manifest.json").unlink()
    os.mkfifo(d / "manifest.json")
    _assert_proc_error(_proc(["predict", str(d), str(GOOD)]), r"not a regular file")


NOBODY = 65534


@pytest.fixture()
def world_readable_copy(ctx: Ctx, tmp_path: Path) -> Path:
    """The ONNX artifact and an image where user nobody can read them (the tmp dirs are root's 0700)."""
    base = Path("/tmp") / f"edge-sdk-perm-{os.getpid()}"
    shutil.rmtree(base, ignore_errors=True)
    base.mkdir(mode=0o755)
    shutil.copytree(ctx.onnx, base / "rec")
    shutil.copy(GOOD, base / "good.png")
    for p in [base, *base.rglob("*")]:
        p.chmod(0o755 if p.is_dir() else 0o644)
    yield base
    shutil.rmtree(base, ignore_errors=True)


def _nobody_env(base: Path) -> Dict[str, str]:
    return {"EDGE_SDK_HOME": str(base / "home"), "HOME": str(base)}


def test_unreadable_image(world_readable_copy: Path) -> None:
    b = world_readable_copy
    (b / "secret.png").write_bytes(good_bytes())
    (b / "secret.png").chmod(0o600)
    _assert_proc_error(_proc(["predict", str(b / "rec"), str(b / "secret.png"), "-b", "onnxruntime"],
                             _nobody_env(b), NOBODY), r"permission denied")


def test_unreadable_label_file(world_readable_copy: Path) -> None:
    b = world_readable_copy
    (b / "val.txt").write_text("good.png\tHello edge devices\n")
    (b / "val.txt").chmod(0o600)
    _assert_proc_error(_proc(["eval", str(b / "rec"), str(b / "val.txt"), "-b", "onnxruntime", "-o",
                              str(b / "out")], _nobody_env(b), NOBODY), r"permission denied|is not readable")


def test_unreadable_inference_yml(world_readable_copy: Path) -> None:
    b = world_readable_copy
    (b / "rec" / "inference.yml").chmod(0o600)
    _assert_proc_error(_proc(["predict", str(b / "rec"), str(b / "good.png")], _nobody_env(b), NOBODY),
                       r"permission denied")


def test_unreadable_manifest(world_readable_copy: Path) -> None:
    b = world_readable_copy
    (b / "rec" / "manifest.json").chmod(0o600)
    _assert_proc_error(_proc(["predict", str(b / "rec"), str(b / "good.png")], _nobody_env(b), NOBODY),
                       r"permission denied")


def test_unwritable_save_dir(world_readable_copy: Path) -> None:
    b = world_readable_copy
    (b / "locked").mkdir(mode=0o555)
    (b / "locked").chmod(0o555)
    _assert_proc_error(_proc(["predict", str(b / "rec"), str(b / "good.png"), "-b", "onnxruntime", "--save-dir",
                              str(b / "locked" / "out")], _nobody_env(b), NOBODY), r"permission denied")


def test_read_only_home_still_predicts(world_readable_copy: Path) -> None:
    b = world_readable_copy
    (b / "home").mkdir(mode=0o555)
    (b / "home").chmod(0o555)
    proc = _proc(["predict", str(b / "rec"), str(b / "good.png")], _nobody_env(b), NOBODY)
    assert proc.returncode == 0, proc.stderr.decode()
    assert proc.stdout.decode().split("\t")[1].strip() == GOOD_TEXT


def test_non_utf8_file_name_with_save_dir(ctx: Ctx, tmp_path: Path) -> None:
    d = os.fsencode(tmp_path)
    name = d + b"/line-\xff\xfe.png"
    with open(name, "wb") as f:
        f.write(good_bytes())
    out = tmp_path / "out"
    proc = _proc(["predict", str(ctx.onnx), name, "--save-dir", str(out), "--json", "-b", "onnxruntime"])
    assert proc.returncode == 0, proc.stderr.decode("utf-8", "replace")
    row = json.loads(proc.stdout.decode("utf-8"))
    assert row["res"]["rec_text"].strip() == GOOD_TEXT and "\ufffd" in row["res"]["input_path"]
    saved = sorted(p.name for p in out.iterdir())
    assert len(saved) == 2 and all(json.loads((out / n).read_text())["res"]["rec_text"].strip() == GOOD_TEXT
                                   for n in saved if n.endswith(".json"))


ENVIRONMENTS: Dict[str, Any] = {
    # korean_PP-OCRv3 has no offline source, so it is never in the cache: these must reach the fetch
    "sources-unknown": ({"EDGE_SDK_SOURCES": "ftp"}, ["predict", "korean_PP-OCRv3_mobile_rec", str(GOOD)],
                        r"EDGE_SDK_SOURCES has unknown source"),
    "home-under-a-file": ({"EDGE_SDK_HOME": str(SAMPLES_DIR / "labels.txt" / "home"), "EDGE_SDK_SOURCES": "url"},
                          ["predict", "PP-OCRv3_mobile_rec", str(GOOD)], r"not a directory|could not fetch"),
    "max-pixels-env": ({"EDGE_SDK_MAX_PIXELS": "100"}, ["predict", "{onnx}", str(GOOD), "-b", "onnxruntime"],
                       r"over the 0 MP limit"),
    "max-image-bytes-env": ({"EDGE_SDK_MAX_IMAGE_BYTES": "100"}, ["predict", "{onnx}", str(GOOD), "-b",
                                                                   "onnxruntime"], r"over the 0 MB limit"),
    "max-label-bytes-env": ({"EDGE_SDK_MAX_LABEL_FILE_BYTES": "10"}, ["predict", "{onnx}",
                                                                      str(SAMPLES_DIR / "labels.txt")],
                            r"over the 0 MB limit"),
    "max-pixels-env-text": ({"EDGE_SDK_MAX_PIXELS": "lots"}, ["predict", "{onnx}", str(GOOD), "-b", "onnxruntime"],
                            r"EDGE_SDK_MAX_PIXELS='lots' is not a positive whole number"),
    "max-pixels-env-negative": ({"EDGE_SDK_MAX_PIXELS": "-5"}, ["predict", "{onnx}", str(GOOD), "-b",
                                                                 "onnxruntime"], r"is not a positive whole number"),
    "malloc-arenas-env-negative": ({"EDGE_SDK_MALLOC_ARENAS": "-1"}, ["predict", "{onnx}", str(GOOD), "-b",
                                                                     "onnxruntime"],
                                   r"EDGE_SDK_MALLOC_ARENAS='-1' is not a whole number of malloc arenas"),
    "ov-runtime-cache-env-text": ({"EDGE_SDK_OV_RUNTIME_CACHE": "1.5"}, ["predict", "{onnx}", str(GOOD), "-b",
                                                                        "openvino"],
                                  r"EDGE_SDK_OV_RUNTIME_CACHE='1.5' is not a whole number of kernels"),
    "max-model-bytes-env": ({"EDGE_SDK_MAX_MODEL_BYTES": "x", "EDGE_SDK_SOURCES": "url"},
                            ["predict", "korean_PP-OCRv3_mobile_rec", str(GOOD)], r"EDGE_SDK_MAX_MODEL_BYTES"),
}


@pytest.mark.parametrize("name", list(ENVIRONMENTS))
def test_environment(name: str, ctx: Ctx) -> None:
    env, args, pattern = ENVIRONMENTS[name]
    args = [a.replace("{onnx}", str(ctx.onnx)) for a in args]
    _assert_proc_error(_proc(args, {**env, "EDGE_SDK_DOWNLOAD_TIMEOUT": "2"}), pattern)


@pytest.mark.parametrize("name", ["onnx-random", "onnx-truncated", "onnx-empty"])
def test_bench_on_a_corrupt_model(name: str, ctx: Ctx) -> None:
    (ctx.tmp / "models-bench").mkdir(exist_ok=True)
    d = MODEL_DIRS[name][0](ctx, ctx.tmp / "models-bench" / name)
    result = run_cli(["bench", str(d), "--runs", "3", "--reference", "none", "--backends", "onnxruntime",
                      "--limit", "2", "--widths", "320"])
    assert_cli_error(result, r"1 case\(s\) failed")
    assert "onnxruntime could not load" in result.stdout
