"""setup.py's UI build hook: builds the bundle with npm, and degrades (never fails the
install) when Node is missing or the build is switched off."""

from __future__ import annotations

import gzip
import runpy
import shutil
from pathlib import Path
from typing import Any

import pytest
import setuptools

from tidewatch.web.ui import find_static_dir

REPO = Path(__file__).resolve().parents[2]
JS_BUDGET_GZIP = 300 * 1024


@pytest.fixture
def hook(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    # Load setup.py as a module without running setup() itself.
    monkeypatch.setattr(setuptools, "setup", lambda **kw: None)
    return runpy.run_path(str(REPO / "setup.py"), run_name="tidewatch_setup")


def test_skipped_on_request(hook: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TIDEWATCH_SKIP_UI_BUILD", "1")
    assert hook["build_ui"]() is None


def test_without_node_the_install_goes_on(
    hook: dict[str, Any], monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: Any
) -> None:
    monkeypatch.delenv("TIDEWATCH_SKIP_UI_BUILD", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))  # no npm, no node
    assert hook["build_ui"]() is None
    assert "npm" in capsys.readouterr().err


def test_builds_a_bundle_within_budget(
    hook: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    if shutil.which("npm") is None or not (REPO / "ui" / "node_modules").is_dir():
        pytest.skip("needs npm and ui/node_modules (pip install -e . or npm ci in ui/)")
    monkeypatch.delenv("TIDEWATCH_SKIP_UI_BUILD", raising=False)
    out = hook["build_ui"]()
    assert out is not None
    try:
        assert find_static_dir((out,)) == out
        js = (out / "app.js").read_bytes()
        assert len(gzip.compress(js)) < JS_BUDGET_GZIP
        assert (out / "app.js.gz").is_file()
        assert "/ui/assets/app.js" in (out / "index.html").read_text()
    finally:
        shutil.rmtree(out, ignore_errors=True)
