"""Writing a converted artifact: staged in a temporary directory, renamed into place when complete."""
from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
from pathlib import Path
from typing import Any, Dict, Iterable, Iterator

from edge_sdk._fs import staging_dir
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


def check_output_path(output: Path) -> None:
    """Refuse to replace anything but an earlier edge-sdk artifact."""
    if output.exists():
        if output.is_file():
            raise ConversionError(f"output {output} is a file; give a directory path for the artifact.")
        if any(output.iterdir()) and not (output / MANIFEST).is_file():
            raise ConversionError(
                f"output {output} exists and is not an edge-sdk artifact; choose a new path or empty it first."
            )


@contextlib.contextmanager
def staged_directory(output: Path) -> Iterator[Path]:
    """Yield a temporary directory beside ``output``; on success it replaces ``output`` atomically.

    On any error the staging directory is removed and ``output`` is left as it was.
    """
    output = Path(output)
    check_output_path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    stage = staging_dir(output.parent, f".{output.name}.staging-")
    try:
        yield stage
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        raise
    old = None
    if output.exists():
        old = output.parent / f".{output.name}.old-{os.getpid()}"
        os.replace(output, old)
    os.replace(stage, output)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def write_manifest(directory: Path, manifest: Dict[str, Any]) -> Path:
    f = Path(directory) / MANIFEST
    f.write_text(json.dumps({"manifest_version": MANIFEST_VERSION, **manifest}, indent=2, ensure_ascii=False) + "\n",
                 encoding="utf-8")
    return f
