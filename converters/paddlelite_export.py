"""Paddle (legacy program) -> Paddle Lite ``inference.nb`` with Paddle Lite's ``opt``.

``opt`` always runs in a child process: on some programs it aborts the whole process (e.g. a swish op
that lost its ``beta`` attribute when paddle 3.x re-saved the program), and a converter must report
that, not die of it. Which ``opt``: ``--opt``/``opt_path``, ``$EDGE_SDK_PADDLE_LITE_OPT``, the
``paddle_lite_opt`` of this interpreter's paddlelite wheel, or one on PATH; e.g. a Python 3.11
environment can use ``.venv39/bin/paddle_lite_opt`` from a Python 3.9 environment.

Paddle Lite reads only the legacy program (``inference.pdmodel``); paddlepaddle 3.x has no way to
write one from a PIR ``inference.json``, so PIR input is refused with the way out.
"""
from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
from importlib.util import find_spec
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

from edge_sdk._fs import scratch_dir
from edge_sdk.errors import BackendUnavailableError, ConversionError
from edge_sdk.model_dir import ModelDir

log = logging.getLogger("edge_sdk.convert")

NB_FILE = "inference.nb"
VALID_PLACES = ("arm", "x86", "opencl", "metal", "xpu", "nnadapter")  # what opt 2.13 accepts
QUANT_TYPES = {"int8": "QUANT_INT8", "int16": "QUANT_INT16"}  # weight-only quantization in opt
OPT_ENV = "EDGE_SDK_PADDLE_LITE_OPT"
XSHAPE_OPS = ("flatten_contiguous_range", "transpose2", "squeeze2", "unsqueeze2", "reshape2")


def find_opt(opt_path: Optional[str] = None) -> str:
    if opt_path:
        if not (Path(opt_path).is_file() and os.access(opt_path, os.X_OK)):
            raise BackendUnavailableError(f"--opt {opt_path} is not an executable file.")
        return str(opt_path)
    env = os.environ.get(OPT_ENV)
    if env:
        if not (Path(env).is_file() and os.access(env, os.X_OK)):
            raise BackendUnavailableError(f"${OPT_ENV}={env} is not an executable file.")
        return env
    if find_spec("paddlelite") is not None:
        beside = Path(sys.executable).parent / "paddle_lite_opt"
        if beside.is_file():
            return str(beside)
    on_path = shutil.which("paddle_lite_opt")
    if on_path:
        return on_path
    raise BackendUnavailableError(
        "converting to Paddle Lite needs its opt tool, which is not found: pip install paddlelite==2.13rc0 "
        f"in a Python <= 3.10 environment, then pass --opt that-env/bin/paddle_lite_opt (or set ${OPT_ENV})."
    )


def opt_version(opt: str) -> str:
    proc = subprocess.run([opt, "--version"], capture_output=True, text=True, timeout=120)
    lines = [line.strip() for line in (proc.stdout + proc.stderr).splitlines() if line.strip()]
    if proc.returncode != 0 or not lines:
        raise BackendUnavailableError(f"{opt} --version failed; is it Paddle Lite's opt?")
    return lines[-1]


def parse_places(valid_places: str) -> List[str]:
    places = [p.strip() for p in valid_places.split(",") if p.strip()]
    bad = [p for p in places if p not in VALID_PLACES]
    if not places or bad:
        raise ConversionError(
            f"--valid-places {valid_places!r} is not valid; use a comma list of {', '.join(VALID_PLACES)}."
        )
    return places


def export(source: ModelDir, stage: Path, precision: str = "fp32", valid_places: str = "arm",
           opt_path: Optional[str] = None) -> List[str]:
    places = parse_places(valid_places)
    if source.format == "paddle-pir":
        raise ConversionError(
            f"Paddle Lite cannot read the PIR program {source.model_file.name} and paddlepaddle cannot turn it back "
            "into a legacy one; convert from the model's legacy export (inference.pdmodel, e.g. PaddleOCR's "
            "export_model.py with FLAGS_enable_pir_api=0) or use --target onnx/openvino."
        )
    if source.format != "paddle-legacy":
        raise ConversionError(f"{source.path} is a {source.format} model; Paddle Lite converts legacy Paddle programs.")
    opt = find_opt(opt_path)
    with scratch_dir(stage) as tmp:  # inside the stage: a killed run leaves nothing in /tmp
        program, notes = repair_program(source.model_file, Path(tmp), quantized=precision in QUANT_TYPES)
        _run_opt(opt, source, program, stage, places, precision)
    return notes


def repair_program(model_file: Path, tmp: Path, quantized: bool = False) -> Tuple[Path, List[str]]:
    """Rewrite what Paddle Lite 2.13 mishandles in a legacy program; returns the program for opt and notes.

    - swish ops that lost ``beta`` (a paddle 3.x re-save drops it; opt aborts): ``beta=1.0``, the
      Paddle 2.x default these programs were trained with.
    - ``flatten_contiguous_range``, ``transpose2``, ``squeeze2`` and ``unsqueeze2`` without their ``XShape``
      output (Paddle 3.x's old-IR writer omits it; Paddle 2.x always wrote it): opt 2.13 reads it
      unchecked and segfaults. A variable of the Paddle 2.x shape ``[0, *X.dims]`` is added.
    - for weight-only quantization, ``matmul_v2`` with a weight: Lite's runtime de-quantizes the weights of
      conv2d, fc and mul but not matmul_v2, whose weights are then read from an unfilled buffer (NaN
      from PP-OCRv4's first SVTR-neck linear layer, op 230, on). The same product as ``mul`` is handled.
    The original file is used as it is when nothing needs a change or paddlepaddle is missing.
    """
    try:
        from paddle.base.proto import framework_pb2
    except ImportError:
        return model_file, []
    desc = framework_pb2.ProgramDesc()
    desc.ParseFromString(model_file.read_bytes())
    swish = matmul = xshape = 0
    for block in desc.blocks:
        var_by_name = {v.name: v for v in block.vars}
        for op in block.ops:
            attrs = {a.name: a for a in op.attrs}
            if op.type == "swish" and "beta" not in attrs:
                _add_attr(op, framework_pb2, "beta", f=1.0)
                swish += 1
            elif op.type in XSHAPE_OPS and not any(o.parameter == "XShape" for o in op.outputs):
                _add_xshape(block, op, var_by_name)
                xshape += 1
            elif quantized and op.type == "matmul_v2" and _is_weight_product(op, attrs, var_by_name):
                x_rank = _rank(var_by_name[_arg(op, "X")])
                op.type = "mul"
                keep = [a for a in op.attrs if a.name not in ("trans_x", "trans_y")]
                del op.attrs[:]
                op.attrs.extend(keep)
                _add_attr(op, framework_pb2, "x_num_col_dims", i=x_rank - 1)
                _add_attr(op, framework_pb2, "y_num_col_dims", i=1)
                matmul += 1
    notes = []
    if swish:
        notes.append(f"restored beta=1.0 on {swish} swish ops that lost it (re-saved by paddle 3.x; opt aborts)")
    if xshape:
        notes.append(f"added the XShape output that {xshape} reshaping ops lack (opt segfaults without it)")
    if matmul:
        notes.append(f"rewrote {matmul} weight matmul_v2 ops as mul: Paddle Lite 2.13's weight-only "
                     "de-quantization skips matmul_v2, which then outputs NaN")
    if not notes:
        return model_file, []
    for note in notes:
        log.info("%s", note)
    out = tmp / "inference.pdmodel"
    out.write_bytes(desc.SerializeToString())
    shutil.copy(model_file.with_suffix(".pdiparams"), out.with_suffix(".pdiparams"))
    return out, notes


def _add_xshape(block: Any, op: Any, var_by_name: Dict[str, Any]) -> None:
    x = var_by_name[_arg(op, "X")]
    var = block.vars.add()
    var.CopyFrom(x)
    var.name = f"{_arg(op, 'Out', outputs=True)}.xshape"
    var.persistable = False
    dims = _tensor(var).dims
    dims[:] = [0, *dims]
    out = op.outputs.add()
    out.parameter = "XShape"
    out.arguments.append(var.name)
    var_by_name[var.name] = var


def _arg(op: Any, parameter: str, outputs: bool = False) -> str:
    return next(v.arguments[0] for v in (op.outputs if outputs else op.inputs) if v.parameter == parameter)


def _is_weight_product(op: Any, attrs: Dict[str, Any], var_by_name: Dict[str, Any]) -> bool:
    """X @ W with W a persistable 2-D parameter and no transposes: what ``mul`` computes."""
    if attrs.get("trans_x") is not None and attrs["trans_x"].b or attrs.get("trans_y") is not None and attrs["trans_y"].b:
        return False
    y = var_by_name.get(_arg(op, "Y"))
    x = var_by_name.get(_arg(op, "X"))
    return y is not None and x is not None and y.persistable and _rank(y) == 2 and _rank(x) >= 2


def _rank(var: Any) -> int:
    """Rank of a tensor variable."""
    return len(_tensor(var).dims)


def _tensor(var: Any) -> Any:
    """A variable's TensorDesc (paddle 3.x calls the field dense_tensor, 2.x lod_tensor)."""
    t = var.type
    field = "dense_tensor" if "dense_tensor" in t.DESCRIPTOR.fields_by_name else "lod_tensor"
    return getattr(t, field).tensor


def _add_attr(op: Any, pb: Any, name: str, f: Optional[float] = None, i: Optional[int] = None) -> None:
    attr = op.attrs.add()
    attr.name = name
    if f is not None:
        attr.type, attr.f = pb.AttrType.FLOAT, f
    else:
        attr.type, attr.i = pb.AttrType.INT, int(i or 0)


def _run_opt(opt: str, source: ModelDir, program: Path, stage: Path, places: List[str], precision: str) -> None:
    cmd = [opt, f"--model_file={program}", f"--param_file={program.with_suffix('.pdiparams')}",
           f"--valid_targets={','.join(places)}", "--optimize_out_type=naive_buffer",
           f"--optimize_out={stage / 'inference'}"]
    if precision in QUANT_TYPES:
        cmd += ["--quant_model=true", f"--quant_type={QUANT_TYPES[precision]}"]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    out = stage / NB_FILE
    if proc.returncode != 0 or not out.is_file():
        lines = [line for line in (proc.stdout + proc.stderr).splitlines() if line.strip()]
        how = f"exit code {proc.returncode}" if proc.returncode >= 0 else f"killed by signal {-proc.returncode}"
        raise ConversionError(f"Paddle Lite opt failed on {source.model_file} ({how}); its last output: "
                              + " | ".join(lines[-3:]))


def io_spec(nb_file: Path) -> Dict[str, Any]:
    # A naive-buffer model cannot be inspected without a runtime that can load it; opt keeps the
    # source program's input x [N, 3, 48, W] and output [N, W/8, classes].
    return {"format": "naive_buffer", "shapes": "as the source program"}


def runtime_hints(valid_places: str = "arm", opt_path: Optional[str] = None) -> Dict[str, Any]:
    """What a device needs to know before loading the .nb: opt version and the places it targets."""
    return {"opt_version": opt_version(find_opt(opt_path)), "valid_places": ",".join(parse_places(valid_places))}
