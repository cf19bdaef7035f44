"""Dev-time conversion: Paddle inference model -> deployable artifact, checked against the source.

One entry point, ``convert``: validate the request, export into a staging directory, write
``inference.yml``, run the parity check against the Paddle reference, write ``manifest.json``, and
rename the directory into place. Nothing is left at the output path when any step fails.
"""
from __future__ import annotations

import dataclasses
import importlib
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple, Union

from edge_sdk._fs import MARKER, scratch_dir
from edge_sdk.datasets import Sample, default_samples, load_samples
from edge_sdk.errors import BackendUnavailableError, ConversionError, EdgeSDKError
from edge_sdk.hub import resolve
from edge_sdk.model_dir import MANIFEST, TASK_NAMES, ModelDir, write_artifact_yml
from edge_sdk.predictor import predictor_class
from edge_sdk.rec.recognizer import TextRecognizer

from .check_pages import det_check_images
from .artifact import check_output_path, source_sha256, staged_directory, tool_versions, write_manifest
from .parity import ParityReport, check_parity
from .task_parity import TASK_CRITERIA, check_cls_parity, check_det_parity
from .quantize import RENDERED, AccuracyGoal
from .synthetic_lines import CHECK_LINES

log = logging.getLogger("edge_sdk.convert")


@dataclass(frozen=True)
class Target:
    """One conversion target: what it writes, from what, in which precisions, and how it is checked."""

    name: str
    program_file: str
    precisions: Tuple[str, ...]
    sources: Tuple[str, ...]  # ModelDir formats it converts from
    backend: str  # the runtime backend that checks (and later runs) the artifact
    module: str  # exporter module with export(source, stage, precision) and io_spec(program)
    tools: Tuple[str, ...]  # modules whose versions go into the manifest
    options: Tuple[str, ...] = ()  # target-only options convert() accepts
    # lines of the rendered check set that judge a reduced-precision artifact without --check-data
    check_lines: int = CHECK_LINES


TARGETS: Dict[str, Target] = {
    t.name: t
    for t in [
        Target("onnx", "inference.onnx", ("fp32", "int8"), ("paddle-legacy", "paddle-pir", "onnx"), "onnxruntime",
               "converters.onnx_export", ("paddle", "paddle2onnx", "onnx", "onnxruntime"),
               ("calib", "calib_size", "rendered_calib", "max_acc_drop")),
        Target("openvino", "inference.xml", ("fp32", "fp16", "int8"), ("paddle-legacy", "paddle-pir", "onnx"),
               "openvino", "converters.openvino_export", ("paddle", "openvino", "paddle2onnx", "onnx", "nncf"),
               ("calib", "calib_size", "rendered_calib", "max_acc_drop")),
        # int8/int16: opt's weight-only quantization (quant_model); PIR is refused with the way out.
        Target("paddlelite", "inference.nb", ("fp32", "int8", "int16"), ("paddle-legacy", "paddle-pir"), "paddlelite",
               "converters.paddlelite_export", ("paddle", "paddlelite"), ("valid_places", "opt_path"),
               # Lite's x86 checker runs ~6 lines/s and needs a workspace per input shape: a spread subset
               check_lines=120),
    ]
}


@dataclass
class ConversionResult:
    output: Path
    manifest: Dict[str, Any]
    parity: Optional[ParityReport]  # None when the artifact cannot run on this machine
    parity_not_run: str = ""  # why, then


def convert(source: Union[str, Path], target: str, output: Union[str, Path], precision: str = "fp32",
            check_data: Optional[Union[str, Path]] = None, check_limit: Optional[int] = None,
            batch_size: int = 8, threads: int = 0, dict_path: Optional[Union[str, Path]] = None,
            allow_mismatch: bool = False, **target_options: Any) -> ConversionResult:
    """Convert a model and check it against the Paddle reference.

    Args:
        source: a zoo name, a Paddle inference dir (legacy ``inference.pdmodel`` or PIR ``inference.json``),
            or (for targets that take it) an ONNX artifact or file.
        target: a key of ``TARGETS`` (``onnx``, ``openvino``, ``paddlelite``).
        output: the artifact directory to write (an earlier edge-sdk artifact there is replaced).
        precision: one of the target's precisions.
        check_data: a label file, dataset dir or image folder for the parity check (default: the SDK samples).
        check_limit: use only the first N lines of ``check_data``.
        allow_mismatch: write the artifact even when parity fails (the manifest says it failed).
        target_options: options only some targets take, e.g. ``valid_places="x86"``, ``opt_path=...``
            for ``paddlelite``; ``calib``, ``calib_size`` and ``max_acc_drop`` (points of PaddleX acc, scored
            on the labelled ``check_data``) for int8 on ``onnx`` and ``openvino``; others are refused.
    Example:
        >>> convert("PP-OCRv4_mobile_rec", "onnx", "out/rec-onnx").parity.identical_text_pct
        100.0
    """
    if target not in TARGETS:
        raise ConversionError(f"unknown target {target!r}; choose one of {', '.join(TARGETS)}.")
    tgt = TARGETS[target]
    if precision not in tgt.precisions:
        raise ConversionError(
            f"target {target} does not support precision {precision!r}; it supports {', '.join(tgt.precisions)}."
        )
    unknown = sorted(k for k, v in target_options.items() if v is not None and k not in tgt.options)
    if unknown:
        raise ConversionError(f"option(s) {', '.join(unknown)} do not apply to target {target}"
                              f"{' (it takes ' + ', '.join(tgt.options) + ')' if tgt.options else ''}.")
    options = {k: v for k, v in target_options.items() if v is not None}
    if isinstance(options.get("calib"), (str, Path)):
        options["calib"] = [str(options["calib"])]
    for name, flag in (("calib", "--calib"), ("calib_size", "--calib-size"), ("rendered_calib", "--no-rendered-calib")):
        if name in options and precision != "int8":
            raise ConversionError(f"{flag} applies to --precision int8 only.")
    for c in options.get("calib", []):  # before anything is loaded: a typo should not cost a model load
        if c != RENDERED and not Path(c).exists():
            raise ConversionError(f"--calib: dataset {c} does not exist.")
    max_acc_drop = options.pop("max_acc_drop", None)
    if max_acc_drop is not None and precision != "int8":
        raise ConversionError("--max-acc-drop applies to --precision int8 only.")
    if max_acc_drop is not None and not 0 <= max_acc_drop <= 100:
        raise ConversionError(f"--max-acc-drop is in accuracy points, 0 to 100, not {max_acc_drop:g}.")
    check_output_path(Path(output))  # before anything is loaded: refuse early what would be refused at the end
    src = resolve(str(source), dict_path=Path(dict_path) if dict_path else None)
    if src.format == "onnx" and target == "paddlelite":
        raise ConversionError(
            f"{src.path} holds an ONNX model, and Paddle Lite's opt reads only Paddle programs (there is no ONNX to "
            "Paddle route); give the model's Paddle inference directory (e.g. the official PaddleX tar) instead.")
    if src.format not in tgt.sources:
        raise ConversionError(
            f"{src.path} holds a {src.format} model; the {target} target converts from {', '.join(tgt.sources)}."
        )
    if src.task != "rec" and precision not in TASK_CRITERIA:
        raise ConversionError(f"{src.model_name or src.path} is a text {TASK_NAMES[src.task]} model; it converts at "
                              f"{' or '.join(TASK_CRITERIA)} (INT8 recipes and their checks are for recognition "
                              "models so far).")
    if src.task != "rec":
        samples, data_name = _task_check_items(check_data, check_limit, src)
    else:
        samples, data_name = _check_samples(check_data, check_limit, src, precision, tgt.check_lines)
    criteria = src.spec.parity_for(precision)
    if max_acc_drop is not None:
        if not samples or any(s.label is None for s in samples):
            raise ConversionError("--max-acc-drop needs labelled lines to score on: pass --check-data with a label "
                                  "file or a PaddleX dataset dir (without it, the rendered check set is used).")
        options["goal"] = AccuracyGoal(max_acc_drop / 100.0, tuple(samples), data_name)
        criteria = dataclasses.replace(criteria, max_acc_drop=max_acc_drop / 100.0, acc_drop_z=None)  # asked: bare
    output = Path(output)
    reference = _reference(src, threads)  # fails early if its backend is missing
    exporter = importlib.import_module(tgt.module)
    hints = exporter.runtime_hints(**options) if hasattr(exporter, "runtime_hints") else {}
    with staged_directory(output) as stage:
        notes = exporter.export(src, stage, precision, **options)
        write_artifact_yml(stage, src)
        report: Optional[ParityReport] = None
        not_run = ""
        staged = ModelDir.open(stage)
        staged.manifest = {"runtime": hints}  # the candidate loads with the hints its manifest will carry
        try:
            # f32 compute: the check measures the conversion, not a device's reduced-precision mode.
            # FP32: the graph as written measures the converter; as deployed adds the runtime's own fusions.
            # INT8 is checked as deployed only: its fused integer kernels are what the accuracy is.
            candidate = predictor_class(staged)(staged, backend=tgt.backend, threads=threads, precision="f32",
                                                cache_dir=None, optimize_graph=precision != "fp32")
        except BackendUnavailableError as exc:
            not_run = f"the artifact cannot run here: {exc}"
            log.info("parity check not run: %s", not_run)
        else:
            if src.task != "rec":
                images, names = samples
                log.info("checking parity on %d inputs of %s", len(images), data_name)
                check = check_det_parity if src.task == "det" else check_cls_parity
                report = check(reference, candidate, images, names, data_name, TASK_CRITERIA[precision])
            else:
                deployed = (TextRecognizer(staged, backend=tgt.backend, threads=threads, precision="f32", cache_dir=None)
                            if precision == "fp32" and candidate.session.graph_optimization_switch else None)
                log.info("checking parity on %d lines of %s", len(samples), data_name)
                report = check_parity(reference, candidate, samples, data_name, criteria, batch_size, deployed)
        speed = None
        if precision == "int8" and report is not None and "calib" in tgt.options:  # static INT8 only
            speed = _speedup_over_fp32(src, tgt, exporter, stage, candidate, samples, batch_size, threads)
        manifest = _manifest(src, tgt, precision, stage, report, not_run, exporter.io_spec(stage / tgt.program_file),
                             {**{k: v for k, v in options.items() if k != "goal"}, **hints}, notes)
        if speed is not None:
            manifest["speed"] = speed
        write_manifest(stage, manifest)
        if report is not None and not report.passed and not allow_mismatch:
            if max_acc_drop is not None:
                raise ConversionError(
                    f"the {target} int8 artifact misses --max-acc-drop {max_acc_drop:g} on {data_name} "
                    f"({'; '.join(report.failures)}); nothing was written. Try a larger --max-acc-drop, more "
                    "--calib lines, or the FP32 artifact.")
            raise ConversionError(
                f"the {target} {precision} artifact does not match the source ({'; '.join(report.failures)}); "
                "nothing was written (pass --allow-mismatch to keep it anyway)."
            )
    return ConversionResult(output=output, manifest=manifest, parity=report, parity_not_run=not_run)


SPEED_WIDTHS = (320, 640)  # lines timed at these widths (the model's min width and a long line)
SPEED_REPEATS = 4  # batches per width and round
SPEED_ROUNDS = 3


def _speedup_over_fp32(src: ModelDir, tgt: Target, exporter: Any, stage: Path, candidate: TextRecognizer,
                       samples: List[Sample], batch_size: int, threads: int) -> Dict[str, Any]:
    """The INT8 artifact's lines/s over the FP32 artifact's, both on ``tgt.backend`` in this process.

    The FP32 artifact is exported into scratch the same way. Both run the same batches of a check line
    scaled to each of ``SPEED_WIDTHS`` (fixed shapes: a run of mixed widths would time each backend's
    per-shape set-up as much as its arithmetic), alternating, ``SPEED_ROUNDS`` times each, and the best
    round of each counts (the least disturbed by the rest of the machine)."""
    import time

    import cv2

    from edge_sdk.images import read_image

    line = read_image(samples[0].path)
    height = src.preprocess.height
    probes = [cv2.resize(line, (w, height), interpolation=cv2.INTER_LINEAR) for w in SPEED_WIDTHS]
    batches = [[p] * batch_size for p in probes] * SPEED_REPEATS
    with scratch_dir(stage) as tmp:
        exporter.export(src, tmp, "fp32")
        write_artifact_yml(tmp, src)
        fp32 = TextRecognizer(ModelDir.open(tmp), backend=tgt.backend, threads=threads, precision="f32", cache_dir=None)
        best = {"fp32": float("inf"), "int8": float("inf")}
        for rec in (fp32, candidate):  # warm: the first run of a shape compiles it
            for p in probes:
                rec.run_lines([p] * batch_size, batch_size)
        for _ in range(SPEED_ROUNDS):
            for name, rec in (("fp32", fp32), ("int8", candidate)):
                t0 = time.perf_counter()
                for batch in batches:
                    rec.run_lines(batch, batch_size)
                best[name] = min(best[name], time.perf_counter() - t0)
        del fp32
    n = sum(len(b) for b in batches)
    return {"backend": tgt.backend, "threads": candidate.session.describe().get("threads", threads), "lines": n,
            "widths": list(SPEED_WIDTHS), "batch_size": batch_size,
            "fp32_lines_per_s": round(n / best["fp32"], 1), "int8_lines_per_s": round(n / best["int8"], 1),
            "speedup_vs_fp32": round(best["fp32"] / best["int8"], 2)}


def _reference(src: ModelDir, threads: int) -> Any:
    """The Paddle model behind ``src`` on Paddle Inference; for an ONNX source without a reachable
    Paddle origin, the ONNX itself on onnxruntime (the parity report names which)."""
    if src.is_paddle:
        return predictor_class(src)(src, backend="paddle", threads=threads)
    origin = Path(src.manifest.get("source", {}).get("path", ""))
    if str(origin) not in ("", ".") and origin.is_dir():
        try:
            origin_dir = ModelDir.open(origin)
        except EdgeSDKError:
            origin_dir = None
        if origin_dir is not None and origin_dir.is_paddle:
            return predictor_class(origin_dir)(origin_dir, backend="paddle", threads=threads)
    if src.manifest.get("source"):  # an edge-sdk artifact whose Paddle origin has moved
        log.warning("no Paddle origin found for %s; checking against it on onnxruntime", src.path)
    else:  # an ONNX source (a zoo mirror, a user's export): it is the reference
        log.info("%s is an ONNX source; checking against it on onnxruntime", src.path)
    return predictor_class(src)(src, backend="onnxruntime", threads=threads)


def _task_check_items(check_data: Optional[Union[str, Path]], limit: Optional[int],
                      src: ModelDir) -> Tuple[Tuple[list, list], str]:
    """The images (det) or line crops (cls) the parity check runs on, their names, and the data's name.
    Without ``--check-data``: sample pages and rendered scenes (det, ``check_pages``), the sample lines (cls)."""
    from edge_sdk.images import read_image

    if check_data is None:
        if src.task == "det":
            images, names, what = det_check_images(limit)
            return (images, names), what
        samples = default_samples()[:limit]
        return ([read_image(s.path) for s in samples], [str(s.path) for s in samples]), \
            f"edge-sdk sample lines ({len(samples)})"
    try:
        samples = load_samples(Path(check_data), limit)
        return ([read_image(s.path) for s in samples], [str(s.path) for s in samples]), str(check_data)
    except EdgeSDKError as exc:
        raise ConversionError(f"--check-data: {exc}") from exc


def _check_samples(check_data: Optional[Union[str, Path]], limit: Optional[int], src: ModelDir,
                   precision: str, check_lines: int = CHECK_LINES) -> Tuple[list, str]:
    """The lines the parity check runs on, and their name for the report.

    Without ``--check-data``: an FP32 artifact is compared line by line on the SDK's sample lines (any
    conversion error shows on every line); a reduced-precision one is judged on the rendered multi-script
    check set (``synthetic_lines.check_set``), since its accuracy bound needs hundreds of lines of every
    script the dict holds."""
    if check_data is None:
        if precision == "fp32":
            samples = default_samples()
            return samples[:limit] if limit else samples, f"edge-sdk sample lines ({len(samples)})"
        from .synthetic_lines import check_set

        checks = check_set(src.charset.dict_characters)
        n = min(limit or check_lines, check_lines)
        samples = checks.spread(n)
        return samples, checks.describe() + (f"; {n} lines spread over it" if n < len(checks.samples) else "")
    try:
        return load_samples(Path(check_data), limit), str(check_data)
    except EdgeSDKError as exc:
        raise ConversionError(f"--check-data: {exc}") from exc


def _manifest(src: ModelDir, tgt: Target, precision: str, stage: Path, report: Optional[ParityReport],
              not_run: str, io: Dict[str, Any], runtime: Dict[str, Any], notes: List[str]) -> Dict[str, Any]:
    files = [src.model_file] + ([src.model_file.with_suffix(".pdiparams")] if src.is_paddle else [])
    pp = src.preprocess
    io_spec: Dict[str, Any]
    if src.task == "det":
        d = src.det
        io_spec = {"task": "det", "layout": "NCHW", "height": "dynamic", "width": "dynamic", "multiple_of": 32,
                   "limit_side_len": d.limit_side_len, "limit_type": d.limit_type, "max_side_limit": d.max_side_limit,
                   "color": "BGR", "mean": list(d.mean), "std": list(d.std), **io}
    elif src.task == "cls":
        c = src.cls
        io_spec = {"task": "cls", "layout": "NCHW", "height": c.height, "width": c.width, "color": "BGR",
                   "mean": c.mean, "std": c.std, "labels": list(c.labels), **io}
    else:
        io_spec = {"task": "rec", "layout": "NCHW", "height": pp.height, "width": "dynamic",
                   "min_width": pp.min_width, "max_width": pp.max_width, "width_step": pp.width_step,
                   "color": pp.color, "mean": pp.mean, "std": pp.std, "classes": len(src.charset), **io}
    hints = {k: v for k, v in runtime.items() if k != "opt_path"}
    return {
        "model_name": src.model_name or src.spec.name,
        "target": tgt.name,
        "precision": precision,
        "program_file": tgt.program_file,
        "size_bytes": sum(f.stat().st_size for f in stage.iterdir()
                          if f.is_file() and f.name not in (MANIFEST, MARKER)),
        "source": {"path": str(src.path.resolve()), "format": src.format, "sha256": source_sha256(files)},
        "tools": tool_versions(*tgt.tools),
        "input_spec": io_spec,
        "runtime": hints,
        "conversion_notes": notes,
        "parity": report.as_dict() if report is not None else {"run": False, "reason": not_run},
        # runtimes.selection runs an integer artifact on this backend first: its accuracy was measured there
        "checked_backend": tgt.backend if report is not None else "",
    }


__all__ = ["TARGETS", "ConversionResult", "Target", "convert"]
