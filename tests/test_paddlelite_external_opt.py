"""Converting to Paddle Lite from an environment without paddlelite (Python 3.11), through the opt tool
of another one (the Python 3.9 leg's paddle_lite_opt), as a laptop user would."""
from __future__ import annotations

import importlib.util
import json
import os
from pathlib import Path

import pytest

from converters import convert
from converters.paddlelite_export import OPT_ENV, find_opt
from edge_sdk.errors import BackendUnavailableError
from edge_sdk.model_dir import ModelDir


@pytest.fixture(scope="module")
def opt_tool() -> str:
    try:
        return find_opt()
    except BackendUnavailableError:
        if os.environ.get("EDGE_SDK_REQUIRE_PADDLE_LITE_OPT"):
            pytest.fail(f"EDGE_SDK_REQUIRE_PADDLE_LITE_OPT is set but no opt was found (set ${OPT_ENV})")
        pytest.skip(f"no Paddle Lite opt here: set ${OPT_ENV} to a paddle_lite_opt (scripts/setup_py39.sh makes one)")


@pytest.fixture(scope="module")
def x86_nb(opt_tool: str, paddle_model: ModelDir, tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    out = tmp_path_factory.mktemp("lite") / "rec-lite"
    return out, convert(str(paddle_model.path), "paddlelite", out, valid_places="x86", opt_path=opt_tool)


def test_x86_nb_through_external_opt(x86_nb) -> None:  # type: ignore[no-untyped-def]
    out, r = x86_nb
    m = json.loads((out / "manifest.json").read_text())
    assert (out / "inference.nb").stat().st_size > 5_000_000
    assert m["runtime"] == {"opt_version": "v2.13-rc", "valid_places": "x86"}
    if importlib.util.find_spec("paddlelite") is None:  # the usual case in this leg: the runtime is elsewhere
        assert r.parity is None and m["parity"]["run"] is False
        assert "needs the Python package 'paddlelite'" in m["parity"]["reason"]
    else:
        assert r.parity is not None and r.parity.passed


def test_bench_runs_the_nb_with_the_lite_python(x86_nb, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """`edge-sdk bench --lite-python`: the .nb case runs in the Python that has paddlelite."""
    lite_python = os.environ.get("EDGE_SDK_LITE_PYTHON")
    if not lite_python:
        if os.environ.get("EDGE_SDK_REQUIRE_PADDLE_LITE_OPT"):
            pytest.fail("EDGE_SDK_LITE_PYTHON is not set (scripts/test.sh points it at .venv39/bin/python)")
        pytest.skip("no Python with paddlelite: set EDGE_SDK_LITE_PYTHON")
    from click.testing import CliRunner

    from edge_sdk.cli import main
    from edge_sdk.datasets import SAMPLES_DIR

    out, _ = x86_nb
    report = tmp_path / "bench.json"
    res = CliRunner().invoke(main, ["bench", str(out), "--data", str(SAMPLES_DIR), "--reference", "none",
                                    "--runs", "3", "--widths", "320", "--rounds", "1", "--json", str(report)])
    assert res.exit_code == 0, res.output
    (case,) = json.loads(report.read_text())["cases"]
    assert case["backend"] == "paddlelite" and case["lines"] == 8 and case["lines_per_s"] > 0


def test_bad_opt_path_is_a_clear_error(paddle_model: ModelDir, tmp_path: Path) -> None:
    with pytest.raises(BackendUnavailableError, match="is not an executable file"):
        convert(str(paddle_model.path), "paddlelite", tmp_path / "o", opt_path=str(tmp_path / "nope"))
