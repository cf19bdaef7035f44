"""Paddle Inference backend: the reference every converted artifact is checked against.

Loads legacy (``inference.pdmodel``) and PIR (``inference.json``) programs with their
``inference.pdiparams``.

Concurrency ``pool``: a predictor is not thread-safe (shared by 8 threads it raises oneDNN layout
errors or returns other calls' outputs). Each ``run`` borrows a predictor from a pool: the loaded one
and its ``clone()``s, which share its weights. The pool holds ``cores // threads`` predictors (at
least one), so concurrent runs never ask for more threads than there are cores; with the default
threads (every core) it is one predictor used by one caller at a time. Measured on 2 cores, 8 caller
threads: clones give exactly the single predictor's results; every clone that runs builds its own
oneDNN caches (+0.4 to 0.7 GB each over 4 widths), and clones beyond the cores only made runs slower.
"""
from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Any, Dict

import numpy as np

from .base import BackendOptions, DeviceUnavailable, ModelLoadError, ObjectPool, Session, default_threads, first_line

# Paddle's C++ logging is on by default and prints every IR pass; keep it for errors only.
os.environ.setdefault("GLOG_minloglevel", "2")
os.environ.setdefault("FLAGS_print_ir", "0")
warnings.filterwarnings("ignore", message="No ccache found")


class PaddleSession(Session):
    name = "paddle"
    formats = (".pdmodel", ".json")
    concurrency = "pool"  # a predictor per concurrent run() call: the loaded one and its clones

    def __init__(self, model_file: Path, options: BackendOptions) -> None:
        super().__init__(model_file, options)
        self._require_f32()
        import paddle.inference as pi

        params = Path(model_file).with_suffix(".pdiparams")
        if not params.is_file():
            raise ModelLoadError(f"{params} is missing; a Paddle model needs its .pdiparams beside the program file.")
        _check_program(Path(model_file), params)  # Paddle segfaults on a corrupt program instead of raising
        config = pi.Config(str(model_file), str(params))
        config.disable_glog_info()
        device = options.device.lower()
        if device == "cpu":
            config.disable_gpu()
            config.set_cpu_math_library_num_threads(options.resolved_threads())
        elif device in ("gpu", "cuda"):
            config.enable_use_gpu(256, 0)
        else:
            raise DeviceUnavailable(f"the paddle backend has no device {options.device!r}; use 'cpu' or 'gpu'.")
        # No enable_memory_optim(): it corrupts results when two predictors share a process.
        try:
            predictor = pi.create_predictor(config)
        except Exception as exc:
            raise ModelLoadError(f"Paddle Inference could not load {model_file}: {first_line(exc)}") from exc
        # Clones are made here, before any run: cloning a predictor while another thread runs it is not
        # documented as safe. A clone costs ~2 ms and little memory until it first runs.
        size = max(1, default_threads() // options.resolved_threads())
        self._predictors = ObjectPool(size, initial=[_Worker(predictor)] + [_Worker(predictor.clone())
                                                                             for _ in range(size - 1)])

    def run(self, batch: np.ndarray) -> np.ndarray:
        x = np.ascontiguousarray(batch, dtype=np.float32)
        with self._predictors.take() as worker:
            worker.input.reshape(list(x.shape))
            worker.input.copy_from_cpu(x)
            worker.predictor.run()
            return worker.output.copy_to_cpu()  # a copy, made before another call can reuse the predictor

    def describe(self) -> Dict[str, Any]:
        info = super().describe()
        import paddle

        info["version"] = paddle.__version__
        info["predictors"] = self._predictors.max_size
        return info


class _Worker:
    """A predictor with its input and output handles."""

    def __init__(self, predictor: Any) -> None:
        self.predictor = predictor
        self.input = predictor.get_input_handle(predictor.get_input_names()[0])
        self.output = predictor.get_output_handle(predictor.get_output_names()[0])


def _check_program(model_file: Path, params: Path) -> None:
    """Parse the program before Paddle Inference sees it: on a corrupt file it crashes the process."""
    if params.stat().st_size == 0:
        raise ModelLoadError(f"{params} is empty; copy the model's .pdiparams again.")
    data = model_file.read_bytes()
    if model_file.suffix == ".pdmodel":
        from google.protobuf.message import DecodeError
        from paddle.base.proto import framework_pb2

        program = framework_pb2.ProgramDesc()
        try:
            program.ParseFromString(data)
        except DecodeError as exc:
            raise ModelLoadError(f"{model_file} is not a Paddle program (corrupt or truncated: {exc}).") from exc
        if not program.blocks or not program.blocks[0].ops:
            raise ModelLoadError(f"{model_file} holds an empty Paddle program.")
    else:
        import json

        try:
            program = json.loads(data)
        except (ValueError, UnicodeDecodeError) as exc:
            raise ModelLoadError(f"{model_file} is not a Paddle PIR program (invalid JSON: {exc}).") from exc
        if not isinstance(program, dict) or "program" not in program:
            raise ModelLoadError(f"{model_file} is JSON but not a Paddle PIR program (no 'program' key).")

