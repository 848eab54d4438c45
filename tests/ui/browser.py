"""Headless Chromium for the UI tests: Debian's /usr/bin/chromium driven by Playwright.

With ``CI`` set a missing browser or Playwright fails the tests; elsewhere they skip.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import pytest

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]


def chromium_path() -> str:
    return os.environ.get("TIDEWATCH_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"


def require_browser() -> Any:
    """The Playwright sync API module, or skip/fail with what is missing."""
    missing = ""
    sync_api: Any = None
    try:
        from playwright import sync_api as playwright_sync

        sync_api = playwright_sync
    except ImportError:
        missing = "the playwright Python package is not installed"
    if not missing and not Path(chromium_path()).exists():
        missing = f"chromium not found at {chromium_path()} (apt-get install chromium)"
    if missing:
        if os.environ.get("CI"):
            pytest.fail(f"browser tests need a browser under CI: {missing}")
        pytest.skip(missing)
    return sync_api


def launch(sync_api: Any) -> tuple[Any, Any]:
    pw = sync_api.sync_playwright().start()
    browser = pw.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
    return pw, browser
