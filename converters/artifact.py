"""Writing a converted artifact: staged in a temporary directory, renamed into place when complete."""
from __future__ import annotations

import contextlib
import hashlib
import json
import os
import secrets
import shutil
from pathlib import Path
from typing import Any, Dict, Iterable, Iterator, List

from edge_sdk._fs import MARKER, PRODUCER, read_small_file, remove_marker, staging_dir, write_marker
from edge_sdk.errors import ConversionError
from edge_sdk.model_dir import MANIFEST

MANIFEST_VERSION = 1


def source_sha256(files: Iterable[Path]) -> str:
    """One digest over the source model's files (program + params), in the order given."""
    h = hashlib.sha256()
    for f in files:
        h.update(Path(f).name.encode())
        with open(f, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
    return h.hexdigest()


# import name -> distribution name, where they differ
_DISTRIBUTIONS = {"paddle": "paddlepaddle"}


def tool_versions(*modules: str) -> Dict[str, str]:
    """Installed versions of the tools a conversion used (those that are importable here)."""
    from importlib import metadata

    out = {}
    for name in modules:
        try:
            out[name] = metadata.version(_DISTRIBUTIONS.get(name, name))
        except metadata.PackageNotFoundError:
            continue
    import edge_sdk

    out["edge_sdk"] = edge_sdk.__version__
    return out


# what an artifact directory may hold when its manifest predates the "files" list
KNOWN_ARTIFACT_FILES = ("inference.onnx", "inference.xml", "inference.bin", "inference.nb", "inference.yml", MANIFEST)


def check_output_path(output: Path) -> None:
    """Refuse to replace anything but an earlier edge-sdk artifact (or an empty directory).

    An artifact is a directory whose ``manifest.json`` parses, names edge-sdk as its producer, and lists
    every entry of the directory (a manifest older than the list: only the files edge-sdk writes).
    """
    output = Path(output)
    if output.is_symlink():
        raise ConversionError(f"output {output} is a symbolic link; give the real directory path for the artifact.")
    if not output.exists():
        return
    if not output.is_dir():
        raise ConversionError(f"output {output} is a file; give a directory path for the artifact.")
    try:
        entries = sorted(p.name for p in output.iterdir())
    except OSError as exc:
        raise ConversionError(f"output {output} cannot be read ({exc.strerror}); choose another path.") from exc
    if not entries:
        return
    why = _not_an_artifact(output, entries)
    if why:
        raise ConversionError(
            f"output {output} exists and is not an edge-sdk artifact ({why}); choose a new path or empty it first."
        )


def _not_an_artifact(output: Path, entries: List[str]) -> str:
    """Why ``output`` is not provably an edge-sdk artifact, or "" when it is."""
    if MANIFEST not in entries:
        return f"it has no {MANIFEST}"
    data = read_small_file(output / MANIFEST, 16 << 20)  # a regular file, bounded: never a FIFO that hangs
    if data is None:
        return f"its {MANIFEST} is not a readable regular file"
    try:
        manifest = json.loads(data.decode("utf-8"))
    except (ValueError, UnicodeDecodeError):
        return f"its {MANIFEST} is not valid JSON"
    if not isinstance(manifest, dict):
        return f"its {MANIFEST} is not a JSON object"
    tools = manifest.get("tools")
    if manifest.get("producer") != PRODUCER and not (isinstance(tools, dict) and "edge_sdk" in tools):
        return f"its {MANIFEST} does not name edge-sdk as its producer"
    files = manifest.get("files")
    if files is None:
        allowed = set(KNOWN_ARTIFACT_FILES)
    elif isinstance(files, list) and all(isinstance(f, str) for f in files):
        allowed = set(files) | {MANIFEST}
    else:
        return f"the files list in its {MANIFEST} is malformed"
    allowed.add(MARKER)  # left by a run killed just after renaming its staging dir into place
    for name in entries:
        path = output / name
        if name not in allowed:
            return f"it holds {name}, which its {MANIFEST} does not list"
        if path.is_symlink() or not path.is_file():
            return f"{name} in it is not a regular file"
    return ""


@contextlib.contextmanager
def staged_directory(output: Path) -> Iterator[Path]:
    """Yield a temporary directory beside ``output``; on success it replaces ``output`` atomically.

    On any error the staging directory is removed and ``output`` is left as it was. Temporary dirs of
    killed runs beside ``output`` are swept first (see ``edge_sdk._fs``).
    """
    output = Path(output)
    check_output_path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    stage = staging_dir(output.parent, f".{output.name}.staging-")
    try:
        yield stage
        check_output_path(output)  # again: something may have been put there while the conversion ran
        _swap_into_place(stage, output)
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        raise


def _swap_into_place(stage: Path, output: Path) -> None:
    old = None
    if output.exists():
        # marked under its new name first, so a kill between the two renames leaves nothing unswept
        old = output.parent / f".{output.name}.old-{os.getpid()}-{secrets.token_hex(4)}"
        write_marker(output, name=old.name)
        try:
            os.replace(output, old)
        except BaseException:
            remove_marker(output)
            raise
    try:
        os.replace(stage, output)
    except BaseException:
        if old is not None:  # put the previous artifact back
            os.replace(old, output)
            remove_marker(output)
        raise
    remove_marker(output)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def write_manifest(directory: Path, manifest: Dict[str, Any]) -> Path:
    """Write ``manifest.json`` with the producer mark and the list of the artifact's files (those in
    ``directory`` now, and the manifest itself): what a later conversion may replace there."""
    directory = Path(directory)
    f = directory / MANIFEST
    files = sorted({p.name for p in directory.iterdir() if p.is_file() and p.name != MARKER} | {MANIFEST})
    content = {"manifest_version": MANIFEST_VERSION, "producer": PRODUCER, **manifest, "files": files}
    f.write_text(json.dumps(content, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return f
