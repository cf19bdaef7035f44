"""The architecture holds: runtimes <- edge_sdk <- converters, and a device import stays light."""
from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FORBIDDEN = {"runtimes": {"edge_sdk", "converters"}, "edge_sdk": {"converters"}}


def _imports(py: Path) -> set:
    names = set()
    for node in ast.walk(ast.parse(py.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_imports_point_down(package: str) -> None:
    for py in (ROOT / package).rglob("*.py"):
        bad = _imports(py) & FORBIDDEN[package]
        if package == "edge_sdk" and py.name in ("cli.py", "__init__.py"):
            continue  # the CLI and edge_sdk.convert() import converters lazily, inside a function
        assert not bad, f"{py.relative_to(ROOT)} imports {bad}"


def test_import_edge_sdk_pulls_in_no_heavy_dependency() -> None:
    code = ("import sys, edge_sdk, edge_sdk.cli; "
            "print(sorted(m for m in ('paddle', 'paddle2onnx', 'onnx', 'onnxruntime', 'openvino', 'converters') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "[]"
