"""A few conformance files run against the real TSDB instead of the in-memory store."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from tidewatch.labels import Labels
from tidewatch.promql.promqltest import ScriptRunner

CONFORMANCE = Path(__file__).resolve().parents[2] / ".." / "shared" / "conformance" / "promql"
FILES = ["selectors.test", "staleness.test", "subquery.test", "aggregators.test"]

tsdb = pytest.importorskip("tidewatch.tsdb")


class TSDBScriptStorage:
    """Loads each ``load`` block through a TSDB appender; ``clear`` opens a fresh TSDB."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.generation = 0
        self.db: Any = None
        self.pending: list[tuple[int, Labels, float]] = []
        self.clear()

    def clear(self) -> None:
        if self.db is not None:
            self.db.close()
        self.pending = []
        self.generation += 1
        self.db = tsdb.TSDB.open(str(self.root / f"db{self.generation}"))

    def add_many(self, labels: Labels, ts: Sequence[int], values: Sequence[float]) -> None:
        self.pending.extend((t, labels, v) for t, v in zip(ts, values, strict=True))

    def querier(self) -> Any:
        if self.pending:
            # One commit in time order, as a scrape-fed head would see the samples.
            self.pending.sort(key=lambda p: p[0])
            app = self.db.appender()
            for t, lbls, v in self.pending:
                app.append(0, lbls, t, v)
            stats = app.commit()
            assert not stats.errors, stats.errors
            self.pending = []
        return self.db.querier()

    def close(self) -> None:
        self.db.close()


@pytest.mark.parametrize("name", FILES)
def test_conformance_on_tsdb(name: str, tmp_path: Path) -> None:
    path = CONFORMANCE / name
    if not path.is_file():
        pytest.skip(f"conformance data not found at {CONFORMANCE}")
    storage = TSDBScriptStorage(tmp_path)
    try:
        report = ScriptRunner(storage=storage).run_file(name, path.read_text())
    finally:
        storage.close()
    print(report.summary())
    for line, expr, reason in report.failed:
        print(f"  line {line}: {expr}\n    {reason}")
    assert report.passed > 0
    assert not report.failed, report.summary()
