"""Paddle Lite backend: loads ``inference.nb`` (an ``opt``-optimized naive-buffer model).

Three traps of the Python binding (paddlelite 2.13rc0, measured on x86) are handled here:
- with numpy 2 it returns silent garbage (NaN from the first conv): refused, with the pip line;
- a predictor is right only for the first input shape it sees, and shrinking W after a larger one can
  crash the process: one predictor per input shape, kept in a small LRU;
- weight-only INT8 ``.nb`` outputs NaN on x86: the converter's parity check catches that.
An ``.nb`` is tied to the ``opt`` version and the places (arm, x86, ...) it was built for; both are
checked against this machine before anything is loaded, from the hints the artifact's manifest gives.

Concurrency ``lock``: the per-shape predictor cache and the predictors themselves are not thread-safe,
so ``run`` calls are serialized by a lock (a Lite predictor keeps its own input and output buffers,
and a second one per thread would cost another workspace per shape).
"""
from __future__ import annotations

import platform
import struct
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any, Dict, Optional, Tuple

import numpy as np

from .base import BackendNotInstalled, BackendOptions, DeviceUnavailable, ModelLoadError, Session, first_line
from .device import arch_family

# One predictor per (N, W) seen. Each holds its own workspace, which grows with N x W: measured on the
# x86 wheel, +120 MB at 1x320, +535 MB at 1x1280, +4.2 GB at 8x1280. The cache keeps the most recently
# used predictors while their N x W columns add up to this budget (always at least the current one),
# so a Pi's RAM bounds it, not the number of line widths seen.
MAX_CACHED_COLUMNS = 8 * 320


def machine_place() -> str:
    """The Paddle Lite place family of this CPU: ``arm`` or ``x86``."""
    return arch_family(platform.machine())


def runtime_version() -> Optional[str]:
    """What ``opt`` in this paddlelite reports (``v2.13-rc``), None if the build has no ``Opt``."""
    try:
        from paddlelite.lite import Opt

        return str(Opt().version())
    except (ImportError, AttributeError):
        return None


# An opt-written naive buffer (.nb) starts with: uint16 meta version, char[16] opt version ("v2.13-rc"),
# uint64 size of the program topology that follows; the weights come after it.
_NB_HEADER = struct.Struct("<H16sQ")


def check_naive_buffer(data: bytes, model_file: Path) -> None:
    """Refuse what is plainly not an opt-written ``.nb`` before Paddle Lite sees it.

    Paddle Lite does not raise on a bad buffer: it aborts the whole process (SIGABRT on 2 KB of random
    bytes). This checks the header and that the file holds the program it announces; a file damaged
    inside its weights can still get past it.
    """
    name = model_file.name
    if len(data) < _NB_HEADER.size:
        raise ModelLoadError(f"{model_file} is {len(data)} bytes, too short for a Paddle Lite model; convert it again.")
    meta, version, topology = _NB_HEADER.unpack_from(data)
    text = version.split(b"\0", 1)[0]
    if meta not in (1, 2) or not text.startswith(b"v") or not all(32 < c < 127 for c in text):
        raise ModelLoadError(f"{model_file} is not a Paddle Lite model written by opt (bad {name} header); "
                             "convert it again with --target paddlelite.")
    if topology == 0 or _NB_HEADER.size + topology > len(data):
        raise ModelLoadError(f"{model_file} is truncated or damaged (its program needs {topology} bytes, the file "
                             f"has {len(data) - _NB_HEADER.size} after the header); convert it again.")


class PaddleLiteSession(Session):
    name = "paddlelite"
    formats = (".nb",)
    concurrency = "lock"  # one run() at a time

    def __init__(self, model_file: Path, options: BackendOptions) -> None:
        super().__init__(model_file, options)
        self._require_f32()
        if options.device.lower() != "cpu":
            raise DeviceUnavailable(f"the paddlelite backend here runs on the CPU only, not {options.device!r}.")
        if int(np.__version__.split(".")[0]) >= 2:
            raise BackendNotInstalled(
                f"Paddle Lite's Python binding returns wrong numbers with numpy {np.__version__}; "
                "run: pip install 'numpy<2'"
            )
        from paddlelite import lite

        self._lite = lite
        places = str(options.extra.get("valid_places") or "")
        here = machine_place()
        if places and here not in [p.strip() for p in places.split(",")]:
            raise DeviceUnavailable(
                f"{Path(model_file).name} was built for {places} and this machine is {platform.machine()} ({here}); "
                f"convert it with --valid-places {here} to run it here."
            )
        built_with = options.extra.get("opt_version")
        running = runtime_version()
        if built_with and running and built_with != running:
            raise ModelLoadError(
                f"{Path(model_file).name} was optimized by opt {built_with} but this Paddle Lite is {running}; "
                "re-run the conversion with the same Paddle Lite version as the device."
            )
        self._model_bytes = Path(model_file).read_bytes()
        check_naive_buffer(self._model_bytes, Path(model_file))  # Lite aborts the process on a bad buffer
        self._predictors: "OrderedDict[Tuple[int, ...], Any]" = OrderedDict()
        self._lock = threading.Lock()
        self._predictor_for(options.example_shape())  # fail here, not on the first run, if the file is bad

    def _predictor_for(self, shape: Tuple[int, ...]) -> Any:
        pred = self._predictors.get(shape)
        if pred is not None:
            self._predictors.move_to_end(shape)
            return pred
        config = self._lite.MobileConfig()
        config.set_model_from_buffer(self._model_bytes)
        if hasattr(config, "set_threads"):  # ARM builds have it; the x86 wheel's MobileConfig does not
            config.set_threads(self.options.resolved_threads())
        if hasattr(config, "set_power_mode"):
            mode = str(self.options.extra.get("power_mode", "LITE_POWER_HIGH"))
            config.set_power_mode(getattr(self._lite.PowerMode, mode))
        try:
            pred = self._lite.create_paddle_predictor(config)
        except Exception as exc:  # the binding raises RuntimeError or plain Exception
            raise ModelLoadError(f"Paddle Lite could not load {self.model_file}: {first_line(exc)}") from exc
        self._predictors[shape] = pred
        while len(self._predictors) > 1 and sum(n * w for n, *_, w in self._predictors) > MAX_CACHED_COLUMNS:
            self._predictors.popitem(last=False)  # least recently used first
        return pred

    def run(self, batch: np.ndarray) -> np.ndarray:
        batch = np.ascontiguousarray(batch, dtype=np.float32)
        with self._lock:
            pred = self._predictor_for(tuple(batch.shape))
            pred.get_input(0).from_numpy(batch)
            pred.run()
            return np.array(pred.get_output(0).numpy(), dtype=np.float32, copy=True)

    def describe(self) -> Dict[str, Any]:
        info = super().describe()
        info.update({"version": runtime_version(), "place": machine_place(),
                     "threads_honoured": hasattr(self._lite.MobileConfig(), "set_threads")})
        return info
