"""Device probe: what this machine is, as far as inference speed is concerned.

``probe()`` reads the CPU (architecture, vendor, model, cores, the ISA features inference kernels
use), the board (Raspberry Pi, Jetson), NVIDIA GPUs, the devices OpenVINO sees, the installed
backends and onnxruntime's execution providers. The result is a plain ``DeviceProfile`` that
serialises to JSON, so profiles of boards we do not have can be recorded and replayed in tests
(``tests/data/device_profiles/``), and ``runtimes.selection`` ranks backends from it alone.

Files are read relative to ``root`` (default ``/``) so tests can hand it a fake filesystem.
"""
from __future__ import annotations

import glob
import json
import os
import platform
import re
import shutil
import subprocess
import threading
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Dict, List, Optional

# ISA features that matter for inference, by the name /proc/cpuinfo gives them -> the name we report.
X86_FEATURES = {
    "avx2": "avx2", "fma": "fma", "f16c": "f16c", "avx512f": "avx512f", "avx512_vnni": "avx512_vnni",
    "avx_vnni": "avx_vnni", "avx512_bf16": "avx512_bf16", "avx512_fp16": "avx512_fp16",
    "amx_tile": "amx_tile", "amx_bf16": "amx_bf16", "amx_int8": "amx_int8",
}
ARM_FEATURES = {
    "asimd": "neon", "neon": "neon", "asimddp": "dotprod", "i8mm": "i8mm", "fphp": "fp16", "asimdhp": "fp16",
    "bf16": "bf16", "sve": "sve", "sve2": "sve2",
}
# (implementer, part) from /proc/cpuinfo -> core name; ARM's own cores are implementer 0x41.
ARM_PARTS = {
    ("0x41", "0xd03"): "Cortex-A53", ("0x41", "0xd04"): "Cortex-A35", ("0x41", "0xd05"): "Cortex-A55",
    ("0x41", "0xd07"): "Cortex-A57", ("0x41", "0xd08"): "Cortex-A72", ("0x41", "0xd09"): "Cortex-A73",
    ("0x41", "0xd0a"): "Cortex-A75", ("0x41", "0xd0b"): "Cortex-A76", ("0x41", "0xd0c"): "Neoverse-N1",
    ("0x41", "0xd0d"): "Cortex-A77", ("0x41", "0xd41"): "Cortex-A78", ("0x41", "0xd42"): "Cortex-A78AE",
    ("0x41", "0xd40"): "Neoverse-V1", ("0x41", "0xd49"): "Neoverse-N2", ("0x4e", "0x004"): "NVIDIA Carmel",
}
ARM_IMPLEMENTERS = {"0x41": "ARM", "0x4e": "NVIDIA", "0x51": "Qualcomm", "0x61": "Apple", "0x48": "HiSilicon"}
X86_VENDORS = {"GenuineIntel": "Intel", "AuthenticAMD": "AMD", "HygonGenuine": "Hygon"}
# Fields ``probe`` reads on first use, each by importing a backend: a process that runs one backend
# need not load the other (onnxruntime in an OpenVINO process: +20 MB peak RSS over IC15 val, 217 ->
# 237 MB; openvino in an onnxruntime one: +27 MB, 169 -> 196 MB). A device check on the CPU reads neither.
LAZY_LISTS = ("ort_providers", "openvino_devices")
_LAZY_LOCK = threading.Lock()
# onnxruntime lists this provider on every platform; it runs nothing locally.
IGNORED_ORT_PROVIDERS = ("AzureExecutionProvider",)
_DISTRIBUTIONS = {"onnxruntime": ("onnxruntime", "onnxruntime-gpu", "onnxruntime-openvino"),
                  "openvino": ("openvino",), "paddlelite": ("paddlelite",),
                  "paddle": ("paddlepaddle", "paddlepaddle-gpu")}


def arch_family(machine: str) -> str:
    """``x86`` or ``arm`` for a ``platform.machine()`` value (other architectures as they are)."""
    m = machine.lower()
    if m in ("x86_64", "amd64", "i386", "i686", "x86"):
        return "x86"
    if m.startswith(("aarch64", "arm")):
        return "arm"
    return m


@dataclass
class DeviceProfile:
    """What ``probe()`` found. Every field is JSON-friendly."""

    arch: str  # "x86_64", "aarch64", "armv7l"
    cpu_vendor: str = "unknown"
    cpu_model: str = "unknown"
    cores: int = 1  # cores this process may use
    features: List[str] = field(default_factory=list)
    board: Optional[str] = None  # "Raspberry Pi 4 Model B Rev 1.4", "NVIDIA Jetson AGX Orin ..."
    jetson: Optional[str] = None  # first line of /etc/nv_tegra_release
    nvidia_gpus: List[str] = field(default_factory=list)
    openvino_devices: Dict[str, str] = field(default_factory=dict)  # "CPU" -> full name
    backends: Dict[str, str] = field(default_factory=dict)  # importable backend -> version
    ort_providers: List[str] = field(default_factory=list)
    memory_mb: Optional[int] = None
    # Where a recorded profile came from; "probed" for this machine. Profiles of hardware the
    # project does not have say "test data" here.
    source: str = "probed"

    @property
    def arch_family(self) -> str:
        return arch_family(self.arch)

    def has(self, feature: str) -> bool:
        return feature in self.features

    @property
    def has_nvidia_gpu(self) -> bool:
        return bool(self.nvidia_gpus) or self.jetson is not None

    def __getattr__(self, name: str) -> Any:
        # Only reached for an attribute the instance lacks: a backend's device list ``probe`` left to read
        # on first use (see ``LAZY_LISTS``).
        pending = self.__dict__.get("_pending_lists")
        if pending is None or name not in LAZY_LISTS:
            raise AttributeError(name)
        with _LAZY_LOCK:
            if name not in self.__dict__:
                self.__dict__[name] = pending[name]()
        return self.__dict__[name]

    def to_dict(self) -> Dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Dict[str, Any]) -> "DeviceProfile":
        known = {f for f in cls.__dataclass_fields__}  # type: ignore[attr-defined]
        return cls(**{k: v for k, v in data.items() if k in known})

    @classmethod
    def load(cls, path: Path) -> "DeviceProfile":
        return cls.from_dict(json.loads(Path(path).read_text(encoding="utf-8")))

    def summary(self) -> str:
        """One line: ``Raspberry Pi 5 Model B Rev 1.0, ARM Cortex-A76 x4 (neon dotprod fp16)``."""
        cpu = self.cpu_model if self.cpu_model.startswith(self.cpu_vendor) else f"{self.cpu_vendor} {self.cpu_model}"
        head = f"{self.board}, " if self.board else ""
        return f"{head}{cpu} x{self.cores} {self.arch} ({' '.join(self.features) or 'no listed features'})"


def _read(root: Path, rel: str) -> Optional[str]:
    try:
        return (root / rel.lstrip("/")).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None


def parse_cpuinfo(text: str, arch_family: str) -> Dict[str, Any]:
    """Vendor, model, features and (on boards whose kernel says it) the board name from /proc/cpuinfo."""
    fields: Dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep and key.strip() not in fields:
            fields[key.strip()] = value.strip()
    out: Dict[str, Any] = {"vendor": "unknown", "model": "unknown", "features": [], "board": fields.get("Model")}
    if arch_family == "x86":
        out["vendor"] = X86_VENDORS.get(fields.get("vendor_id", ""), fields.get("vendor_id", "unknown"))
        out["model"] = fields.get("model name", "unknown")
        flags = fields.get("flags", "").split()
        out["features"] = sorted({X86_FEATURES[f] for f in flags if f in X86_FEATURES})
    elif arch_family == "arm":
        impl = fields.get("CPU implementer", "").lower()
        part = fields.get("CPU part", "").lower()
        out["vendor"] = ARM_IMPLEMENTERS.get(impl, impl or "unknown")
        out["model"] = ARM_PARTS.get((impl, part), f"part {part}" if part else "unknown")
        flags = fields.get("Features", "").split()
        found = {ARM_FEATURES[f] for f in flags if f in ARM_FEATURES}
        if fields.get("CPU architecture", "").strip() in ("8", "AArch64"):
            found.add("neon")  # Advanced SIMD is mandatory on ARMv8-A
        out["features"] = sorted(found)
    return out


def _nvidia_gpus(root: Path) -> List[str]:
    names = []
    for info in sorted(glob.glob(str(root / "proc/driver/nvidia/gpus/*/information"))):
        text = Path(info).read_text(encoding="utf-8", errors="replace")
        m = re.search(r"^Model:\s*(.+)$", text, re.M)
        names.append(m.group(1).strip() if m else "NVIDIA GPU")
    if not names and str(root) == "/" and shutil.which("nvidia-smi"):
        try:
            out = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, timeout=10).stdout
            names = [m.group(1) for m in re.finditer(r"^GPU \d+: (.+?)(?: \(UUID.*)?$", out, re.M)]
        except (OSError, subprocess.SubprocessError):
            pass
    return names


def _backend_versions() -> Dict[str, str]:
    from . import BACKENDS, is_available

    found = {}
    for name in BACKENDS:
        if is_available(name):
            found[name] = next(filter(None, map(distribution_version, _DISTRIBUTIONS[name])), "unknown")
    return found


def distribution_version(dist: str) -> Optional[str]:
    """The installed version of distribution ``dist``, or None.

    Read from the name of its ``<name>-<version>.dist-info`` folder on ``sys.path`` (what pip writes), as
    ``importlib.metadata.version`` would find it first; only an install without one (an ``.egg-info``)
    goes to importlib.metadata, whose import costs a process 3 MB of RSS (email, zipfile, csv ...).
    Every process that picks a backend asks this.
    """
    import sys

    want = _project_key(dist)
    for entry in sys.path:
        try:
            names = os.listdir(entry or ".")
        except OSError:  # a zip, or gone
            continue
        for name in names:
            if name.endswith(".dist-info") and "-" in name:
                project, version = name[: -len(".dist-info")].split("-", 1)
                if _project_key(project) == want and version:
                    return version
    import importlib.metadata

    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def _project_key(name: str) -> str:
    """A project name as PEP 503 compares them: case, and runs of '-', '_', '.', do not matter."""
    return re.sub(r"[-_.]+", "-", name).lower()


def _ort_providers() -> List[str]:
    try:
        import onnxruntime

        return [p for p in onnxruntime.get_available_providers() if p not in IGNORED_ORT_PROVIDERS]
    except Exception:  # a broken install must not break the probe
        return []


def _openvino_devices() -> Dict[str, str]:
    try:
        from . import import_openvino
        ov = import_openvino()

        core = ov.Core()
        return {d: str(core.get_property(d, "FULL_DEVICE_NAME")) for d in core.available_devices}
    except Exception:
        return {}


def _usable_cores() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:
        return max(1, os.cpu_count() or 1)


def _memory_mb(root: Path) -> Optional[int]:
    m = re.search(r"^MemTotal:\s+(\d+) kB", _read(root, "proc/meminfo") or "", re.M)
    return int(m.group(1)) // 1024 if m else None


def probe(root: str = "/", machine: Optional[str] = None, backends: bool = True) -> DeviceProfile:
    """Probe this machine (or a fake filesystem under ``root`` in tests).

    ``backends=False`` leaves onnxruntime's providers and OpenVINO's devices empty; otherwise each is
    read (importing its backend, ~0.3 s) the first time it is used.
    """
    base = Path(root)
    arch = machine or platform.machine()
    profile = DeviceProfile(arch=arch)
    cpu = parse_cpuinfo(_read(base, "proc/cpuinfo") or "", profile.arch_family)
    profile.cpu_vendor, profile.cpu_model, profile.features = cpu["vendor"], cpu["model"], cpu["features"]
    dt_model = _read(base, "proc/device-tree/model") or _read(base, "sys/firmware/devicetree/base/model")
    profile.board = (dt_model or "").strip("\x00\n ") or cpu["board"]
    tegra = _read(base, "etc/nv_tegra_release")
    profile.jetson = tegra.splitlines()[0].strip("# ").strip() if tegra and tegra.strip() else None
    profile.nvidia_gpus = _nvidia_gpus(base)
    profile.cores = _usable_cores() if root == "/" else max(1, (_read(base, "proc/cpuinfo") or "").count("processor\t:"))
    profile.memory_mb = _memory_mb(base)
    profile.backends = _backend_versions()
    if backends:  # read on first use (LAZY_LISTS)
        pending = {"ort_providers": _ort_providers if "onnxruntime" in profile.backends else list,
                   "openvino_devices": _openvino_devices if "openvino" in profile.backends else dict}
        for name in LAZY_LISTS:
            del profile.__dict__[name]
        profile.__dict__["_pending_lists"] = pending
    return profile


@lru_cache(maxsize=1)
def this_device() -> DeviceProfile:
    """``probe()`` of this machine, once per process."""
    return probe()
