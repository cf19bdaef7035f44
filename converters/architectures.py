"""Every seed architecture with random weights, built from PaddleOCR's own modelling code.

Real weights are reachable offline for a handful of models only (see ``edge_sdk/zoo.json``). To show
that every op of every seed architecture goes through the converters, this module builds each one
(``zoo.json`` ``architectures``: backbone -> SequenceEncoder neck -> CTC head, the inference branch of
PaddleOCR's MultiHead) from ``ppocr/modeling`` of the pinned ``unstructured-paddleocr`` wheel
(Apache-2.0, fetched at use time into ``$EDGE_SDK_HOME/paddleocr-modeling/``, never vendored), with
random weights, and saves it as a Paddle 3 inference model (PIR, or for Paddle Lite the legacy program, see
``legacy_program.py``) whose output is the CTC head's **logits**: random weights give a near-flat softmax,
where probabilities prove little.

Random weights with untouched BatchNorm statistics blow activations up (logits ~1e9), so two no-gradient
passes over random inputs in train mode, with momentum 0, set each BatchNorm's running statistics to
real batch statistics first; logits then have a std of ~0.3. PPLCNetV3 is re-parameterised (``rep()``)
as PaddleOCR's own export does.
"""
from __future__ import annotations

import shutil
import sys
import zipfile
from pathlib import Path
from typing import Any, Dict, List, Optional

import numpy as np

from edge_sdk.errors import BackendUnavailableError, ConversionError
from edge_sdk.model_dir import write_inference_yml
from edge_sdk.zoo import ARCHITECTURES, Preprocess, Wheel

from .legacy_program import save_legacy

MODELING_WHEEL = Wheel("unstructured-paddleocr", "2.10.0",
                       "718e88c25d20c147a3fe4c07aad8b16073d28771c1df8fedefc892a5d4e6def9", "Apache-2.0")
_PREFIX = "unstructured_paddleocr/"  # the wheel's package dir; ppocr's own imports are absolute (ppocr....)
_MODULES = {  # backbone names of zoo.json -> their module in ppocr/modeling/backbones
    "PPLCNetV3": "rec_lcnetv3", "PPHGNet_small": "rec_hgnet", "MobileNetV1Enhance": "rec_mv1_enhance",
    "SVTRv2": "rec_svtrv2", "RepSVTR": "rec_repvit",
}


def architectures() -> Dict[str, Dict[str, Any]]:
    """``zoo.json``'s architecture configs, by name (parsed once, with the zoo)."""
    return ARCHITECTURES


def modeling_root(cache: Optional[Path] = None) -> Path:
    """A directory holding ``ppocr/modeling`` (importable as ``ppocr``), fetched once from the pinned wheel."""
    from edge_sdk.hub import _pip_download, cache_root
    from edge_sdk._fs import remove_marker, staging_dir

    root = (cache or cache_root()) / "paddleocr-modeling" / f"{MODELING_WHEEL.package}-{MODELING_WHEEL.version}"
    if (root / "ppocr" / "modeling" / "heads" / "rec_ctc_head.py").is_file():
        return root
    root.parent.mkdir(parents=True, exist_ok=True)
    tmp = staging_dir(root.parent, f".{root.name}.")
    try:
        whl = _pip_download(MODELING_WHEEL, tmp)
        with zipfile.ZipFile(whl) as zf:
            for info in zf.infolist():
                name = info.filename
                if not name.startswith(_PREFIX + "ppocr/") or not name.endswith(".py"):
                    continue
                rel = name[len(_PREFIX):]
                if not (rel == "ppocr/__init__.py" or rel.startswith("ppocr/modeling/")):
                    continue
                dest = tmp / rel
                dest.parent.mkdir(parents=True, exist_ok=True)
                dest.write_bytes(zf.read(info))
        shutil.rmtree(whl.parent)
        if root.exists():  # another process got there first
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            tmp.rename(root)
            remove_marker(root)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return root


def _classes(root: Path) -> Dict[str, Any]:
    import importlib

    if str(root) not in sys.path:
        sys.path.insert(0, str(root))
    found = {name: getattr(importlib.import_module(f"ppocr.modeling.backbones.{mod}"), name)
             for name, mod in _MODULES.items()}
    found["SequenceEncoder"] = importlib.import_module("ppocr.modeling.necks.rnn").SequenceEncoder
    found["CTCHead"] = importlib.import_module("ppocr.modeling.heads.rec_ctc_head").CTCHead
    return found


def build(arch: str, classes: int, seed: int = 0, cache: Optional[Path] = None):  # type: ignore[no-untyped-def]
    """The network of ``arch`` (a ``zoo.json`` architecture) with random weights, in eval mode, returning
    the CTC head's logits."""
    try:
        import paddle
        from paddle import nn
    except ImportError as exc:
        raise BackendUnavailableError("building architectures needs paddlepaddle: pip install paddlepaddle") from exc
    configs = architectures()
    if arch not in configs:
        raise ConversionError(f"unknown architecture {arch!r}; zoo.json has {', '.join(configs)}.")
    cfg = configs[arch]
    mods = _classes(modeling_root(cache))
    backbone_name, backbone_kwargs = cfg["backbone"]
    paddle.seed(seed)

    class RecLogits(nn.Layer):  # type: ignore[misc]
        def __init__(self) -> None:
            super().__init__()
            self.backbone = mods[backbone_name](**backbone_kwargs)
            self.neck = mods["SequenceEncoder"](in_channels=self.backbone.out_channels, **cfg["neck"])
            self.head = mods["CTCHead"](in_channels=self.neck.out_channels, out_channels=classes)

        def forward(self, x):  # type: ignore[no-untyped-def]
            return self.head.fc(self.neck(self.backbone(x)))

    net = RecLogits()
    _set_batchnorm_statistics(net, seed)
    if cfg.get("rep"):
        for layer in net.sublayers():
            if hasattr(layer, "rep") and not getattr(layer, "is_repped", True):
                layer.rep()
    net.eval()
    return net


def _set_batchnorm_statistics(net, seed: int, passes: int = 2) -> None:  # type: ignore[no-untyped-def]
    import paddle
    from paddle import nn

    bns = [m for m in net.sublayers() if isinstance(m, nn.layer.norm._BatchNormBase)]
    momenta = [m._momentum for m in bns]
    rng = np.random.RandomState(seed)
    net.train()
    with paddle.no_grad():
        for m in bns:
            m._momentum = 0.0  # running stats := this batch's stats
        for _ in range(passes):
            net(paddle.to_tensor(rng.uniform(-1, 1, (8, 3, 48, 320)).astype("float32")))
    for m, momentum in zip(bns, momenta):
        m._momentum = momentum
    net.eval()


def save(arch: str, classes: int, out: Path, seed: int = 0, cache: Optional[Path] = None,
         legacy: bool = False) -> Path:
    """Build ``arch`` with random weights and save it to ``out`` as a Paddle 3 inference model with an
    ``inference.yml`` (a placeholder dict of ``classes - 2`` characters), ready for ``convert``: PIR
    (``inference.json``), or with ``legacy`` the old-IR ``inference.pdmodel`` Paddle Lite needs."""
    import paddle

    net = build(arch, classes, seed, cache)
    out.mkdir(parents=True, exist_ok=True)
    spec = [paddle.static.InputSpec([None, 3, 48, None], "float32", name="x")]
    if legacy:
        save_legacy(net, spec, out / "inference")
    else:
        paddle.jit.save(paddle.jit.to_static(net, input_spec=spec, full_graph=True), str(out / "inference"))
    chars: List[str] = [chr(0x4E00 + i) for i in range(classes - 2)]  # blank and space make up the rest
    write_inference_yml(out, f"random-{arch}-{classes}", chars, Preprocess())
    return out


TARGET_BACKENDS = {"onnx": "onnxruntime", "openvino": "openvino", "paddlelite": "paddlelite"}  # where each runs
LEGACY_TARGETS = ("paddlelite",)  # converted from the legacy program (Paddle Lite's opt reads no PIR)


def logit_diffs(model_dir: Path, artifacts: Dict[str, Path], images: List[np.ndarray]) -> Dict[str, float]:
    """Max abs difference of the CTC logits of each artifact (target -> dir) from Paddle Inference's on
    ``images``, and the reference logits' mean std and max abs."""
    from edge_sdk.model_dir import ModelDir
    from edge_sdk.rec.recognizer import TextRecognizer

    ref = TextRecognizer(ModelDir.open(model_dir), backend="paddle", threads=2)
    want = ref.run_lines(images, 1)
    out = {}
    for target, art in artifacts.items():
        rec = TextRecognizer(ModelDir.open(art), backend=TARGET_BACKENDS[target], threads=2, precision="f32",
                             cache_dir=None)
        got = rec.run_lines(images, 1)
        out[target] = max(float(np.abs(a - b).max()) for a, b in zip(want, got))
    out["logit_std"] = float(np.mean([w.std() for w in want]))
    out["logit_max"] = float(max(np.abs(w).max() for w in want))
    return out
