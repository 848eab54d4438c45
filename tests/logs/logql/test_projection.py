"""A ``sum`` over an additive range aggregation projects each line's labels onto what it
keeps, and ``| json`` then extracts only those: the answers must not change."""

from __future__ import annotations

import random

import pytest

from tidewatch.logs.logql import ast
from tidewatch.logs.logql.engine import LogQLEngine, MatrixResult
from tidewatch.logs.logql.parser import parse_expr
from tidewatch.logs.logql.projection import JsonProjector, projection_for
from tidewatch.logs.logql.store import MemoryLogStore
from tidewatch.logs.logql.values import QueryError

S = 1_000_000_000
T0 = 1_700_000_000 * S

LINES = [
    '{"level":"info","status":200,"msg":"ok","trace":"a1"}',
    '{"level":"error","status":500,"msg":"boom","trace":"b2"}',
    '{"level":"warn","status":429,"duration":1.50,"trace":"c3"}',
    '{"level":"info","nested":{"level":"deep"},"trace":"d4"}',
    '{"level":"info","level":"dup","trace":"e5"}',
    '{"level":"info" , "status":"201"}',
    '{"level":"a", "level" : "b"}',
    '{"level":"a","le\\u0076el":"b"}',
    '{"a":{"b" :1},"level":"n"}',
    '{"msg":"level","level":"v"}',
    '{"level":true,"status":null}',
    '{"level":1,"status":[1,2]}',
    '{"level":1.0e3}',
    '{"lev-el":"x","level":"y"}',
    '{"le vel":"x","level":"y"}',
    '{"msg":"say \\"hi\\": there","level":"info"}',
    '{"level":"info","status":{}}',
    '{"level":"\\u00e9t\\u00e9"}',
    '{"status":200}',
    '{"level":"","status":200}',
    '{"pod":"from-json","level":"info"}',
    '{"a":{"b":"nested-ab"},"a_b":"flat-ab"}',
    "[1,2,3]",
]
BAD = ["not json", '{"level":"info"', "", "{}{}"]

GROUPINGS = [
    "by (level)",
    "by (level, status)",
    "by (pod)",
    "by (pod, level)",
    "by (a_b)",
    "by (a_b, level)",
    "by (pod_extracted)",
    "",
    "without (trace)",
    "without (trace, msg, pod)",
]


def _store(lines: list[str], seed: int) -> MemoryLogStore:
    store = MemoryLogStore()
    rng = random.Random(seed)
    for i in range(600):
        pod = f"p{i % 3}"
        store.push((("app", "x"), ("pod", pod)), T0 + i * S // 2, rng.choice(lines))
    return store


def _run(store: MemoryLogStore, query: str) -> MatrixResult | str:
    eng = LogQLEngine()
    try:
        res = eng.query_range(store, query, T0 + 60 * S, T0 + 300 * S, 15 * S)
    except QueryError as exc:
        return f"error: {exc.message}"
    assert isinstance(res, MatrixResult)
    return res


def _rows(res: MatrixResult | str) -> object:
    """Series with values to 12 significant digits: a rate summed per line group or per
    series may differ in the last bit."""
    if isinstance(res, str):
        return res
    return sorted((lb, t.tolist(), [float(f"{x:.12g}") for x in v]) for lb, t, v in res.series)


@pytest.mark.parametrize("grouping", GROUPINGS)
@pytest.mark.parametrize(
    "pipeline",
    [
        "| json",
        '| json | __error__=""',
        '|= "level" | json',
        '| json | status >= 300 or __error__!=""',
        '| json | level=~"info|warn" | status != 200',
        '| json | pod="p1" | __error__=""',
        '| json | msg="ok" or trace="b2"',
        '| json | a_b!="" | __error__=""',
    ],
)
def test_projection_keeps_the_answer(grouping: str, pipeline: str) -> None:
    store = _store(LINES, 1)
    for op in ("count_over_time", "rate", "bytes_over_time"):
        inner = f'{op}({{app="x"}} {pipeline} [1m])'
        fast = _run(store, f"sum {grouping} ({inner})")
        # "* 1" keeps every label and hides the range aggregation from the projection.
        slow = _run(store, f"sum {grouping} ({inner} * 1)")
        assert _rows(fast) == _rows(slow), (op, grouping, pipeline)


@pytest.mark.parametrize("grouping", ["by (level)", "", "without (trace)"])
def test_a_parse_error_fails_the_query_as_before(grouping: str) -> None:
    store = _store(LINES + BAD, 2)
    inner = 'count_over_time({app="x"} | json [1m])'
    fast = _run(store, f"sum {grouping} ({inner})")
    slow = _run(store, f"sum {grouping} ({inner} * 1)")
    assert isinstance(fast, str) and "JSONParserErr" in fast
    assert fast == slow
    ok = f'sum {grouping} (count_over_time({{app="x"}} | json | __error__="" [1m]))'
    ok_slow = f'sum {grouping} (count_over_time({{app="x"}} | json | __error__="" [1m]) * 1)'
    assert _rows(_run(store, ok)) == _rows(_run(store, ok_slow))
    assert not isinstance(_run(store, ok), str)


def test_which_aggregations_project() -> None:
    def proj(q: str) -> object:
        e = parse_expr(q)
        assert isinstance(e, ast.VectorAggregation)
        return projection_for(e)

    assert proj('sum by (a) (count_over_time({x="y"}[1m]))') is not None
    assert proj('sum(rate({x="y"}[1m]))') is not None
    assert proj('avg by (a) (count_over_time({x="y"}[1m]))') is None
    assert proj('sum by (a) (sum_over_time({x="y"} | unwrap v [1m]))') is None
    assert proj('sum by (a) (count_over_time({x="y"}[1m]) > 1)') is None


def test_json_projector_takes_the_fast_path_for_flat_lines() -> None:
    proj = JsonProjector(frozenset({"level"}))
    lines = ['{"level":"info","n":1}', '{"level":"info","n":1.5}', '{"a":{"level":"x"}}']
    labels, slow = proj.project((("app", "x"),), lines, [0, 1, 2])
    assert labels[0] == (("level", "info"),)
    assert labels[1] == (("level", "info"),)  # a float elsewhere does not matter
    assert slow == [2]  # nested: the full parser decides
