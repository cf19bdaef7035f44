"""The distribution a user installs is this project's, and the README's device line names its wheel."""
from __future__ import annotations

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _pyproject() -> dict:
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # Python 3.9 leg
        import pip._vendor.tomli as tomllib  # type: ignore[no-redef]
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def test_distribution_is_not_the_unrelated_pypi_edge_sdk() -> None:
    project = _pyproject()["project"]
    assert project["name"] == "edge-ocr-sdk"  # PyPI's "edge-sdk" is a market-data SDK
    assert project["scripts"] == {"edge-sdk": "edge_sdk.cli:main"}
    assert all("edge-sdk[" not in dep for deps in project["optional-dependencies"].values() for dep in deps)


def test_readme_device_install_names_this_wheel() -> None:
    project = _pyproject()["project"]
    wheel = f"{project['name'].replace('-', '_')}-{project['version']}-py3-none-any.whl"
    lines = [line for line in (ROOT / "README.md").read_text(encoding="utf-8").splitlines()
             if re.match(r'^pip install "\./edge_ocr_sdk-', line)]
    assert lines, "README lost its device install line (scripts/arm64_root.sh runs it)"
    assert lines[0].startswith(f'pip install "./{wheel}[onnx,openvino]"'), lines[0]
    assert "pip install edge-sdk" not in (ROOT / "README.md").read_text(encoding="utf-8").replace(
        "**`pip install edge-sdk` installs an unrelated project**", "")
