"""Runs Prometheus's PromQL test files (shared conformance data) through the engine."""

from __future__ import annotations

from pathlib import Path

import pytest

from tidewatch.promql.promqltest import ScriptRunner

CONFORMANCE = Path(__file__).resolve().parents[2] / ".." / "shared" / "conformance" / "promql"
FILES = sorted(p.name for p in CONFORMANCE.glob("*.test")) if CONFORMANCE.is_dir() else []

# Files with cases that still fail, each with the reason. The goal is an empty dict.
KNOWN_FAILURES: dict[str, str] = {}


@pytest.mark.parametrize("name", FILES or ["<missing>"])
def test_conformance_file(name: str) -> None:
    if not FILES:
        pytest.skip(f"conformance data not found at {CONFORMANCE}")
    report = ScriptRunner().run_file(name, (CONFORMANCE / name).read_text())
    print(report.summary())
    for line, expr, reason in report.failed:
        print(f"  line {line}: {expr}\n    {reason}")
    if name in KNOWN_FAILURES:
        return
    assert not report.failed, report.summary()
