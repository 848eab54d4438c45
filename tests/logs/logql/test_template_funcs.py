"""Loki's template functions, through line_format on a real store."""

from __future__ import annotations

import pytest

from tidewatch.logs.logql.engine import LogQLEngine, Streams
from tidewatch.logs.logql.store import MemoryLogStore

S = 1_000_000_000


@pytest.fixture(scope="module")
def store() -> MemoryLogStore:
    st = MemoryLogStore()
    st.push((("app", "a"),), 1_700_000_000 * S, 'msg="Hello World" n=5 d=1.5s b=2KB')
    return st


@pytest.mark.parametrize(
    ("template", "want"),
    [
        ("{{ .msg | ToLower }}", "hello world"),
        ('{{ Replace .msg "o" "0" -1 }}', "Hell0 W0rld"),
        ("{{ alignLeft 3 .msg }}|{{ alignRight 3 .msg }}", "Hel|rld"),
        ("{{ .msg | b64enc }}", "SGVsbG8gV29ybGQ="),
        ('{{ __timestamp__ | date "2006-01-02T15:04:05Z07:00" }}', "2023-11-14T22:13:20Z"),
        ("{{ __timestamp__ | unixEpoch }}", "1700000000"),
        ("{{ .n | int | add 2 }}", "7"),
        ("{{ .d | duration }} {{ .b | bytes }}", "1.5 2000"),
        ('{{ default "none" .missing }}', "none"),
        ('{{ if contains "World" .msg }}yes{{ end }}', "yes"),
        ('{{ regexReplaceAll "(l+)o" .msg "<$1>" }}', "He<ll> World"),
        ('{{ regexReplaceAllLiteral "l+" .msg "$1" }}', "He$1o Wor$1d"),
        ('{{ count "o" .msg }}', "2"),
        ("{{ __line__ | len }}", "34"),
    ],
)
def test_line_format_function(store: MemoryLogStore, template: str, want: str) -> None:
    res = LogQLEngine().query_range(
        store,
        '{app="a"} | logfmt | line_format `' + template + "`",
        0,
        2_000_000_000 * S,
        S,
        "forward",
        10,
    )
    assert isinstance(res, Streams)
    assert res.streams[0].entries[0][1] == want


def test_unknown_function_fails_the_query(store: MemoryLogStore) -> None:
    from tidewatch.logs.logql.values import QueryError

    with pytest.raises(QueryError, match="not defined"):
        LogQLEngine().query_range(
            store, '{app="a"} | line_format "{{ nope .x }}"', 0, 2_000_000_000 * S, S
        )
