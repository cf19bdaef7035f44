"""Which backend runs a model best on a device: a ranking kept as data.

``rank(profile, artifacts, precision)`` turns what ``runtimes.device.probe`` found, the model files at
hand and the requested compute precision into an ordered list of candidates. The first ``RANKING``
rule whose conditions match the device gives the order; each (backend, device) in it is then kept or
dropped, with the reason, for every artifact it could load. ``backend="auto"`` takes the first kept
candidate and falls down the list when one fails to load.

Why the orders are what they are (measured numbers are in README "Choosing a backend"):
- x86: OpenVINO's CPU plugin was fastest on the CI machine (AMD EPYC, AVX-512) for PP-OCRv4 rec at
  FP32, ahead of Paddle Inference and onnxruntime; Paddle Lite's x86 build has no threads and is last.
  An Intel GPU comes after the CPU: each new line width recompiles GPU kernels.
- ARM (Raspberry Pi, other boards): Paddle Lite is built for ARM CPUs (NEON kernels, fp16/int8 on
  ARMv8.2); onnxruntime's MLAS is the portable fallback, then OpenVINO's ARM CPU plugin.
- NVIDIA (desktop GPU or Jetson): onnxruntime's TensorRT provider, then CUDA (with cuDNN's heuristic
  algorithm search, not the exhaustive default that re-benchmarks every new width), then the CPU order.
- Integer artifacts (int8/int16) run first on the backend their conversion checked them on (the manifest's
  ``checked_backend``): each backend executes a quantized graph with its own kernels and rounding, so the
  accuracy the parity report measured holds there. An INT8 ONNX (QDQ) measured 65.14% on onnxruntime and
  65.19% on OpenVINO, and onnxruntime ran it faster (bench, README).
Profiles of hardware we lack are recorded as test data (``tests/data/device_profiles``).
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

from . import BACKENDS
from .device import DeviceProfile


@dataclass(frozen=True)
class Rule:
    """Devices matching every ``when`` key get candidates in ``order`` ("backend:device")."""

    name: str
    when: Dict[str, Any]
    order: Tuple[str, ...]
    why: str

    def matches(self, profile: DeviceProfile) -> bool:
        facts = {"arch": profile.arch_family, "jetson": profile.jetson is not None,
                 "nvidia_gpu": profile.has_nvidia_gpu, "vendor": profile.cpu_vendor}
        return all(facts.get(key) == value for key, value in self.when.items())


RANKING: Tuple[Rule, ...] = (
    Rule("jetson", {"jetson": True},
         ("onnxruntime:tensorrt", "onnxruntime:cuda", "paddlelite:cpu", "onnxruntime:cpu", "openvino:cpu", "paddle:cpu"),
         "Jetson: the GPU through onnxruntime's TensorRT then CUDA provider, then the ARM CPU order"),
    Rule("nvidia-gpu", {"nvidia_gpu": True},
         ("onnxruntime:tensorrt", "onnxruntime:cuda", "openvino:cpu", "paddle:cpu", "onnxruntime:cpu", "paddlelite:cpu"),
         "NVIDIA GPU: onnxruntime's TensorRT then CUDA provider, then the CPU order"),
    Rule("arm", {"arch": "arm"},
         ("paddlelite:cpu", "onnxruntime:cpu", "openvino:cpu", "paddle:cpu"),
         "ARM CPU: Paddle Lite's ARM kernels, else onnxruntime, else OpenVINO's ARM plugin"),
    Rule("x86", {"arch": "x86"},
         ("openvino:cpu", "openvino:gpu", "paddle:cpu", "onnxruntime:cpu", "paddlelite:cpu"),
         "x86 CPU: OpenVINO measured fastest at FP32, then Paddle Inference, then onnxruntime"),
    Rule("other", {},
         ("onnxruntime:cpu", "openvino:cpu", "paddle:cpu", "paddlelite:cpu"),
         "unrecognised CPU: the most portable backends first"),
)

# the execution provider a device needs in onnxruntime
ORT_DEVICE_PROVIDER = {"cpu": "CPUExecutionProvider", "cuda": "CUDAExecutionProvider",
                       "tensorrt": "TensorrtExecutionProvider"}
OPENVINO_DEVICE = {"cpu": "CPU", "gpu": "GPU", "npu": "NPU"}
# compute precisions other than f32 are an OpenVINO setting
PRECISION_BACKENDS = {"f32": tuple(BACKENDS), "bf16": ("openvino",), "f16": ("openvino",)}
# stored precisions whose results depend on the backend's integer kernels
INTEGER_PRECISIONS = ("int8", "int16")
# an integer artifact whose conversion measured less than this speed-up over its FP32 artifact on the
# checked backend is not worth its accuracy risk: ranked with the FP32 artifacts given beside it first
MIN_INTEGER_SPEEDUP = 1.1


@dataclass(frozen=True)
class Artifact:
    """A model file and what its manifest says about running it."""

    model_file: Path
    precision: str = "fp32"  # what is stored: fp32, fp16, int8, int16
    places: Tuple[str, ...] = ()  # Paddle Lite: the places the .nb was built for
    checked_backend: str = ""  # the backend the conversion's parity check ran it on
    speedup: Optional[float] = None  # INT8 lines/s over its FP32 artifact's on checked_backend (convert measured)

    @classmethod
    def from_file(cls, model_file: Path, manifest: Optional[Dict[str, Any]] = None) -> "Artifact":
        if manifest is None:
            path = Path(model_file).parent / "manifest.json"
            try:
                manifest = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
            except (OSError, ValueError):
                manifest = {}
        hints = manifest.get("runtime") or {}
        places = tuple(p.strip() for p in str(hints.get("valid_places") or "").split(",") if p.strip())
        speed = manifest.get("speed") or {}
        speedup = speed.get("speedup_vs_fp32") if isinstance(speed, dict) else None
        return cls(Path(model_file), str(manifest.get("precision") or "fp32"), places,
                   str(manifest.get("checked_backend") or ""),
                   float(speedup) if isinstance(speedup, (int, float)) and not isinstance(speedup, bool) else None)

    @property
    def not_faster(self) -> bool:
        """An integer artifact its conversion measured no faster than FP32 (below ``MIN_INTEGER_SPEEDUP``)."""
        return self.precision in INTEGER_PRECISIONS and self.speedup is not None and self.speedup < MIN_INTEGER_SPEEDUP

    @property
    def runs_first_on(self) -> str:
        """The backend an integer artifact must run on first (its accuracy was measured there), else ''."""
        return self.checked_backend if self.precision in INTEGER_PRECISIONS else ""


@dataclass
class Candidate:
    backend: str
    device: str
    artifact: Optional[Artifact]  # None when ranking without a model
    usable: bool
    reason: str  # why it was dropped, or what it is when kept
    demoted: bool = False  # an integer artifact measured no faster than FP32, with FP32 artifacts beside it

    @property
    def label(self) -> str:
        return f"{self.backend}:{self.device}"

    @property
    def on_checked_backend(self) -> bool:
        """An integer artifact on the backend its accuracy was checked on: it goes before the rule's order."""
        return self.artifact is not None and self.backend == self.artifact.runs_first_on

    @property
    def promoted(self) -> bool:
        """On its checked backend, and not demoted."""
        return self.on_checked_backend and not self.demoted

    def to_dict(self) -> Dict[str, Any]:
        art = self.artifact
        return {"backend": self.backend, "device": self.device, "model_file": str(art.model_file) if art else None,
                "artifact_precision": art.precision if art else None, "usable": self.usable, "reason": self.reason}


@dataclass
class Selection:
    rule: Rule
    precision: str
    candidates: List[Candidate] = field(default_factory=list)

    @property
    def usable(self) -> List[Candidate]:
        return [c for c in self.candidates if c.usable]

    @property
    def chosen(self) -> Optional[Candidate]:
        return self.usable[0] if self.usable else None

    def explain(self) -> str:
        """Why the first usable candidate was chosen, in one sentence."""
        if self.chosen is None:
            return f"no candidate can run here ({self.rule.why})."
        c = self.chosen
        skipped = [f"{d.label} ({d.reason})" for d in self.candidates[:self.candidates.index(c)]]
        on = f" on {c.artifact.model_file.name}" if c.artifact else ""
        if c.promoted:
            text = (f"{c.label}{on}: the {c.artifact.precision} artifact's accuracy was checked on {c.backend}, so it "
                    f"runs there before the '{self.rule.name}' ranking ({self.rule.why})")
        else:
            text = f"{c.label}{on}: first usable in the '{self.rule.name}' ranking ({self.rule.why})"
        slow = sorted({f"{d.artifact.model_file.parent.name}/{d.artifact.model_file.name} ({d.artifact.speedup:.2f}x "
                       f"its FP32 on {d.artifact.checked_backend})" for d in self.candidates if d.demoted and d.artifact})
        if slow:
            text += (f"; ranked after the FP32 artifacts, as its conversion measured it no faster: {', '.join(slow)}")
        return text + (f"; skipped {', '.join(skipped)}." if skipped else ".")


def _device_check(backend: str, device: str, profile: DeviceProfile, artifact: Optional[Artifact]) -> Optional[str]:
    """None when ``backend`` can run ``artifact`` (any model, if None) on ``device`` here, else why not."""
    info = BACKENDS[backend]
    if artifact is not None and artifact.model_file.suffix not in info.formats:
        return f"reads {'/'.join(info.formats)}, not {artifact.model_file.suffix}"
    here = profile.arch_family
    if backend == "paddlelite" and artifact is not None and artifact.places and here not in artifact.places:
        return f"the .nb was built for {','.join(artifact.places)}, this CPU is {here} (convert with --valid-places {here})"
    if backend not in profile.backends:
        if backend == "paddlelite" and here == "arm":
            return "not installed, and PyPI has no aarch64 paddlelite wheel (build Paddle Lite's Python library)"
        return f"not installed: {info.pip}"
    if backend == "onnxruntime":
        provider = ORT_DEVICE_PROVIDER.get(device)
        if provider and provider != "CPUExecutionProvider" and provider not in profile.ort_providers:
            return f"onnxruntime here has no {provider}"
    if backend == "openvino" and device != "cpu":
        name = OPENVINO_DEVICE.get(device, device.upper())
        if not any(d.split(".")[0] == name for d in profile.openvino_devices):
            return f"OpenVINO sees no {name} device"
    return None


def select_rule(profile: DeviceProfile) -> Rule:
    return next(rule for rule in RANKING if rule.matches(profile))


def rank(profile: DeviceProfile, artifacts: Sequence[Artifact] = (), precision: str = "f32",
         backend_only: Optional[str] = None) -> Selection:
    """Every (backend, device, artifact) the matching rule lists, in rank order, each kept or dropped with why.

    With no artifacts, ranks backend:device pairs for any model (what ``edge-sdk devices`` shows).
    ``backend_only`` ranks that backend's devices alone (and reads no other backend's device list).
    """
    rule = select_rule(profile)
    selection = Selection(rule=rule, precision=precision)
    allowed = PRECISION_BACKENDS.get(precision, ())
    for entry in rule.order:
        backend, device = entry.split(":")
        if backend_only is not None and backend != backend_only:
            continue
        formats = BACKENDS[backend].formats
        fitting = [a for a in artifacts if a.model_file.suffix in formats]
        if artifacts and not fitting:
            selection.candidates.append(Candidate(backend, device, None, False,
                                                  f"reads {'/'.join(formats)}; no such model given"))
            continue
        for artifact in fitting or [None]:
            reason = _device_check(backend, device, profile, artifact)
            if reason is None and backend not in allowed:
                reason = f"computes in f32 only, {precision} asked"
            selection.candidates.append(Candidate(backend, device, artifact, reason is None, reason or ""))
    # an integer artifact's checked backend goes first (stable: the rule's order otherwise); one its conversion
    # measured no faster than FP32 goes after the FP32 artifacts given beside it (alone, it keeps its checked
    # backend: its accuracy was measured there)
    has_fp32 = any(a.precision not in INTEGER_PRECISIONS for a in artifacts)
    for c in selection.candidates:
        c.demoted = has_fp32 and c.artifact is not None and c.artifact.not_faster
    selection.candidates.sort(key=lambda c: (c.demoted, not c.on_checked_backend))
    for rank_no, c in enumerate(selection.usable, 1):
        c.reason = f"rank {rank_no}"
    return selection


def reduced_precisions(profile: DeviceProfile) -> List[str]:
    """Compute precisions besides f32 the CPU does natively (what OpenVINO's CPU plugin can use here)."""
    found = []
    if {"avx512_bf16", "amx_bf16"} & set(profile.features):
        found.append("bf16")
    if profile.arch_family == "arm" and "fp16" in profile.features:
        found.append("f16")
    return found


def advice(profile: DeviceProfile) -> List[str]:
    """What a user of this device may want to know beyond the ranking."""
    notes = []
    if profile.arch_family == "arm" and "paddlelite" not in profile.backends:
        notes.append("Paddle Lite is not installed, and PyPI has no aarch64 paddlelite wheel: build Paddle Lite's "
                     "Python library from source to run .nb artifacts (README 'On a Raspberry Pi'); until then "
                     "onnxruntime or OpenVINO run the .onnx/.xml artifacts.")
    if profile.has_nvidia_gpu and not ({"CUDAExecutionProvider", "TensorrtExecutionProvider"} & set(profile.ort_providers)):
        notes.append("an NVIDIA GPU is present but onnxruntime has no CUDA/TensorRT provider: install onnxruntime-gpu "
                     "(on Jetson, NVIDIA's JetPack wheel) to use it.")
    reduced = reduced_precisions(profile)
    if "openvino" in profile.backends and "bf16" in reduced:
        notes.append("this CPU computes bf16 natively: OpenVINO can run with --precision bf16 (faster, results drift "
                     "slightly); FP32 is the default.")
    if "f16" in reduced:
        notes.append("this ARM CPU has fp16 arithmetic (ARMv8.2): OpenVINO can run with --precision f16.")
    return notes
