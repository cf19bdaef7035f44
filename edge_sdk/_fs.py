"""File-system helpers for atomic writes."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path


def staging_dir(parent: Path, prefix: str) -> Path:
    """A new temporary directory in ``parent`` (same file system, so a rename into place is atomic).

    ``mkdtemp`` makes it private (0700); give it the permissions a normal ``mkdir`` would, since it
    becomes the user's artifact or cache entry.
    """
    d = Path(tempfile.mkdtemp(prefix=prefix, dir=parent))
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(d, 0o777 & ~umask)
    return d
