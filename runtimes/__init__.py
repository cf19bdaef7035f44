"""Runtime backends: array in, array out. Imports neither ``edge_sdk`` nor ``converters``.

Each backend is a ``Session`` subclass in its own module, imported only when asked for, so a
device without paddlepaddle (say) never imports it.
"""
from __future__ import annotations

import importlib
import importlib.util
from pathlib import Path
from typing import Dict, List, NamedTuple, Optional, Tuple, Type

from .base import (
    BackendNotInstalled,
    BackendOptions,
    DeviceUnavailable,
    ModelLoadError,
    RuntimeErrorBase,
    Session,
    default_threads,
)
from .memory import limit_malloc_arenas


class BackendInfo(NamedTuple):
    name: str
    target: str  # "module:Class"
    package: str  # import name of the package it needs
    pip: str  # what to install to get it
    formats: Tuple[str, ...]  # model file suffixes it loads


BACKENDS: Dict[str, BackendInfo] = {
    info.name: info
    for info in [
        BackendInfo("onnxruntime", "runtimes.onnxruntime_backend:OnnxRuntimeSession", "onnxruntime",
                    "pip install onnxruntime", (".onnx",)),
        BackendInfo("openvino", "runtimes.openvino_backend:OpenVINOSession", "openvino",
                    "pip install openvino", (".xml", ".onnx", ".pdmodel")),
        BackendInfo("paddlelite", "runtimes.paddlelite_backend:PaddleLiteSession", "paddlelite",
                    'pip install paddlelite==2.13rc0 "numpy<2" (Python <= 3.10)', (".nb",)),
        BackendInfo("paddle", "runtimes.paddle_backend:PaddleSession", "paddle",
                    "pip install paddlepaddle", (".pdmodel", ".json")),
    ]
}


def import_openvino(conversion: bool = False):  # type: ignore[no-untyped-def]
    """``import openvino`` for running models: without its model-conversion tools unless ``conversion``, and
    with OpenVINO's usage telemetry off unless ``EDGE_SDK_OPENVINO_TELEMETRY=1``.

    ``import openvino`` also imports ``openvino.tools.ovc`` (``convert_model``), which brings OpenVINO's
    TensorFlow frontend and the Python side of every frontend: 9 MB of RSS (5 MB private) in a process that
    only runs a converted model. Before the first import that part is left out: ``openvino.convert_model``
    still works for code that asks for it later (it is imported then), and converters pass ``conversion=True``.

    The telemetry, when imported, sends usage events to Google Analytics with no consent file, from a
    thread that forks a process to do it. On a kiosk that is traffic nobody asked for, and under qemu-user
    (CI's emulated Pi) the fork from a thread deadlocked ``edge-sdk devices``. OpenVINO falls back to its
    own no-op stub when ``openvino_telemetry`` cannot be imported, so that is what this arranges, before
    the first import only (an openvino the application imported itself keeps its settings).
    """
    import os
    import sys

    if "openvino" not in sys.modules:
        if os.environ.get("EDGE_SDK_OPENVINO_TELEMETRY") != "1":
            sys.modules.setdefault("openvino_telemetry", None)  # type: ignore[arg-type]
        _import_openvino_without_conversion_tools()
    import openvino

    if conversion and "convert_model" not in vars(openvino):
        _attach_convert_model(openvino)
    return openvino


_OVC = "openvino.tools.ovc"


def _import_openvino_without_conversion_tools() -> None:
    """OpenVINO's ``__init__`` imports ``openvino.tools.ovc`` inside ``try/except ImportError``: a ``None`` in
    ``sys.modules`` makes that import fail, so the package loads without it. An OpenVINO that needs ovc to
    import at all is imported again the ordinary way."""
    import sys

    if _OVC in sys.modules:
        return
    sys.modules[_OVC] = None  # type: ignore[assignment]
    try:
        import openvino
    except ImportError:
        return  # the caller's plain import tries again, with ovc importable
    finally:
        if sys.modules.get(_OVC, 0) is None:
            del sys.modules[_OVC]
    if "convert_model" not in vars(openvino) and "__getattr__" not in vars(openvino):
        def lazy_convert_model(name: str):  # type: ignore[no-untyped-def]
            if name != "convert_model":
                raise AttributeError(f"module 'openvino' has no attribute {name!r}")
            return _attach_convert_model(openvino)

        openvino.__getattr__ = lazy_convert_model  # type: ignore[attr-defined]


def _attach_convert_model(openvino):  # type: ignore[no-untyped-def]
    """Import ovc and put ``convert_model`` where ``import openvino`` would have: on the package."""
    from openvino.tools.ovc import convert_model

    openvino.convert_model = convert_model
    return convert_model


def is_available(name: str) -> bool:
    """True when the package behind backend ``name`` can be imported here."""
    return importlib.util.find_spec(BACKENDS[name].package) is not None


def available_backends() -> List[str]:
    return [name for name in BACKENDS if is_available(name)]


def backends_for(model_file: Path) -> List[str]:
    """Backends that can load ``model_file``, in registry order (installed or not)."""
    return [b.name for b in BACKENDS.values() if Path(model_file).suffix in b.formats]


def backend_class(name: str) -> Type[Session]:
    info = BACKENDS.get(name)
    if info is None:
        raise BackendNotInstalled(f"unknown backend {name!r}; choose one of {', '.join(BACKENDS)}.")
    if not is_available(name):
        raise BackendNotInstalled(
            f"the {name} backend needs the Python package '{info.package}', which is not installed; run: {info.pip}"
        )
    module, cls = info.target.split(":")
    return getattr(importlib.import_module(module), cls)


def load_backend(name: str, model_file: Path, *, threads: int = 0, device: str = "cpu", precision: str = "f32",
                 cache_dir: Optional[str] = None, extra: Optional[dict] = None, optimize_graph: bool = True,
                 input_shape: Tuple[int, int, int, int] = (-1, 3, 48, -1), streams: int = 1) -> Session:
    """Load ``model_file`` with backend ``name``.

    Example:
        >>> session = load_backend("onnxruntime", Path("out/rec-onnx/inference.onnx"), threads=2)
    """
    cls = backend_class(name)
    if Path(model_file).suffix not in cls.formats:
        raise ModelLoadError(
            f"the {name} backend cannot load {Path(model_file).name}; it reads {', '.join(cls.formats)} files."
        )
    limit_malloc_arenas()
    options = BackendOptions(threads=threads, device=device, precision=precision, cache_dir=cache_dir,
                             optimize_graph=optimize_graph, extra=dict(extra or {}), input_shape=tuple(input_shape),
                             streams=streams)
    return cls(Path(model_file), options)


__all__ = [
    "BACKENDS", "BackendInfo", "BackendNotInstalled", "BackendOptions", "DeviceUnavailable", "ModelLoadError", "RuntimeErrorBase",
    "Session", "available_backends", "backend_class", "backends_for", "default_threads", "import_openvino", "is_available",
    "limit_malloc_arenas", "load_backend",
]
