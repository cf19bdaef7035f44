"""OpenVINO backend: loads ``inference.xml`` (IR), ``.onnx``, or a legacy Paddle ``inference.pdmodel``.

Precision is explicit. OpenVINO's CPU plugin computes in bf16 by default on CPUs with AVX-512 BF16 or
AMX, so an "FP32" IR silently drifts there; this backend always sets ``INFERENCE_PRECISION_HINT``
(default ``f32``) and refuses ``bf16``/``f16`` where the device lacks them.

Concurrency ``pool``: an ``InferRequest`` is not thread-safe (shared by 8 threads it raises "Infer Request
is busy" or, measured here, silently hands callers other calls' outputs: 191 of 192 wrong). Each ``run`` borrows an idle request from a
pool, making a new one when none is idle (at most ``max(cores, the device's optimal number)``; more
callers wait for one), and copies the output before giving the request back. With the LATENCY hint
the CPU plugin has one stream, so concurrent requests are correct but not faster than one.

Compiled-model cache (``options.cache_dir``): our own, not OpenVINO's ``CACHE_DIR``, which crashes
(SIGBUS) when several processes fill an empty cache at once and raises on read-only storage. A blob
is keyed by the sha256 of the model's files, the device and what it is, the compile config and the
OpenVINO version; it is written to a temporary file in the cache dir and renamed into place, so
readers never see a partial blob, and it carries its own length and CRC-32, so a damaged one is
found (OpenVINO imports a flipped byte silently and computes garbage), deleted and recompiled. Any
problem with the cache dir (read-only, a file, full disk, no permission) costs one warning and the
model runs uncached.
"""
from __future__ import annotations

import logging
import os
import struct
import tempfile
import time
import zlib
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

import numpy as np

from .base import (
    BackendOptions, DeviceUnavailable, ModelLoadError, ObjectPool, Session, _warn_once, default_threads, env_whole_number,
    first_line,
)

log = logging.getLogger("runtimes.openvino")

# OpenVINO's CPU plugin keeps compiled kernels per input shape in two caches, its own runtime cache
# (CPU_RUNTIME_CACHE_CAPACITY) and oneDNN's primitive cache. Text lines come in hundreds of widths x batch
# sizes, so at OpenVINO's sizes (5000 entries, 1024 primitives) both fill up: RSS grew from 267 to 295 MB
# over the first 3000 IC15 val lines (batch 8) before it flattened. The runtime cache stays off. oneDNN's
# keeps 128 primitives, two shapes' kernels of this model (one shape needs 64-128): a stream that meets
# the shape another stream just built reuses its kernels instead of building its own (2 streams, Chinese
# domain, INT8 in bf16: +3-8% lines/s), and a shape that comes back right away costs nothing
# (8 x 320 after 8 x 352: 44 -> 23 ms), for +5 MB (FP32 over IC15 val, 235 -> 240 MB peak RSS).
# oneDNN reads its capacity from the environment when the plugin first builds a kernel: set it before
# that, unless the user chose one.
PRIMITIVE_CACHE_CAPACITY = 128
os.environ.setdefault("ONEDNN_PRIMITIVE_CACHE_CAPACITY", str(PRIMITIVE_CACHE_CAPACITY))
RUNTIME_CACHE_CAPACITY = 0  # edge-sdk serve keeps 256 ($EDGE_SDK_OV_RUNTIME_CACHE): its batches change size

# our device names -> OpenVINO's
_DEVICES = {"cpu": "CPU", "gpu": "GPU", "npu": "NPU", "auto": "AUTO"}
# precision -> the OPTIMIZATION_CAPABILITIES entry a device must list for it
_PRECISION_CAPS = {"f32": "FP32", "bf16": "BF16", "f16": "FP16"}
# files beside the model file that hold its weights
_COMPANIONS = {".xml": ".bin", ".pdmodel": ".pdiparams"}
# Bump when what this module does to a model before compiling changes (e.g. _fix_input_shape).
_CACHE_FORMAT = "edge-sdk-openvino-blob-2"
_BLOB_MAGIC = b"EDGESDK-OVBLOB2\n"
# after the magic: the payload's length and CRC-32 (catches damage; checks 11 MB in ~2 ms, sha256 takes ~15)
_HEADER = struct.Struct("<QI")
# a temporary blob older than this was left by a killed process (writing one takes well under a second)
_STALE_TMP_S = 3600.0


class OpenVINOSession(Session):
    name = "openvino"
    formats = (".xml", ".onnx", ".pdmodel")  # a legacy Paddle program through OpenVINO's Paddle frontend
    concurrency = "pool"  # one InferRequest per concurrent run() call

    def __init__(self, model_file: Path, options: BackendOptions) -> None:
        super().__init__(model_file, options)
        from . import import_openvino
        ov = import_openvino()

        device = _DEVICES.get(options.device.lower())
        if device is None:
            raise DeviceUnavailable(f"OpenVINO has no device {options.device!r}; use one of {', '.join(_DEVICES)}.")
        ov_core = ov.Core()
        # The CPU plugin ships in every OpenVINO wheel. Listing the devices loads every plugin (GPU, NPU, ...)
        # into the process for good: +5-8 MB of RSS (IC15 val, FP32 IR) that a CPU session never uses.
        if device not in ("CPU", "AUTO"):
            present: List[str] = list(ov_core.available_devices)
            if not any(d.split(".")[0] == device for d in present):
                raise DeviceUnavailable(f"OpenVINO finds no {device} device here (it sees "
                                        f"{', '.join(present) or 'none'}); use device='cpu'.")
        precision = options.precision.lower()
        if precision not in _PRECISION_CAPS:
            raise DeviceUnavailable(f"unknown precision {options.precision!r}; use one of {', '.join(_PRECISION_CAPS)}.")
        caps: List[str] = []
        if device != "AUTO":
            caps = list(ov_core.get_property(device, "OPTIMIZATION_CAPABILITIES"))
            if _PRECISION_CAPS[precision] not in caps:
                raise DeviceUnavailable(
                    f"OpenVINO {device} here cannot compute in {precision} (it supports {', '.join(caps)}); use 'f32'."
                )
        config: Dict[str, Any] = {"INFERENCE_PRECISION_HINT": precision, "PERFORMANCE_HINT": "LATENCY"}
        if device in ("CPU", "AUTO"):
            config["INFERENCE_NUM_THREADS"] = options.resolved_threads()
        if device == "CPU" and options.streams > 1:
            # Streams of threads // streams threads each, one batch per stream (run_many). On 2 cores (IC15
            # val, batches in width order, 2 streams x 1 thread against 1 x 2): FP32 +4-10% lines/s, INT8
            # computing in bf16 +9-14%, and +12-20% on the Chinese domain's lines; bf16 alone the same
            # (-3%). A single call then runs on one stream's threads: slower alone, so 1 is the default.
            self.streams = min(options.streams, options.resolved_threads())
            config.update(NUM_STREAMS=self.streams, PERFORMANCE_HINT="THROUGHPUT")
        if device == "CPU":
            config["CPU_RUNTIME_CACHE_CAPACITY"] = _runtime_cache_capacity(options)
            if options.resolved_threads() < default_threads():
                # On fewer threads than cores this process likely shares the machine (Ray actors, server
                # workers), and OpenVINO pins its threads to the first cores: two 1-thread processes on 2
                # cores both pinned a thread to core 0 and ran at half speed (IC15 val on Ray, 2 actors x
                # 1 thread: 87.5 lines/s, one process on 2 threads: 182).
                config["ENABLE_CPU_PINNING"] = False
        self._device = device
        self._cache: Optional[CompiledModelCache] = None
        self.cache_status = "off"  # off | hit | written | recompiled | unusable | unsupported
        if options.cache_dir:
            if "EXPORT_IMPORT" in caps:
                self._cache = CompiledModelCache(Path(options.cache_dir), self._cache_key(ov, ov_core, config, caps))
            else:
                self.cache_status = "unsupported"
                log.info("OpenVINO %s cannot export compiled models; running without the compiled-model cache.", device)
        self._compiled = self._load(ov_core, config)
        optimal = 1
        try:
            optimal = int(self._compiled.get_property("OPTIMAL_NUMBER_OF_INFER_REQUESTS"))
        except RuntimeError:
            pass
        self._requests = ObjectPool(max(default_threads(), optimal), factory=self._compiled.create_infer_request,
                                    initial=[self._compiled.create_infer_request()])
        # What the plugin actually compiled with, not what was asked (AUTO does not report it).
        self._precision = (self._compiled.get_property("INFERENCE_PRECISION_HINT").to_string()
                           if device != "AUTO" else precision)
        self.activation_bytes = 2 if self._precision in ("bf16", "f16") else 4
        # A batch of a new shape rebuilds the CPU plugin's kernels: ~20 ms on 2 cores (8 x 3 x 48 x 320
        # after 8 x 3 x 48 x 352, or after 5 x 3 x 48 x 320), ~4 lines' compute at width 320 in FP32, 8-10
        # in bf16 or on INT8 kernels. Blank rows to keep a width in one shape, on the Chinese domain
        # (17 widths, batch 8), up to 4 of them: INT8 in bf16 on 2 streams +4-14% lines/s, bf16 on 2
        # streams +11-15%; FP32 -2-3%, so there only up to 2 (a width's last batch is then nearly full).
        self.new_shape_lines = 4 if self.activation_bytes == 2 or _has_int8_kernels(self._compiled) else 2

    # -- compiling, through the cache ---------------------------------------------------------------
    def _cache_key(self, ov: Any, ov_core: Any, config: Dict[str, Any], caps: List[str]) -> str:
        """sha256 over everything that changes the compiled blob."""
        import hashlib  # here: its OpenSSL costs a process that runs without the cache 3.5 MB of RSS

        h = hashlib.sha256()

        def part(label: str, value: object) -> None:
            h.update(f"{label}={value}\n".encode("utf-8"))

        part("format", _CACHE_FORMAT)
        part("openvino", ov.get_version())
        part("device", self._device)
        part("device_name", _device_property(ov_core, self._device, "FULL_DEVICE_NAME"))
        part("device_arch", _device_property(ov_core, self._device, "DEVICE_ARCHITECTURE"))
        part("capabilities", ",".join(sorted(caps)))
        part("config", sorted((k, str(v)) for k, v in config.items()))
        files = [self.model_file]
        companion = _COMPANIONS.get(self.model_file.suffix)
        if companion:
            files.append(self.model_file.with_suffix(companion))
        for f in files:
            part("file", f.suffix)
            try:
                with open(f, "rb") as fh:
                    for chunk in iter(lambda: fh.read(1 << 20), b""):
                        h.update(chunk)
            except OSError as exc:
                raise ModelLoadError(
                    f"OpenVINO could not load {self.model_file}: cannot read {f.name} ({exc.strerror or exc})."
                ) from exc
        return h.hexdigest()

    def _compile(self, ov_core: Any, config: Dict[str, Any]) -> Any:
        try:
            model = ov_core.read_model(str(self.model_file))
            fix_input_shape(model, self.options.input_shape)
            return ov_core.compile_model(model, self._device, config)
        except RuntimeError as exc:
            raise ModelLoadError(f"OpenVINO could not load {self.model_file}: {first_line(exc)}") from exc

    def _load(self, ov_core: Any, config: Dict[str, Any]) -> Any:
        cache = self._cache
        if cache is None:
            return self._compile(ov_core, config)
        corrupt = None
        try:
            payload = cache.read()
        except CacheCorrupt as exc:
            payload, corrupt = None, str(exc)
        except OSError as exc:
            self._cache_unusable(exc)
            return self._compile(ov_core, config)
        if payload is not None:
            try:
                compiled = ov_core.import_model(payload, self._device, config)
                self.cache_status = "hit"
                return compiled
            except RuntimeError as exc:
                corrupt = f"OpenVINO could not import it: {first_line(exc)}"
        if corrupt is not None:
            log.warning("compiled-model cache: %s is damaged (%s); compiling the model again.", cache.path, corrupt)
            try:
                cache.discard()
            except OSError as exc:
                self._cache_unusable(exc)
                return self._compile(ov_core, config)
        compiled = self._compile(ov_core, config)
        try:
            cache.write(compiled.export_model().getvalue())
            self.cache_status = "recompiled" if corrupt is not None else "written"
        except (OSError, RuntimeError) as exc:
            self._cache_unusable(exc)
        return compiled

    def _cache_unusable(self, exc: BaseException) -> None:
        self.cache_status = "unusable"
        reason = first_line(exc) if isinstance(exc, RuntimeError) else (exc.strerror or str(exc))
        _warn_once(("openvino-cache", str(self.options.cache_dir)),
                   "compiled-model cache %s cannot be used (%s); running without it.",
                   self.options.cache_dir, reason, logger=log)

    # -- the hot path -------------------------------------------------------------------------------
    def run(self, batch: np.ndarray) -> np.ndarray:
        x = np.ascontiguousarray(batch, dtype=np.float32)
        with self._requests.take() as request:
            request.infer({0: x})
            # copied before the request goes back to the pool, where another call may overwrite it
            return request.get_output_tensor(0).data.copy()

    def describe(self) -> Dict[str, Any]:
        from . import import_openvino
        ov = import_openvino()

        info = super().describe()
        info.update({"device": self._device, "precision": self._precision, "version": ov.get_version().split("-")[0],
                     "cache_dir": self.options.cache_dir, "compiled_cache": self.cache_status,
                     "infer_requests": self._requests.created})
        return info

    def close(self) -> None:
        self._requests.clear()


def _has_int8_kernels(compiled: Any) -> bool:
    """Whether the compiled model runs some layers in 8-bit integers (a quantized artifact)."""
    try:
        return any(op.get_rt_info()["runtimePrecision"].astype(str) in ("i8", "u8")
                   for op in compiled.get_runtime_model().get_ops())
    except (RuntimeError, KeyError, AttributeError):  # a plugin that does not report it: treated as float
        return False


def _runtime_cache_capacity(options: BackendOptions) -> int:
    """Per-shape kernels the CPU plugin keeps: the option, else ``$EDGE_SDK_OV_RUNTIME_CACHE``, else 0."""
    if "cpu_runtime_cache_capacity" in options.extra:
        return int(options.extra["cpu_runtime_cache_capacity"])
    return env_whole_number("EDGE_SDK_OV_RUNTIME_CACHE", RUNTIME_CACHE_CAPACITY,
                            "a whole number of kernels kept per input shape (0 = none)")


def _device_property(core: Any, device: str, name: str) -> str:
    try:
        return str(core.get_property(device, name))
    except RuntimeError:  # not every plugin reports every property
        return "?"


class CacheCorrupt(Exception):
    """A cached blob is not one this module wrote whole."""


def pack_blob(payload: bytes) -> bytes:
    return _BLOB_MAGIC + _HEADER.pack(len(payload), zlib.crc32(payload)) + payload


def unpack_blob(data: bytes) -> bytes:
    """The payload of a blob file; CacheCorrupt if it is not whole."""
    start = len(_BLOB_MAGIC) + _HEADER.size
    if len(data) < start or data[:len(_BLOB_MAGIC)] != _BLOB_MAGIC:
        raise CacheCorrupt("not an edge-sdk blob")
    length, crc = _HEADER.unpack_from(data, len(_BLOB_MAGIC))
    payload = data[start:]
    if len(payload) != length:
        raise CacheCorrupt(f"{len(payload)} of {length} bytes")
    if zlib.crc32(payload) != crc:
        raise CacheCorrupt("checksum mismatch")
    return payload


class CompiledModelCache:
    """One compiled blob in ``directory``, named by its key: ``openvino-<key>.blob``.

    File layout: ``pack_blob(payload)``, the payload being ``export_model()``'s bytes.
    Raises OSError for problems with the directory, CacheCorrupt for a damaged blob.
    """

    def __init__(self, directory: Path, key: str) -> None:
        self.directory = Path(directory)
        self.path = self.directory / f"openvino-{key}.blob"
        self._read_stat: Optional[Tuple[int, int]] = None

    def read(self) -> Optional[bytes]:
        """The payload, or None on a miss."""
        if self.directory.exists() and not self.directory.is_dir():
            raise NotADirectoryError(20, "it is not a directory", str(self.directory))
        try:
            with open(self.path, "rb") as f:
                st = os.fstat(f.fileno())
                data = f.read()
        except FileNotFoundError:
            return None
        self._read_stat = (st.st_dev, st.st_ino)
        return unpack_blob(data)

    def discard(self) -> None:
        """Delete the damaged blob read last, unless another process has already replaced it."""
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return
        if self._read_stat is None or (st.st_dev, st.st_ino) == self._read_stat:
            os.unlink(self.path)

    def write(self, payload: bytes) -> None:
        """Write atomically: a temporary file in the same directory, then rename it into place."""
        self.directory.mkdir(parents=True, exist_ok=True)
        self._sweep_stale()
        fd, tmp = tempfile.mkstemp(dir=self.directory, prefix=f".{self.path.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(pack_blob(payload))
                f.flush()
                os.fsync(f.fileno())
            os.chmod(tmp, 0o644)  # mkstemp makes it private; other users of a shared cache read it
            os.replace(tmp, self.path)
        except BaseException:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            raise

    def _sweep_stale(self) -> None:
        """Remove temporary blobs that processes killed while writing left behind."""
        now = time.time()
        try:
            for p in self.directory.glob(".openvino-*.blob.*.tmp"):
                try:
                    if now - p.stat().st_mtime > _STALE_TMP_S:
                        p.unlink()
                except OSError:
                    pass
        except OSError:
            pass


def fix_input_shape(model: Any, want: Tuple[int, ...]) -> None:
    """An ONNX from paddle2onnx may leave H dynamic where the task fixes it (text lines: [N, 3, 48, W]);
    pin each dimension ``want`` fixes and the model leaves dynamic, keep the rest."""
    inp = model.inputs[0]
    shape = inp.get_partial_shape()
    if not (shape.rank.is_static and shape.rank.get_length() == len(want)):
        return
    if any(w > 0 and shape[i].is_dynamic for i, w in enumerate(want)):
        model.reshape({inp.get_any_name(): [w if w > 0 and shape[i].is_dynamic
                                            else (-1 if shape[i].is_dynamic else shape[i].get_length())
                                            for i, w in enumerate(want)]})
