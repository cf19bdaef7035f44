"""INT8 post-training quantization for ONNX (onnxruntime static QDQ) and OpenVINO (NNCF).

What works for PP-OCRv4 rec was measured (TOOLCHAIN.md): quantizing every op collapses it (the
LearnableAffineBlock Mul/Add and HardSigmoid must stay float); ORT static QDQ, per-channel, Conv and
MatMul only, MinMax after ``quant_pre_process`` keeps accuracy; NNCF's MIXED preset keeps accuracy.
Percentile/Entropy calibrators crash on variable widths and can eat > 20 GB. The recipes are data, one
per model family, so a family that needs other settings gets a row, not a branch.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, Iterator, List, Optional, Sequence, Tuple

import numpy as np

from edge_sdk.datasets import load_samples
from edge_sdk.errors import BackendUnavailableError, ConversionError, EdgeSDKError
from edge_sdk.model_dir import ModelDir
from edge_sdk.preprocess import read_image, resize_normalize

log = logging.getLogger("edge_sdk.convert")

DEFAULT_CALIB_SIZE = 300


@dataclass(frozen=True)
class OnnxInt8Recipe:
    op_types: Tuple[str, ...] = ("Conv", "MatMul")
    per_channel: bool = True
    quant_format: str = "QDQ"
    calibrate_method: str = "MinMax"  # Percentile/Entropy: fixed-width calibration only
    activation_type: str = "QUInt8"
    weight_type: str = "QInt8"
    pre_process: bool = True  # quant_pre_process(auto_merge=True) first

    def __str__(self) -> str:
        return (f"onnxruntime static {self.quant_format}, {'per-channel' if self.per_channel else 'per-tensor'}, "
                f"{'/'.join(self.op_types)}, {self.calibrate_method}")


@dataclass(frozen=True)
class OpenVINOInt8Recipe:
    preset: str = "MIXED"  # symmetric weights, asymmetric activations
    ignored_types: Tuple[str, ...] = ()
    fast_bias_correction: bool = True

    def __str__(self) -> str:
        return f"NNCF {self.preset} preset{', ignoring ' + '/'.join(self.ignored_types) if self.ignored_types else ''}"


@dataclass(frozen=True)
class Int8Recipe:
    onnx: OnnxInt8Recipe = field(default_factory=OnnxInt8Recipe)
    openvino: OpenVINOInt8Recipe = field(default_factory=OpenVINOInt8Recipe)


# model family -> recipe; families without a row get DEFAULT
RECIPES: Dict[str, Int8Recipe] = {
    "PP-OCRv4": Int8Recipe(),
}
DEFAULT = Int8Recipe()


def recipe_for(source: ModelDir) -> Int8Recipe:
    return RECIPES.get(source.spec.family, DEFAULT)


def require_calib(calib: Optional[str]) -> str:
    if not calib:
        raise ConversionError("int8 needs calibration data: pass --calib DATASET (a label file, dataset dir or image folder).")
    return calib


def calibration_batches(source: ModelDir, calib: str, size: int) -> List[np.ndarray]:
    """[1, 3, 48, W] inputs from the calibration set, through the shared preprocessing."""
    try:
        samples = load_samples(Path(calib), size)
    except EdgeSDKError as exc:
        raise ConversionError(f"--calib: {exc}") from exc
    if not samples:
        raise ConversionError(f"--calib {calib} has no images.")
    return [resize_normalize(read_image(s.path), source.preprocess)[None] for s in samples]


def quantize_onnx(fp32_onnx: Path, out: Path, batches: Sequence[np.ndarray], recipe: OnnxInt8Recipe, tmp: Path) -> None:
    try:
        from onnxruntime.quantization import (CalibrationDataReader, CalibrationMethod, QuantFormat, QuantType,
                                              quantize_static)
        from onnxruntime.quantization.shape_inference import quant_pre_process
    except ImportError as exc:
        raise BackendUnavailableError('ONNX INT8 needs onnxruntime\'s quantization tools: pip install "edge-sdk[onnx]"') from exc

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self._it: Iterator[np.ndarray] = iter(batches)

        def get_next(self) -> Optional[Dict[str, np.ndarray]]:
            batch = next(self._it, None)
            return None if batch is None else {"x": batch}

    model_in = fp32_onnx
    if recipe.pre_process:
        model_in = tmp / "pre.onnx"
        quant_pre_process(str(fp32_onnx), str(model_in), auto_merge=True, skip_symbolic_shape=False)
    quantize_static(
        str(model_in), str(out), Reader(),
        quant_format=getattr(QuantFormat, recipe.quant_format),
        op_types_to_quantize=list(recipe.op_types),
        per_channel=recipe.per_channel,
        activation_type=getattr(QuantType, recipe.activation_type),
        weight_type=getattr(QuantType, recipe.weight_type),
        calibrate_method=getattr(CalibrationMethod, recipe.calibrate_method),
    )


def quantize_openvino(model, batches: Sequence[np.ndarray], recipe: OpenVINOInt8Recipe):  # type: ignore[no-untyped-def]
    try:
        import nncf
    except ImportError as exc:
        raise BackendUnavailableError('OpenVINO INT8 needs NNCF: pip install "edge-sdk[quantize]"') from exc
    kwargs = {}
    if recipe.ignored_types:
        kwargs["ignored_scope"] = nncf.IgnoredScope(types=list(recipe.ignored_types))
    return nncf.quantize(model, nncf.Dataset(list(batches)), preset=getattr(nncf.QuantizationPreset, recipe.preset),
                         subset_size=len(batches), fast_bias_correction=recipe.fast_bias_correction, **kwargs)
