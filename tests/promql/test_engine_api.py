"""Engine API behaviour: result JSON shapes, error types, limits, timeouts."""

from __future__ import annotations

import threading

import numpy as np
import orjson
import pytest

from tidewatch.labels import from_dict
from tidewatch.promql.engine import Engine, QueryError, result_to_json
from tidewatch.promql.memstore import MemoryStorage
from tidewatch.value import STALE_NAN


@pytest.fixture
def store() -> MemoryStorage:
    s = MemoryStorage()
    for inst in ("a", "b"):
        lbls = from_dict({"__name__": "http_requests_total", "instance": inst, "job": "api"})
        s.add_many(lbls, list(range(0, 600_000, 15_000)), [float(i) for i in range(40)])
    s.add_many(from_dict({"__name__": "gone"}), [0, 30_000], [1.0, STALE_NAN])
    return s


def test_instant_vector_json(store: MemoryStorage) -> None:
    res = Engine().instant_query(store.querier(), 'http_requests_total{instance="a"}', 300_500)
    data = result_to_json(res)
    assert data == {
        "resultType": "vector",
        "result": [
            {
                "metric": {"__name__": "http_requests_total", "instance": "a", "job": "api"},
                "value": [300.5, "20"],
            }
        ],
    }


def test_range_matrix_json_and_stats(store: MemoryStorage) -> None:
    res = Engine().range_query(
        store.querier(), "sum by (job) (rate(http_requests_total[1m]))", 60_000, 120_000, 30_000
    )
    # Matrix points are pre-encoded orjson fragments: compare the encoded JSON.
    data = orjson.loads(orjson.dumps(result_to_json(res, with_stats=True)))
    assert data["resultType"] == "matrix"
    [series] = data["result"]
    assert series["metric"] == {"job": "api"}
    assert [t for t, _ in series["values"]] == [60, 90, 120]
    assert all(
        isinstance(v, str) and float(v) == pytest.approx(2 / 15) for _, v in series["values"]
    )
    assert set(data["stats"]["timings"]) >= {"evalTotalTime", "execTotalTime"}
    assert data["stats"]["samples"]["totalQueryableSamples"] > 0


def test_scalar_and_string_json(store: MemoryStorage) -> None:
    q = store.querier()
    assert result_to_json(Engine().instant_query(q, "1/0", 1000)) == {
        "resultType": "scalar",
        "result": [1, "+Inf"],
    }
    assert result_to_json(Engine().instant_query(q, '"hi"', 1500)) == {
        "resultType": "string",
        "result": [1.5, "hi"],
    }
    assert result_to_json(Engine().instant_query(q, "-1e-7", 0))["result"][1] == "-0.0000001"


def test_staleness_marker_hides_series(store: MemoryStorage) -> None:
    q = store.querier()
    assert len(Engine().instant_query(q, "gone", 20_000).value.samples) == 1  # type: ignore[union-attr]
    assert Engine().instant_query(q, "gone", 40_000).value.samples == []  # type: ignore[union-attr]


def test_lookback_delta_override(store: MemoryStorage) -> None:
    q = store.querier()
    t = 585_000 + 60_000  # last sample at 585s
    assert Engine().instant_query(q, "http_requests_total", t).value.samples  # type: ignore[union-attr]
    res = Engine().instant_query(q, "http_requests_total", t, lookback_delta_ms=30_000)
    assert res.value.samples == []  # type: ignore[union-attr]


def test_parse_error_is_bad_data(store: MemoryStorage) -> None:
    with pytest.raises(QueryError) as exc:
        Engine().instant_query(store.querier(), "sum(", 0)
    assert exc.value.error_type == "bad_data"


def test_range_query_of_matrix_is_bad_data(store: MemoryStorage) -> None:
    with pytest.raises(QueryError) as exc:
        Engine().range_query(store.querier(), "http_requests_total[5m]", 0, 60_000, 15_000)
    assert exc.value.error_type == "bad_data"
    assert 'invalid expression type "range vector" for range query' in str(exc.value)


def test_too_many_points_and_bad_step(store: MemoryStorage) -> None:
    q = store.querier()
    with pytest.raises(QueryError) as exc:
        Engine().range_query(q, "1", 0, 11_001 * 1000, 1000)
    assert exc.value.error_type == "bad_data"
    assert "11,000 points" in str(exc.value)
    with pytest.raises(QueryError) as exc:
        Engine().range_query(q, "1", 0, 1000, 0)
    assert exc.value.error_type == "bad_data"


def test_execution_errors(store: MemoryStorage) -> None:
    q = store.querier()
    with pytest.raises(QueryError) as exc:
        Engine().instant_query(q, "http_requests_total + on(job) http_requests_total", 60_000)
    assert exc.value.error_type == "execution"
    assert 'found duplicate series for the match group {job="api"}' in str(exc.value)
    with pytest.raises(QueryError) as exc:
        Engine().instant_query(q, 'label_replace(http_requests_total, "instance", "x", "", "")', 0)
    assert str(exc.value) == "vector cannot contain metrics with the same labelset"


def test_max_samples(store: MemoryStorage) -> None:
    engine = Engine(max_samples=10)
    with pytest.raises(QueryError) as exc:
        engine.instant_query(store.querier(), "sum_over_time(http_requests_total[10m])", 600_000)
    assert exc.value.error_type == "execution"
    assert "query processing would load too many samples into memory" in str(exc.value)


class SlowQuerier:
    """Each select takes a while, like a cold disk read."""

    def __init__(self, inner: object, delay_s: float) -> None:
        self.inner = inner
        self.delay_s = delay_s
        self.calls = 0

    def select(self, matchers: object, mint: int, maxt: int) -> object:
        self.calls += 1
        threading.Event().wait(self.delay_s)
        return self.inner.select(matchers, mint, maxt)  # type: ignore[attr-defined]


def test_timeout_stops_evaluation(store: MemoryStorage) -> None:
    slow = SlowQuerier(store.querier(), 0.05)
    query = " + ".join(["sum(http_requests_total)"] * 50)
    with pytest.raises(QueryError) as exc:
        Engine().instant_query(slow, query, 60_000, timeout_ms=120)  # type: ignore[arg-type]
    assert exc.value.error_type == "timeout"
    # It stopped early instead of running all 50 selects.
    assert slow.calls < 10


def test_cancel(store: MemoryStorage) -> None:
    ev = threading.Event()
    ev.set()
    with pytest.raises(QueryError) as exc:
        Engine().instant_query(store.querier(), "http_requests_total", 0, cancel=ev)
    assert exc.value.error_type == "canceled"


def test_range_query_matches_instant_queries(store: MemoryStorage) -> None:
    q = store.querier()
    expr = "rate(http_requests_total[2m]) * 60 + deriv(http_requests_total[3m])"
    rng = Engine().range_query(q, expr, 0, 600_000, 45_000)
    for s in rng.value.series:  # type: ignore[union-attr]
        for t, v in zip(s.ts.tolist(), s.values.tolist(), strict=True):
            inst = Engine().instant_query(q, expr, t).value.samples  # type: ignore[union-attr]
            match = [x.value for x in inst if x.labels == s.labels]
            assert match and np.isclose(match[0], v)


def test_limit_ratio_complements(store: MemoryStorage) -> None:
    q = store.querier()
    e = Engine()
    both = e.instant_query(
        q, "limit_ratio(0.3, http_requests_total) or limit_ratio(-0.7, http_requests_total)", 60_000
    )
    assert len(both.value.samples) == 2  # type: ignore[union-attr]
    none = e.instant_query(
        q,
        "limit_ratio(0.3, http_requests_total) and limit_ratio(-0.7, http_requests_total)",
        60_000,
    )
    assert none.value.samples == []  # type: ignore[union-attr]


def test_labels_hash_matches_xxhash64() -> None:
    from tidewatch.promql.labelhash import xxh64

    # Reference values of the xxHash64 specification.
    assert xxh64(b"") == 0xEF46DB3751D8E999
    assert xxh64(b"abc") == 0x44BC2CF5AD770999
    assert xxh64(b"Nobody inspects the spammish repetition") == 0xFBCEA83C8A378BF1


def test_topk_and_limitk_per_group_in_range_queries() -> None:
    s = MemoryStorage()
    for g in ("a", "b"):
        for i in range(4):
            lbls = from_dict({"__name__": "m", "g": g, "i": str(i)})
            # Series i of group a peaks at step i; group b is flat.
            vals = [float(10 if (g == "a" and t == i) else i) for t in range(4)]
            s.add_many(lbls, [t * 60_000 for t in range(4)], vals)
    q = s.querier()
    res = Engine().range_query(q, "topk by (g) (1, m)", 0, 180_000, 60_000)
    got = {(dict(x.labels)["g"], dict(x.labels)["i"]): x.ts.tolist() for x in res.value.series}  # type: ignore[union-attr]
    assert got == {
        ("a", "0"): [0],
        ("a", "1"): [60_000],
        ("a", "2"): [120_000],
        ("a", "3"): [180_000],
        ("b", "3"): [0, 60_000, 120_000, 180_000],
    }
    res = Engine().range_query(q, "count by (g) (limitk by (g) (2, m))", 0, 180_000, 60_000)
    assert [x.values.tolist() for x in res.value.series] == [[2.0] * 4, [2.0] * 4]  # type: ignore[union-attr]
    inst = Engine().instant_query(q, "bottomk(3, m)", 0)
    assert [x.value for x in inst.value.samples] == [0.0, 1.0, 1.0]  # type: ignore[union-attr]
