"""The text recognizer: shared preprocessing -> a runtime session -> shared CTC decoding."""
from __future__ import annotations

import logging
from collections import OrderedDict
from itertools import islice
from pathlib import Path
from typing import Dict, Iterator, List, Optional, Sequence, Tuple, Union

import numpy as np

import runtimes

from .ctc import Charset, ctc_greedy_decode
from .errors import BackendUnavailableError, EdgeSDKError, ModelFormatError
from .hub import cache_root, resolve
from .inputs import InputLike, Item, iter_items
from .model_dir import ModelDir
from .preprocess import resize_normalize
from .result import TextRecResult

log = logging.getLogger("edge_sdk.recognizer")


def compiled_cache_dir() -> Path:
    return cache_root() / "compiled"


def choose_backend(model: ModelDir, backend: str = "auto") -> str:
    """The backend that will run ``model``: the one asked for, or the first installed one that reads its format."""
    candidates = runtimes.backends_for(model.model_file)
    if backend != "auto":
        if backend not in runtimes.BACKENDS:
            raise BackendUnavailableError(f"unknown backend {backend!r}; choose one of auto, {', '.join(runtimes.BACKENDS)}.")
        if backend not in candidates:
            raise BackendUnavailableError(
                f"the {backend} backend cannot run a {model.format} model ({model.model_file.name}); "
                f"use {' or '.join(candidates) or 'another artifact'}, or convert it with `edge-sdk convert`."
            )
        return backend
    for name in candidates:
        if runtimes.is_available(name):
            return name
    installs = "; ".join(f"{runtimes.BACKENDS[n].pip}" for n in candidates)
    raise BackendUnavailableError(
        f"no installed backend can run {model.model_file.name} ({model.format}); install one ({installs}) "
        "or convert the model with `edge-sdk convert` on a machine that has paddlepaddle."
    )


class TextRecognizer:
    """A loaded text-recognition model. Build it with ``edge_sdk.create_model``."""

    def __init__(self, model: ModelDir, backend: str = "auto", threads: int = 0, device: str = "cpu",
                 precision: str = "f32", cache_dir: Optional[Union[str, Path]] = "auto") -> None:
        self.model = model
        self.backend = choose_backend(model, backend)
        if cache_dir == "auto":
            cache_dir = compiled_cache_dir()
        try:
            self.session = runtimes.load_backend(self.backend, model.model_file, threads=threads, device=device,
                                                 precision=precision,
                                                 cache_dir=str(cache_dir) if cache_dir else None,
                                                 extra=model.runtime_hints)
        except (runtimes.BackendNotInstalled, runtimes.DeviceUnavailable) as exc:
            raise BackendUnavailableError(str(exc)) from exc
        except runtimes.ModelLoadError as exc:
            raise ModelFormatError(str(exc)) from exc
        self.num_classes = self._probe_classes()
        model.charset.check_fits(self.num_classes, model.dict_source)

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
                "classes": self.num_classes, **self.session.describe()}


def create_model(model: Union[str, Path] = "PP-OCRv4_mobile_rec", backend: str = "auto", threads: int = 0,
                 device: str = "cpu", dict_path: Optional[Union[str, Path]] = None, precision: str = "f32",
                 cache_dir: Optional[Union[str, Path]] = "auto") -> TextRecognizer:
    """Load a model by zoo name or path, PaddleX-style.

    Args:
        model: a zoo name (fetched and cached on first use), a Paddle inference dir, or a converted artifact.
        backend: ``auto`` (first installed backend that reads the model's format) or a name from
            ``runtimes.BACKENDS``.
        threads: CPU threads for the backend (0 = all available cores).
        device: ``cpu`` or a device the backend supports.
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
