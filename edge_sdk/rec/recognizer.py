"""The text recognizer: shared preprocessing -> a runtime session -> shared CTC decoding."""
from __future__ import annotations

import logging
from collections import OrderedDict
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, NamedTuple, Optional, Sequence, Tuple, TypeVar, Union

import numpy as np

from .ctc import Charset, ctc_greedy_decode
from ..errors import InputError, ModelFormatError
from ..inputs import InputLike, Item, iter_items
from ..limits import shown
from ..options import MAX_BATCH_SIZE, ON_ERROR, check_bool, check_choice, check_int
from ..model_dir import ModelDir
from ..predictor import Predictor
from ..precision import DEFAULT_MAX_ACC_LOSS
from ..images import to_bgr
from .preprocess import LinePiece, check_line_length, padded_width, resize_normalize, split_line
from .result import TextRecResult

log = logging.getLogger("edge_sdk.recognizer")

T = TypeVar("T")
# an input's number, its item, and its pixels, or why it cannot be read
_Planned = Tuple[int, Item, Optional[np.ndarray], Optional[InputError]]

# A batch holds at most this many input columns at 4-byte activations: 4 lines at the minimum width 320,
# 2 at 640, 1 from 1280 on; twice as many where the backend computes in 2 bytes (bf16/f16). Past it
# lines/s stops growing while memory does (PP-OCRv4_mobile_rec, 2 cores, lines/s at batch 1/2/4/8/16 x
# 320, best of 5: OpenVINO FP32 177/215/230/231/208, onnxruntime 164/174/177/163/122, OpenVINO bf16
# 306/339/372/390/366), and each batch's activations are held by the backend at the largest size seen:
# OpenVINO FP32 keeps ~6 MB per 320 columns. IC15 val at batch 8: peak RSS 220 MB (OpenVINO FP32),
# 178 MB (onnxruntime), 217 -> 243 MB and +5% lines/s for OpenVINO bf16 at 2560 columns.
MAX_BATCH_COLUMNS = 1280

# predict (batch_size > 1) plans up to PLAN_LINES lines at a time: it reads their sizes from the file
# headers, without decoding, and runs them in order of padded width, each width's batches back to back,
# in chunks of at most WINDOW_LINES lines or WINDOW_BYTES of decoded pixels, cut between two batches; the
# results come out in input order. OpenVINO's CPU plugin rebuilds its kernels whenever the input shape
# changes (12-18 ms for PP-OCRv4_mobile_rec on 2 cores; keeping them costs 6-18 MB per shape, see
# runtimes.openvino_backend), so on lines of many widths the shape changes per line set lines/s.
# Rendered Chinese lines (benchmarks/zh_domain.py, val, 1000 lines in 17 padded widths), OpenVINO bf16
# through predict, best of 2: decoded windows of 16 MB (~200 lines) run in their own width order,
# 148-158 lines/s; the same lines in width order, 207-221. A plan holds paths, sizes and finished results
# (a few hundred bytes a line); pixels it holds count against PLAN_BYTES: arrays passed in, and with
# keep_images the pixels of results waiting for an earlier line.
# Decoded pixels live in two chunks at a time, the one running and the one read ahead. On one stream a
# chunk holds 4 MB: peak RSS through predict against 16 MB chunks, OpenVINO FP32, IC15 val 234-236 ->
# 227-228 MB and the Chinese domain's lines 258-259 -> 233-234 MB, lines/s within the passes' spread
# (IC15 233-241 -> 247, Chinese 156-173 -> 159-170; INT8 computing in bf16 -2-4%). With several streams
# a chunk's end drains them (its last batches run while the other streams wait): INT8 in bf16 on 2
# streams lost 1-5% at 4 MB (6-8% before chunks were cut between batches), so those chunks hold 16 MB.
PLAN_LINES = 4096
PLAN_BYTES = 16 << 20
WINDOW_LINES = 512
WINDOW_BYTES = 4 << 20
STREAMS_WINDOW_BYTES = 16 << 20


# -- lines wider than the model's max width: pieces and their join ----------------------------------
def _as_bgr(img: np.ndarray) -> np.ndarray:
    """A BGR uint8 line as is (the common case, untouched); gray, BGRA and 16-bit arrays converted."""
    if isinstance(img, np.ndarray) and img.ndim == 3 and img.shape[2] == 3 and img.dtype == np.uint8:
        return img
    return to_bgr(img)


def _log_split(pieces: Sequence[LinePiece], height: int, max_width: int) -> None:
    h, w = pieces[0].image.shape[0], pieces[-1].x1
    wide = sum(piece.after_wide_gap for piece in pieces)
    log.info("a %d x %d px line is %d px wide at height %d, over the model's max width %d: recognizing it "
             "in %d pieces, cut at x = %s (%d in word gaps)", w, h, -(-height * w // h), height, max_width,
             len(pieces), ", ".join(str(piece.x0) for piece in pieces[1:]), wide)


def _writes_no_spaces(ch: str) -> bool:
    """Han, kana, CJK punctuation and fullwidth forms: scripts written without spaces between words.

    The model does not write a space between such characters and Latin ones however wide the gap,
    and between two of them only sometimes; a cut next to one adds none.
    """
    o = ord(ch)
    return (0x2E80 <= o <= 0x30FF or 0x3400 <= o <= 0x4DBF or 0x4E00 <= o <= 0x9FFF or 0xF900 <= o <= 0xFAFF
            or 0xFF00 <= o <= 0xFFEF or 0x20000 <= o <= 0x3FFFF)


def join_pieces(decoded: Sequence[Tuple[str, float]], after_wide_gap: Sequence[bool]) -> Tuple[str, float]:
    """One line's ``(text, score)`` from its pieces' ``(text, score)``, in order.

    Texts are joined with one space where the cut fell in a word-wide gap (``LinePiece.after_wide_gap``),
    unless a side of the cut is a character of a script written without spaces; never two spaces at a cut.
    The score is the pieces' scores weighted by their kept-character counts: the mean probability of
    every kept character, which is what one pass over the whole line computes (an added space has no
    probability and does not count). No character kept: ``("", 0.0)``, as for an empty line.
    """
    text = ""
    total = 0.0
    count = 0
    wide = False  # a word-wide gap since the last piece with text (an empty piece passes it on)
    for (piece_text, score), wide_cut in zip(decoded, after_wide_gap):
        total += score * len(piece_text)
        count += len(piece_text)
        wide = wide or wide_cut
        if not piece_text:
            continue
        if text and piece_text[0] == " " and text[-1] == " ":
            piece_text = piece_text[1:]
        elif (text and wide and text[-1] != " " and piece_text[0] != " "
              and not _writes_no_spaces(text[-1]) and not _writes_no_spaces(piece_text[0])):
            text += " "
        text += piece_text
        wide = False
    return text, (total / count if count else 0.0)


class SkippedInput(NamedTuple):
    """An input ``predict(on_error="skip")`` left out, and why."""

    input_path: Optional[str]
    error: str

    def to_dict(self) -> Dict[str, Optional[str]]:
        return {"input_path": shown(self.input_path) if self.input_path else None, "error": self.error}


class Prediction(Iterator[TextRecResult]):
    """What ``predict`` returns: the results, lazily and in input order, and the inputs skipped so far."""

    def __init__(self) -> None:
        self.skipped: List[SkippedInput] = []
        self._gen: Iterator[TextRecResult] = iter(())

    def __iter__(self) -> "Prediction":
        return self

    def __next__(self) -> TextRecResult:
        return next(self._gen)


def width_batches(idxs: Sequence[int], step: int, blank_lines: int) -> List[Tuple[List[int], int]]:
    """One width's lines cut into batches of at most ``step``, as ``(lines, rows)``.

    The lines are shared out evenly, so the batches have one size (``ceil(n / ceil(n / step))``) but
    the last, which may be smaller. When making it full takes at most ``blank_lines`` blank rows, it
    is run at the others' size: on a backend that rebuilds its kernels for every new input shape
    (OpenVINO), a width's lines then cost one shape, not two. Blank rows change no other row's result:
    each row of a batch is computed on its own.
    """
    n = len(idxs)
    size = -(-n // -(-n // step)) if n else 0
    cut = [list(idxs[start:start + size]) for start in range(0, n, size)] if n else []
    if cut and size - len(cut[-1]) <= blank_lines:
        return [(lines, size) for lines in cut]
    return [(lines, len(lines)) for lines in cut]


class TextRecognizer(Predictor):
    """A loaded text-recognition model. Build it with ``edge_sdk.create_model``.

    One recognizer may be shared by threads: ``predict``/``recognize``/``run_lines`` may be called from
    several at once, and each call gives the texts and scores a single-thread run would. Preprocessing
    and decoding keep no state; the backend session makes its ``run`` safe as its ``concurrency`` says:
    onnxruntime ``native`` (its ``InferenceSession.run`` is thread-safe), OpenVINO ``pool`` (each call
    borrows its own infer request), Paddle Inference ``pool`` (the predictor and its clones, as many as
    cores // threads, so one predictor at the default threads), Paddle Lite ``lock`` (one call at a time).
    """

    TASK = "rec"
    ROLE = "recognizer"

    def __init__(self, model: ModelDir, backend: str = "auto", threads: int = 0, device: str = "auto",
                 precision: str = "f32", cache_dir: Optional[Union[str, Path]] = "auto",
                 optimize_graph: bool = True, max_acc_loss: float = DEFAULT_MAX_ACC_LOSS, streams: int = 1) -> None:
        super().__init__(model, backend, threads, device, precision, cache_dir, optimize_graph, max_acc_loss, streams)
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
        """Probabilities ``[T, C]`` for each BGR line, batching only lines of equal padded width.

        A line wider than the model's max width at the model height is run in pieces
        (``preprocess.split_line``); its probabilities are its pieces', concatenated along T.
        Each line's array is its own (a ``[T, C]`` of a 6625-class model is 1 MB at width 320);
        ``recognize`` decodes every batch as it comes and keeps none of them.
        """
        _, probs = self._run_pieces(images, batch_size, lambda out: [p.copy() for p in out])
        return [p[0] if len(p) == 1 else np.concatenate(p, axis=0) for p in probs]

    def recognize(self, images: Sequence[np.ndarray], batch_size: int = 1) -> List[Tuple[str, float]]:
        """``(text, score)`` for each BGR line.

        A line wider than the model's max width at the model height is recognized in pieces cut in
        the blank stretches between characters, never squeezed: the texts are joined (with a space
        where the cut fell in a word-wide gap) and the score is the mean probability of all kept
        characters, as one pass would compute it (see ``join_pieces``).
        """
        charset = self.charset
        pieces, decoded = self._run_pieces(images, batch_size, lambda out: ctc_greedy_decode(out, charset))
        return [line_decoded[0] if len(line_decoded) == 1
                else join_pieces(line_decoded, [piece.after_wide_gap for piece in line_pieces])
                for line_pieces, line_decoded in zip(pieces, decoded)]

    def _run_pieces(self, images: Sequence[np.ndarray], batch_size: int,
                    per_batch: Callable[[np.ndarray], List[T]]) -> Tuple[List[List[LinePiece]], List[List[T]]]:
        """Each line's pieces and what ``per_batch`` made of each piece's probabilities, from one
        width-bucketed pass over all pieces."""
        batch_size = check_int("batch_size", batch_size, 1, MAX_BATCH_SIZE)
        pp = self.model.preprocess
        pieces = [split_line(_as_bgr(img), pp) for img in images]
        for line in pieces:
            if len(line) > 1:
                _log_split(line, pp.height, pp.max_width)
        flat_out = self._run_images([piece.image for line in pieces for piece in line], batch_size, per_batch)
        out: List[List[T]] = []
        at = 0
        for line in pieces:
            out.append(flat_out[at:at + len(line)])
            at += len(line)
        return pieces, out

    def _batch_lines(self, width: int, batch_size: int) -> int:
        """Lines of padded ``width`` in one batch: ``batch_size``, fewer where they would pass
        ``MAX_BATCH_COLUMNS`` (twice that where the backend computes in 2 bytes), at least one."""
        columns = MAX_BATCH_COLUMNS * 4 // self.session.activation_bytes
        return max(1, min(batch_size, columns // max(1, width)))

    def _run_images(self, images: Sequence[np.ndarray], batch_size: int,
                    per_batch: Callable[[np.ndarray], List[T]]) -> List[T]:
        """``per_batch`` of the session's output, one item per BGR image (each fits the model's max width).

        A batch only holds images of one padded width, so an image's result never depends on its
        batch mates; it holds at most ``batch_size`` images and ``MAX_BATCH_COLUMNS`` columns at
        4-byte activations, twice that at 2-byte ones (one image when it is wider). Each batch's
        input is built just before its run, so only one batch of float input exists at a time (one per
        stream, and one more, with several streams). Batch shapes: see ``width_batches``.
        """
        pp = self.model.preprocess
        by_width: Dict[int, List[int]] = OrderedDict()
        for i, img in enumerate(images):
            by_width.setdefault(padded_width(img.shape[0], img.shape[1], pp), []).append(i)
        out: List[Optional[T]] = [None] * len(images)
        chunks: List[Tuple[List[int], int, int]] = []  # (images, rows with the blank ones, padded width)
        for width, idxs in by_width.items():
            chunks.extend((lines, rows, width) for lines, rows in width_batches(
                idxs, self._batch_lines(width, batch_size), self.session.new_shape_lines))

        def build(chunk: List[int], rows: int, width: int) -> np.ndarray:
            batch = np.zeros((rows, 3, pp.height, width), np.float32)
            for row, i in enumerate(chunk):
                batch[row] = resize_normalize(images[i], pp)
            return batch

        # built as the session asks for them: with several streams, while the others run
        batches = (build(*chunk) for chunk in chunks)
        done = 0
        for output in self.session.run_many(batches):  # not zip(): its tuple would hold this output
            chunk = chunks[done][0]                    # while the next batch runs (4 MB at 4 x 320)
            done += 1
            for i, item in zip(chunk, per_batch(output[:len(chunk)])):
                out[i] = item
            del output
        return out  # type: ignore[return-value]

    # -- the PaddleX-style API -------------------------------------------------------------------
    def predict(self, inputs: InputLike, batch_size: int = 1, keep_images: bool = True, on_error: str = "stop",
                allow_outside_paths: bool = False, max_pixels: Optional[int] = None) -> "Prediction":
        """Recognize lines lazily, in input order.

        Args:
            inputs: an image path, a directory, a PaddleX label file, a list of these, or BGR arrays.
            batch_size: lines per backend call (1 to 256); results do not depend on it. Above 1, lines are
                run in plans of up to ``PLAN_LINES`` ordered by width (results still in input order).
            keep_images: keep each line's pixels on its result (needed by ``save_to_img``).
            on_error: ``"stop"`` raises ``InputError`` at the first unusable input, after yielding every
                line before it; ``"skip"`` leaves it out, goes on, and lists it in ``Prediction.skipped``.
            allow_outside_paths: let label files name images outside their own folder.
            max_pixels: refuse images with more decoded pixels than this (default ``$EDGE_SDK_MAX_PIXELS``
                or 64 MP), before decoding them.
        Returns:
            an iterator of ``TextRecResult``; after (or during) iteration its ``skipped`` lists
            ``(input_path, error)`` for every input left out.
        Example:
            >>> run = create_model("PP-OCRv4_mobile_rec").predict(["a.png", "broken.png"], on_error="skip")
            >>> texts = [r.rec_text for r in run]; run.skipped
            [SkippedInput(input_path='broken.png', error='broken.png is not a readable image (...).')]
        """
        batch_size = check_int("batch_size", batch_size, 1, MAX_BATCH_SIZE)
        keep_images = check_bool("keep_images", keep_images)
        on_error = check_choice("on_error", on_error, ON_ERROR)
        allow_outside_paths = check_bool("allow_outside_paths", allow_outside_paths)
        if max_pixels is not None:
            max_pixels = check_int("max_pixels", max_pixels, 1)
        return self.predict_items(iter_items(inputs, allow_outside_paths, max_pixels), batch_size, keep_images,
                                  on_error)

    def predict_items(self, items: Iterator[Item], batch_size: int = 1, keep_images: bool = True,
                      on_error: str = "stop") -> "Prediction":
        """``predict`` over ``inputs.Item``s the caller built (e.g. evaluation, which already read its label file)."""
        prediction = Prediction()
        prediction._gen = self._predict(iter(items), batch_size, keep_images, on_error, prediction.skipped)
        return prediction

    def _predict(self, items: Iterator[Item], batch_size: int, keep_images: bool, on_error: str,
                 skipped: List["SkippedInput"]) -> Iterator[TextRecResult]:
        # One thread of this call plans and decodes the next chunk while the backend runs this one (never
        # more than one chunk ahead): IC15 val at batch 8 on 2 cores, best of 4 passes, onnxruntime
        # 128 -> 145 lines/s, OpenVINO the same within 3% (its FP32 and bf16 kernels keep both cores busy).
        chunks = self._planned_chunks(items, batch_size, keep_images, on_error)
        done: Dict[int, Union[TextRecResult, Tuple[Item, InputError]]] = {}
        at = 0  # the next input to yield
        with ThreadPoolExecutor(1, thread_name_prefix="edge-sdk-read") as reader:
            ahead: "Future[Optional[List[_Planned]]]" = reader.submit(next, chunks, None)
            try:
                while True:
                    chunk = ahead.result()
                    if chunk is None:
                        break
                    ahead = reader.submit(next, chunks, None)
                    loaded = [(n, item, img) for n, item, img, _ in chunk if img is not None]
                    for n, item, _, exc in chunk:
                        if exc is not None:
                            done[n] = (item, exc)
                    if loaded:
                        texts = self.recognize([img for _, _, img in loaded], batch_size)
                        for (n, item, img), (text, score) in zip(loaded, texts):
                            done[n] = TextRecResult(item.input_path, text, score,
                                                    input_img=img if keep_images else None, name=item.name)
                            item.image = None  # the pixels go with the result (or with the chunk)
                    while at in done:
                        result = done.pop(at)
                        at += 1
                        if isinstance(result, TextRecResult):
                            yield result
                            continue
                        item, exc = result
                        if on_error == "stop":  # every line before it has been yielded
                            raise exc
                        log.warning("skipped %s: %s", shown(item.input_path or item.name), exc)
                        skipped.append(SkippedInput(item.input_path, str(exc)))
                assert not done, "a planned line was never run"
            finally:  # stopped early or done: the chunk read ahead is dropped, its pixels with it
                ahead.cancel()

    def _planned_chunks(self, items: Iterator[Item], batch_size: int, keep_images: bool,
                        on_error: str) -> Iterator[List["_Planned"]]:
        """Chunks of ``(input number, item, pixels or None, error or None)`` to run, in plans of up to
        PLAN_LINES inputs ordered by padded width (one input at a time at batch size 1). Runs in the
        reader thread: reading headers and decoding overlap the backend's runs."""
        pp = self.model.preprocess
        plan_lines = PLAN_LINES if batch_size > 1 else 1
        window_bytes = WINDOW_BYTES if self.session.streams <= 1 else STREAMS_WINDOW_BYTES
        n = 0
        while True:
            plan: List[Tuple[int, int, Item]] = []  # (padded width or -1 when unknown, input number, item)
            held = 0
            last = False
            for item in items:
                size = item.size_hint()
                plan.append((padded_width(size[0], size[1], pp) if size else -1, n, item))
                n += 1
                if item.image is not None:
                    held += item.image.nbytes
                elif keep_images and size:
                    held += size[0] * size[1] * 3
                if item.error is not None and on_error == "stop":
                    last = True  # nothing after it will be yielded
                    break
                if len(plan) >= plan_lines or held >= PLAN_BYTES:
                    break
            if not plan:
                return
            plan.sort(key=lambda entry: entry[:2])  # by width, then input order; unknown sizes first
            chunk: List[_Planned] = []
            chunk_bytes = 0
            same = 0  # lines of the current width in this chunk
            for k, (width, i, item) in enumerate(plan):
                try:
                    img = item.load()
                    check_line_length(img, pp, shown(item.input_path or item.name))
                    chunk.append((i, item, img, None))
                    chunk_bytes += img.nbytes
                except InputError as exc:
                    chunk.append((i, item, None, exc))
                same = same + 1 if len(chunk) > 1 and plan[k - 1][0] == width else 1
                if len(chunk) >= WINDOW_LINES or chunk_bytes >= window_bytes:
                    # Cut between two batches: a width that goes on into the next chunk leaves this one
                    # in full batches (at most a batch's lines more), not in a part-batch on each side
                    # of the cut (on OpenVINO a new input shape, ~20 ms of kernels, each).
                    goes_on = k + 1 < len(plan) and plan[k + 1][0] == width > 0
                    if goes_on and same % self._batch_lines(width, batch_size):
                        continue
                    yield chunk
                    chunk, chunk_bytes, same = [], 0, 0
            if chunk:
                yield chunk
            if last:
                return

    def __call__(self, inputs: InputLike, batch_size: int = 1, **kwargs: Any) -> "Prediction":
        return self.predict(inputs, batch_size=batch_size, **kwargs)

    def describe(self) -> Dict[str, object]:
        return {**super().describe(), "classes": self.num_classes}
