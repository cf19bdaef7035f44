"""onnxruntime backend: loads ``inference.onnx``."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, List

import numpy as np

from .base import BackendOptions, DeviceUnavailable, ModelLoadError, Session, first_line

_DEVICE_PROVIDERS = {
    "cpu": ["CPUExecutionProvider"],
    "cuda": ["CUDAExecutionProvider", "CPUExecutionProvider"],
    "tensorrt": ["TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider"],
}


class OnnxRuntimeSession(Session):
    name = "onnxruntime"
    formats = (".onnx",)

    def __init__(self, model_file: Path, options: BackendOptions) -> None:
        super().__init__(model_file, options)
        self._require_f32()
        import onnxruntime as ort

        device = options.device.lower()
        if device not in _DEVICE_PROVIDERS:
            raise DeviceUnavailable(
                f"onnxruntime has no device {options.device!r}; use one of {', '.join(_DEVICE_PROVIDERS)}."
            )
        wanted = _DEVICE_PROVIDERS[device]
        available = set(ort.get_available_providers())
        if wanted[0] not in available:
            raise DeviceUnavailable(
                f"onnxruntime here has no {wanted[0]} (it has {', '.join(sorted(available))}); "
                "install the onnxruntime build for that device or use device='cpu'."
            )
        so = ort.SessionOptions()
        so.intra_op_num_threads = options.resolved_threads()
        so.inter_op_num_threads = 1
        so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        so.log_severity_level = 3  # paddle2onnx leaves unused initializers; ORT warns about each one
        try:
            self._session = ort.InferenceSession(
                str(model_file), sess_options=so, providers=[p for p in wanted if p in available]
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
