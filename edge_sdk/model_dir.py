"""Model directories: a Paddle inference dir (legacy or PIR) or a converted artifact.

Whatever the format, a ``ModelDir`` answers the same questions: which file holds the program, which
format it is, which dict goes with it, which model (zoo spec, preprocessing) it is, and what its
manifest says. ``inference.yml`` is PaddleX-compatible, so PaddleX can read our artifacts' metadata
and we can read PaddleX's.
"""
from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

import yaml

from .rec.ctc import Charset
from .errors import ModelFormatError, ModelNotFoundError
from .limits import read_file_bounded, shown
from .zoo import ClsParams, DetParams, ModelSpec, Preprocess, spec_or_default

# format name -> program file names in a model dir, in the order they are looked for
FORMATS: Tuple[Tuple[str, str], ...] = (
    ("openvino", "inference.xml"),
    ("paddlelite", "inference.nb"),
    ("onnx", "inference.onnx"),
    ("paddle-legacy", "inference.pdmodel"),
    ("paddle-pir", "inference.json"),
)
SUFFIX_FORMAT = {".nb": "paddlelite", ".xml": "openvino", ".onnx": "onnx", ".pdmodel": "paddle-legacy", ".json": "paddle-pir"}
PADDLE_FORMATS = ("paddle-legacy", "paddle-pir")
MANIFEST = "manifest.json"
INFERENCE_YML = "inference.yml"
OV_RT_INFO_DICT = ["edge_sdk", "character"]  # where the dict travels inside an OpenVINO IR
# libyaml's safe loader reads a 6623-entry dict ~20x faster than pure Python (start-up time on a Pi).
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_YAML_DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
DICT_FILE_NAMES = ("dict.txt", "ppocr_keys_v1.txt", "character_dict.txt", "keys.txt")
MAX_METADATA_BYTES = 64 << 20  # manifest, inference.yml, dict: a 20k-character dict yml is under 1 MB


@dataclass
class ModelDir:
    """A resolved model on disk."""

    path: Path
    format: str
    model_file: Path
    charset: Charset  # rec: the dict; det and cls: empty (their classes are a map and labels)
    dict_source: str
    model_name: Optional[str] = None
    manifest: Dict[str, Any] = field(default_factory=dict)
    spec: ModelSpec = field(default_factory=lambda: spec_or_default(None))
    task: str = "rec"  # "rec", "det" or "cls" (inference.yml's PostProcess, else the zoo spec)
    det: DetParams = field(default_factory=DetParams)  # task "det": the zoo's settings, inference.yml's thresholds
    cls: ClsParams = field(default_factory=ClsParams)  # task "cls"

    @property
    def preprocess(self) -> Preprocess:
        return self.spec.preprocess

    @property
    def runtime_hints(self) -> Dict[str, Any]:
        """What the manifest tells a backend about running this artifact (e.g. Paddle Lite's valid places)."""
        return dict(self.manifest.get("runtime") or {})

    @property
    def is_paddle(self) -> bool:
        return self.format in PADDLE_FORMATS

    @classmethod
    def open(cls, path: Path, dict_path: Optional[Path] = None) -> "ModelDir":
        """Open a model directory or a model file (``.onnx``, ``.pdmodel``, ``inference.json``)."""
        path = Path(path)
        if not path.exists():
            raise ModelNotFoundError(f"model path {path} does not exist.")
        if not path.is_file() and not path.is_dir():
            raise ModelNotFoundError(f"model path {shown(path)} is not a file or directory (a FIFO, socket or device).")
        if path.is_file():
            fmt = SUFFIX_FORMAT.get(path.suffix)
            if fmt is None:
                raise ModelNotFoundError(
                    f"{path} is not a model file; pass a model directory, a .onnx/.pdmodel/inference.json file, "
                    "or a zoo name from `edge-sdk models`."
                )
            directory, model_file = path.parent, path
        else:
            directory = path
            found = [(fmt, directory / name) for fmt, name in FORMATS if (directory / name).is_file()]
            if not found:
                names = ", ".join(name for _, name in FORMATS)
                raise ModelNotFoundError(
                    f"no model in {directory}: expected one of {names} (a Paddle inference dir or an edge-sdk artifact)."
                )
            fmt, model_file = found[0]
        if fmt in PADDLE_FORMATS and not model_file.with_suffix(".pdiparams").is_file():
            raise ModelFormatError(
                f"{model_file.name} in {directory} has no {model_file.with_suffix('.pdiparams').name} beside it; "
                "copy the whole inference directory."
            )
        manifest = read_manifest(directory)
        yml = read_inference_yml(directory)
        model_name = (yml.get("Global") or {}).get("model_name") or manifest.get("model_name")
        if not isinstance(model_name, str):
            model_name = None
        spec = spec_or_default(model_name)
        post = yml.get("PostProcess") or {}
        task = POSTPROCESS_TASK.get(str(post.get("name")), spec.task)
        if task != "rec":
            if dict_path is not None:
                raise ModelFormatError(f"the model in {directory} is a text {TASK_NAMES[task]} model; a dict "
                                       "(--dict) applies to recognition models only.")
            return cls(path=directory, format=fmt, model_file=model_file, charset=Charset([], use_space_char=False),
                       dict_source="", model_name=model_name, manifest=manifest, spec=spec, task=task,
                       det=_det_params(spec.det, post, directory), cls=_cls_params(spec.cls, post, directory))
        charset, dict_source = _find_charset(directory, model_file, fmt, yml, dict_path)
        return cls(path=directory, format=fmt, model_file=model_file, charset=charset,
                   dict_source=dict_source, model_name=model_name, manifest=manifest, spec=spec)


POSTPROCESS_TASK = {"CTCLabelDecode": "rec", "DBPostProcess": "det", "ClsPostProcess": "cls", "Topk": "cls"}
TASK_NAMES = {"rec": "recognition", "det": "detection", "cls": "line orientation"}
_DET_YML_KEYS = ("thresh", "box_thresh", "unclip_ratio", "max_candidates", "use_dilation")


def _det_params(default: DetParams, post: Dict[str, Any], directory: Path) -> DetParams:
    """The zoo's detection settings, with the thresholds the model's own inference.yml gives."""
    given = {k: post[k] for k in _DET_YML_KEYS if post.get(k) is not None}
    try:
        return dataclasses.replace(default, **{k: type(getattr(default, k))(v) for k, v in given.items()})
    except (TypeError, ValueError) as exc:
        raise ModelFormatError(f"{shown(Path(directory) / INFERENCE_YML)}: bad DBPostProcess setting ({exc}).") from None


def _cls_params(default: ClsParams, post: Dict[str, Any], directory: Path) -> ClsParams:
    labels = post.get("label_list")
    if labels is None:
        return default
    if not isinstance(labels, list) or not labels:
        raise ModelFormatError(f"{shown(Path(directory) / INFERENCE_YML)}: PostProcess.label_list must be a "
                               "non-empty list.")
    return dataclasses.replace(default, labels=tuple(str(x) for x in labels))


def read_manifest(directory: Path) -> Dict[str, Any]:
    """``manifest.json`` as a dict ({} when absent); a tampered one is a ``ModelFormatError``."""
    f = Path(directory) / MANIFEST
    if not f.exists():
        return {}
    try:
        data = json.loads(read_file_bounded(f, MAX_METADATA_BYTES, "manifest", ModelFormatError).decode("utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise ModelFormatError(f"{shown(f)} is not valid JSON ({exc}); re-run the conversion.") from None
    if not isinstance(data, dict):
        raise ModelFormatError(f"{shown(f)} holds a JSON {type(data).__name__}, not an object; re-run the conversion.")
    for key in ("runtime", "source", "input_spec", "parity", "tools"):
        if key in data and data[key] is not None and not isinstance(data[key], dict):
            raise ModelFormatError(f"{shown(f)}: '{key}' must be an object, not a {type(data[key]).__name__}; "
                                   "re-run the conversion.")
    return data


def read_inference_yml(directory: Path) -> Dict[str, Any]:
    """``inference.yml`` as a dict ({} when absent); sections that are not mappings are a ``ModelFormatError``."""
    f = Path(directory) / INFERENCE_YML
    if not f.exists():
        return {}
    try:
        data = yaml.load(read_file_bounded(f, MAX_METADATA_BYTES, "inference.yml", ModelFormatError).decode("utf-8"),
                         Loader=_YAML_LOADER)
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ModelFormatError(f"{shown(f)} is not valid YAML ({first}); restore it from the model package.") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ModelFormatError(f"{shown(f)} holds a YAML {type(data).__name__}, not a mapping; restore it from the "
                               "model package.")
    for key in ("Global", "PreProcess", "PostProcess"):
        if key in data and data[key] is not None and not isinstance(data[key], dict):
            raise ModelFormatError(f"{shown(f)}: '{key}' must be a mapping, not a {type(data[key]).__name__}; "
                                   "restore it from the model package.")
    chars = (data.get("PostProcess") or {}).get("character_dict")
    if chars is not None and not isinstance(chars, list):
        raise ModelFormatError(f"{shown(f)}: PostProcess.character_dict must be a list of characters, not a "
                               f"{type(chars).__name__}.")
    name = (data.get("Global") or {}).get("model_name")
    if name is not None and not isinstance(name, str):
        raise ModelFormatError(f"{shown(f)}: Global.model_name must be text, not a {type(name).__name__}.")
    return data


def read_dict_file(path: Path) -> List[str]:
    """One character per line, UTF-8, as PaddleOCR writes its dicts (trailing newline stripped)."""
    path = Path(path)
    if not path.exists():
        raise ModelNotFoundError(f"dict file {shown(path)} does not exist.")
    try:
        text = read_file_bounded(path, MAX_METADATA_BYTES, "dict file", ModelFormatError).decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ModelFormatError(f"dict file {shown(path)} is not UTF-8 text.") from None
    lines = [line.rstrip("\r\n") for line in text.splitlines()]
    if not lines:
        raise ModelFormatError(f"dict file {path} is empty.")
    return lines


def _find_charset(directory: Path, model_file: Path, fmt: str, yml: Dict[str, Any],
                  dict_path: Optional[Path]) -> Tuple[Charset, str]:
    if dict_path is not None:
        return Charset(read_dict_file(dict_path)), str(dict_path)
    chars = (yml.get("PostProcess") or {}).get("character_dict")
    if chars:
        return Charset([str(c) for c in chars]), str(directory / INFERENCE_YML)
    if fmt == "onnx":
        chars_meta = onnx_metadata(model_file).get("character")
        if chars_meta:
            return Charset(chars_meta.splitlines()), f"{model_file} metadata"
    if fmt == "openvino":
        chars_rt = openvino_rt_info_dict(model_file)
        if chars_rt:
            return Charset(chars_rt), f"{model_file} rt_info"
    for name in DICT_FILE_NAMES:
        if (directory / name).is_file():
            return Charset(read_dict_file(directory / name)), str(directory / name)
    raise ModelFormatError(
        f"no character dict for the model in {directory}: add inference.yml (PostProcess.character_dict) "
        "or pass --dict FILE."
    )


def onnx_metadata(model_file: Path) -> Dict[str, str]:
    """``metadata_props`` of an ONNX file, read with onnxruntime (what devices have)."""
    try:
        import onnxruntime as ort
    except ImportError:
        return {}
    so = ort.SessionOptions()
    so.log_severity_level = 3
    try:
        sess = ort.InferenceSession(str(model_file), sess_options=so, providers=["CPUExecutionProvider"])
    except Exception as exc:
        raise ModelFormatError(f"{model_file} is not a loadable ONNX model ({str(exc).splitlines()[0]}).") from exc
    return dict(sess.get_modelmeta().custom_metadata_map)


def openvino_rt_info_dict(xml_file: Path) -> List[str]:
    """The dict an edge-sdk IR carries in its rt_info (empty when absent or openvino is missing)."""
    try:
        from runtimes import import_openvino
        ov = import_openvino()
    except ImportError:
        return []
    try:
        model = ov.Core().read_model(str(xml_file))
    except RuntimeError as exc:
        raise ModelFormatError(f"{xml_file} is not a loadable OpenVINO IR ({str(exc).splitlines()[0]}).") from exc
    if not model.has_rt_info(OV_RT_INFO_DICT):
        return []
    return model.get_rt_info(OV_RT_INFO_DICT).astype(str).split("\n")


def inference_yml(model_name: str, characters: List[str], pp: Preprocess) -> Dict[str, Any]:
    """PaddleX-compatible ``inference.yml`` content for a text-recognition model."""
    return {
        "Global": {"model_name": model_name},
        "PreProcess": {
            "transform_ops": [
                {"DecodeImage": {"channel_first": False, "img_mode": pp.color}},
                {"RecResizeImg": {"image_shape": [3, pp.height, pp.min_width]}},
                {"KeepKeys": {"keep_keys": ["image", "label", "length"]}},
            ]
        },
        "PostProcess": {"name": "CTCLabelDecode", "character_dict": list(characters)},
    }


def det_inference_yml(model_name: str, det: DetParams) -> Dict[str, Any]:
    """PaddleX-compatible ``inference.yml`` content for a text-detection model."""
    return {
        "Global": {"model_name": model_name},
        "PreProcess": {
            "transform_ops": [
                {"DecodeImage": {"channel_first": False, "img_mode": "BGR"}},
                {"DetResizeForTest": {"limit_side_len": det.limit_side_len, "limit_type": det.limit_type,
                                      "max_side_limit": det.max_side_limit}},
                {"NormalizeImage": {"mean": list(det.mean), "std": list(det.std), "scale": "1./255.", "order": "hwc"}},
                {"ToCHWImage": None},
                {"KeepKeys": {"keep_keys": ["image", "shape"]}},
            ]
        },
        "PostProcess": {"name": "DBPostProcess", "thresh": det.thresh, "box_thresh": det.box_thresh,
                        "max_candidates": det.max_candidates, "unclip_ratio": det.unclip_ratio,
                        "use_dilation": det.use_dilation},
    }


def cls_inference_yml(model_name: str, cls: ClsParams) -> Dict[str, Any]:
    """PaddleX-compatible ``inference.yml`` content for a text-line orientation model."""
    return {
        "Global": {"model_name": model_name},
        "PreProcess": {
            "transform_ops": [
                {"DecodeImage": {"channel_first": False, "img_mode": "BGR"}},
                {"ClsResizeImg": {"image_shape": [3, cls.height, cls.width]}},
                {"KeepKeys": {"keep_keys": ["image"]}},
            ]
        },
        "PostProcess": {"name": "ClsPostProcess", "label_list": list(cls.labels)},
    }


def write_inference_yml(directory: Path, model_name: str, characters: List[str], pp: Preprocess) -> Path:
    """``inference.yml`` of a recognition model."""
    return _write_yml(directory, inference_yml(model_name, characters, pp))


def write_model_yml(directory: Path, name: str, task: str, characters: Sequence[str] = (),
                    pp: Preprocess = Preprocess(), det: DetParams = DetParams(), cls: ClsParams = ClsParams()) -> Path:
    """``inference.yml`` of a model of any task: the dict and line preprocessing (rec), the detector's
    settings (det) or the orientation classifier's (cls)."""
    if task == "det":
        return _write_yml(directory, det_inference_yml(name, det))
    if task == "cls":
        return _write_yml(directory, cls_inference_yml(name, cls))
    return write_inference_yml(directory, name, list(characters), pp)


def write_artifact_yml(directory: Path, model: "ModelDir") -> Path:
    """``inference.yml`` that carries ``model``'s task, name and settings to a converted artifact."""
    return write_model_yml(directory, model.model_name or model.spec.name, model.task, model.charset.dict_characters,
                           model.preprocess, model.det, model.cls)


def _write_yml(directory: Path, content: Dict[str, Any]) -> Path:
    f = Path(directory) / INFERENCE_YML
    f.write_text(yaml.dump(content, Dumper=_YAML_DUMPER, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return f
