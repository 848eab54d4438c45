"""The engine's columnar read path and bulk JSON encoding agree with the plain ones."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import orjson
import pytest

from tidewatch.labels import Labels, from_dict
from tidewatch.matcher import Matcher, MatchType
from tidewatch.promql.engine import Engine, result_to_json
from tidewatch.promql.errors import go_format_f
from tidewatch.promql.memstore import MemoryStorage
from tidewatch.promql.packing import pack_series, select_packed
from tidewatch.promql.result_json import format_values
from tidewatch.promql.values import Matrix, MatrixSeries
from tidewatch.tsdb import TSDB, TSDBOptions
from tidewatch.value import STALE_NAN

HOUR = 3600_000
T0 = 1_700_000_000_000


def _fill(
    db: TSDB, ref: MemoryStorage, start: int, steps: int, names: list[str], jitter: int = 0
) -> None:
    """Appends scrapes to ``db``; what the TSDB accepted also goes to ``ref``."""
    batch: list[tuple[Labels, int, float]] = []

    def commit() -> None:
        app = db.appender()
        for lbls, t, v in batch:
            app.append(0, lbls, t, v)
        stats = app.commit()
        assert stats.samples in (0, len(batch)), stats  # all or nothing per batch
        if stats.samples:
            for lbls, t, v in batch:
                ref.add(lbls, t, v)
        batch.clear()

    for step in range(steps):
        for i, name in enumerate(names):
            for inst in range(8):  # enough samples for multi-frame blocks
                lbls = from_dict({"__name__": name, "instance": f"i{inst}", "job": "j"})
                t = start + step * 15_000 + i * 7 + inst + jitter
                v = STALE_NAN if step % 97 == 5 else float(step * (inst + 1))
                batch.append((lbls, t, v))
        if step % 50 == 49:
            commit()
    commit()


@pytest.fixture
def stores(tmp_path: Path) -> Iterator[tuple[TSDB, MemoryStorage]]:
    opts = TSDBOptions(out_of_order_window_ms=4 * HOUR)
    d = TSDB.open(str(tmp_path / "db"), opts)
    ref = MemoryStorage()
    _fill(d, ref, T0, 6 * 240, ["a_total", "b", "d", "e", "f"])  # 6 h: cut into blocks
    d.maintain()
    assert d.blocks, "expected head blocks to be cut"
    _fill(d, ref, T0 + 6 * HOUR, 100, ["a_total", "c"])  # head data after the blocks
    _fill(d, ref, T0 + 5 * HOUR, 20, ["a_total"], jitter=3)  # out of order, overlapping
    yield d, ref
    d.close()


MATCHERS = [
    [Matcher(MatchType.EQUAL, "__name__", "a_total")],
    [Matcher(MatchType.REGEX, "__name__", ".+"), Matcher(MatchType.NOT_EQUAL, "instance", "i1")],
    [Matcher(MatchType.EQUAL, "__name__", "c")],
    [Matcher(MatchType.EQUAL, "__name__", "none")],
]
RANGES = [
    (T0, T0 + 7 * HOUR),
    (T0 + 5 * HOUR - 1, T0 + 6 * HOUR + 60_000),
    (T0 + HOUR, T0 + HOUR),
    (T0 + 3 * HOUR + 60_000, T0 + 3 * HOUR + 400_000),
]


@pytest.mark.parametrize("drop_stale", [False, True])
def test_select_columns_matches_select(
    stores: tuple[TSDB, MemoryStorage], drop_stale: bool
) -> None:
    db, ref = stores
    q, rq = db.querier(), ref.querier()
    for ms in MATCHERS:
        for mint, maxt in RANGES:
            want_series = rq.select(ms, mint, maxt)
            plain = q.select(ms, mint, maxt)
            assert [s.labels for s in plain] == [s.labels for s in want_series]
            for a, b in zip(plain, want_series, strict=True):
                assert np.array_equal(a.ts, b.ts)
                assert np.array_equal(a.values.view(np.int64), b.values.view(np.int64))
            want = pack_series(want_series, mint, maxt, drop_stale=drop_stale)
            got = select_packed(q, ms, mint, maxt, mint, maxt, drop_stale=drop_stale)
            assert got.labels == want.labels
            assert np.array_equal(got.ts, want.ts)
            assert np.array_equal(got.values.view(np.int64), want.values.view(np.int64))
            assert np.array_equal(got.starts, want.starts)
            assert np.array_equal(got.key, want.key)


def test_range_query_over_blocks_and_head(stores: tuple[TSDB, MemoryStorage]) -> None:
    db, _ = stores
    res = Engine().range_query(
        db.querier(), "sum by (job) (rate(a_total[5m]))", T0 + HOUR, T0 + 7 * HOUR, 60_000
    )
    assert isinstance(res.value, Matrix)
    [series] = res.value.series
    assert len(series.ts) > 300 and np.isfinite(series.values).all()


def test_format_values_matches_go_printer() -> None:
    rng = np.random.default_rng(1)
    special = [0.0, -0.0, 1.0, -12.0, 0.5, 1e15, 1e16, 2.5e-5, 1e-4, 123456.789, 1e300, 5e-324]
    vals = np.concatenate(
        [
            np.array([*special, np.nan, np.inf, -np.inf]),
            rng.uniform(-1e6, 1e6, 2000),
            np.round(rng.uniform(-1e17, 1e17, 2000)),
            rng.uniform(0, 1e-3, 2000),
            rng.integers(0, 2**64, 2000, dtype=np.uint64).view(np.float64),
        ]
    )
    assert format_values(vals) == [go_format_f(v) for v in vals.tolist()]


def test_matrix_json_points() -> None:
    m = Matrix(
        [
            MatrixSeries((("a", "1"),), np.array([1000, 2500, 3000]), np.array([1.0, 0.5, np.nan])),
            MatrixSeries((("a", "2"),), np.array([-1500]), np.array([np.inf])),
        ]
    )
    from tidewatch.promql.engine import QueryResult

    data = orjson.loads(orjson.dumps(result_to_json(QueryResult(m))))
    assert data == {
        "resultType": "matrix",
        "result": [
            {"metric": {"a": "1"}, "values": [[1, "1"], [2.5, "0.5"], [3, "NaN"]]},
            {"metric": {"a": "2"}, "values": [[-1.5, "+Inf"]]},
        ],
    }
