"""Checks on the options of the public API, so a wrong type or value is one clear ``EdgeSDKError``.

The CLI's click types catch these before they get here; Python callers get the same sentences.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Optional, Sequence

from .errors import OptionError

MAX_STREAMS = 64  # inference streams: each needs a thread, so past the cores they are clamped anyway
MAX_BATCH_SIZE = 256  # 256 lines of 3200 columns is a 470 MB input tensor: past that, memory, not speed, grows
ON_ERROR = ("stop", "skip")


def check_int(name: str, value: Any, low: int, high: Optional[int] = None) -> int:
    """``value`` as an int in ``[low, high]``; bools and floats are refused, not truncated."""
    if isinstance(value, bool) or not isinstance(value, int):
        try:
            import numpy as np

            if isinstance(value, np.integer):
                value = int(value)
            else:
                raise TypeError
        except TypeError:
            raise OptionError(f"{name} must be a whole number, not {type(value).__name__} {value!r}.") from None
    if value < low or (high is not None and value > high):
        bound = f"from {low} to {high}" if high is not None else f"at least {low}"
        raise OptionError(f"{name} must be {bound}, not {value}.")
    return int(value)


def check_choice(name: str, value: Any, choices: Sequence[str]) -> str:
    if not isinstance(value, str) or value not in choices:
        raise OptionError(f"{name} must be one of {', '.join(map(repr, choices))}, not {value!r}.")
    return value


def check_path_or_none(name: str, value: Any, allowed: Sequence[Any] = ()) -> Any:
    """A str/Path (or one of ``allowed`` sentinels, e.g. None or "auto")."""
    if any(value is a or (isinstance(a, str) and value == a) for a in allowed):
        return value
    if isinstance(value, (str, Path)) and str(value):
        return value
    raise OptionError(f"{name} must be a path{' or ' + ' or '.join(map(repr, allowed)) if allowed else ''}, "
                      f"not {type(value).__name__} {value!r}.")


def check_bool(name: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise OptionError(f"{name} must be True or False, not {value!r}.")
    return value
