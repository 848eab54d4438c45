"""Real peers (Debian binaries, PyPI clients) the tests compare against.

On a developer machine a missing peer skips the test with the reason; under CI
(``CI`` set) it fails, because the test command installs every peer and a skip
there would hide a gap.
"""

from __future__ import annotations

import importlib
import os
import shutil
from types import ModuleType

import pytest


def _missing(what: str) -> None:
    message = f"{what} is not installed; `bash scripts/test.sh` installs it"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


def require_binary(name: str) -> str:
    """The path of an executable on PATH, or skip (fail under CI)."""
    path = shutil.which(name)
    if path is None:
        _missing(name)
        raise AssertionError("unreachable")
    return path


def require_module(name: str) -> ModuleType:
    """Import a Python module, or skip (fail under CI)."""
    try:
        return importlib.import_module(name)
    except ImportError:
        _missing(f"Python module {name}")
        raise AssertionError("unreachable") from None
