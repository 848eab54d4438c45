"""Parse errors: Prometheus's wording and the position of the offending text."""

from __future__ import annotations

import pytest

from tidewatch.promql.parser import ParseError, parse_expr, parse_metric_selector

# (query, message, (start, end)); positions are offsets into the query.
CASES: list[tuple[str, str, tuple[int, int]]] = [
    # Lexical errors.
    ("", "no expression found in input", (0, 0)),
    ("# just a comment", "no expression found in input", (0, 0)),
    ("1.5.3", 'bad number or duration syntax: "1.5."', (0, 5)),
    ("0de", 'bad number or duration syntax: "0de"', (0, 3)),
    ("5mm", 'bad number or duration syntax: "5mm"', (0, 3)),
    (".", "unexpected character: '.'", (0, 1)),
    ("1 !~ 1", "unexpected character after '!': '~'", (2, 6)),
    ("1 =~ 1", "unexpected character after '=': '~'", (2, 6)),
    ("(1))", "unexpected right parenthesis ')'", (4, 4)),
    ("((1)", "unclosed left parenthesis", (4, 4)),
    ("foo[5m", "unclosed left bracket", (6, 6)),
    ("foo[", "unexpected end of input in duration expression", (4, 4)),
    ('foo{a="b"', "unexpected end of input inside braces", (9, 9)),
    ('foo{a*"b"}', "unexpected character inside braces: '*'", (5, 10)),
    ('"abc', "unterminated quoted string", (0, 4)),
    ("`abc", "unterminated raw string", (0, 4)),
    (r'"\c"', "unknown escape sequence U+0063 'c'", (0, 4)),
    (r'"\x4g"', "illegal character U+0067 'g' in escape sequence", (0, 6)),
    ("foo[5m:1m:1m]", "unexpected colon ':'", (9, 13)),
    ("foo[5m::1m]", "unexpected colon ':'", (7, 11)),
    ("foo[5m x]", "unexpected character: 'x', expected ':'", (7, 9)),
    ('foo["5m"]', "unexpected character in duration expression: '\"'", (4, 9)),
    # Syntax errors.
    ("1+", "unexpected end of input", (2, 2)),
    ("*1", "unexpected <op:*>", (0, 1)),
    ("foo bar", 'unexpected identifier "bar"', (4, 7)),
    ("sum some_metric by (test)", 'unexpected identifier "some_metric"', (4, 15)),
    (
        "sum (some_metric) by test",
        'unexpected identifier "test" in grouping opts, expected "("',
        (21, 25),
    ),
    ("sum by (==) (foo)", "unexpected <op:==> in grouping opts, expected label", (8, 10)),
    (
        "sum by (a b) (foo)",
        'unexpected identifier "b" in grouping opts, expected "," or ")"',
        (10, 11),
    ),
    ("foo{a}", 'unexpected "}" in label matching, expected label matching operator', (5, 6)),
    ("foo{a=}", 'unexpected "}" in label matching, expected string', (6, 7)),
    (
        'foo{a="b" c="d"}',
        'unexpected identifier "c" in label matching, expected "," or "}"',
        (10, 11),
    ),
    ("foo{,}", 'unexpected "," in label matching, expected identifier or "}"', (4, 5)),
    (
        "foo offset",
        "unexpected end of input in offset, expected number, duration, step(), or range()",
        (10, 10),
    ),
    ("foo @", "unexpected end of input in @, expected timestamp", (5, 5)),
    (
        "foo[]",
        'unexpected "]" in subquery or range selector, expected number, duration, step(), or range()',
        (4, 5),
    ),
    (
        "foo[step]",
        'unexpected "]" in subquery or range selector, expected number, duration, step(), or range()',
        (8, 9),
    ),
    ("foo[5m:1m 1m]", 'unexpected duration "1m" in subquery selector, expected "]"', (10, 12)),
    ("a * ignoring(x) ignoring(y) b", "unexpected <ignoring>", (16, 24)),
    ("rate(foo[5m],)", "trailing commas not allowed in function call args", (12, 13)),
    # Semantic errors found while parsing.
    (
        "non_existent_function_far_bar()",
        'unknown function with name "non_existent_function_far_bar"',
        (0, 29),
    ),
    ("sum()", "no arguments for aggregate expression provided", (0, 5)),
    (
        "topk(some_metric)",
        "wrong number of arguments for aggregate expression provided, expected 2, got 1",
        (0, 17),
    ),
    (
        "sum(1, foo)",
        "wrong number of arguments for aggregate expression provided, expected 1, got 2",
        (0, 11),
    ),
    (
        "1 offset 1d",
        "offset modifier must be preceded by an instant vector selector or range vector selector or a subquery",
        (0, 1),
    ),
    ("foo offset 1s offset 2d", "offset may not be set multiple times", (0, 13)),
    ("foo @ 1 @ 2", "@ <timestamp> may not be set multiple times", (0, 7)),
    (
        "sum(foo) @ 5",
        "@ modifier must be preceded by an instant vector selector or range vector selector or a subquery",
        (0, 8),
    ),
    ("foo @ +Inf", "timestamp out of bounds for @ modifier: +Inf", (0, 3)),
    ("foo offset 5m[5m]", "no offset modifiers allowed before range", (13, 17)),
    ("foo @ 3 [5m]", "no @ modifiers allowed before range", (8, 12)),
    ("(foo)[5m]", "ranges only allowed for vector selectors", (5, 9)),
    ("foo[0s]", "duration must be greater than 0", (4, 6)),
    ("foo[5m1h]", 'not a valid duration string: "5m1h"', (4, 8)),
    ("foo[5y1hs]", 'unknown unit "hs" in duration "5y1hs"', (4, 9)),
    ("foo[1m/0]", "division by zero", (6, 7)),
    ("foo[1m%0]", "modulo by zero", (6, 7)),
    ("foo[5m:0s]", "duration must be greater than 0", (7, 9)),
    ("foo smoothed anchored", "anchored and smoothed modifiers cannot be used together", (0, 3)),
    ("rate(foo[5m])[1h:] anchored", "anchored modifier is not supported for subqueries", (0, 18)),
    ("a + fill(1) 2", "filling in missing series only allowed between instant vectors", (0, 13)),
    ("a and fill(1) b", "filling in missing series not allowed for set operators", (0, 15)),
    # Type checks (checkAST).
    (
        "rate(foo)",
        'expected type range vector in call to function "rate", got instant vector',
        (5, 8),
    ),
    ("floor()", 'expected 1 argument(s) in call to "floor", got 0', (0, 7)),
    ("floor(1, 2)", 'expected 1 argument(s) in call to "floor", got 2', (0, 11)),
    ("floor(1)", 'expected type instant vector in call to function "floor", got scalar', (6, 7)),
    ("hour(1, 2, 3)", 'expected at most 1 argument(s) in call to "hour", got 3', (0, 13)),
    (
        'label_join(foo, "a")',
        'expected at least 3 argument(s) in call to "label_join", got 2',
        (0, 20),
    ),
    ("time(1)", 'expected 0 argument(s) in call to "time", got 1', (0, 7)),
    ('topk("x", foo)', "expected type scalar in aggregation parameter, got string", (5, 8)),
    ("count_values(1, foo)", "expected type string in aggregation parameter, got scalar", (13, 14)),
    ("sum(1)", "expected type instant vector in aggregation expression, got scalar", (4, 5)),
    ("1 and 1", 'set operator "and" not allowed in binary scalar expression', (0, 7)),
    ("foo or 1", 'set operator "or" not allowed in binary scalar expression', (0, 8)),
    ("1 == 1", "comparisons between scalars must use BOOL modifier", (2, 3)),
    ("foo + bool bar", "bool modifier can only be used on comparison operators", (4, 9)),
    ("1 + on(a) foo", "vector matching only allowed between instant vectors", (0, 13)),
    ("foo and on(a) group_left(b) bar", 'no grouping allowed for "and" operation', (0, 31)),
    (
        "foo * on(a) group_left(a) bar",
        'label "a" must not occur in ON and GROUP clause at once',
        (4, 24),
    ),
    ("foo[5m] + 1", "binary expression must contain only scalar and instant vector types", (0, 7)),
    (
        '-"string"',
        'unary expression only allowed on expressions of type scalar or instant vector, got "string"',
        (0, 9),
    ),
    (
        "-foo[5m]",
        'unary expression only allowed on expressions of type scalar or instant vector, got "range vector"',
        (0, 8),
    ),
    ("foo[5m][5m:]", "subquery is only allowed on instant vector, got matrix instead", (0, 12)),
    ("{}", "vector selector must contain at least one non-empty matcher", (0, 2)),
    ('{x=""}', "vector selector must contain at least one non-empty matcher", (0, 6)),
    ('{x=~".*"}', "vector selector must contain at least one non-empty matcher", (0, 9)),
    ('foo{__name__="bar"}', 'metric name must not be set twice: "foo" or "bar"', (0, 19)),
    (
        'info(foo, bar{a="b"})',
        "expected label selectors only, got vector selector instead",
        (10, 20),
    ),
    ('info(foo, {a="b"} == 1)', "expected label selectors only", (10, 22)),
]


@pytest.mark.parametrize(("query", "message", "pos"), CASES, ids=[c[0] or "<empty>" for c in CASES])
def test_error_message_and_position(query: str, message: str, pos: tuple[int, int]) -> None:
    with pytest.raises(ParseError) as info:
        parse_expr(query)
    err = info.value
    assert err.message == message
    assert (err.pos_start, err.pos_end) == pos


def test_error_string_has_line_and_column() -> None:
    with pytest.raises(ParseError) as info:
        parse_expr('rate(foo{job="a"})')
    assert str(info.value) == (
        '1:6: parse error: expected type range vector in call to function "rate", '
        "got instant vector"
    )
    with pytest.raises(ParseError) as info:
        parse_expr("sum(\n  foo\n) +")
    assert str(info.value) == "3:4: parse error: unexpected end of input"
    with pytest.raises(ParseError) as info:
        parse_expr("")
    assert str(info.value) == "unknown position: parse error: no expression found in input"


def test_first_error_wins() -> None:
    # The syntax error comes before the lexical one further right.
    with pytest.raises(ParseError, match="unexpected <op:\\*>"):
        parse_expr("* foo{")
    # Parse errors are reported before any type error.
    with pytest.raises(ParseError, match="unexpected end of input"):
        parse_expr("rate(foo) +")


def test_invalid_regex_is_a_parse_error() -> None:
    with pytest.raises(ParseError, match="error parsing regexp") as info:
        parse_expr('foo{a=~"(unclosed"}')
    assert (info.value.pos_start, info.value.pos_end) == (4, 18)


def test_metric_selector_errors() -> None:
    with pytest.raises(ParseError, match="unexpected end of input inside braces"):
        parse_metric_selector('{a="b"')
    with pytest.raises(ParseError, match='unexpected "}" in label matching'):
        parse_metric_selector("foo{a}")


def test_absurd_nesting_is_refused_cleanly() -> None:
    depth = 2000
    with pytest.raises(ParseError, match="nested too deeply"):
        parse_expr("(" * depth + "foo" + ")" * depth)
    # Realistic depths are fine.
    assert parse_expr("(" * 50 + "foo" + ")" * 50) is not None


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("sum(1 +)", 'unexpected ")" in aggregation'),
        ("sum by (a) foo", 'unexpected identifier "foo" in aggregation'),
        ("rate(1 +)", 'unexpected ")"'),
        (
            "sum(foo offset)",
            'unexpected ")" in offset, expected number, duration, step(), or range()',
        ),
        ("foo[5m +]", 'unexpected "]" in subquery or range selector'),
        ("foo[5m:1m +]", 'unexpected "]" in subquery selector'),
    ],
)
def test_errors_take_the_enclosing_construct_as_context(query: str, message: str) -> None:
    with pytest.raises(ParseError) as info:
        parse_expr(query)
    assert info.value.message.startswith(message)


@pytest.mark.parametrize(
    ("query", "message", "pos"),
    [
        # A comma followed by anything that cannot start an argument is a trailing comma.
        (
            'label_replace(up, "a",, "b")',
            "trailing commas not allowed in function call args",
            (21, 22),
        ),
        ("round(foo, @ end())", "trailing commas not allowed in function call args", (9, 10)),
        # ... unless the lexer fails on that token first.
        ("round(foo, ~1)", "unexpected character: '~'", (11, 14)),
        # group_left/right followed by something that is neither labels nor an operand.
        ("a + on(x) group_left%y) b", 'unexpected <op:%> in grouping opts, expected "("', (20, 21)),
        # Lexical errors in the token Prometheus reads ahead come before these checks.
        ('f(a, topk("x", b, c)', "unclosed left parenthesis", (20, 20)),
        ("sum(x) offset 5m $", "unexpected character: '$'", (17, 18)),
        ("nonexist() $", 'unknown function with name "nonexist"', (0, 8)),
    ],
)
def test_lookahead_subtleties(query: str, message: str, pos: tuple[int, int]) -> None:
    with pytest.raises(ParseError) as info:
        parse_expr(query)
    assert (info.value.message, (info.value.pos_start, info.value.pos_end)) == (message, pos)
