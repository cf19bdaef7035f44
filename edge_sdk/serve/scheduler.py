"""The server's inference scheduler: a bounded admission count, one inference thread, micro-batches.

Requests become jobs. A request is admitted only while fewer than ``queue_size`` requests are inside
(decoding, waiting or running); the next one is refused at once (the server answers 503 with
``Retry-After``), so a burst costs a refusal, never unbounded memory or latency. One thread owns the
model sessions and runs every job: when it is free it takes everything waiting (up to ``max_lines``
crops, a page counting as 16), detects each page, then runs orientation and recognition once over the
crops of all of them, batched by padded width. A line's text, box and orientation never depend on its
batch mates, so an answer is the same at any load (its score to below 1e-6: onnxruntime and OpenVINO
pick kernels by batch size and shape history). A job whose client gave up (timeout) before it started
is skipped.
"""
from __future__ import annotations

import logging
import queue
import threading
import time
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, Callable, List, Optional, Sequence

import numpy as np

log = logging.getLogger("edge_sdk.serve")
PAGE_COST = 16  # with max_lines 64: at most 4 pages per batch (memory of their crops, latency of the first)


class QueueFull(Exception):
    """Raised by ``admit`` when ``queue_size`` requests are already inside."""


@dataclass
class Job:
    """One request's work: line crops to recognize (``kind="rec"``) or one page to OCR (``"ocr"``)."""

    kind: str
    images: Sequence[np.ndarray]
    settings: Any = None  # OCRSettings for "ocr"
    future: Future = field(default_factory=Future)
    admission: Optional["Admission"] = None

    @property
    def lines(self) -> int:
        return len(self.images)

    @property
    def cost(self) -> int:
        """What the job weighs in a batch, in line crops: a page counts as ``PAGE_COST`` lines (its crops
        all go through recognition together), so a batch holds a few pages, not a queue's worth."""
        return PAGE_COST if self.kind == "ocr" else len(self.images)


class Admission:
    """A slot held by an admitted request until its answer is computed (or it is dropped)."""

    def __init__(self, scheduler: "Scheduler") -> None:
        self._scheduler = scheduler
        self._released = False

    def release(self) -> None:
        if not self._released:
            self._released = True
            self._scheduler._leave()


class Scheduler:
    """Runs jobs for the server; ``recognize(crops)`` and ``ocr_batch(images, settings)`` come from the
    loaded predictors and are only ever called from the scheduler's own thread."""

    def __init__(self, recognize: Callable[[List[np.ndarray]], list],
                 ocr_batch: Optional[Callable[[list, list], list]] = None,
                 queue_size: int = 16, max_lines: int = 64,
                 on_batch: Optional[Callable[[int, int, float], None]] = None) -> None:
        self._recognize, self._ocr_batch = recognize, ocr_batch
        self.queue_size, self.max_lines = queue_size, max_lines
        self._on_batch = on_batch
        self._jobs: "queue.Queue[Optional[Job]]" = queue.Queue()
        self._lock = threading.Lock()
        self._inside = 0
        self._closing = False
        self._thread = threading.Thread(target=self._run, name="edge-sdk-inference", daemon=True)
        self._thread.start()

    # admission ---------------------------------------------------------------------------------------
    @property
    def inside(self) -> int:
        """Requests admitted and not yet answered."""
        return self._inside

    @property
    def waiting(self) -> int:
        """Jobs queued for the inference thread."""
        return self._jobs.qsize()

    def admit(self) -> Admission:
        with self._lock:
            if self._closing or self._inside >= self.queue_size:
                raise QueueFull()
            self._inside += 1
        return Admission(self)

    def _leave(self) -> None:
        with self._lock:
            self._inside -= 1

    def submit(self, job: Job, admission: Admission) -> Future:
        """Queue ``job``; its future holds the answer (a list of (text, score) or the OCR result dict).
        The job keeps the request's slot until the inference thread has run it or skipped it (a job whose
        client gave up still holds its memory while it waits, so it still counts)."""
        job.admission = admission
        # answered: the slot frees before the client can see the answer (and send its next request);
        # given up on: the slot frees only when the inference thread skips the job
        job.future.add_done_callback(lambda f: None if f.cancelled() else admission.release())
        self._jobs.put(job)
        return job.future

    # the inference thread -----------------------------------------------------------------------------
    def _take(self) -> Optional[List[Job]]:
        first = self._jobs.get()
        if first is None:
            return None
        batch, cost = [first], first.cost
        while cost < self.max_lines:
            try:
                nxt = self._jobs.get_nowait()
            except queue.Empty:
                break
            if nxt is None:  # closing: finish this batch, then stop
                self._jobs.put(None)
                break
            batch.append(nxt)
            cost += nxt.cost
        return batch

    def _run(self) -> None:
        while True:
            batch = self._take()
            if batch is None:
                return
            live = []
            for job in batch:
                if job.future.set_running_or_notify_cancel():
                    live.append(job)
                elif job.admission is not None:  # its client gave up before it started
                    job.admission.release()
            if live:
                t0 = time.perf_counter()
                self._execute(live)
                if self._on_batch is not None:
                    self._on_batch(len(live), sum(j.lines for j in live), time.perf_counter() - t0)

    def _execute(self, jobs: List[Job]) -> None:
        """Run ``jobs`` together; if that fails, run them one by one so one bad job fails alone."""
        try:
            results = self._together(jobs)
        except Exception:  # noqa: BLE001 - isolated below, job by job
            if len(jobs) == 1:
                log.exception("inference failed")
                jobs[0].future.set_exception(RuntimeError("inference failed"))
                return
            for job in jobs:
                self._execute([job])
            return
        for job, res in zip(jobs, results):
            job.future.set_result(res)

    def _together(self, jobs: List[Job]) -> list:
        ocr = [j for j in jobs if j.kind == "ocr"]
        rec = [j for j in jobs if j.kind == "rec"]
        out = {}
        if ocr:
            for job, res in zip(ocr, self._ocr_batch([j.images[0] for j in ocr], [j.settings for j in ocr])):
                out[id(job)] = res
        if rec:
            texts = self._recognize([img for j in rec for img in j.images])
            at = 0
            for job in rec:
                out[id(job)] = texts[at:at + job.lines]
                at += job.lines
        return [out[id(j)] for j in jobs]

    def close(self, timeout: Optional[float] = None) -> None:
        """Refuse new requests, finish every queued job, stop the thread."""
        with self._lock:
            self._closing = True
        self._jobs.put(None)
        self._thread.join(timeout)
