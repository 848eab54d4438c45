"""Reading back: time order across overlapping chunks, literal pre-filtering equals the
engine's own filtering."""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from tidewatch.labels import Labels
from tidewatch.logs.logql.engine import LogQLEngine, Streams
from tidewatch.logs.logql.parser import parse_expr
from tidewatch.logs.push.decode import PushStream
from tidewatch.logs.store import LogStore, LogStoreOptions
from tidewatch.logs.store.prefilter import reader_for, required_literals
from tidewatch.matcher import Matcher, MatchType

S = 1_000_000_000
NOW = time.time_ns() // S * S


@pytest.fixture
def store(tmp_path: Path) -> Iterator[LogStore]:
    s = LogStore.open(tmp_path, LogStoreOptions(ingestion_rate_mb=0, chunk_target_bytes=2000))
    rng = random.Random(7)
    words = ["alpha", "beta", "needle", "gamma", "delta"]
    for batch in range(20):
        ts = [NOW - rng.randrange(0, 1800) * S - rng.randrange(S) for _ in range(50)]
        lines = [f"{batch} {' '.join(rng.choices(words, k=3))} n={i}" for i in range(50)]
        for app in ("a", "b"):
            r = s.push([PushStream(f'{{app="{app}"}}', np.asarray(ts, np.int64), lines)])
            assert r.status == 204, r.message
    yield s
    s.close()


def test_select_is_time_ordered_across_overlapping_chunks(store: LogStore) -> None:
    assert len(store._by_labels[(("app", "a"),)].chunks) > 3
    m = [Matcher(MatchType.EQUAL, "app", "a")]
    pieces = list(store.select(m, 0, NOW + S))
    ts = np.concatenate([p.ts for p in pieces])
    assert len(ts) == 1000
    assert bool(np.all(np.diff(ts) >= 0))


@pytest.mark.parametrize(
    "query",
    [
        '{app=~"a|b"} |= "needle"',
        '{app="a"} |= "needle" |= "alpha" != "beta"',
        '{app="a"} |= "n=1"',
        'sum by (app) (count_over_time({app=~".+"} |= "needle" [10m]))',
        'count_over_time({app="a"} |= "gamma" [5m]) / count_over_time({app="a"} [5m])',
    ],
)
def test_prefilter_gives_the_same_answer(store: LogStore, query: str) -> None:
    eng = LogQLEngine()
    start, end, step = NOW - 1900 * S, NOW + S, 60 * S
    plain = eng.query_range(store, query, start, end, step, "forward", 0)
    fast = eng.query_range(reader_for(store, query), query, start, end, step, "forward", 0)
    if isinstance(plain, Streams):
        assert isinstance(fast, Streams)
        assert [(s.labels, s.entries) for s in plain.streams] == [
            (s.labels, s.entries) for s in fast.streams
        ]
        assert sum(len(s.entries) for s in plain.streams) > 0
    else:
        assert repr(plain) == repr(fast)


def test_required_literals() -> None:
    assert required_literals(parse_expr('{a="b"} |= "x" != "y" |= "z"')) == ["x", "z"]
    assert required_literals(parse_expr('{a="b"} | json |= "x"')) == []
    assert required_literals(parse_expr('{a="b"} |= "x" or "y"')) == []
    both = 'count_over_time({a="b"} |= "x" |= "y" [1m]) / count_over_time({a="b"} |= "x" [1m])'
    assert required_literals(parse_expr(both)) == ["x"]


def test_decode_containing_matches_a_plain_filter() -> None:
    from tidewatch.logs.store.columns import decode_columns_containing, encode_columns

    rng = random.Random(5)
    for _ in range(300):
        n = rng.randrange(1, 40)
        lines = [
            "".join(rng.choice("ab xy") for _ in range(rng.randrange(0, 12))) for _ in range(n)
        ]
        md: list[Labels] | None = (
            [(("k", str(i)),) for i in range(n)] if rng.random() < 0.5 else None
        )
        raw = encode_columns(np.arange(n, dtype=np.int64) * 7, lines, md)
        needles = rng.choice([["a"], ["ab"], ["x", "b"], ["ab", "y"], ["zz"], ["a a"]])
        ts, got, got_md = decode_columns_containing(raw, needles)
        want = [i for i in range(n) if all(x in lines[i] for x in needles)]
        assert got == [lines[i] for i in want]
        assert ts.tolist() == [i * 7 for i in want]
        if md is not None and want:
            assert got_md == [md[i] for i in want]
