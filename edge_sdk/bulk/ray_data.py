"""Bulk recognition on Ray Data: ``Dataset.map_batches`` over an actor pool, one recognizer per actor.

A Ray dataset of text lines (rows with a ``path``, or ``bytes`` as ``ray.data.read_binary_files``
gives them, or an ``image`` array) goes through ``RecognizeLines``, a callable class that loads its
model once per actor; each output row carries PaddleX's result keys (``input_path``, ``rec_text``,
``rec_score``) and an ``error`` (empty when the line was read), plus every input column but the
pixels, so Ray's own writers (``write_parquet``, ``write_json``) take the result as it is.

Each actor runs ``threads`` backend threads and reserves as many Ray CPUs, so actors x threads = the
cores Ray has. A line's result does not depend on its batch (see ``TextRecognizer``), so the texts are
the ones a single process gives, in whatever order Ray returns them; ``predict_on_ray`` puts them back
in input order by the ``index`` column ``lines_dataset`` adds.

Install with ``pip install 'edge-sdk[ray]'`` on every node; models and image paths must be reachable
from every node (a zoo name is downloaded per node into its ``$EDGE_SDK_HOME``).

Example:
    >>> import ray
    >>> from edge_sdk.bulk import lines_dataset, recognize_dataset
    >>> ds = recognize_dataset(lines_dataset("../shared/datasets/ocr_rec_dataset_examples/val.txt"),
    ...                        "PP-OCRv4_mobile_rec", actors=2, threads=1)
    >>> ds.write_parquet("out/texts")
"""
from __future__ import annotations

import os
import resource
import socket
import time
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Dict, Iterator, List, NamedTuple, Optional, Sequence, Tuple, Union

import numpy as np

from ..errors import BackendUnavailableError, EdgeSDKError, InputError
from ..images import decode_image, read_image, to_bgr
from ..limits import shown

if TYPE_CHECKING:
    from ..datasets import Sample

# Rows handed to one actor call: the window inside which lines of one padded width are batched (see
# edge_sdk.rec.recognizer.WINDOW_LINES); Ray holds a few of these per actor, each <= rows x one line.
ROWS_PER_CALL = 256
RESULT_COLUMNS = ("input_path", "rec_text", "rec_score", "error")
CONNECT_TIMEOUT_S = 5.0  # a cluster address that does not answer within this is an error
_PIXEL_COLUMNS = ("bytes", "image")


def require_ray() -> Any:
    """The ``ray`` module with Ray Data, or a one-sentence error saying how to install it."""
    try:
        import ray
        import ray.data  # noqa: F401  (Ray Data is the [data] extra of ray)
    except ImportError as exc:
        raise BackendUnavailableError(
            f"Ray Data is not installed ({exc}); install it with: pip install 'edge-sdk[ray]'") from None
    return ray


@contextmanager
def ray_session(address: str = "auto", num_cpus: Optional[int] = None) -> Iterator[Any]:
    """Ray, connected for the duration: ``"auto"`` starts a local Ray (unless this process already has one),
    anything else is a cluster address (``ray://host:10001`` or ``host:6379``). Only a Ray started here is
    shut down here."""
    ray = require_ray()
    if ray.is_initialized():
        yield ray
        return
    kwargs: Dict[str, Any] = {"include_dashboard": False, "log_to_driver": False, "configure_logging": False}
    if address == "auto":
        kwargs["num_cpus"] = num_cpus or os.cpu_count() or 1
    else:
        _check_reachable(address)
        kwargs["address"] = address
    try:
        ray.init(**kwargs)
    except Exception as exc:  # ConnectionError, RuntimeError, ValueError: all "cannot reach that Ray"
        raise EdgeSDKError(f"cannot start or join Ray at {address!r}: {str(exc).splitlines()[0] if str(exc) else exc!r}"
                           ) from None
    try:
        yield ray
    finally:
        ray.shutdown()


def _check_reachable(address: str, timeout: float = CONNECT_TIMEOUT_S) -> None:
    """A one-sentence error, within ``timeout``, when nothing listens at a cluster address (Ray itself
    retries for a minute or more before it says so)."""
    hostport = address.split("://", 1)[-1].rstrip("/")
    host, sep, port = hostport.rpartition(":")
    if not sep or not port.isdigit() or not host:
        raise EdgeSDKError(f"Ray address {address!r} is not 'auto', HOST:PORT or ray://HOST:PORT.")
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=timeout).close()
    except OSError as exc:
        raise EdgeSDKError(f"cannot start or join Ray at {address!r}: nothing answers there "
                           f"({exc.strerror or exc}).") from None


def lines_dataset(source: Union[str, Path], limit: Optional[int] = None, allow_outside_paths: bool = False) -> Any:
    """A Ray dataset of text lines: a PaddleX label file or dataset dir (rows ``index, path, label``), an
    image folder or one image (rows ``index, path``). Label paths stay inside their dataset unless
    ``allow_outside_paths``; a path that leaves it is the only error raised here."""
    samples = input_samples([source], allow_outside_paths)
    return samples_dataset(samples[:limit] if limit else samples)


def image_files_dataset(source: Union[str, List[str]]) -> Any:
    """A Ray dataset of image files (rows ``bytes, path``) from any path Ray reads (a folder, S3, GCS, ...).

    Its read tasks reserve no CPU: the actors of ``recognize_dataset``/``ocr_dataset`` hold every CPU
    Ray has (actors x threads), and a read task waiting for one would wait forever. Reading bytes costs
    little; decoding happens in the actors."""
    require_ray()
    import ray.data

    try:
        return ray.data.read_binary_files(source, include_paths=True, num_cpus=0)
    except TypeError:  # Ray before read_*(num_cpus=...)
        return ray.data.read_binary_files(source, include_paths=True, ray_remote_args={"num_cpus": 0})


def input_samples(sources: Sequence[Union[str, Path]], allow_outside_paths: bool = False) -> List["Sample"]:
    """The lines of each source, in order: an image file is one line; a label file, dataset dir or image
    folder is read as ``datasets.load_samples`` reads it."""
    from ..datasets import Sample, load_samples
    from ..inputs import IMAGE_SUFFIXES

    out: List[Sample] = []
    for source in sources:
        path = Path(source)
        if path.is_file() and path.suffix.lower() in IMAGE_SUFFIXES:
            out.append(Sample(path, None))
        else:
            out.extend(load_samples(path, allow_outside=allow_outside_paths))
    return out


def samples_dataset(samples: Sequence["Sample"]) -> Any:
    """A Ray dataset of ``datasets.Sample``s: rows ``index, path``, and ``label`` when every sample has one."""
    require_ray()
    import ray.data

    labelled = bool(samples) and all(s.label is not None for s in samples)  # one schema for every row
    return ray.data.from_items([{"index": i, "path": str(s.path), **({"label": s.label} if labelled else {})}
                                for i, s in enumerate(samples)])


class RecognizeLines:
    """The ``map_batches`` callable: one ``TextRecognizer`` per actor, loaded once in ``__init__``.

    Args:
        model: a zoo name or model path, as ``create_model`` takes it.
        threads: backend threads in this actor (give ``map_batches`` ``num_cpus`` = this).
        batch_size: lines per backend call; results do not depend on it.
        max_pixels: refuse images with more decoded pixels than this.
        worker_stats: add ``worker_pid`` and ``worker_rss_mb`` (this actor's peak RSS so far) to each row.
        model_kwargs: passed to ``create_model`` (``backend``, ``precision``, ``device``, ...).
    """

    def __init__(self, model: str, threads: int = 1, batch_size: int = 8, max_pixels: Optional[int] = None,
                 worker_stats: bool = False, **model_kwargs: Any) -> None:
        from ..predictor import create_model
        from ..rec.recognizer import TextRecognizer

        self.rec = create_model(str(model), threads=threads, **model_kwargs)
        if not isinstance(self.rec, TextRecognizer):
            raise EdgeSDKError(f"{model} is not a text-recognition model; bulk recognition needs one.")
        self.batch_size = batch_size
        self.max_pixels = max_pixels
        self.worker_stats = worker_stats

    def __call__(self, batch: Dict[str, Any]) -> Dict[str, Any]:
        from ..rec.preprocess import check_line_length

        pp = self.rec.model.preprocess
        images, good, out = _load_rows(batch, self.max_pixels, lambda img, name: check_line_length(img, pp, name))
        n = len(out["error"])
        texts, scores = [""] * n, [0.0] * n
        for i, (text, score) in zip(good, self.rec.recognize(images, self.batch_size)):
            texts[i], scores[i] = text, float(score)
        out["rec_text"] = np.array(texts, dtype=object)
        out["rec_score"] = np.array(scores, dtype=np.float64)
        return _with_stats(out, self.worker_stats)


class ReadPages:
    """The ``map_batches`` callable for whole images: one OCR pipeline (detection, line orientation,
    recognition) per actor. Each row gets PaddleX's OCR result keys: ``rec_texts``, ``rec_scores``,
    ``rec_polys`` (lists per image) and ``error``. Arguments as ``create_pipeline``'s, plus ``threads``,
    ``max_pixels`` and ``worker_stats`` as ``RecognizeLines``'s."""

    def __init__(self, threads: int = 1, max_pixels: Optional[int] = None, worker_stats: bool = False,
                 **pipeline_kwargs: Any) -> None:
        from ..pipeline import create_pipeline

        self.pipe = create_pipeline("OCR", threads=threads, **pipeline_kwargs)
        self.max_pixels = max_pixels
        self.worker_stats = worker_stats

    def __call__(self, batch: Dict[str, Any]) -> Dict[str, Any]:
        images, good, out = _load_rows(batch, self.max_pixels)
        n = len(out["error"])
        texts: List[List[str]] = [[] for _ in range(n)]
        scores: List[List[float]] = [[] for _ in range(n)]
        polys: List[List[List[List[int]]]] = [[] for _ in range(n)]
        settings = self.pipe.settings()
        for i, img in zip(good, images):  # one image at a time: a page's crops are its own batch
            res = self.pipe.ocr_batch([img], [settings])[0]
            texts[i], scores[i] = list(res["rec_texts"]), [float(x) for x in res["rec_scores"]]
            polys[i] = np.asarray(res["rec_polys"]).astype(int).tolist()
        out["rec_texts"] = _objects(texts)
        out["rec_scores"] = _objects(scores)
        out["rec_polys"] = _objects(polys)
        return _with_stats(out, self.worker_stats)


def _objects(values: List[Any]) -> np.ndarray:
    arr = np.empty(len(values), dtype=object)
    arr[:] = values
    return arr


def _load_rows(batch: Dict[str, Any], max_pixels: Optional[int], check: Optional[Any] = None
               ) -> Tuple[List[np.ndarray], List[int], Dict[str, Any]]:
    """The batch's images (BGR), the rows they come from, and the output columns so far: every input
    column but the pixels, ``input_path`` and ``error`` (a row that cannot be read gets its one sentence)."""
    n = len(next(iter(batch.values()))) if batch else 0
    paths = batch.get("path")
    images: List[np.ndarray] = []
    good: List[int] = []
    errors = [""] * n
    for i in range(n):
        name = str(paths[i]) if paths is not None else f"row {i}"
        try:
            if "bytes" in batch:
                img = decode_image(bytes(batch["bytes"][i]), shown(name), max_pixels=max_pixels)
            elif "image" in batch:
                img = to_bgr(np.asarray(batch["image"][i]), name)
            elif paths is not None:
                img = read_image(name, max_pixels=max_pixels)
            else:
                raise InputError(f"a row has none of the columns 'path', 'bytes', 'image' (it has {sorted(batch)}).")
            if check is not None:
                check(img, shown(name))
            images.append(img)
            good.append(i)
        except InputError as exc:
            errors[i] = str(exc)
    out = {k: v for k, v in batch.items() if k not in _PIXEL_COLUMNS}
    out["input_path"] = np.array([str(p) for p in paths] if paths is not None else [""] * n, dtype=object)
    out["error"] = np.array(errors, dtype=object)
    return images, good, out


def _with_stats(out: Dict[str, Any], on: bool) -> Dict[str, Any]:
    if on:
        n = len(out["error"])
        out["worker_pid"] = np.full(n, os.getpid(), dtype=np.int64)
        out["worker_rss_mb"] = np.full(n, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0)
    return out


def actor_plan(cpus: int, actors: Optional[int], threads: Optional[int]) -> Dict[str, int]:
    """Actors and threads per actor so that actors x threads = ``cpus`` (what is given is kept; each at least 1)."""
    if actors is not None and actors < 1 or threads is not None and threads < 1:
        raise EdgeSDKError("actors and threads per actor must be at least 1.")
    if actors is None and threads is None:
        threads = 1
    if actors is None:
        actors = max(1, cpus // threads)  # type: ignore[operator]
    if threads is None:
        threads = max(1, cpus // actors)
    return {"actors": actors, "threads": threads}


def cluster_plan(actors: Optional[int], threads: Optional[int]) -> Dict[str, int]:
    """``actor_plan`` for the CPUs of the Ray this process is connected to."""
    return actor_plan(int(require_ray().cluster_resources().get("CPU", 1)), actors, threads)


def recognize_dataset(ds: Any, model: Union[str, Path], actors: Optional[int] = None, threads: Optional[int] = None,
                      batch_size: int = 8, rows_per_call: int = ROWS_PER_CALL, worker_stats: bool = False,
                      **model_kwargs: Any) -> Any:
    """``ds`` with each line recognized (lazily: Ray runs it when the result is consumed or written).

    ``actors`` x ``threads`` defaults to the CPUs Ray has (one thread per actor). The actors hold those
    CPUs, so stages before this one must reserve none (``image_files_dataset``, ``from_items``) or be
    given CPUs of their own (fewer actors).
    """
    return _on_actors(ds, RecognizeLines, actors, threads, rows_per_call,
                      {"model": str(model), "batch_size": batch_size, "worker_stats": worker_stats, **model_kwargs})


def _on_actors(ds: Any, callable_class: type, actors: Optional[int], threads: Optional[int], rows_per_call: int,
               constructor_kwargs: Dict[str, Any]) -> Any:
    """``ds.map_batches`` over a fixed pool of ``callable_class`` actors, each given ``threads`` and as many Ray CPUs."""
    plan = cluster_plan(actors, threads)
    return ds.map_batches(callable_class, fn_constructor_kwargs={"threads": plan["threads"], **constructor_kwargs},
                          batch_size=rows_per_call, batch_format="numpy", num_cpus=plan["threads"],
                          **_pool(plan["actors"]))


class RayRun(NamedTuple):
    rows: List[Dict[str, Any]]  # one per line, in input order
    seconds: float  # recognizing, from the dataset's first read to its last row (Ray's start-up not counted)
    actors: int
    threads: int

    @property
    def plan(self) -> str:
        return f"Ray: {self.actors} actor{'s' * (self.actors != 1)} x {self.threads} thread{'s' * (self.threads != 1)}"

    def results(self, on_error: str = "stop") -> Tuple[List[Dict[str, Any]], List[Dict[str, str]]]:
        """The rows whose line was read, and ``{input_path, error}`` for each that was not; with
        ``on_error="stop"`` the first unreadable line raises its error instead."""
        read: List[Dict[str, Any]] = []
        skipped: List[Dict[str, str]] = []
        for row in self.rows:
            if not row["error"]:
                read.append(row)
            elif on_error == "stop":
                raise InputError(str(row["error"]))
            else:
                skipped.append({"input_path": shown(str(row["input_path"])), "error": str(row["error"])})
        return read, skipped


def _pool(actors: int) -> Dict[str, Any]:
    """``map_batches`` arguments for a fixed pool of ``actors`` (``compute=`` from Ray 2.51, ``concurrency=`` before)."""
    import ray.data

    try:
        return {"compute": ray.data.ActorPoolStrategy(size=actors)}
    except (AttributeError, TypeError):
        return {"concurrency": actors}


def ocr_dataset(ds: Any, actors: Optional[int] = None, threads: Optional[int] = None, rows_per_call: int = 16,
                worker_stats: bool = False, **pipeline_kwargs: Any) -> Any:
    """``ds`` (rows of whole images: ``path``, ``bytes`` or ``image``) with each image read by the OCR
    pipeline (``pipeline_kwargs``: ``det``, ``rec``, ``cls``, ``backend``, ... as ``create_pipeline``'s)."""
    return _on_actors(ds, ReadPages, actors, threads, rows_per_call, {"worker_stats": worker_stats, **pipeline_kwargs})


def recognize_samples(model: Union[str, Path], samples: Sequence["Sample"], address: str = "auto",
                      actors: Optional[int] = None, threads: Optional[int] = None, batch_size: int = 8,
                      **model_kwargs: Any) -> RayRun:
    """Recognize ``samples`` on Ray (``address``: ``"auto"`` for a local Ray, else a cluster); one row per
    sample, in the samples' order."""
    with ray_session(address):
        plan = cluster_plan(actors, threads)
        t0 = time.perf_counter()
        rows = recognize_dataset(samples_dataset(samples), model, plan["actors"], plan["threads"], batch_size,
                                 **model_kwargs).take_all()
        seconds = time.perf_counter() - t0
    rows.sort(key=lambda r: int(r["index"]))
    if [int(r["index"]) for r in rows] != list(range(len(samples))):
        raise EdgeSDKError(f"Ray returned {len(rows)} rows for {len(samples)} lines.")
    return RayRun(rows, seconds, plan["actors"], plan["threads"])
