"""Printer: canonical String() form, Prettify, and the parse_query JSON tree."""

from __future__ import annotations

import json
import math

import pytest

from tidewatch.promql.ast import NumberLiteral
from tidewatch.promql.parser import parse_expr
from tidewatch.promql.printer import (
    ast_to_json,
    format_duration_ms,
    format_expr,
    format_float,
    prettify,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('sum by() (task:errors:rate10s{job="s"})', 'sum(task:errors:rate10s{job="s"})'),
        ("sum by(code) (foo)", "sum by (code) (foo)"),
        ("sum without() (foo)", "sum without () (foo)"),
        ("sum(foo) without(a,b)", "sum without (a, b) (foo)"),
        ('sum by("foo.bar") (foo)', 'sum by ("foo.bar") (foo)'),
        ("topk(5, foo)", "topk(5, foo)"),
        ('count_values("v", foo)', 'count_values("v", foo)'),
        ("a + on(x) b", "a + on (x) b"),
        ("a + ignoring(x) b", "a + ignoring (x) b"),
        ("a * on(x) group_left b", "a * on (x) group_left () b"),
        ("a * ignoring() group_right(y,z) b", "a * ignoring () group_right (y, z) b"),
        ("a > bool 1", "a > bool 1"),
        ("a and on() b", "a and on () b"),
        ("a + fill(0) b", "a + fill (0) b"),
        ("a + fill_left(1) fill_right(2) b", "a + fill_left (1) fill_right (2) b"),
        ("a + fill_right(1e6) b", "a + fill_right (1e+06) b"),
        ("-a", "-a"),
        ("- 1", "-1"),
        ("1 - -1", "1 - -1"),
        ("(a + b) * c", "(a + b) * c"),
        ("foo offset 5m", "foo offset 5m"),
        ("foo offset -7m", "foo offset -7m"),
        ("foo offset 90d", "foo offset 90d"),
        ("foo offset 14d", "foo offset 2w"),
        ("foo offset 1h30m", "foo offset 1h30m"),
        ("foo[5m] offset 1m", "foo[5m] offset 1m"),
        ("foo[90]", "foo[1m30s]"),
        ("foo[1.5]", "foo[1s500ms]"),
        ("foo @ 10", "foo @ 10.000"),
        ("foo @ start()", "foo @ start()"),
        ("foo[5m] @ end() offset 1m", "foo[5m] @ end() offset 1m"),
        ("foo offset 1m @ 5", "foo @ 5.000 offset 1m"),
        ("rate(foo[1m])[5m:]", "rate(foo[1m])[5m:]"),
        ("rate(foo[1m])[5m:1m] @ 100 offset 1m", "rate(foo[1m])[5m:1m] @ 100.000 offset 1m"),
        ('foo{b="1", a="2"}', 'foo{a="2",b="1"}'),
        ('{__name__="foo", a="x"}', '{__name__="foo",a="x"}'),
        ('{"my.metric", "a.b"=~"c"}', '{"a.b"=~"c",__name__="my.metric"}'),
        ('foo{a="quote\\"nl\\n"}', 'foo{a="quote\\"nl\\n"}'),
        ("'single'", '"single"'),
        ("`raw\\`", '"raw\\\\"'),
        ("1e20", "100000000000000000000"),
        ("5e-7", "0.0000005"),
        ("0x10", "16"),
        ("Inf", "+Inf"),
        ("-inf", "-Inf"),
        ("NaN", "NaN"),
        ("1h30m", "1h30m"),
        ("-1m", "-1m"),
        ("foo[5m] anchored", "foo[5m] anchored"),
        ("foo smoothed", "foo smoothed"),
        ("foo[step() * 2]", "foo[step() * 2]"),
        ("foo[-(10s-5s)+20s]", "foo[-(10s - 5s) + 20s]"),
        ("foo[max_of(step(),5s)]", "foo[max_of(step(), 5s)]"),
        ("foo offset -min_of(5s,step()+8s)", "foo offset -min_of(5s, step() + 8s)"),
        ("foo offset (1m)", "foo offset (1m)"),
        ("foo[5m:step()]", "foo[5m:step()]"),
        ('label_join(a, "d", ",", "s1", "s2")', 'label_join(a, "d", ",", "s1", "s2")'),
        ("a </ 1.5", "a </ 1.5"),
        ("a atan2 b", "a atan2 b"),
    ],
)
def test_format_expr(text: str, expected: str) -> None:
    assert format_expr(parse_expr(text)) == expected
    # The canonical form parses back to itself.
    assert format_expr(parse_expr(expected)) == expected


@pytest.mark.parametrize(
    ("ms", "text"),
    [
        (0, "0s"),
        (1, "1ms"),
        (1500, "1s500ms"),
        (90 * 60_000, "1h30m"),
        (7 * 86_400_000, "1w"),
        (90 * 86_400_000, "90d"),
        (365 * 86_400_000, "1y"),
        (366 * 86_400_000, "366d"),
        (365 * 86_400_000 + 1000, "365d1s"),
    ],
)
def test_format_duration(ms: int, text: str) -> None:
    assert format_duration_ms(ms) == text


def test_format_float() -> None:
    assert [format_float(v) for v in (1.0, -0.5, 123.4567, 1e21, math.inf)] == [
        "1",
        "-0.5",
        "123.4567",
        "1000000000000000000000",
        "+Inf",
    ]


PRETTY_10 = [
    ("sum(foo)", "sum(foo)"),
    (
        'sum by(job,foo) (task:errors:rate10s{job="s"})',
        'sum by (job, foo) (\n  task:errors:rate10s{job="s"}\n)',
    ),
    (
        'topk(10, ask:errors:rate10s{job="s"})',
        'topk(\n  10,\n  ask:errors:rate10s{job="s"}\n)',
    ),
    ("a + b", "a + b"),
    (
        "first_metric + second_metric",
        "  first_metric\n+\n  second_metric",
    ),
    (
        "a_long_metric_name + on(x) group_left(y) other_metric",
        "  a_long_metric_name\n+ on (x) group_left (y)\n  other_metric",
    ),
    (
        "rate(some_metric_name[5m])",
        "rate(\n  some_metric_name[5m]\n)",
    ),
    (
        "(first_metric)",
        "(\n  first_metric\n)",
    ),
    (
        "-some_long_metric",
        "-some_long_metric",
    ),
    (
        "rate(some_metric_name[5m])[1h:]",
        "rate(\n  some_metric_name[5m]\n)[1h:]",
    ),
]


@pytest.mark.parametrize(("text", "expected"), PRETTY_10)
def test_prettify_narrow(text: str, expected: str) -> None:
    assert prettify(parse_expr(text), max_width=10) == expected


def test_prettify_default_width_keeps_short_queries_on_one_line() -> None:
    text = 'sum by (job) (rate(http_requests_total{code="500"}[5m]))'
    assert prettify(parse_expr(text)) == text
    long = " + ".join(f"metric_number_{i}" for i in range(8))
    out = prettify(parse_expr(long))
    assert "\n" in out
    assert all(len(line) <= 100 for line in out.split("\n"))
    assert format_expr(parse_expr(out)) == long


def test_ast_to_json_shapes() -> None:
    e = parse_expr('sum by (job) (rate(foo{a=~"b"}[5m] offset 1m)) > bool on() 0.5')
    data = ast_to_json(e)
    json.dumps(data)  # serialisable as it stands
    assert data["type"] == "binaryExpr" and data["op"] == ">" and data["bool"] is True
    assert data["rhs"] == {"type": "numberLiteral", "val": "0.5"}
    # matching is dropped when one side is a scalar, as checkAST does
    assert data["matching"] is None
    agg = data["lhs"]
    assert (agg["type"], agg["op"], agg["grouping"], agg["without"], agg["param"]) == (
        "aggregation",
        "sum",
        ["job"],
        False,
        None,
    )
    call = agg["expr"]
    assert call["type"] == "call"
    assert call["func"] == {
        "name": "rate",
        "argTypes": ["matrix"],
        "variadic": 0,
        "returnType": "vector",
    }
    ms = call["args"][0]
    assert ms == {
        "type": "matrixSelector",
        "name": "foo",
        "range": 300_000,
        "rangeExpr": None,
        "offset": 60_000,
        "offsetExpr": None,
        "matchers": [
            {"name": "a", "value": "b", "type": "=~"},
            {"name": "__name__", "value": "foo", "type": "="},
        ],
        "timestamp": None,
        "startOrEnd": None,
        "anchored": False,
        "smoothed": False,
    }


def test_ast_to_json_vector_matching_and_subquery() -> None:
    data = ast_to_json(parse_expr("a * on(x) group_left(y) fill_left(1) b"))
    assert data["matching"] == {
        "card": "many-to-one",
        "labels": ["x"],
        "on": True,
        "include": ["y"],
        "fillValues": {"lhs": 1.0, "rhs": None},
    }
    sub = ast_to_json(parse_expr("rate(foo[1m])[5m:step()] @ start()"))
    assert sub["type"] == "subquery" and sub["range"] == 300_000 and sub["step"] == 0
    assert sub["stepExpr"] == {
        "type": "durationExpr",
        "op": "step",
        "lhs": None,
        "rhs": None,
        "wrapped": False,
    }
    assert sub["startOrEnd"] == "start" and sub["timestamp"] is None
    vs = ast_to_json(parse_expr("foo @ 1.5"))
    assert vs["type"] == "vectorSelector" and vs["timestamp"] == 1500
    assert ast_to_json(parse_expr('"x"')) == {"type": "stringLiteral", "val": "x"}
    un = ast_to_json(parse_expr("-(foo)"))
    assert un == {
        "type": "unaryExpr",
        "op": "-",
        "expr": {"type": "parenExpr", "expr": ast_to_json(parse_expr("foo"))},
    }
    assert ast_to_json(NumberLiteral(math.inf)) == {"type": "numberLiteral", "val": "+Inf"}
