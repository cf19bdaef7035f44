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


def test_x86_nb_through_external_opt(opt_tool: str, paddle_model: ModelDir, tmp_path: Path) -> None:
    r = convert(str(paddle_model.path), "paddlelite", tmp_path / "rec-lite", valid_places="x86", opt_path=opt_tool)
    m = json.loads((tmp_path / "rec-lite" / "manifest.json").read_text())
    assert (tmp_path / "rec-lite" / "inference.nb").stat().st_size > 5_000_000
    assert m["runtime"] == {"opt_version": "v2.13-rc", "valid_places": "x86"}
    if importlib.util.find_spec("paddlelite") is None:  # the usual case in this leg: the runtime is elsewhere
        assert r.parity is None and m["parity"]["run"] is False
        assert "needs the Python package 'paddlelite'" in m["parity"]["reason"]
    else:
        assert r.parity is not None and r.parity.passed


def test_bad_opt_path_is_a_clear_error(paddle_model: ModelDir, tmp_path: Path) -> None:
    with pytest.raises(BackendUnavailableError, match="is not an executable file"):
        convert(str(paddle_model.path), "paddlelite", tmp_path / "o", opt_path=str(tmp_path / "nope"))
