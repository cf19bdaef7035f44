"""Paddle (legacy or PIR) or ONNX -> OpenVINO IR (``inference.xml`` + ``inference.bin``).

OpenVINO's Paddle frontend reads legacy ``inference.pdmodel`` directly but not PIR ``inference.json``
("Cannot recognize input model"): PIR goes through ONNX first. ``fp16`` compresses the weights to
float16 in the IR; what the device computes in is a runtime setting (``INFERENCE_PRECISION_HINT``).
"""
from __future__ import annotations

from pathlib import Path
from typing import Dict, List, Optional, Sequence

from edge_sdk._fs import scratch_dir
from edge_sdk.errors import ConversionError
from edge_sdk.model_dir import OV_RT_INFO_DICT, ModelDir
from edge_sdk.predictor import input_shape
from runtimes.base import first_line
from runtimes.openvino_backend import fix_input_shape

from . import onnx_export, quantize
from edge_sdk._native_log import captured_native_output

XML_FILE = "inference.xml"


def export(source: ModelDir, stage: Path, precision: str = "fp32", calib: Sequence[str] = (),
           calib_size: int = quantize.DEFAULT_CALIB_SIZE, rendered_calib: bool = True, goal: Optional[quantize.AccuracyGoal] = None) -> List[str]:
    onnx_export.require("openvino", "pip install openvino")
    from runtimes import import_openvino
    ov = import_openvino(conversion=True)

    with scratch_dir(stage) as tmp:  # inside the stage: a killed run leaves nothing in /tmp
        if source.format == "paddle-legacy":
            frontend_input = source.model_file
            route = "OpenVINO Paddle frontend"
        elif source.format == "paddle-pir":
            onnx_export.export(source, Path(tmp))
            frontend_input = Path(tmp) / onnx_export.ONNX_FILE
            route = "paddle2onnx, then OpenVINO ONNX frontend (the Paddle frontend cannot read PIR)"
        elif source.format == "onnx":
            frontend_input = source.model_file
            route = "OpenVINO ONNX frontend"
        else:
            raise ConversionError(f"{source.path} is a {source.format} model; OpenVINO export reads Paddle or ONNX.")
        with captured_native_output() as log:
            try:
                model = ov.convert_model(str(frontend_input))
            except Exception as exc:  # OpenVINO raises OpConversionFailure and plain RuntimeErrors
                raise ConversionError(f"OpenVINO could not convert {frontend_input.name} ({first_line(exc)}).") from exc
        fix_input_shape(model, input_shape(source))
        notes: List[str] = []
        if precision == "int8":
            recipe = quantize.recipe_for(source).openvino
            calibration = quantize.calibration_set(source, calib, calib_size, rendered_calib, recipe.rendered_rounds)
            batches = calibration.batches
            with captured_native_output():
                model = quantize.quantize_openvino(model, batches, recipe, goal, source)
            notes.append(f"int8: {recipe}, calibrated on {calibration}")
            if goal is not None:
                report = model.get_rt_info(["edge_sdk", "accuracy_control"]).astype(str)
                notes.append(f"--max-acc-drop {100 * goal.max_drop:g}: NNCF accuracy control on "
                             f"{len(goal.samples)} lines of {goal.data_name}: {report}")
        if source.task == "rec":
            model.set_rt_info("\n".join(source.charset.dict_characters), OV_RT_INFO_DICT)
        model.set_rt_info(source.model_name or "", ["edge_sdk", "model_name"])
        model.set_rt_info(route, ["edge_sdk", "conversion_route"])
        out = stage / XML_FILE
        ov.save_model(model, str(out), compress_to_fp16=(precision == "fp16"))
    if not out.is_file() or not out.with_suffix(".bin").is_file():
        raise ConversionError(f"OpenVINO wrote no IR for {source.model_file}; its last output was:\n{log.tail()}")
    return notes


def io_spec(xml_file: Path) -> Dict[str, object]:
    from runtimes import import_openvino
    ov = import_openvino()

    model = ov.Core().read_model(str(xml_file))

    def dims(port) -> List[object]:  # type: ignore[no-untyped-def]
        return [d.get_length() if d.is_static else "?" for d in port.get_partial_shape()]

    return {
        "inputs": {p.get_any_name(): dims(p) for p in model.inputs},
        "outputs": {p.get_any_name(): dims(p) for p in model.outputs},
        "conversion_route": model.get_rt_info(["edge_sdk", "conversion_route"]).astype(str),
    }
