"""Progress bars for long work (download, conversion, parity, eval): tqdm on a TTY, silent otherwise."""
from __future__ import annotations

import sys
from typing import Any, Optional


class _Silent:
    def __enter__(self) -> "_Silent":
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def update(self, n: int = 1) -> None:
        return None

    def close(self) -> None:
        return None


def progress(total: Optional[int], desc: str, unit: str = "it", unit_scale: bool = False) -> Any:
    """A bar with ``update(n)``/``close()`` usable as a context manager."""
    if sys.stderr.isatty():
        from tqdm import tqdm

        return tqdm(total=total or None, desc=desc, unit=unit, unit_scale=unit_scale, leave=False)
    return _Silent()
