"""``backend="autotune"``: time the top-ranked candidates on real line widths, keep the winner.

The ranking (``runtimes.selection``) is a good guess; autotune checks it on this device. It loads the
first few usable candidates, runs each on the padded widths of the SDK's own sample lines (one line
per call, as a kiosk sees them), and caches the fastest per device, artifact, threads and precision
in ``$EDGE_SDK_HOME/autotune.json``, so only the first start pays for it.
"""
from __future__ import annotations

import json
import logging
import os
import statistics
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Sequence

import numpy as np

import runtimes
from runtimes.device import DeviceProfile
from runtimes.selection import Candidate

from .hub import cache_root, sha256_hex, sha256_of
from .model_dir import ModelDir
from .images import read_image
from .rec.preprocess import resize_normalize

log = logging.getLogger("edge_sdk.autotune")

TOP_K = 3  # candidates timed
ROUNDS = 5  # timed passes over the widths; the median pass is the score
SAMPLES_DIR = Path(__file__).parent / "samples"


@dataclass
class TuneResult:
    winner: str  # "backend:device"
    timings_ms: Dict[str, float]  # median ms per pass over the widths, per candidate
    widths: List[int]
    cached: bool = False


def autotune_file() -> Path:
    return cache_root() / "autotune.json"


def sample_widths(model: ModelDir) -> List[int]:
    """The distinct padded widths of the bundled sample lines, plus one long line (twice the minimum)."""
    widths = {model.preprocess.min_width, 2 * model.preprocess.min_width}
    for png in sorted(SAMPLES_DIR.glob("*.png")):
        widths.add(int(resize_normalize(read_image(png), model.preprocess).shape[2]))
    return sorted(widths)


def cache_key(profile: DeviceProfile, model: ModelDir, threads: int, precision: str) -> str:
    device = json.dumps({"arch": profile.arch, "cpu": profile.cpu_model, "cores": profile.cores,
                         "features": profile.features, "gpus": profile.nvidia_gpus,
                         "backends": profile.backends, "providers": profile.ort_providers,
                         "ov": sorted(profile.openvino_devices)}, sort_keys=True)
    return f"{sha256_hex(device)[:16]}:{sha256_of(model.model_file)[:16]}:t{threads}:{precision}"


def _load_cache() -> Dict[str, dict]:
    try:
        return json.loads(autotune_file().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def _store(key: str, result: TuneResult) -> None:
    data = _load_cache()
    data[key] = {"winner": result.winner, "timings_ms": result.timings_ms, "widths": result.widths,
                 "when": time.strftime("%Y-%m-%dT%H:%M:%S")}
    path = autotune_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".tmp{os.getpid()}")
    tmp.write_text(json.dumps(data, indent=1), encoding="utf-8")
    os.replace(tmp, path)


def time_candidate(session: runtimes.Session, inputs: Sequence[np.ndarray], rounds: int = ROUNDS) -> float:
    """Median milliseconds for one pass over ``inputs`` (after one warm-up pass)."""
    for x in inputs:
        session.run(x)
    passes = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        for x in inputs:
            session.run(x)
        passes.append((time.perf_counter() - t0) * 1000)
    return statistics.median(passes)


def autotune(model: ModelDir, candidates: Sequence[Candidate], profile: DeviceProfile, *, threads: int,
             precision: str, cache_dir: Optional[str], refresh: bool = False) -> TuneResult:
    """Pick the fastest of the first ``TOP_K`` usable candidates (cached per device and artifact)."""
    key = cache_key(profile, model, threads, precision)
    top = [c for c in candidates if c.usable][:TOP_K]
    cached = None if refresh else _load_cache().get(key)
    if cached and cached.get("winner") in {c.label for c in top}:
        return TuneResult(cached["winner"], cached.get("timings_ms", {}), cached.get("widths", []), cached=True)
    widths = sample_widths(model)
    pp = model.preprocess
    inputs = [np.random.default_rng(w).random((1, 3, pp.height, w), dtype=np.float32) * 2 - 1 for w in widths]
    timings: Dict[str, float] = {}
    for cand in top:
        try:
            session = runtimes.load_backend(cand.backend, model.model_file, threads=threads, device=cand.device,
                                            precision=precision, cache_dir=cache_dir, extra=model.runtime_hints)
            timings[cand.label] = round(time_candidate(session, inputs), 3)
            session.close()
        except runtimes.RuntimeErrorBase as exc:
            log.info("autotune: %s failed to load: %s", cand.label, exc)
    if not timings:
        raise runtimes.BackendNotInstalled(
            f"autotune could not load any of {', '.join(c.label for c in top) or 'no candidates'} for {model.model_file}."
        )
    winner = min(timings, key=timings.__getitem__)
    result = TuneResult(winner, timings, widths)
    _store(key, result)
    log.info("autotune: %s", ", ".join(f"{k} {v:.1f} ms" for k, v in timings.items()))
    return result
