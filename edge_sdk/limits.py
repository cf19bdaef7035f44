"""Bounds on what one input may cost: every image, label file and archive the SDK reads is capped.

A kiosk or a server reads files it did not make. Each cap below has a default that fits text lines and
whole pages with room to spare, and an environment variable to move it; a value past a cap is refused
with an ``InputError`` before the expensive step (decoding, extracting) runs.
"""
from __future__ import annotations

import os
from typing import Optional

from runtimes.base import env_whole_number

# A decoded image: 64 megapixels (a 12000 x 5333 scan; 192 MB as BGR). A 30000 x 30000 PNG is 900 MP.
DEFAULT_MAX_PIXELS = 64_000_000
# An image file on disk (a 64 MP PNG is rarely over 100 MB).
DEFAULT_MAX_IMAGE_BYTES = 256 << 20
# A label file (IC15's train.txt is 130 KB; a million lines of 100 bytes is 100 MB).
DEFAULT_MAX_LABEL_FILE_BYTES = 256 << 20


def env_int(name: str, default: int, error: Optional[type] = None, what: str = "a positive whole number") -> int:
    """A positive whole number from the environment; a value that is not one is an error, not ignored."""
    from .errors import OptionError

    return env_whole_number(name, default, what, minimum=1, error=error or OptionError)


def max_pixels(override: Optional[int] = None) -> int:
    """The decoded-pixel cap: ``override``, else ``$EDGE_SDK_MAX_PIXELS``, else 64 megapixels."""
    return override if override else env_int("EDGE_SDK_MAX_PIXELS", DEFAULT_MAX_PIXELS)


def max_image_bytes() -> int:
    return env_int("EDGE_SDK_MAX_IMAGE_BYTES", DEFAULT_MAX_IMAGE_BYTES)


def max_label_file_bytes() -> int:
    return env_int("EDGE_SDK_MAX_LABEL_FILE_BYTES", DEFAULT_MAX_LABEL_FILE_BYTES)


def read_file_bounded(path: "os.PathLike[str] | str", cap: int, what: str, error: type,
                      follow_symlinks: bool = True) -> bytes:
    """The bytes of a regular file of at most ``cap`` bytes, or ``error`` with one sentence.

    Opened non-blocking and checked with ``fstat`` on the open descriptor, so a FIFO, socket or device
    given as ``path`` is refused instead of hanging or reading forever. ``follow_symlinks=False``
    refuses a symlink too.
    """
    import errno
    import stat

    p = os.fspath(path)
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    if not follow_symlinks:
        flags |= getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(p, flags)
    except FileNotFoundError:
        raise error(f"{what} not found: {shown(p)}") from None
    except IsADirectoryError:
        raise error(f"{what} {shown(p)} is a directory, not a file.") from None
    except PermissionError:
        raise error(f"cannot read {what} {shown(p)}: permission denied.") from None
    except OSError as exc:
        if exc.errno == errno.ENXIO:  # a socket or a FIFO opened for reading with no writer on some systems
            raise error(f"{what} {shown(p)} is not a regular file.") from None
        raise error(f"cannot open {what} {shown(p)}: {exc.strerror or exc}.") from None
    try:
        st = os.fstat(fd)
        if stat.S_ISDIR(st.st_mode):
            raise error(f"{what} {shown(p)} is a directory, not a file.")
        if not stat.S_ISREG(st.st_mode):
            raise error(f"{what} {shown(p)} is not a regular file (a FIFO, socket or device); pass a file.")
        if st.st_size > cap:
            raise error(f"{what} {shown(p)} is {st.st_size / 1e6:.1f} MB, over the {cap / 1e6:.0f} MB limit.")
        os.set_blocking(fd, True)
        chunks = []
        total = 0
        while True:
            try:
                chunk = os.read(fd, 1 << 20)
            except OSError as exc:
                raise error(f"cannot read {what} {shown(p)}: {exc.strerror or exc}.") from None
            if not chunk:
                break
            total += len(chunk)
            if total > cap:  # grew while being read
                raise error(f"{what} {shown(p)} is over the {cap / 1e6:.0f} MB limit.")
            chunks.append(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


def shown(path: "os.PathLike[str] | str") -> str:
    """A path as printable text: bytes that are not UTF-8 (surrogate-escaped by Python) become U+FFFD."""
    text = os.fspath(path)
    if isinstance(text, bytes):
        return text.decode("utf-8", "replace")
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
