"""What every task's predictor shares: choosing a backend for the device and loading the session.

``TextRecognizer`` (text lines), ``TextDetector`` (whole images) and ``TextLineClassifier`` (line
orientation) differ in their pre- and post-processing only; each is a ``Predictor`` over one runtime
session, loaded here with the same backend ranking, fall-backs and options.
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple, Union

import runtimes
from runtimes.device import DeviceProfile, this_device
from runtimes.selection import Artifact, Candidate, Selection, rank

from .autotune import TuneResult, autotune
from .errors import BackendUnavailableError, ModelFormatError, OptionError
from .hub import cache_root, resolve
from .model_dir import TASK_NAMES, ModelDir
from .options import MAX_STREAMS, check_bool, check_choice, check_int, check_path_or_none
from .precision import DEFAULT_MAX_ACC_LOSS, check_max_acc_loss, choose_precision

log = logging.getLogger("edge_sdk.predictor")

PRECISIONS = ("f32", "bf16", "f16", "fastest")  # fastest: see edge_sdk.precision


def compiled_cache_dir() -> Path:
    return cache_root() / "compiled"


AUTO_BACKENDS = ("auto", "autotune")
# a user's device word -> the candidate devices it covers
DEVICE_ALIASES = {"gpu": ("gpu", "cuda", "tensorrt")}
DEVICES = ("auto", "cpu", "gpu", "cuda", "tensorrt", "npu")


def plan_backends(model: ModelDir, backend: str = "auto", device: str = "auto", precision: str = "f32",
                  profile: Optional[DeviceProfile] = None) -> Tuple[List[Candidate], Optional[Selection]]:
    """The candidates to try, in order, for ``model`` on this device, and the ranking they came from.

    ``backend`` is ``auto``/``autotune`` (the device ranking, ``runtimes.selection``) or a name, which
    always wins; ``device`` is ``auto`` (the ranking's) or a device to keep to. A named backend on a
    named device needs no ranking, so it skips the device probe (None for the ranking).
    """
    artifact = Artifact.from_file(model.model_file, model.manifest)
    if backend not in AUTO_BACKENDS:
        if backend not in runtimes.BACKENDS:
            raise BackendUnavailableError(
                f"unknown backend {backend!r}; choose one of {', '.join(AUTO_BACKENDS)}, {', '.join(runtimes.BACKENDS)}."
            )
        if model.model_file.suffix not in runtimes.BACKENDS[backend].formats:
            readers = runtimes.backends_for(model.model_file)
            raise BackendUnavailableError(
                f"the {backend} backend cannot run a {model.format} model ({model.model_file.name}); "
                f"use {' or '.join(readers) or 'another artifact'}, or convert it with `edge-sdk convert`."
            )
        selection = None
        if device == "auto":
            selection = rank(profile or this_device(), [artifact], precision, backend_only=backend)
            ranked = selection.usable
            device = ranked[0].device if ranked else "cpu"
        return [Candidate(backend, device, artifact, True, "asked for by name")], selection
    selection = rank(profile or this_device(), [artifact], precision)
    if device not in DEVICES:
        raise BackendUnavailableError(f"unknown device {device!r}; use one of {', '.join(DEVICES)}.")
    wanted = DEVICE_ALIASES.get(device, (device,))
    usable = [c for c in selection.usable if device == "auto" or c.device in wanted]
    if not usable:
        why = "; ".join(f"{c.label}: {c.reason}" for c in selection.candidates
                        if c.artifact is not None and (device == "auto" or c.device in wanted))
        where = "" if device == "auto" else f" on device {device}"
        raise BackendUnavailableError(
            f"no backend can run {model.model_file.name} ({model.format}){where} here: "
            f"{why or 'none of them reads this format'}."
        )
    return usable, selection


def input_shape(model: ModelDir) -> Tuple[int, int, int, int]:
    """The model's input, -1 where dynamic: text lines [N, 3, H, W], whole images [N, 3, H, W] with H
    dynamic too, orientation crops at their fixed size."""
    if model.task == "det":
        return (-1, 3, -1, -1)
    if model.task == "cls":
        return (-1, 3, model.cls.height, model.cls.width)
    return (-1, 3, model.preprocess.height, -1)


class Predictor:
    """A model and the runtime session chosen for it on this device (``backend``, ``device``,
    ``chosen_by`` say which and why). Sessions may be shared by threads (``runtimes.base``).
    ``TASK``/``ROLE``: the task a subclass runs and what it is called; a model of another task is refused."""

    TASK = ""
    ROLE = ""

    def __init__(self, model: ModelDir, backend: str = "auto", threads: int = 0, device: str = "auto",
                 precision: str = "f32", cache_dir: Optional[Union[str, Path]] = "auto",
                 optimize_graph: bool = True, max_acc_loss: float = DEFAULT_MAX_ACC_LOSS, streams: int = 1) -> None:
        if model.task != self.TASK:
            raise ModelFormatError(f"{model.path} holds a text {TASK_NAMES[model.task]} model, not a {self.ROLE}; "
                                   "create_model() loads each task's model with its own predictor.")
        backend = check_choice("backend", backend, (*AUTO_BACKENDS, *runtimes.BACKENDS))
        threads = check_int("threads", threads, 0)
        streams = check_int("streams", streams, 1, MAX_STREAMS)
        device = check_choice("device", device, DEVICES)
        precision = check_choice("precision", precision, PRECISIONS)
        max_acc_loss = check_max_acc_loss(max_acc_loss)
        fastest = precision == "fastest"
        if fastest:
            precision = "f32"  # what the ranking and autotune plan with; each candidate's own is chosen below
        self.precision_choice: Optional[str] = None  # why, when precision="fastest" chose
        cache_dir = check_path_or_none("cache_dir", cache_dir, (None, "auto"))
        optimize_graph = check_bool("optimize_graph", optimize_graph)
        try:  # before anything starts a backend's threads (the device probe loads OpenVINO's CPU plugin)
            runtimes.limit_malloc_arenas()
        except runtimes.ModelLoadError as exc:
            raise OptionError(str(exc)) from exc
        self.model = model
        if cache_dir == "auto":
            cache_dir = compiled_cache_dir()
        cache = str(cache_dir) if cache_dir else None
        candidates, self.selection = plan_backends(model, backend, device, precision)
        self.tuning: Optional[TuneResult] = None
        if backend == "autotune":
            if model.task != "rec":
                raise BackendUnavailableError(f"backend='autotune' times text lines; for a text {TASK_NAMES[model.task]} "
                                              "model use 'auto' or a backend name.")
            try:
                self.tuning = autotune(model, candidates, this_device(), threads=threads, precision=precision,
                                       cache_dir=cache)
            except runtimes.BackendNotInstalled as exc:
                raise BackendUnavailableError(str(exc)) from exc
            except runtimes.ModelLoadError as exc:
                raise ModelFormatError(str(exc)) from exc
            candidates = sorted(candidates, key=lambda c: c.label != self.tuning.winner)  # type: ignore[union-attr]
        failures = []
        for cand in candidates:
            if fastest:
                precision, self.precision_choice = choose_precision(model, cand.backend, max_acc_loss)
            try:
                self.session = runtimes.load_backend(cand.backend, model.model_file, threads=threads,
                                                     device=cand.device, precision=precision, cache_dir=cache,
                                                     extra=model.runtime_hints, optimize_graph=optimize_graph,
                                                     input_shape=input_shape(model), streams=streams)
            except (runtimes.BackendNotInstalled, runtimes.DeviceUnavailable) as exc:
                if len(candidates) == 1:
                    raise BackendUnavailableError(str(exc)) from exc
                log.info("%s cannot run here, next candidate: %s", cand.label, exc)
                failures.append(f"{cand.label}: {exc}")
                continue
            except runtimes.ModelLoadError as exc:
                raise ModelFormatError(str(exc)) from exc
            self.backend, self.device = cand.backend, cand.device
            self.chosen_by = self._why(backend, cand, failures)
            if self.precision_choice:
                self.chosen_by += f" Precision (fastest within {max_acc_loss:g} points): {self.precision_choice}"
            break
        else:
            raise BackendUnavailableError(f"no candidate backend could load {model.model_file.name}: {'; '.join(failures)}")

    def _why(self, asked: str, chosen: Candidate, failures: List[str]) -> str:
        if asked not in AUTO_BACKENDS:
            return f"{chosen.label}: asked for by name"
        if self.tuning is not None:
            times = ", ".join(f"{k} {v:.1f} ms" for k, v in self.tuning.timings_ms.items())
            return (f"{chosen.label}: fastest when autotuned on widths {self.tuning.widths} ({times}"
                    f"{', cached' if self.tuning.cached else ''})")
        assert self.selection is not None  # auto and autotune always rank
        text = self.selection.explain()
        return text + (f" Fell back past: {'; '.join(failures)}." if failures else "")

    def describe(self) -> Dict[str, object]:
        info = {"model": self.model.model_name, "path": str(self.model.path), "format": self.model.format,
                "task": self.TASK, **self.session.describe(), "chosen_by": self.chosen_by}
        if self.precision_choice:
            info["precision_choice"] = self.precision_choice
        return info


def predictor_class(model: ModelDir) -> Any:
    """The predictor that runs ``model``'s task."""
    if model.task == "det":
        from .det import TextDetector
        return TextDetector
    if model.task == "cls":
        from .cls import TextLineClassifier
        return TextLineClassifier
    from .rec.recognizer import TextRecognizer
    return TextRecognizer


def create_model(model: Union[str, Path] = "PP-OCRv4_mobile_rec", backend: str = "auto", threads: int = 0,
                 device: str = "auto", dict_path: Optional[Union[str, Path]] = None, precision: str = "f32",
                 cache_dir: Optional[Union[str, Path]] = "auto", max_acc_loss: float = DEFAULT_MAX_ACC_LOSS,
                 streams: int = 1) -> Any:
    """Load a model by zoo name or path, PaddleX-style: a ``TextRecognizer``, or for a text detection or
    line orientation model a ``TextDetector`` or ``TextLineClassifier`` (``edge_sdk.det``, ``edge_sdk.cls``).

    Args:
        model: a zoo name (fetched and cached on first use), a Paddle inference dir, or a converted artifact.
        backend: ``auto`` (the best backend for this device by ``runtimes.selection``'s ranking, falling
            down it when one cannot load), ``autotune`` (time the top candidates once, cache the winner),
            or a name from ``runtimes.BACKENDS``, which always wins.
        threads: CPU threads for the backend (0 = every core this process may use).
        device: ``auto`` (the ranking's), ``cpu``, or ``gpu``/``cuda``/``tensorrt``/``npu`` where a backend has it.
        dict_path: a character dict file that overrides the model's own.
        precision: compute precision, ``f32`` (default) or, on OpenVINO where the hardware has it, ``bf16``/``f16``;
            or ``fastest``: the fastest one whose accuracy, checked on labelled lines on this device
            (``edge-sdk check-precision``), is within ``max_acc_loss`` points of f32 (f32 when none is checked).
        max_acc_loss: the bound for ``precision="fastest"``, in points of PaddleX acc (default 0.3).
        cache_dir: where backends that compile (OpenVINO) keep compiled models so the next start is fast;
            ``"auto"`` = ``$EDGE_SDK_HOME/compiled``, None = no cache.
        streams: text recognition only: batches run side by side, the threads split between them (OpenVINO
            CPU streams; other backends run one at a time). 1 (default) is the lowest latency per call;
            2 gives more lines/s to ``predict`` over many lines (measured in README's *Speed*).
    Example:
        >>> model = create_model("PP-OCRv4_mobile_rec")
        >>> [r.rec_text for r in model.predict("line.png")]
    """
    model = check_path_or_none("model", model)
    if dict_path is not None:
        dict_path = check_path_or_none("dict_path", dict_path)
    md = resolve(str(model), dict_path=Path(dict_path) if dict_path else None)
    more = {}
    if streams != 1:
        if md.task != "rec":
            raise OptionError(f"streams={streams!r} applies to text recognition models; {md.path} holds a text "
                             f"{TASK_NAMES[md.task]} model (leave streams at 1).")
        more["streams"] = streams
    return predictor_class(md)(md, backend=backend, threads=threads, device=device, precision=precision,
                               cache_dir=cache_dir, max_acc_loss=max_acc_loss, **more)
