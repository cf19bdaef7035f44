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
import tempfile
from importlib.util import find_spec
from pathlib import Path
from typing import Any, Dict, List, Optional

from edge_sdk.errors import BackendUnavailableError, ConversionError
from edge_sdk.model_dir import ModelDir

log = logging.getLogger("edge_sdk.convert")

NB_FILE = "inference.nb"
VALID_PLACES = ("arm", "x86", "opencl", "metal", "xpu", "nnadapter")  # what opt 2.13 accepts
QUANT_TYPES = {"int8": "QUANT_INT8", "int16": "QUANT_INT16"}  # weight-only quantization in opt
OPT_ENV = "EDGE_SDK_PADDLE_LITE_OPT"


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
           opt_path: Optional[str] = None) -> Path:
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
    with tempfile.TemporaryDirectory(prefix="edge-sdk-lite-") as tmp:
        program = repair_program(source.model_file, Path(tmp))
        return _run_opt(opt, source, program, stage, places, precision)


def repair_program(model_file: Path, tmp: Path) -> Path:
    """Restore ``beta=1.0`` on swish ops that lost it (paddle 3.x re-saves drop it; opt then aborts).

    1.0 was the attribute's default in Paddle 2.x, where these programs come from. Returns the program
    to give opt: the original, or a repaired copy in ``tmp``.
    """
    try:
        from paddle.base.proto import framework_pb2
    except ImportError:  # without paddlepaddle the program is passed as it is
        return model_file
    desc = framework_pb2.ProgramDesc()
    desc.ParseFromString(model_file.read_bytes())
    repaired = 0
    for block in desc.blocks:
        for op in block.ops:
            if op.type == "swish" and not any(a.name == "beta" for a in op.attrs):
                attr = op.attrs.add()
                attr.name, attr.type, attr.f = "beta", framework_pb2.AttrType.FLOAT, 1.0
                repaired += 1
    if not repaired:
        return model_file
    log.warning("restored beta=1.0 on %d swish ops that lost it (a paddle 3.x re-save); Paddle Lite needs it",
                repaired)
    out = tmp / "inference.pdmodel"
    out.write_bytes(desc.SerializeToString())
    shutil.copy(model_file.with_suffix(".pdiparams"), out.with_suffix(".pdiparams"))
    return out


def _run_opt(opt: str, source: ModelDir, program: Path, stage: Path, places: List[str], precision: str) -> Path:
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
    return out


def io_spec(nb_file: Path) -> Dict[str, Any]:
    # A naive-buffer model cannot be inspected without a runtime that can load it; opt keeps the
    # source program's input x [N, 3, 48, W] and output [N, W/8, classes].
    return {"format": "naive_buffer", "shapes": "as the source program"}


def runtime_hints(valid_places: str = "arm", opt_path: Optional[str] = None) -> Dict[str, Any]:
    """What a device needs to know before loading the .nb: opt version and the places it targets."""
    return {"opt_version": opt_version(find_opt(opt_path)), "valid_places": ",".join(parse_places(valid_places))}
