"""Runs every upstream ``.logqltest`` script; each file is one case printing its counts."""

from __future__ import annotations

from pathlib import Path

import pytest

from tidewatch.logs.logql.logqltest import run_file

CONFORMANCE = Path(__file__).resolve().parents[3] / ".." / "shared" / "conformance" / "logql"
FILES = sorted(CONFORMANCE.glob("*.logqltest"))

# "<file>:<line>" of an eval -> why it fails today. Goal: empty.
KNOWN_FAILURES: dict[str, str] = {}


@pytest.mark.skipif(not FILES, reason="shared conformance data not present")
@pytest.mark.parametrize("path", FILES, ids=[p.name for p in FILES])
def test_logqltest_file(path: Path) -> None:
    results = run_file(path)
    failed = [r for r in results if not r.ok]
    print(f"{path.name}: passed {len(results) - len(failed)}, failed {len(failed)}")
    unexpected = [r for r in failed if r.name not in KNOWN_FAILURES]
    assert results, "no eval cases found"
    assert not unexpected, "\n".join(f"{r.name}: {r.query}\n  {r.message}" for r in unexpected[:20])
