"""OpenVINO backend: loads ``inference.xml`` (IR), ``.onnx``, or a legacy Paddle ``inference.pdmodel``.

Precision is explicit. OpenVINO's CPU plugin computes in bf16 by default on CPUs with AVX-512 BF16 or
AMX, so an "FP32" IR silently drifts there; this backend always sets ``INFERENCE_PRECISION_HINT``
(default ``f32``) and refuses ``bf16``/``f16`` where the device lacks them.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, List

import numpy as np

from .base import BackendOptions, DeviceUnavailable, ModelLoadError, Session, first_line

# our device names -> OpenVINO's
_DEVICES = {"cpu": "CPU", "gpu": "GPU", "npu": "NPU", "auto": "AUTO"}
# precision -> the OPTIMIZATION_CAPABILITIES entry a device must list for it
_PRECISION_CAPS = {"f32": "FP32", "bf16": "BF16", "f16": "FP16"}


class OpenVINOSession(Session):
    name = "openvino"
    formats = (".xml", ".onnx", ".pdmodel")  # a legacy Paddle program through OpenVINO's Paddle frontend

    def __init__(self, model_file: Path, options: BackendOptions) -> None:
        super().__init__(model_file, options)
        import openvino as ov

        device = _DEVICES.get(options.device.lower())
        if device is None:
            raise DeviceUnavailable(f"OpenVINO has no device {options.device!r}; use one of {', '.join(_DEVICES)}.")
        ov_core = ov.Core()
        present: List[str] = list(ov_core.available_devices)
        if device != "AUTO" and not any(d.split(".")[0] == device for d in present):
            raise DeviceUnavailable(
                f"OpenVINO finds no {device} device here (it sees {', '.join(present) or 'none'}); use device='cpu'."
            )
        precision = options.precision.lower()
        if precision not in _PRECISION_CAPS:
            raise DeviceUnavailable(f"unknown precision {options.precision!r}; use one of {', '.join(_PRECISION_CAPS)}.")
        if device != "AUTO":
            caps = ov_core.get_property(device, "OPTIMIZATION_CAPABILITIES")
            if _PRECISION_CAPS[precision] not in caps:
                raise DeviceUnavailable(
                    f"OpenVINO {device} here cannot compute in {precision} (it supports {', '.join(caps)}); use 'f32'."
                )
        config: Dict[str, Any] = {"INFERENCE_PRECISION_HINT": precision, "PERFORMANCE_HINT": "LATENCY"}
        if device in ("CPU", "AUTO"):
            config["INFERENCE_NUM_THREADS"] = options.resolved_threads()
        if options.cache_dir:
            Path(options.cache_dir).mkdir(parents=True, exist_ok=True)
            ov_core.set_property({"CACHE_DIR": str(options.cache_dir)})
        try:
            model = ov_core.read_model(str(model_file))
            self._fix_input_shape(model)
            self._compiled = ov_core.compile_model(model, device, config)
        except RuntimeError as exc:
            raise ModelLoadError(f"OpenVINO could not load {model_file}: {first_line(exc)}") from exc
        self._device = device
        self._request = self._compiled.create_infer_request()
        # What the plugin actually compiled with, not what was asked (AUTO does not report it).
        self._precision = (self._compiled.get_property("INFERENCE_PRECISION_HINT").to_string()
                           if device != "AUTO" else precision)

    @staticmethod
    def _fix_input_shape(model) -> None:  # type: ignore[no-untyped-def]
        """An ONNX from paddle2onnx may leave H dynamic; pin [N, 3, 48, W] with N and W dynamic."""
        inp = model.inputs[0]
        shape = inp.get_partial_shape()
        if shape.rank.is_static and shape.rank.get_length() == 4 and shape[2].is_dynamic:
            model.reshape({inp.get_any_name(): [-1, 3, 48, -1]})

    def run(self, batch: np.ndarray) -> np.ndarray:
        self._request.infer({0: np.ascontiguousarray(batch, dtype=np.float32)})
        return self._request.get_output_tensor(0).data.copy()

    def describe(self) -> Dict[str, Any]:
        import openvino as ov

        info = super().describe()
        info.update({"device": self._device, "precision": self._precision, "version": ov.get_version().split("-")[0],
                     "cache_dir": self.options.cache_dir})
        return info
