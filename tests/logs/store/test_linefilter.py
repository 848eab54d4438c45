"""Line filters run over a chunk's joined text give exactly the per-line answer."""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from tidewatch.labels import Labels
from tidewatch.logs.logql import ast
from tidewatch.logs.logql.engine import LogQLEngine, Streams
from tidewatch.logs.logql.parser import parse_expr
from tidewatch.logs.logql.pipeline import line_filter_pred
from tidewatch.logs.logql.store import MemoryLogStore
from tidewatch.logs.push.decode import PushStream
from tidewatch.logs.store import LogStore, LogStoreOptions
from tidewatch.logs.store.columns import decode_columns_filtered, encode_columns
from tidewatch.logs.store.linefilter import blob_regex, plan
from tidewatch.logs.store.prefilter import reader_for

S = 1_000_000_000
NOW = time.time_ns() // S * S

FILTERS = [
    '|= "err"',
    '!= "err"',
    '|~ "err(or)?"',
    '!~ "err(or)?"',
    '|~ "^err"',
    '|~ "or$"',
    '|~ "\\\\d+ms"',
    '|~ "(?i)ERROR"',
    '|~ "err|x(é)?"',  # reduced to the literals err and x
    '!~ "error|ab?"',
    '|~ "é.x"',
    '|~ "[a-c]+r\\\\b"',
    '|= "err" or "xy"',
    '|~ "x{2,}" or "é"',
    '|= "err" != "or" |~ "e.r"',
    '|~ "a\\\\s+b"',  # can span lines: run per line
    '|~ "x*"',  # matches empty: run per line
    '|~ "[^a]b"',
    '|= ""',
]

ALPHABET = ["err", "or", "error", " ", "x", "é", "ab", "a b", "12ms", "ERROR", "b", "r"]


def _filters(text: str) -> list[ast.LineFilter]:
    q = parse_expr('{a="b"} ' + text)
    assert isinstance(q, ast.LogQuery)
    return [s for s in q.stages if isinstance(s, ast.LineFilter)]


def _lines(rng: random.Random, n: int) -> list[str]:
    return ["".join(rng.choices(ALPHABET, k=rng.randrange(0, 8))) for _ in range(n)]


@pytest.mark.parametrize("text", FILTERS)
def test_blob_filter_equals_per_line_filter(text: str) -> None:
    filters = _filters(text)
    f = plan(filters)
    preds = [line_filter_pred(x) for x in filters]
    rng = random.Random(text)
    for _ in range(200):
        n = rng.randrange(1, 60)
        lines = _lines(rng, n)
        md: list[Labels] | None = [(("k", str(i)),) for i in range(n)] if n % 2 else None
        raw = encode_columns(np.arange(n, dtype=np.int64) * 3, lines, md)
        want = [i for i in range(n) if all(p(lines[i]) for p in preds)]
        if f is None:
            continue
        # The planned prefix alone, checked against the same prefix per line.
        prefix = [line_filter_pred(x) for x in filters[: len(f)]]
        want = [i for i in range(n) if all(p(lines[i]) for p in prefix)]
        found = decode_columns_filtered(raw, f)
        assert found is not None
        ts, got, got_md = found
        assert got == [lines[i] for i in want], (lines, text)
        assert ts.tolist() == [i * 3 for i in want]
        if md is not None and want:
            assert got_md == [md[i] for i in want]


def test_which_regexes_run_over_the_blob() -> None:
    for ok in ["err(or)?", "^a", "b$", "\\d+", "(?i)x", "[a-z]+", "a\\.b", "\\bword\\b"]:
        assert blob_regex(ok) is not None, ok
    for bad in ["a\\sb", "[^a]", "(?s)a.b", "a\\nb", "x*", "", "\\x41", "[[:space:]]", "\\pL"]:
        assert blob_regex(bad) is None, bad
    assert plan(_filters('|~ "a\\\\sb" |= "x"')) is None  # the first one ends the run
    p = plan(_filters('|= "x" |~ "a\\\\sb"'))
    assert p is not None and len(p) == 1


@pytest.fixture
def stores(tmp_path: Path) -> Iterator[tuple[LogStore, MemoryLogStore]]:
    disk = LogStore.open(tmp_path, LogStoreOptions(ingestion_rate_mb=0, chunk_target_bytes=3000))
    mem = MemoryLogStore()
    rng = random.Random(11)
    for _ in range(10):
        ts = sorted(NOW - rng.randrange(0, 1800) * S - rng.randrange(S) for _ in range(80))
        lines = _lines(rng, 80)
        for app in ("a", "b"):
            r = disk.push([PushStream(f'{{app="{app}"}}', np.asarray(ts, np.int64), lines)])
            assert r.status == 204, r.message
            for t, line in zip(ts, lines, strict=True):
                mem.push((("app", app),), t, line)
    disk.flush()  # most of it in chunks, the last pushes in the head
    r = disk.push([PushStream('{app="a"}', np.asarray([NOW], np.int64), ["error in head"])])
    mem.push((("app", "a"),), NOW, "error in head")
    yield disk, mem
    disk.close()


@pytest.mark.parametrize("text", FILTERS)
def test_store_answers_equal_the_reference(
    stores: tuple[LogStore, MemoryLogStore], text: str
) -> None:
    disk, mem = stores
    eng = LogQLEngine()
    start, end = NOW - 1900 * S, NOW + S
    query = '{app=~"a|b"} ' + text
    want = eng.query_range(mem, query, start, end, 0, "forward", 0)
    got = eng.query_range(reader_for(disk, query), query, start, end, 0, "forward", 0)
    assert isinstance(want, Streams) and isinstance(got, Streams)
    assert sorted((s.labels, s.entries) for s in got.streams) == sorted(
        (s.labels, s.entries) for s in want.streams
    )
    metric = f'sum by (app) (count_over_time({{app=~".+"}} {text} [5m]))'
    a = eng.query_range(mem, metric, start, end, 60 * S)
    b = eng.query_range(disk, metric, start, end, 60 * S)
    assert repr(a) == repr(b)
