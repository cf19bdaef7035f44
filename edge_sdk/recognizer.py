"""The text recognizer: shared preprocessing -> a runtime session -> shared CTC decoding."""
from __future__ import annotations

import logging
from collections import OrderedDict
from itertools import islice
from pathlib import Path
from typing import Dict, Iterator, List, Optional, Sequence, Tuple, Union

import numpy as np

import runtimes
from runtimes.device import DeviceProfile, this_device
from runtimes.selection import Artifact, Candidate, Selection, rank

from .ctc import Charset, ctc_greedy_decode
from .errors import BackendUnavailableError, EdgeSDKError, ModelFormatError
from .autotune import TuneResult, autotune
from .hub import cache_root, resolve
from .inputs import InputLike, Item, iter_items
from .model_dir import ModelDir
from .preprocess import resize_normalize
from .result import TextRecResult

log = logging.getLogger("edge_sdk.recognizer")


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
            selection = rank(profile or this_device(), [artifact], precision)
            ranked = [c for c in selection.usable if c.backend == backend]
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


class TextRecognizer:
    """A loaded text-recognition model. Build it with ``edge_sdk.create_model``."""

    def __init__(self, model: ModelDir, backend: str = "auto", threads: int = 0, device: str = "auto",
                 precision: str = "f32", cache_dir: Optional[Union[str, Path]] = "auto",
                 optimize_graph: bool = True) -> None:
        self.model = model
        if cache_dir == "auto":
            cache_dir = compiled_cache_dir()
        cache = str(cache_dir) if cache_dir else None
        candidates, self.selection = plan_backends(model, backend, device, precision)
        self.tuning: Optional[TuneResult] = None
        if backend == "autotune":
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
            try:
                self.session = runtimes.load_backend(cand.backend, model.model_file, threads=threads,
                                                     device=cand.device, precision=precision, cache_dir=cache,
                                                     extra=model.runtime_hints, optimize_graph=optimize_graph)
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
            break
        else:
            raise BackendUnavailableError(f"no candidate backend could load {model.model_file.name}: {'; '.join(failures)}")
        self.num_classes = self._probe_classes()
        model.charset.check_fits(self.num_classes, model.dict_source)

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

    @property
    def charset(self) -> Charset:
        return self.model.charset

    def _probe_classes(self) -> int:
        """Run one blank line (also a warm-up) and read the class count off the output."""
        pp = self.model.preprocess
        out = self.session.run(np.zeros((1, 3, pp.height, pp.min_width), dtype=np.float32))
        if out.ndim != 3 or out.shape[0] != 1:
            raise ModelFormatError(
                f"{self.model.model_file} outputs shape {out.shape}, not [N, T, classes]; is it a text-recognition model?"
            )
        return int(out.shape[2])

    # -- arrays --------------------------------------------------------------------------------
    def run_lines(self, images: Sequence[np.ndarray], batch_size: int = 1) -> List[np.ndarray]:
        """Probabilities ``[T, C]`` for each BGR line, batching only lines of equal padded width."""
        if batch_size < 1:
            raise EdgeSDKError(f"batch_size must be at least 1, not {batch_size}.")
        pp = self.model.preprocess
        tensors = [resize_normalize(img, pp) for img in images]
        by_width: Dict[int, List[int]] = OrderedDict()
        for i, t in enumerate(tensors):
            by_width.setdefault(t.shape[2], []).append(i)
        out: List[Optional[np.ndarray]] = [None] * len(images)
        for idxs in by_width.values():
            for start in range(0, len(idxs), batch_size):
                chunk = idxs[start:start + batch_size]
                probs = self.session.run(np.stack([tensors[i] for i in chunk]))
                for i, p in zip(chunk, probs):
                    out[i] = p
        return out  # type: ignore[return-value]

    def recognize(self, images: Sequence[np.ndarray], batch_size: int = 1) -> List[Tuple[str, float]]:
        """``(text, score)`` for each BGR line."""
        probs = self.run_lines(images, batch_size)
        return [ctc_greedy_decode(p[None], self.charset)[0] for p in probs]

    # -- the PaddleX-style API -------------------------------------------------------------------
    def predict(self, inputs: InputLike, batch_size: int = 1, keep_images: bool = True) -> Iterator[TextRecResult]:
        """Recognize lines lazily, in input order.

        Args:
            inputs: an image path, a directory, a PaddleX label file, a list of these, or BGR arrays.
            batch_size: lines per backend call; results do not depend on it.
            keep_images: keep each line's pixels on its result (needed by ``save_to_img``).
        Example:
            >>> for res in create_model("PP-OCRv4_mobile_rec").predict("line.png"):
            ...     res.print()
        """
        items = iter_items(inputs)
        # Read a window of lines at a time so that batches can fill with lines of equal width,
        # while memory stays bounded and results still come out in input order.
        window = max(batch_size * 8, 64) if batch_size > 1 else 1
        while True:
            chunk: List[Item] = list(islice(items, window))
            if not chunk:
                return
            images = [item.load() for item in chunk]
            for item, img, (text, score) in zip(chunk, images, self.recognize(images, batch_size)):
                yield TextRecResult(item.input_path, text, score, input_img=img if keep_images else None,
                                    name=item.name)

    def __call__(self, inputs: InputLike, batch_size: int = 1) -> Iterator[TextRecResult]:
        return self.predict(inputs, batch_size=batch_size)

    def describe(self) -> Dict[str, object]:
        return {"model": self.model.model_name, "path": str(self.model.path), "format": self.model.format,
                "classes": self.num_classes, **self.session.describe(), "chosen_by": self.chosen_by}


def create_model(model: Union[str, Path] = "PP-OCRv4_mobile_rec", backend: str = "auto", threads: int = 0,
                 device: str = "auto", dict_path: Optional[Union[str, Path]] = None, precision: str = "f32",
                 cache_dir: Optional[Union[str, Path]] = "auto") -> TextRecognizer:
    """Load a model by zoo name or path, PaddleX-style.

    Args:
        model: a zoo name (fetched and cached on first use), a Paddle inference dir, or a converted artifact.
        backend: ``auto`` (the best backend for this device by ``runtimes.selection``'s ranking, falling
            down it when one cannot load), ``autotune`` (time the top candidates once, cache the winner),
            or a name from ``runtimes.BACKENDS``, which always wins.
        threads: CPU threads for the backend (0 = every core this process may use).
        device: ``auto`` (the ranking's), ``cpu``, or ``gpu``/``cuda``/``tensorrt``/``npu`` where a backend has it.
        dict_path: a character dict file that overrides the model's own.
        precision: compute precision, ``f32`` (default) or, on OpenVINO where the hardware has it, ``bf16``/``f16``.
        cache_dir: where backends that compile (OpenVINO) keep compiled models so the next start is fast;
            ``"auto"`` = ``$EDGE_SDK_HOME/compiled``, None = no cache.
    Example:
        >>> model = create_model("PP-OCRv4_mobile_rec")
        >>> [r.rec_text for r in model.predict("line.png")]
    """
    md = resolve(str(model), dict_path=Path(dict_path) if dict_path else None)
    return TextRecognizer(md, backend=backend, threads=threads, device=device, precision=precision,
                          cache_dir=cache_dir)
