"""Smoke test of the query benchmark: a tiny dataset, end to end against real Prometheus."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
BENCH = REPO / "bench"

pytestmark = pytest.mark.skipif(
    not (os.path.exists("/usr/bin/prometheus") and os.path.exists("/usr/bin/promtool")),
    reason="needs Debian's prometheus and promtool (apt-get install prometheus)",
)


def test_compare_finds_differences() -> None:
    sys.path.insert(0, str(BENCH))
    try:
        from query import compare
    finally:
        sys.path.remove(str(BENCH))

    def vec(*items: tuple[dict[str, str], str]) -> dict[str, object]:
        return {
            "resultType": "vector",
            "result": [{"metric": m, "value": [10, v]} for m, v in items],
        }

    a = vec(({"job": "a"}, "1.0"), ({"job": "b"}, "NaN"))
    assert compare(a, vec(({"job": "b"}, "NaN"), ({"job": "a"}, "1.0000000001")), False) == []
    assert compare(a, vec(({"job": "a"}, "1.001"), ({"job": "b"}, "NaN")), False)
    assert compare(a, vec(({"job": "a"}, "1.0")), False)  # a series missing
    assert compare(a, vec(({"job": "b"}, "NaN"), ({"job": "a"}, "1.0")), True)  # order


def test_compare_ties_accepts_a_tie_broken_the_other_way() -> None:
    sys.path.insert(0, str(BENCH))
    try:
        from query import compare_ties
    finally:
        sys.path.remove(str(BENCH))

    def mat(*items: tuple[str, str]) -> dict[str, object]:
        return {
            "resultType": "matrix",
            "result": [{"metric": {"i": i}, "values": [[60, v]]} for i, v in items],
        }

    top = mat(("a", "9"), ("b", "5.000000000000001"))
    assert compare_ties(top, mat(("a", "9"), ("c", "5"))) == []  # b and c tie
    assert compare_ties(top, mat(("a", "9"), ("c", "4")))  # not a tie: a wrong pick
    assert compare_ties(top, mat(("a", "8"), ("b", "5")))  # a wrong value


def test_quick_run_end_to_end(tmp_path: Path) -> None:
    proc = subprocess.run(
        [
            sys.executable,
            str(BENCH / "query.py"),
            "--quick",
            "--series",
            "50",
            "--hours",
            "0.5",
            "--runs",
            "1",
            "--workdir",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=str(REPO),
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-4000:]
    assert "mismatches: 0; errors: 0" in out, out[-4000:]
    assert "geometric mean tidewatch/prometheus, all" in out
    # Without --keep the imported data is removed; only the last run's logs stay.
    assert [p.name for p in tmp_path.iterdir()] == ["last-run"]
