"""Alertmanager matcher strings: the forms real configs and amtool use, and the
malformed ones that must be rejected."""

import pytest

from tidewatch.alertmanager.matchers import (
    MatcherParseError,
    format_matchers,
    matches,
    parse_matcher,
    parse_matchers,
    sort_matchers,
)
from tidewatch.labels import from_dict
from tidewatch.matcher import MatchType


def _t(text: str) -> list[tuple[str, str, str]]:
    return [(m.name, m.type.value, m.value) for m in parse_matchers(text)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('foo="bar"', [("foo", "=", "bar")]),
        ("foo=bar", [("foo", "=", "bar")]),
        ('foo!="bar"', [("foo", "!=", "bar")]),
        ('foo=~"a|b"', [("foo", "=~", "a|b")]),
        ("foo!~a.*", [("foo", "!~", "a.*")]),
        ('{foo="bar", baz=~"x"}', [("foo", "=", "bar"), ("baz", "=~", "x")]),
        ("{foo=bar,baz=qux,}", [("foo", "=", "bar"), ("baz", "=", "qux")]),
        ('  foo  =  "bar"  ', [("foo", "=", "bar")]),
        ('foo="a,b"', [("foo", "=", "a,b")]),
        ('foo="quoted \\"x\\""', [("foo", "=", 'quoted "x"')]),
        ('foo="line\\nbreak"', [("foo", "=", "line\nbreak")]),
        ('foo="back\\\\slash"', [("foo", "=", "back\\slash")]),
        ('foo="\\d+"', [("foo", "=", "\\d+")]),  # unknown escape stays literal
        ("foo=", [("foo", "=", "")]),
        ('foo=""', [("foo", "=", "")]),
        ("foo=bar baz", [("foo", "=", "bar baz")]),
        ('"utf-8 name"="x"', [("utf-8 name", "=", "x")]),
        ("job:rate=1", [("job:rate", "=", "1")]),
        ("{foo=bar", [("foo", "=", "bar")]),
        ("foo=bar}", [("foo", "=", "bar")]),
        ("x==1", [("x", "=", "=1")]),
        ("", []),
        ("{}", []),
    ],
)
def test_parse_good(text: str, expected: list[tuple[str, str, str]]) -> None:
    assert _t(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "foo",
        "=bar",
        'foo=="bar"',
        '1foo="bar"',
        'foo="bar',
        'foo=bar"',
        'foo="a"b"',
        'foo=~"("',
        "a=b,,c=d",
        'foo~="bar"',
    ],
)
def test_parse_bad(text: str) -> None:
    with pytest.raises(MatcherParseError):
        parse_matchers(text)


def test_regex_is_anchored_re2() -> None:
    m = parse_matcher('svc=~"foo1|foo2|baz"')
    assert m.type is MatchType.REGEX
    assert m.matches("foo1") and m.matches("baz")
    assert not m.matches("xfoo1") and not m.matches("baz2")
    rx = parse_matcher('x=~"a.+z"')
    assert rx.matches("abcz") and not rx.matches("abczq")


def test_missing_label_reads_as_empty() -> None:
    ms = parse_matchers('env!="prod", team=~"|ops"')
    assert matches(ms, from_dict({"other": "1"}))
    assert not matches(ms, from_dict({"env": "prod"}))


def test_format_and_sort_like_alertmanager() -> None:
    ms = sort_matchers(parse_matchers('b=~"x", a="1", a!="1", "odd name"="q\\"v"'))
    assert format_matchers(ms) == '{a="1",a!="1",b=~"x","odd name"="q\\"v"}'
