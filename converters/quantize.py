"""INT8 post-training quantization for ONNX (onnxruntime static QDQ) and OpenVINO (NNCF).

Calibration (``calibration_set``): the user's lines (``--calib``, first 300 of each set) plus lines the
SDK renders from the model's dict (``synthetic_lines.calibration_lines``: every character once in a
clean print style and once in a small, blurred camera style). A calibration set of one script and one
look left ranges that clip the others: calibrated on English IC15 train only, OpenVINO INT8 lost 67
points of acc on Chinese lines (benchmarks/zh_domain.py), while IC15 val moved -0.05.

Where it went wrong, measured (FakeQuantize ranges of English- vs Chinese-calibrated models, and the
share of FP32 activations outside them): the tail of the SVTR neck. Chinese lines drive conv4 (the 1x3
960->60 convolution over the backbone and SVTR features) and conv1x1 (60->120) 2-4x beyond English
ranges; English ranges clip 6-9% of their values there against 0.1-0.3% of English ones, and no single
quantizer fixes it (the chain conv4 -> conv1x1 -> CTC head compounds). Range-ratio and clip-rate rankings
both miss it: they point at the LayerNorm internals and the late depthwise inputs.

OpenVINO recipe for PP-OCRv4 (NNCF MIXED, full bias correction): the first 8 (Group)Convolutions, four
more in stages 3-4, and the last 5 (the SVTR neck's convolutions) with everything after them (the CTC
head) in float, calibrated with 3 rounds of rendered lines. Acc deltas
vs FP32 (IC15 val 2077 lines / Chinese domain val 1000 lines), see README "INT8" for the full table:
- English-only calibration, old recipe (first 8 float):            -0.05 / -66.7
- English only, neck tail float:                                  +0.19 / -3.1
- English + rendered print lines, tail float:                      -0.48 / -0.5
- Chinese + rendered print lines, tail float:                      -1.44 / +0.1 (clean renders cover
  neither IC15's small, blurred scene crops nor their low contrast)
- English + rendered print and camera lines, whole neck, 19, 27 float: -0.82 / -0.5 (seed-dependent:
  0.00 to -0.82 on IC15 over three rendering seeds)
- the same with 3 rendered rounds and 11, 28 also float:           -0.05 / -0.3 (the shipped recipe; five
  calibrations within 0.4 on both)
Full bias correction matters (-1.4 with it off); so does the estimator: NNCF's default per-tensor
MEAN_MINMAX, not MINMAX (which trades 2-5 points of English for Chinese).

onnxruntime static QDQ cannot make this model faster at <= 0.5 points (measured, README "INT8"): NNCF's
ONNX output quantizes convolution inputs only, so onnxruntime's CPU provider runs every convolution in
float with its weights de-quantized at each call (0.67-0.78x FP32); with conv outputs quantized too
(what QLinearConv needs) it reaches 1.4-1.7x at -0.3 to -9 points depending on the output range
statistic, and about half the FP32 time is float element-wise work (the LearnableAffineBlocks and
HardSwish around every convolution) that INT8 does not touch. onnxruntime's own quantizer, convolutions
included, loses 3-20 points (no bias correction). So the ONNX recipe quantizes the MatMuls only (the
SVTR neck and CTC head): accuracy holds and the file shrinks (10.9 -> 7.9 MB), at about FP32 speed; the
conversion measures the speed-up and ``auto`` ranks the FP32 artifact first when it is given beside it.
Percentile/Entropy calibrators crash on variable widths and can eat > 20 GB. The recipes are data, one
per model family, so a family that needs other settings gets a row, not a branch.

Accuracy control (``--max-acc-drop``), scored with PaddleX's acc on labelled lines (``--check-data``,
or the rendered check set):
- OpenVINO: NNCF's ``quantize_with_accuracy_control``; it reverts the quantizers that cost most until the
  drop fits, starting from the family's recipe.
- ONNX: a ladder. The recipe's quantization is scored first; when it loses too much, each quantized node
  is ranked by the noise it adds (SQNR of its output against the FP32 model, minus that of its inputs,
  on a few calibration lines), and the most sensitive nodes are kept in FP32, more at each step of the
  recipe's ladder, until the drop fits. Past the recipe's ``max_float_share`` it gives up with the best
  drop it reached.
"""
from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, Iterator, List, Optional, Sequence, Tuple

import numpy as np

import runtimes
from edge_sdk.rec.ctc import Charset, ctc_greedy_decode
from edge_sdk.datasets import Sample, load_samples
from edge_sdk.errors import BackendUnavailableError, ConversionError, EdgeSDKError
from edge_sdk.metrics import line_correct
from edge_sdk.model_dir import ModelDir
from edge_sdk.images import read_image
from edge_sdk.rec.preprocess import resize_normalize
from edge_sdk.zoo import Preprocess

log = logging.getLogger("edge_sdk.convert")

DEFAULT_CALIB_SIZE = 300
MAX_RENDERED_LINES = 3000  # rendered calibration lines at most (whole rounds; at least one)


@dataclass(frozen=True)
class OnnxInt8Recipe:
    op_types: Tuple[str, ...] = ("Conv", "MatMul")
    per_channel: bool = True
    quant_format: str = "QDQ"
    calibrate_method: str = "MinMax"  # Percentile/Entropy: fixed-width calibration only
    activation_type: str = "QUInt8"
    weight_type: str = "QInt8"
    pre_process: bool = True  # quant_pre_process(auto_merge=True) first
    # --max-acc-drop: how many of the most sensitive quantized nodes to keep in FP32 at each step, and
    # the share of them past which INT8 is not worth shipping
    float_ladder: Tuple[int, ...] = (1, 2, 4, 8, 16, 32, 64)
    max_float_share: float = 0.5
    ranking_lines: int = 8  # calibration lines the sensitivity ranking runs on
    rendered_rounds: int = 1  # each dict character drawn this many times per style, up to MAX_RENDERED_LINES

    def __str__(self) -> str:
        return (f"onnxruntime static {self.quant_format}, {'per-channel' if self.per_channel else 'per-tensor'}, "
                f"{'/'.join(self.op_types)}, {self.calibrate_method}")


@dataclass(frozen=True)
class OpenVINOInt8Recipe:
    preset: str = "MIXED"  # symmetric weights, asymmetric activations
    ignored_types: Tuple[str, ...] = ()
    # Keep the first N (Group)Convolutions in float, and the last M with every op after them (the head):
    # found by position, since friendly names are generated by the frontend and change between versions.
    float_first_convs: int = 0
    float_convs: Tuple[int, ...] = ()  # more by index in that order (0 = the first convolution)
    float_last_convs: int = 0
    fast_bias_correction: bool = True
    max_reverts: int = 50  # --max-acc-drop: NNCF gives up after reverting this many quantizer groups
    rendered_rounds: int = 1  # each dict character drawn this many times per style, up to MAX_RENDERED_LINES

    def __str__(self) -> str:
        kept = [f"first {self.float_first_convs} convolutions"] if self.float_first_convs else []
        kept += [f"convolutions {', '.join(map(str, self.float_convs))}"] if self.float_convs else []
        kept += [f"last {self.float_last_convs} convolutions and the head"] if self.float_last_convs else []
        kept += list(self.ignored_types)
        bias = "fast" if self.fast_bias_correction else "full"
        return (f"NNCF {self.preset} preset, {bias} bias correction"
                f"{', keeping ' + ' and '.join(kept) + ' in float' if kept else ''}")


@dataclass(frozen=True)
class Int8Recipe:
    onnx: OnnxInt8Recipe = field(default_factory=OnnxInt8Recipe)
    openvino: OpenVINOInt8Recipe = field(default_factory=OpenVINOInt8Recipe)


# model family -> recipe; families without a row get DEFAULT
RECIPES: Dict[str, Int8Recipe] = {
    # Why these convolutions stay float (measured, see the module docstring and README "INT8"):
    # - the first 8 (stem and first stage): quantization noise there compounds through the whole backbone
    #   (6 float: -1.5 to -2.1 points on IC15; 2 float: -2.6);
    # - the last 5 (the SVTR neck: conv1, conv2, conv3, conv4, conv1x1) and the CTC head after them: their
    #   ranges depend on the script. Chinese lines drive conv4 and conv1x1 2-4x beyond English ranges, which
    #   then clip 6-9% of their values: English-calibrated INT8 lost 67 points on Chinese lines;
    # - 19 (a 5x5 depthwise convolution of stage 3) and 27 (the expand convolution of stage 4's SE block):
    #   NNCF's accuracy control reverted these two first when a Chinese-calibrated model was scored on held-out
    #   English scene lines (IC15 train lines 301-700, not the val set the tables report); with them float,
    #   the Chinese-calibrated model's IC15 val texts identical to FP32 went from 84.7% to 89.2%;
    # - 11 and 28 (the next two it reverted: a stage-3 pointwise convolution and the SE block's squeeze): with
    #   one rendered round and 19/27 float, the English-calibrated IC15 val delta swung from 0.00 to -0.82
    #   between three rendering seeds (Chinese val -0.3 to -0.7, lost lines twice the gained ones);
    # - 3 rendered rounds (each dict character 3x per style): more drawn glyphs steady the ranges and the
    #   bias correction. With 3 rounds and 11/19/27/28 float, five calibrations (English and Chinese, four
    #   seed sets, one shuffled) all held within 0.4 points on both val sets, 88-90% of IC15 texts and 94-96%
    #   of Chinese ones identical to FP32.
    # Cost: 1.65x FP32 on OpenVINO (batch 1, IC15 widths) against 1.80x with 19/27 only and 1.95x with the
    # neck alone float; the conversion takes about a minute longer (2500 rendered lines).
    "PP-OCRv4": Int8Recipe(onnx=OnnxInt8Recipe(op_types=("MatMul",)),
                           openvino=OpenVINOInt8Recipe(float_first_convs=8, float_convs=(11, 19, 27, 28),
                                                       float_last_convs=5, fast_bias_correction=False,
                                                       rendered_rounds=3)),
}
# Families without a measured row: ONNX quantizes the MatMuls only (with convolutions, onnxruntime's static
# QDQ, lacking bias correction, lost 3-20 points on PP-OCRv4 and 62 on en_PP-OCRv3); OpenVINO quantizes
# everything, and the parity check judges it (en_PP-OCRv3 -3.7 and PP-OCRv5 mobile -8.0 points on 300 IC15
# val lines: refused unless --allow-mismatch or --max-acc-drop finds a float scope that holds).
DEFAULT = Int8Recipe(onnx=OnnxInt8Recipe(op_types=("MatMul",)))


def recipe_for(source: ModelDir) -> Int8Recipe:
    return RECIPES.get(source.spec.family, DEFAULT)


@dataclass(frozen=True)
class AccuracyGoal:
    """``--max-acc-drop``: INT8's PaddleX acc on ``samples`` may fall at most ``max_drop`` (a fraction)
    below the FP32 model's."""

    max_drop: float
    samples: Tuple[Sample, ...]
    data_name: str

    def lines(self, source: ModelDir) -> List[Tuple[np.ndarray, str]]:
        return [(resize_normalize(read_image(s.path), source.preprocess)[None], s.label or "") for s in self.samples]


def line_scores(run: Callable[[np.ndarray], np.ndarray], lines: Sequence[Tuple[np.ndarray, str]],
                charset: Charset) -> List[float]:
    """1.0 for each line whose text matches its label as PaddleX's acc counts it (spaces ignored), else 0.0."""
    return [float(line_correct(ctc_greedy_decode(run(x), charset)[0][0], label)) for x, label in lines]


RENDERED = "rendered"  # --calib keyword: lines rendered from the model's dict (synthetic_lines.py)


class Batches(Sequence[np.ndarray]):
    """[1, 3, H, W] model inputs made on demand from BGR lines through the shared preprocessing.

    A calibration set is held as uint8 lines (PP-OCRv4's ~1100 lines: ~60 MB), not as float inputs
    (~400 MB); each pass of the quantizer over it preprocesses again."""

    def __init__(self, images: List[np.ndarray], preprocess: Preprocess) -> None:
        self._images = images
        self._pp = preprocess

    def __len__(self) -> int:
        return len(self._images)

    def __getitem__(self, i):  # type: ignore[no-untyped-def, override]
        if isinstance(i, slice):
            return [resize_normalize(img, self._pp)[None] for img in self._images[i]]
        return resize_normalize(self._images[i], self._pp)[None]


@dataclass
class Calibration:
    """What INT8 ranges are calibrated on, and where each part came from."""

    batches: Batches
    parts: List[str]

    def __str__(self) -> str:
        return " + ".join(self.parts)


def calibration_set(source: ModelDir, calib: Sequence[str] = (), size: int = DEFAULT_CALIB_SIZE,
                    rendered: bool = True, rounds: int = 1) -> Calibration:
    """The first ``size`` lines of each ``calib`` source (a label file, dataset dir or image folder), plus,
    unless ``rendered`` is False, lines rendered from every character of the model's dict, ``rounds`` times
    (the keyword ``rendered`` in ``calib`` asks for them explicitly). The user's lines come first."""
    sources = [c for c in calib if c != RENDERED]
    rendered = rendered or RENDERED in calib
    if not sources and not rendered:
        raise ConversionError("int8 needs calibration lines: pass --calib DATASET, or leave out --no-rendered-calib "
                              "so the SDK renders lines from the model's dict.")
    images: List[np.ndarray] = []
    parts: List[str] = []
    for c in sources:
        try:
            samples = load_samples(Path(c), size)
        except EdgeSDKError as exc:
            raise ConversionError(f"--calib: {exc}") from exc
        if not samples:
            raise ConversionError(f"--calib {c} has no images.")
        try:
            images += [read_image(s.path) for s in samples]
        except EdgeSDKError as exc:
            raise ConversionError(f"--calib {c}: {exc}") from exc
        parts.append(f"{len(samples)} lines of {c}")
    if rendered:
        from .synthetic_lines import STYLES, calibration_lines, coverage

        # whole rounds up to MAX_RENDERED_LINES: a large dict (PP-OCRv5: 18383 characters, ~2300 lines a
        # round) gets one round, not hours of calibration
        cov = coverage(source.charset.dict_characters)
        per_round = max(1, len(STYLES) * cov.drawable // 16)
        rounds = max(1, min(rounds, MAX_RENDERED_LINES // per_round))
        lines, cov = calibration_lines(source.charset.dict_characters, rounds=rounds, cov=cov)
        images += [img for img, _ in lines]
        times = "once" if rounds == 1 else f"{rounds} times"
        parts.append(f"{len(lines)} rendered lines holding each dict character {times} ({cov.describe()})")
    return Calibration(Batches(images, source.preprocess), parts)


def _ort_quantization():  # type: ignore[no-untyped-def]
    try:
        from onnxruntime import quantization
        from onnxruntime.quantization.shape_inference import quant_pre_process
    except ImportError as exc:
        raise BackendUnavailableError('ONNX INT8 needs onnxruntime\'s quantization tools: pip install onnxruntime onnx ml_dtypes sympy') from exc
    return quantization, quant_pre_process


def quantize_onnx(fp32_onnx: Path, out: Path, batches: Sequence[np.ndarray], recipe: OnnxInt8Recipe, tmp: Path,
                  goal: Optional[AccuracyGoal] = None, source: Optional[ModelDir] = None) -> List[str]:
    """Quantize ``fp32_onnx`` into ``out``; with ``goal``, keep sensitive nodes in FP32 until the acc drop fits.

    Returns notes for the manifest."""
    _, quant_pre_process = _ort_quantization()
    model_in = fp32_onnx
    if recipe.pre_process:
        model_in = tmp / "pre.onnx"
        quant_pre_process(str(fp32_onnx), str(model_in), auto_merge=True, skip_symbolic_shape=False)
    if goal is None:
        _quantize_static(model_in, out, batches, recipe, [])
        return []
    assert source is not None
    lines = goal.lines(source)
    fp32_acc = _mean(line_scores(runtimes.load_backend("onnxruntime", model_in).run, lines, source.charset))
    candidates = _quantizable_nodes(model_in, recipe)
    cap = int(recipe.max_float_share * len(candidates))
    steps = [0] + [k for k in recipe.float_ladder if k < cap] + ([cap] if cap else [])
    ranked: List[str] = []
    tried: List[Tuple[int, float]] = []
    step_file = tmp / "step.onnx"
    for k in steps:
        if k and not ranked:
            ranked = rank_onnx_nodes(model_in, step_file, batches[:recipe.ranking_lines], candidates)
        _quantize_static(model_in, step_file, batches, recipe, ranked[:k])
        drop = fp32_acc - _mean(line_scores(runtimes.load_backend("onnxruntime", step_file).run, lines, source.charset))
        tried.append((k, drop))
        log.info("int8 onnx: %d of %d nodes in FP32 -> acc drop %.2f points", k, len(candidates), 100 * drop)
        if drop <= goal.max_drop + 1e-9:
            step_file.replace(out)
            kept = f", keeping {k} of {len(candidates)} quantizable nodes in FP32 ({', '.join(ranked[:k])})" if k else ""
            return [f"--max-acc-drop {100 * goal.max_drop:g}: acc drop {100 * drop:.2f} points on "
                    f"{len(lines)} lines of {goal.data_name}{kept}"]
    k_best, best = min(tried, key=lambda t: t[1])
    raise ConversionError(
        f"ONNX INT8 cannot keep the acc drop within {100 * goal.max_drop:g} points on {goal.data_name}: the best "
        f"was {100 * best:.2f} points with {k_best} of {len(candidates)} quantizable nodes in FP32 (the recipe stops "
        f"at {cap}); nothing was written. Try a larger --max-acc-drop, --target openvino, or the FP32 artifact."
    )


def _mean(xs: Sequence[float]) -> float:
    return sum(xs) / len(xs) if xs else 0.0


def _quantize_static(model_in: Path, out: Path, batches: Sequence[np.ndarray], recipe: OnnxInt8Recipe,
                     exclude: Sequence[str]) -> None:
    q, _ = _ort_quantization()

    class Reader(q.CalibrationDataReader):  # type: ignore[misc, name-defined]
        def __init__(self) -> None:
            self._it: Iterator[np.ndarray] = iter(batches)

        def get_next(self) -> Optional[Dict[str, np.ndarray]]:
            batch = next(self._it, None)
            return None if batch is None else {"x": batch}

    q.quantize_static(
        str(model_in), str(out), Reader(),
        quant_format=getattr(q.QuantFormat, recipe.quant_format),
        op_types_to_quantize=list(recipe.op_types),
        nodes_to_exclude=list(exclude),
        per_channel=recipe.per_channel,
        activation_type=getattr(q.QuantType, recipe.activation_type),
        weight_type=getattr(q.QuantType, recipe.weight_type),
        calibrate_method=getattr(q.CalibrationMethod, recipe.calibrate_method),
    )


def _quantizable_nodes(model: Path, recipe: OnnxInt8Recipe) -> List[str]:
    import onnx

    return [n.name for n in onnx.load(str(model)).graph.node if n.op_type in recipe.op_types and n.name]


def rank_onnx_nodes(fp32_model: Path, qdq_model: Path, batches: Sequence[np.ndarray], nodes: Sequence[str]) -> List[str]:
    """``nodes`` ordered from the one whose quantization adds the most noise to the one adding least.

    A node's noise is the SQNR (dB) lost across it: the worst SQNR of its activation inputs minus the SQNR
    of its output, both measured between the FP32 and the quantized model on ``batches``. QDQ keeps the
    original tensor names, so the two graphs are compared tensor by tensor."""
    import onnx

    graph = onnx.load(str(fp32_model)).graph
    initializers = {i.name for i in graph.initializer}
    wanted = set(nodes)
    io: Dict[str, Tuple[List[str], str]] = {
        n.name: ([i for i in n.input if i and i not in initializers], n.output[0]) for n in graph.node if n.name in wanted
    }
    tensors = sorted({t for ins, out in io.values() for t in ins + [out]} - {i.name for i in graph.input})
    ref = _intermediate_outputs(fp32_model, tensors, batches)
    got = _intermediate_outputs(qdq_model, tensors, batches)

    def sqnr(t: str) -> float:
        signal = sum(float(np.sum(a.astype(np.float64) ** 2)) for a in ref[t])
        noise = sum(float(np.sum((a.astype(np.float64) - b) ** 2)) for a, b in zip(ref[t], got[t]))
        return 120.0 if noise <= signal * 1e-12 else min(120.0, 10 * np.log10(signal / noise))

    db = {t: sqnr(t) for t in ref}  # a node's output is the next node's input: each tensor once
    cost = {name: min([db[t] for t in ins if t in db] or [120.0]) - db.get(out, 120.0) for name, (ins, out) in io.items()}
    return sorted(nodes, key=lambda n: -cost.get(n, 0.0))


def _intermediate_outputs(model_file: Path, tensors: Sequence[str], batches: Sequence[np.ndarray]) -> Dict[str, List[np.ndarray]]:
    import onnx
    import onnxruntime as ort

    model = onnx.load(str(model_file))
    present = {o for n in model.graph.node for o in n.output}
    outputs = {o.name for o in model.graph.output}
    names = [t for t in tensors if t in present]
    for t in names:
        if t not in outputs:
            model.graph.output.append(onnx.helper.make_tensor_value_info(t, onnx.TensorProto.FLOAT, None))
    so = ort.SessionOptions()
    so.log_severity_level = 3
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL  # keep every named tensor
    sess = ort.InferenceSession(model.SerializeToString(), so, providers=["CPUExecutionProvider"])
    result: Dict[str, List[np.ndarray]] = {t: [] for t in names}
    for batch in batches:
        for t, v in zip(names, sess.run(names, {sess.get_inputs()[0].name: batch})):
            result[t].append(np.asarray(v, dtype=np.float32))
    return result


def quantize_openvino(model, batches: Sequence[np.ndarray], recipe: OpenVINOInt8Recipe,  # type: ignore[no-untyped-def]
                      goal: Optional[AccuracyGoal] = None, source: Optional[ModelDir] = None):
    try:
        import nncf
    except ImportError as exc:
        raise BackendUnavailableError("OpenVINO INT8 needs NNCF: pip install nncf") from exc
    kwargs = {}
    names = float_scope(model, recipe.float_first_convs, recipe.float_last_convs, recipe.float_convs)
    if recipe.ignored_types or names:
        kwargs["ignored_scope"] = nncf.IgnoredScope(names=names, types=list(recipe.ignored_types), validate=False)
    preset = getattr(nncf.QuantizationPreset, recipe.preset)
    calibration = nncf.Dataset(batches)
    if goal is None:
        return nncf.quantize(model, calibration, preset=preset, subset_size=len(batches),
                             fast_bias_correction=recipe.fast_bias_correction, **kwargs)
    assert source is not None
    lines = goal.lines(source)
    charset = source.charset

    def validate(compiled, data):  # type: ignore[no-untyped-def]
        output = compiled.output(0)
        scores = line_scores(lambda x: compiled(x)[output], list(data), charset)
        return _mean(scores), scores  # per-line scores let NNCF rank quantizers by the metric itself

    from nncf.quantization.advanced_parameters import AdvancedAccuracyRestorerParameters

    with _nncf_report() as report:
        quantized = nncf.quantize_with_accuracy_control(
            model, calibration, nncf.Dataset(lines, lambda item: item[0]), validate,
            max_drop=goal.max_drop, drop_type=nncf.DropType.ABSOLUTE, preset=preset, subset_size=len(batches),
            fast_bias_correction=recipe.fast_bias_correction,
            advanced_accuracy_restorer_parameters=AdvancedAccuracyRestorerParameters(
                max_num_iterations=recipe.max_reverts, ranking_subset_size=min(len(lines), 300)),
            **kwargs)
    quantized.set_rt_info("; ".join(report) or "no report", ["edge_sdk", "accuracy_control"])
    return quantized


def float_scope(model, first: int, last: int, extra: Sequence[int] = ()) -> List[str]:  # type: ignore[no-untyped-def]
    """Friendly names of the first ``first`` (Group)Convolutions, those at the indices ``extra``, and the last
    ``last`` with every op after them."""
    ops = list(model.get_ordered_ops())
    convs = [i for i, op in enumerate(ops) if op.get_type_name() in ("Convolution", "GroupConvolution")]
    names = [ops[i].get_friendly_name() for i in convs[:first]]
    names += [ops[convs[i]].get_friendly_name() for i in extra if 0 <= i < len(convs)]
    if last and convs:
        names += [op.get_friendly_name() for op in ops[convs[-min(last, len(convs))]:]
                  if op.get_type_name() not in ("Constant", "Parameter", "Result")]
    return names


@contextlib.contextmanager
def _nncf_report() -> Iterator[List[str]]:
    """NNCF's accuracy-control summary lines (metrics, drop, what it reverted), from its logger."""
    lines: List[str] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            msg = " ".join(record.getMessage().split())
            low = msg.lower()
            if msg not in lines and any(k in low for k in ("metric of", "algorithm", "reverted back", "could not",
                                                           "maximum number")):
                lines.append(msg)

    handler = Keep(logging.INFO)
    nncf_log = logging.getLogger("nncf")
    nncf_log.addHandler(handler)
    try:
        yield lines
    finally:
        nncf_log.removeHandler(handler)
