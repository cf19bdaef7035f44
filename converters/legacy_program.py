"""Write a legacy (old-IR ``inference.pdmodel``) Paddle inference program with Paddle 3.3, for Paddle Lite.

Paddle Lite's ``opt`` reads only the legacy program. Paddle 3.x still writes one from a dygraph network under
``paddle.pir_utils.OldIrGuard()`` (what PaddleOCR's own export does with ``export_with_pir`` off), except that
since 3.3 a set of Python APIs (``paddle.multiply``, ``matmul``, ``sigmoid``, ``gelu``, ... and the matching
``Variable`` methods) call ``_C_ops`` directly, which accept eager tensors and PIR values only; under the
guard they raise ``TypeError: multiply(): argument (position 1) must be Value, but got Variable``.

While :func:`save_legacy` traces, those functions are swapped, wherever a module holds them, for a dispatcher
that appends the classic operator (``elementwise_mul``, ``matmul_v2``, ``gelu``, ...) with ``LayerHelper``
when given an old-IR variable and calls the original otherwise. The swap is process-wide, so it is taken
under a lock and always undone; other threads must not trace or run Paddle meanwhile.
"""
from __future__ import annotations

import sys
import threading
import types
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Sequence, Tuple

_LOCK = threading.Lock()
_UNARY = ("sigmoid", "exp", "tanh", "sqrt", "rsqrt", "abs", "log", "floor", "ceil", "sin", "cos")


def save_legacy(net: Any, input_spec: Sequence[Any], prefix: Path) -> None:
    """``paddle.jit.save`` of ``net`` as ``<prefix>.pdmodel`` + ``.pdiparams`` (old IR)."""
    import paddle

    with _LOCK, _classic_ops(), paddle.pir_utils.OldIrGuard():
        paddle.jit.save(paddle.jit.to_static(net, input_spec=list(input_spec), full_graph=True), str(prefix))


def _append(op_type: str, inputs: Dict[str, List[Any]], attrs: Dict[str, Any], like: Any) -> Any:
    from paddle.base.layer_helper import LayerHelper

    helper = LayerHelper(op_type)
    out = helper.create_variable_for_type_inference(like.dtype)
    helper.append_op(type=op_type, inputs=inputs, outputs={"Out": [out]}, attrs=attrs)
    return out


def _classic() -> Dict[str, Callable[..., Any]]:
    """The old-IR operator behind each C-only API, with the API's signature."""
    def multiply(x: Any, y: Any, name: Any = None) -> Any:
        return _append("elementwise_mul", {"X": [x], "Y": [y]}, {"axis": -1}, x)

    def matmul(x: Any, y: Any, transpose_x: bool = False, transpose_y: bool = False, name: Any = None) -> Any:
        return _append("matmul_v2", {"X": [x], "Y": [y]}, {"trans_x": transpose_x, "trans_y": transpose_y}, x)

    def gelu(x: Any, approximate: Any = False, name: Any = None) -> Any:
        approx = approximate == "tanh" if isinstance(approximate, str) else bool(approximate)
        return _append("gelu", {"X": [x]}, {"approximate": approx}, x)

    def unary(op: str) -> Callable[..., Any]:
        return lambda x, name=None: _append(op, {"X": [x]}, {}, x)

    return {"multiply": multiply, "matmul": matmul, "gelu": gelu, **{op: unary(op) for op in _UNARY}}


def _dispatcher(original: Callable[..., Any], classic: Callable[..., Any]) -> Callable[..., Any]:
    import paddle
    from paddle.base import framework

    def dispatch(*args: Any, **kwargs: Any) -> Any:
        first = args[0] if args else next(iter(kwargs.values()))
        old_ir = (isinstance(first, framework.Variable) and not isinstance(first, paddle.Tensor)
                  and not paddle.framework.in_pir_mode())
        return (classic if old_ir else original)(*args, **kwargs)

    # no __wrapped__: dy2static would unwrap it back to the C builtin; not_to_static keeps it un-transcribed
    return paddle.jit.not_to_static(dispatch)


@contextmanager
def _classic_ops() -> Iterator[None]:
    from paddle.base import framework
    from paddle.base.dygraph import generated_tensor_methods_patch as generated

    classic = _classic()
    by_id = {}  # id(C-only function) -> its dispatcher
    for op, fn in classic.items():
        original = getattr(generated, "_" + op, None)
        if original is not None:
            by_id[id(original)] = (original, _dispatcher(original, fn))
    patched: List[Tuple[Any, str, Any]] = []
    try:
        for name, module in list(sys.modules.items()):
            if module is None or module is generated:
                continue
            for attr, value in list(vars(module).items()):
                hit = by_id.get(id(value))
                if hit is not None and value is hit[0]:
                    setattr(module, attr, hit[1])
                    patched.append((module, attr, value))
        # Variable methods (x.sigmoid(), q.matmul(k)) are bound straight to the C builtins
        for op, fn in classic.items():
            current = framework.Variable.__dict__.get(op)
            if current is not None and (isinstance(current, types.BuiltinFunctionType) or id(current) in by_id):
                setattr(framework.Variable, op, _dispatcher(current, fn))
                patched.append((framework.Variable, op, current))
        yield
    finally:
        for owner, attr, value in reversed(patched):
            setattr(owner, attr, value)
