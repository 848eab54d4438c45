"""Every query in Prometheus's own engine test files must parse and print stably."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tidewatch.promql.parser import ParseError, parse_expr
from tidewatch.promql.printer import format_expr, prettify

CONFORMANCE = Path(__file__).resolve().parents[2] / ".." / "shared" / "conformance" / "promql"


def eval_queries(path: Path) -> Iterator[tuple[int, str, bool]]:
    """(line, query, expected to fail) for each ``eval`` command of a .test file."""
    lines = path.read_text().split("\n")
    for i, line in enumerate(lines):
        text = line.strip()
        if not text.startswith("eval"):
            continue
        words = text.split()
        # "eval instant at <t> <query>" / "eval range from <a> to <b> step <s> <query>"
        query = text.split(None, 4)[4] if words[1] == "instant" else text.split(None, 8)[8]
        fails = words[0] == "eval_fail"
        j = i + 1
        while j < len(lines) and lines[j].strip().startswith("expect"):
            fails = fails or lines[j].strip().startswith("expect fail")
            j += 1
        yield i + 1, query, fails


@pytest.fixture(scope="module")
def test_files() -> list[Path]:
    if not CONFORMANCE.is_dir():
        pytest.skip(f"conformance data not found at {CONFORMANCE}")
    return sorted(CONFORMANCE.glob("*.test"))


def test_every_conformance_query_parses(
    test_files: list[Path], capsys: pytest.CaptureFixture[str]
) -> None:
    total = parsed = expected_failures = 0
    failures: list[str] = []
    for path in test_files:
        for line, query, fails in eval_queries(path):
            total += 1
            expected_failures += fails
            try:
                parse_expr(query)
            except ParseError as err:
                failures.append(f"{path.name}:{line}: {query}: {err}")
                continue
            parsed += 1
    with capsys.disabled():
        print(
            f"\nconformance queries: {parsed}/{total} parse "
            f"({expected_failures} are expected to fail at evaluation)"
        )
    # None of the upstream "expect fail" cases is a parse error: they fail in the engine.
    assert failures == []
    assert total > 2000


def test_printing_round_trips(test_files: list[Path]) -> None:
    for path in test_files:
        for line, query, _ in eval_queries(path):
            text = format_expr(parse_expr(query))
            again = parse_expr(text)
            assert format_expr(again) == text, f"{path.name}:{line}"
            pretty = prettify(again, max_width=20)
            assert format_expr(parse_expr(pretty)) == text, f"{path.name}:{line}"
