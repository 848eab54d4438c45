"""Parse errors carry Loki's wording and a line/column position."""

from __future__ import annotations

import pytest

from tidewatch.logs.logql import ast
from tidewatch.logs.logql.parser import ParseError, parse_expr


@pytest.mark.parametrize(
    ("query", "message"),
    [
        (
            '{app="a"} |= ',
            "parse error at line 1, col 14: syntax error: unexpected $end, expecting STRING",
        ),
        (
            '{app="a"} | logfmt | x > "1"',
            "parse error at line 1, col 26: syntax error: unexpected STRING",
        ),
        (
            'count_over_time({app="a"})',
            "parse error at line 1, col 26: syntax error: unexpected ), expecting RANGE",
        ),
        (
            '-count_over_time({app="a"}[1m])',
            "syntax error: unexpected count_over_time, expecting NUMBER",
        ),
        ('{app=~".*"}', "queries require at least one regexp or equality matcher"),
        (
            'sum_over_time({app="a"}[1m])',
            "parse error : invalid aggregation sum_over_time without unwrap",
        ),
        (
            'count_over_time({app="a"}[1m]) by (x)',
            "grouping not allowed for count_over_time aggregation",
        ),
        ("0x1A", "unable to parse literal as a float"),
        ('{app="a"} |~ "("', "error parsing regexp"),
        ('{app="a"}\n  | json bad="a["', "parse error at line 2, col 10: cannot parse expression"),
        ('{app="a"} | regexp "nocapture"', "at least one named capture must be supplied"),
        ('{app="a"} | pattern "x"', "at least one capture is required"),
        ("1 and 2", "unexpected literal for left leg of logical/set binary operation"),
    ],
)
def test_error_messages(query: str, message: str) -> None:
    with pytest.raises(ParseError) as info:
        parse_expr(query)
    assert message in str(info.value)


def test_multiline_position() -> None:
    with pytest.raises(ParseError) as info:
        parse_expr('{app="a"}\n| logfmt\n| x >')
    assert str(info.value).startswith("parse error at line 3, col 6:")


def test_label_filter_precedence() -> None:
    expr = parse_expr('{app="a"} | x="1" or y="1" and z="1"')
    assert isinstance(expr, ast.LogQuery)
    stage = expr.stages[0]
    assert isinstance(stage, ast.LabelFilterStage)
    assert isinstance(stage.expr, ast.BinaryLabelFilter) and stage.expr.op == "or"


def test_durations_and_bytes() -> None:
    expr = parse_expr('{app="a"} | logfmt | took > 1.5s and size > 20MB')
    assert isinstance(expr, ast.LogQuery)
    stage = expr.stages[1]
    assert isinstance(stage, ast.LabelFilterStage) and isinstance(stage.expr, ast.BinaryLabelFilter)
    left, right = stage.expr.left, stage.expr.right
    assert (
        isinstance(left, ast.NumericLabelFilter) and left.value == 1.5 and left.kind == "duration"
    )
    assert (
        isinstance(right, ast.NumericLabelFilter) and right.value == 20e6 and right.kind == "bytes"
    )
