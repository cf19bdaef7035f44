"""The backend contract: array in, array out.

A backend is loaded once from a model file and then run many times:

    session = load_backend("onnxruntime", Path("out/rec-onnx/inference.onnx"), threads=2)
    probs = session.run(batch)        # float32[N, 3, 48, W] -> float32[N, T, C] (a recognizer)

Backends know nothing about images, dictionaries or text; those live in ``edge_sdk``.

A session may be shared by threads: ``run`` may be called concurrently and gives each caller the
same result a single-thread run would. ``Session.concurrency`` says how each backend makes that so.
"""
from __future__ import annotations

import abc
import contextlib
import logging
import os
import queue
import re
import threading
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Deque, Dict, Generic, Iterable, Iterator, List, Optional, Set, Tuple, TypeVar

import numpy as np

log = logging.getLogger("runtimes")
T = TypeVar("T")


class RuntimeErrorBase(Exception):
    """Raised by runtimes for problems a user can fix (missing package, unreadable model file)."""


class BackendNotInstalled(RuntimeErrorBase):
    """The Python package behind a backend is not importable."""


class DeviceUnavailable(RuntimeErrorBase):
    """The requested device (or compute precision on it) is not present on this machine."""


class ModelLoadError(RuntimeErrorBase):
    """The backend could not load the model file."""


# Lines of native error messages that say where in C++ it failed, not what failed.
_LOCATION_LINE = re.compile(r"^(Exception from \S+:\d+:?|Check '.*' failed at \S+|.*API failed with \w+:)$")


def first_line(exc: BaseException) -> str:
    """The first telling line of a native library's (often multi-page) error message.

    OpenVINO starts with C++ source locations (``Exception from src/inference/...cpp:84:``); skip those.
    """
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    telling = [line for line in lines if not _LOCATION_LINE.match(line)]
    return (telling or lines or [type(exc).__name__])[0]


def env_whole_number(name: str, default: int, what: str, minimum: int = 0,
                     error: Optional[type] = None) -> int:
    """A whole number >= ``minimum`` from ``$name``, ``default`` when unset; any other value is an error.

    ``what`` ends the one-sentence error (``"a positive whole number"``, ``"a whole number of malloc
    arenas (0 leaves glibc's default)"``); a setting that does not parse is never silently ignored.
    """
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        value = minimum - 1
    if value < minimum:
        raise (error or ModelLoadError)(f"{name}={raw!r} is not {what}; set one (default {default}) or unset it.")
    return value


def default_threads() -> int:
    """Threads to use when the caller does not say: every core the process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


@dataclass(frozen=True)
class BackendOptions:
    """Settings every backend honours. ``extra`` carries backend-specific keys, validated by it."""

    threads: int = 0  # 0 = default_threads()
    device: str = "cpu"
    # Compute precision: "f32" (default: an FP32 artifact gives FP32 results), or "bf16"/"f16" where a
    # backend and the hardware support it. Backends that cannot honour a request refuse it.
    precision: str = "f32"
    # Where a backend may keep compiled models between processes (None = no cache).
    cache_dir: Optional[str] = None
    # False: run the graph op by op as written, without the fusions that reorder float math. Conversion
    # checks use it to measure the converter alone; backends without the switch ignore it.
    optimize_graph: bool = True
    # Inference streams: batches run side by side, the threads split between them (OpenVINO's CPU streams;
    # backends without them run one batch at a time). 1 (default) gives one batch all threads: the
    # lowest latency per call; more streams give more lines/s over many batches (``Session.run_many``).
    streams: int = 1
    extra: Dict[str, Any] = field(default_factory=dict)
    # The model input, -1 where a dimension is dynamic: text lines [N, 3, 48, W] (the default), whole
    # images for detection [N, 3, H, W], orientation crops [N, 3, 48, 192]. Backends that must fix a shape
    # (an OpenVINO model read with H dynamic, a TensorRT profile, a Paddle Lite warm-up) take it from here.
    input_shape: Tuple[int, int, int, int] = (-1, 3, 48, -1)

    def example_shape(self) -> Tuple[int, int, int, int]:
        """A concrete input of ``input_shape``: batch 1, dynamic sides 320 (a multiple of 32)."""
        n, c, h, w = self.input_shape
        return (1, c, h if h > 0 else 320, w if w > 0 else 320)

    def resolved_threads(self) -> int:
        """``threads``, or every core this process may use when it is 0 or more than that.

        Asking for more threads than cores only adds contention (and onnxruntime takes seconds to
        start thousands of threads), so such a request is clamped, with one warning per process.
        """
        available = default_threads()
        if not self.threads or self.threads <= 0:
            return available
        if self.threads > available:
            _warn_once(("threads", self.threads, available),
                       "threads=%d is more than the %d cores available; using %d", self.threads, available, available)
            return available
        return self.threads


_warned: Set[Tuple[Any, ...]] = set()
_warned_lock = threading.Lock()


def _warn_once(key: Tuple[Any, ...], msg: str, *args: Any, logger: Optional[logging.Logger] = None) -> None:
    """Log ``msg`` as a warning the first time ``key`` is seen in this process."""
    with _warned_lock:
        if key in _warned:
            return
        _warned.add(key)
    (logger or log).warning(msg, *args)


class ObjectPool(Generic[T]):
    """Idle objects (infer requests, predictors) lent to one caller at a time.

    ``take()`` lends the most recently returned idle object (its caches are warm); when none is idle
    and fewer than ``max_size`` exist, ``factory`` makes one; otherwise the caller waits for one.
    """

    def __init__(self, max_size: int, factory: Optional[Callable[[], T]] = None, initial: Optional[List[T]] = None) -> None:
        self.max_size = max(1, max_size, len(initial or []))
        self._factory = factory
        self._idle: "queue.LifoQueue[T]" = queue.LifoQueue()
        self._lock = threading.Lock()
        self.created = 0
        for item in initial or []:
            self._idle.put(item)
            self.created += 1

    @contextlib.contextmanager
    def take(self) -> Iterator[T]:
        try:
            item = self._idle.get_nowait()
        except queue.Empty:
            with self._lock:
                make = self._factory is not None and self.created < self.max_size
                if make:
                    self.created += 1
            if make:
                try:
                    item = self._factory()  # type: ignore[misc]
                except BaseException:
                    with self._lock:
                        self.created -= 1
                    raise
            else:
                item = self._idle.get()
        try:
            yield item
        finally:
            self._idle.put(item)

    def clear(self) -> None:
        """Drop the idle objects to free them early; later takes make new ones. Needs a factory."""
        if self._factory is None:
            return  # nothing could replace them: a later take() would wait forever
        with self._lock:
            while True:
                try:
                    self._idle.get_nowait()
                except queue.Empty:
                    break
                self.created -= 1


class Session(abc.ABC):
    """A loaded model. ``run`` is the only hot-path method."""

    #: backend name as registered in ``runtimes.BACKENDS``
    name: str = ""
    #: model file formats this backend can load, by file suffix (".onnx", ".pdmodel", ...)
    formats: Tuple[str, ...] = ()
    #: True when ``BackendOptions.optimize_graph=False`` changes what runs
    graph_optimization_switch: bool = False
    #: How ``run`` is made safe to call from several threads at once (each gets a single-thread result):
    #: ``"native"`` - the library's own call is thread-safe (onnxruntime); ``"pool"`` - each call borrows
    #: its own worker (OpenVINO infer request, Paddle predictor clone) from a bounded pool; ``"lock"`` -
    #: calls run one at a time.
    concurrency: str = "native"
    #: Bytes per activation value the backend computes with (2 at bf16/f16): what a batch's memory scales by
    activation_bytes: int = 4
    #: Batches ``run_many`` keeps running at once (``BackendOptions.streams`` where the backend has streams)
    streams: int = 1
    #: Blank lines worth running to keep a batch at the shape of the batch before it: about what a new
    #: input shape costs beyond its lines (0 where a new shape costs nothing, as on onnxruntime)
    new_shape_lines: int = 0

    def __init__(self, model_file: Path, options: BackendOptions) -> None:
        self.model_file = Path(model_file)
        self.options = options

    @abc.abstractmethod
    def run(self, batch: np.ndarray) -> np.ndarray:
        """Run one batch: float32[N, 3, H, W] -> float32[N, T, C] (probabilities)."""

    def run_many(self, batches: Iterable[np.ndarray]) -> Iterator[np.ndarray]:
        """``run`` of each batch, in order. With several streams, that many batches run at once (each
        ``run`` on its own infer request) and one more waits, so a stream never idles while the caller
        builds the next batch or decodes the last; each output is what ``run`` alone gives."""
        if self.streams <= 1:
            for batch in batches:
                yield self.run(batch)
            return
        pending: Deque["Future[np.ndarray]"] = deque()
        with ThreadPoolExecutor(self.streams, thread_name_prefix=f"edge-sdk-{self.name}") as pool:
            try:
                for batch in batches:
                    pending.append(pool.submit(self.run, batch))
                    if len(pending) > self.streams:
                        yield pending.popleft().result()
                while pending:
                    yield pending.popleft().result()
            finally:  # stopped early or failed: nothing more starts; what runs finishes before the pool closes
                for future in pending:
                    future.cancel()

    def describe(self) -> Dict[str, Any]:
        """What this session is, for logs, manifests and benchmark tables."""
        from .memory import status as malloc_status

        return {
            "backend": self.name,
            "device": self.options.device,
            "threads": self.options.resolved_threads(),
            "streams": self.streams,
            "precision": self.options.precision,
            "model_file": str(self.model_file),
            "concurrency": self.concurrency,
            "malloc_arenas": malloc_status(),
        }

    def _require_f32(self) -> None:
        """For backends that compute in the artifact's own precision only."""
        if self.options.precision != "f32":
            raise DeviceUnavailable(
                f"the {self.name} backend computes in the artifact's precision; precision "
                f"{self.options.precision!r} is an OpenVINO setting (use backend='openvino')."
            )

    def close(self) -> None:  # pragma: no cover - most backends free on GC
        """Release native resources early."""
