"""Alert rule files shipped with tidewatch: host, service and self-monitoring alerts.

They are plain Prometheus rule files, so they can be listed in ``rule_files`` of a
tidewatch.yml or prometheus.yml as they are, or copied and tuned.
"""

from __future__ import annotations

from pathlib import Path

SHIPPED_DIR = Path(__file__).resolve().parent


def shipped_rule_files() -> list[Path]:
    """Every shipped rule file, sorted by name."""
    return sorted(SHIPPED_DIR.glob("*.yml"))
