"""Shared helpers for the config tests: where the shared data lives, and a loader that
returns the ConfigError it raised."""

from __future__ import annotations

from pathlib import Path

import pytest

from tidewatch.config import ConfigError, load_config_text

REPO = Path(__file__).resolve().parents[2]
SHARED = REPO / ".." / "shared"
PLANS = SHARED / "plans"
PROMTOOL_DATA = SHARED / "conformance" / "promtool"


def config_error(text: str, source: str = "prometheus.yml") -> ConfigError:
    with pytest.raises(ConfigError) as info:
        load_config_text(text, source)
    return info.value
