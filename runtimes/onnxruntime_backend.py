"""onnxruntime backend: loads ``inference.onnx`` on the CPU, or an NVIDIA GPU through CUDA or TensorRT.

Text lines come in many widths. cuDNN's default (EXHAUSTIVE) benchmarks every convolution algorithm
for each new input shape, so the first line of each width would stall; ``HEURISTIC`` picks from
cuDNN's own heuristics instead. TensorRT gets one optimisation profile covering every width the
preprocessing can produce and keeps built engines in the compiled-model cache.

Concurrency ``native``: ``InferenceSession.run`` is thread-safe (onnxruntime documents it), so one
session serves every thread as is; concurrent calls share its intra-op thread pool.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, List, Tuple

import numpy as np

from .base import BackendOptions, DeviceUnavailable, ModelLoadError, Session, first_line

DEVICES = ("cpu", "cuda", "tensorrt")


def provider_options(device: str, options: BackendOptions, input_name: str = "x") -> List[Tuple[str, Dict[str, Any]]]:
    """(provider, options) pairs for ``device``, most preferred first."""
    cuda = ("CUDAExecutionProvider", {"cudnn_conv_algo_search": "HEURISTIC", "do_copy_in_default_stream": True})
    if device == "cpu":
        return [("CPUExecutionProvider", {})]
    if device == "cuda":
        return [cuda, ("CPUExecutionProvider", {})]
    _, _, fixed_h, fixed_w = options.input_shape
    h = options.extra.get("height", fixed_h if fixed_h > 0 else 48)
    min_w, max_w = ((fixed_w, fixed_w) if fixed_w > 0 else
                    (options.extra.get("min_width", 320), options.extra.get("max_width", 3200)))
    max_batch = int(options.extra.get("max_batch", 8))
    trt: Dict[str, Any] = {
        "trt_profile_min_shapes": f"{input_name}:1x3x{h}x{min_w}",
        "trt_profile_opt_shapes": f"{input_name}:1x3x{h}x{min_w}",
        "trt_profile_max_shapes": f"{input_name}:{max_batch}x3x{h}x{max_w}",
    }
    if options.cache_dir:
        trt.update(trt_engine_cache_enable=True, trt_engine_cache_path=str(Path(options.cache_dir) / "tensorrt"))
    return [("TensorrtExecutionProvider", trt), cuda, ("CPUExecutionProvider", {})]


class OnnxRuntimeSession(Session):
    name = "onnxruntime"
    formats = (".onnx",)
    graph_optimization_switch = True
    concurrency = "native"  # InferenceSession.run may be called from several threads at once

    def __init__(self, model_file: Path, options: BackendOptions) -> None:
        super().__init__(model_file, options)
        self._require_f32()
        import onnxruntime as ort

        device = options.device.lower()
        if device not in DEVICES:
            raise DeviceUnavailable(
                f"onnxruntime has no device {options.device!r}; use one of {', '.join(DEVICES)}."
            )
        wanted = provider_options(device, options)
        available = set(ort.get_available_providers())
        if wanted[0][0] not in available:
            raise DeviceUnavailable(
                f"onnxruntime here has no {wanted[0][0]} (it has {', '.join(sorted(available))}); "
                "install the onnxruntime build for that device or use device='cpu'."
            )
        so = ort.SessionOptions()
        so.intra_op_num_threads = options.resolved_threads()
        so.inter_op_num_threads = 1
        so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        so.graph_optimization_level = (ort.GraphOptimizationLevel.ORT_ENABLE_ALL if options.optimize_graph
                                       else ort.GraphOptimizationLevel.ORT_DISABLE_ALL)
        so.log_severity_level = 3  # paddle2onnx leaves unused initializers; ORT warns about each one
        try:
            self._session = ort.InferenceSession(
                str(model_file), sess_options=so, providers=[p for p in wanted if p[0] in available]
            )
        except Exception as exc:  # onnxruntime raises its own Fail/InvalidGraph types
            raise ModelLoadError(f"onnxruntime could not load {model_file}: {first_line(exc)}") from exc
        self._input = self._session.get_inputs()[0].name
        self._outputs: List[str] = [self._session.get_outputs()[0].name]

    def run(self, batch: np.ndarray) -> np.ndarray:
        return self._session.run(self._outputs, {self._input: batch})[0]

    def describe(self) -> Dict[str, Any]:
        info = super().describe()
        info["providers"] = self._session.get_providers()
        return info
