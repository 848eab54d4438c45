"""Build hook: bundles the web UI (``ui/``, built with npm) into the Python package.

Everything else about the package is in pyproject.toml. ``pip install .`` and
``pip install -e .`` run ``npm ci`` and the bundler in ``ui/`` and copy the result
into ``tidewatch/web/static/``, so the installed server needs no Node at run time.
Without Node/npm (or with TIDEWATCH_SKIP_UI_BUILD=1) the install still succeeds and
the server answers ``/`` with how to build the UI.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = Path(__file__).resolve().parent
UI_DIR = HERE / "ui"
STATIC_REL = Path("tidewatch") / "web" / "static"
NPM_TIMEOUT_S = 900


def _say(msg: str) -> None:
    print(f"tidewatch UI build: {msg}", file=sys.stderr, flush=True)


def _needs_npm_ci(ui: Path) -> bool:
    installed = ui / "node_modules" / ".package-lock.json"
    lock = ui / "package-lock.json"
    return not installed.exists() or installed.stat().st_mtime < lock.stat().st_mtime


def build_ui() -> Path | None:
    """Builds ui/ into a temporary directory; returns it, or None (with a reason printed)."""
    if os.environ.get("TIDEWATCH_SKIP_UI_BUILD") == "1":
        _say("skipped (TIDEWATCH_SKIP_UI_BUILD=1); / will say how to build it")
        return None
    if not (UI_DIR / "package.json").is_file():
        _say("no ui/ sources here; the web UI is not bundled")
        return None
    npm = shutil.which("npm")
    node = shutil.which("node")
    if npm is None or node is None:
        _say("Node.js 20+ and npm are needed to build the web UI and were not found;")
        _say("the server works without it and answers / with how to build it")
        return None
    out = Path(tempfile.mkdtemp(prefix="tidewatch-ui-"))
    try:
        if _needs_npm_ci(UI_DIR):
            subprocess.run(
                [npm, "ci", "--no-audit", "--no-fund"],
                cwd=UI_DIR,
                check=True,
                timeout=NPM_TIMEOUT_S,
                stdout=sys.stderr,
            )
        subprocess.run([node, "build.mjs", str(out)], cwd=UI_DIR, check=True, timeout=NPM_TIMEOUT_S)
    except (OSError, subprocess.SubprocessError) as exc:
        _say(f"failed ({exc}); installing without the web UI")
        shutil.rmtree(out, ignore_errors=True)
        return None
    return out


def _copy_tree(src: Path, dest: Path) -> None:
    if dest.exists():
        shutil.rmtree(dest)
    shutil.copytree(src, dest)


class BuildPyWithUI(build_py):
    def run(self) -> None:
        super().run()
        built = build_ui()
        if built is None:
            return
        try:
            # Editable installs import from the source tree; wheels package build_lib.
            editable = bool(getattr(self, "editable_mode", False))
            dest = HERE / STATIC_REL if editable else Path(self.build_lib) / STATIC_REL
            _copy_tree(built, dest)
            _say(f"bundled into {dest}")
        finally:
            shutil.rmtree(built, ignore_errors=True)


setup(cmdclass={"build_py": BuildPyWithUI})
