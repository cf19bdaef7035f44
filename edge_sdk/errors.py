"""Errors a user can cause. Each message is one sentence that says what to do.

The CLI prints these without a traceback and exits non-zero; anything else that escapes is a bug.
"""
from __future__ import annotations


class EdgeSDKError(Exception):
    """Base class of every error edge-sdk raises on purpose."""

    exit_code = 1


class InputError(EdgeSDKError):
    """An input image is missing, unreadable, empty or of the wrong type."""


class ModelNotFoundError(EdgeSDKError):
    """A model name, path or directory could not be resolved to model files."""


class ModelFormatError(EdgeSDKError):
    """Model files exist but are incomplete, corrupt, or do not fit together (e.g. dict vs classes)."""


class BackendUnavailableError(EdgeSDKError):
    """A runtime backend is not installed or cannot run the given artifact."""


class DownloadError(EdgeSDKError):
    """A model could not be fetched, or what was fetched failed its checksum."""


class ConversionError(EdgeSDKError):
    """A conversion failed; nothing was written at the output path."""


class DatasetError(EdgeSDKError):
    """A dataset directory or label file is missing or malformed."""


class OptionError(EdgeSDKError):
    """An API option has the wrong type or value (a batch size of "8", threads=-1, an unknown backend)."""
