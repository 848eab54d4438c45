"""Prometheus's alert/console template functions, with the outputs Prometheus gives."""

from __future__ import annotations

import math
from typing import Any

import pytest

from tidewatch.templating import (
    Sample,
    Template,
    TemplateError,
    expand_alert_template,
    prometheus_funcs,
)


def run(text: str, data: Any = None, **kw: Any) -> str:
    t = Template("t", prometheus_funcs(**kw), missingkey_zero=True)
    return t.parse(text).execute(data)


RANGE_CASES = [
    ("humanize", [0.0, 1.0, 1234567.0, 0.12, -1500.0, 1e-9], "0:1:1.235M:120m:-1.5k:1n:"),
    ("humanize", [math.inf, -math.inf, math.nan], "+Inf:-Inf:NaN:"),
    ("humanize", ["1234567", 1234567], "1.235M:1.235M:"),
    ("humanize1024", [0.0, 1.0, 1048576.0, 0.12, 1536.0], "0:1:1Mi:0.12:1.5ki:"),
    (
        "humanizeDuration",
        [0, 1, 60, 3600, 86400, 86400 + 3600, -(86400 * 2 + 3600 * 3 + 60 * 4 + 5), 899.99, 3661],
        "0s:1s:1m 0s:1h 0m 0s:1d 0h 0m 0s:1d 1h 0m 0s:-2d 3h 4m 5s:14m 59s:1h 1m 1s:",
    ),
    (
        "humanizeDuration",
        [0.1, 0.0001, 0.12345, 60.1, 60.5, 1.2345, 12.345],
        "100ms:100us:123.5ms:1m 0s:1m 0s:1.234s:12.35s:",
    ),
    ("humanizePercentage", [0.0, 0.1234567, 1.23456], "0%:12.35%:123.5%:"),
    (
        "humanizeTimestamp",
        [1435065584.128, "1435065584.128", 0],
        "2015-06-23 13:19:44.128 +0000 UTC:2015-06-23 13:19:44.128 +0000 UTC:1970-01-01 00:00:00 +0000 UTC:",
    ),
    ("humanizeTimestamp", [math.nan], "NaN:"),
    ("toTime", [1435065584.128], "2015-06-23 13:19:44.128 +0000 UTC:"),
    ("title", ["aa bb CC", "foo-bar baz_qux"], "Aa Bb CC:Foo-Bar Baz_qux:"),
    ("toUpper", ["aBc"], "ABC:"),
    ("toLower", ["aBc"], "abc:"),
    ("stripPort", ["foo.com:12345", "[::1]:12345", "::1", "foo.com"], "foo.com:::1:::1:foo.com:"),
    (
        "stripDomain",
        [
            "foo.example.com",
            "foo.example.com:12345",
            "192.0.2.1:12345",
            "[2001:0DB8::1]:12345",
            "localhost",
        ],
        "foo:foo:12345:192.0.2.1:12345:[2001:0DB8::1]:12345:localhost:",
    ),
    (
        "graphLink",
        ['rate(x{a="b"}[5m])'],
        "/graph?g0.expr=rate%28x%7Ba%3D%22b%22%7D%5B5m%5D%29&g0.tab=0:",
    ),
    ("tableLink", ["up"], "/graph?g0.expr=up&g0.tab=1:"),
    ("parseDuration", ["1h2m10ms", "90s"], "3720.01:90:"),
    ("toDuration", [90.5], "1m30.5s:"),
]


@pytest.mark.parametrize(("func", "values", "want"), RANGE_CASES)
def test_range_funcs(func: str, values: list[Any], want: str) -> None:
    assert run("{{ range . }}{{ " + func + " . }}:{{ end }}", values) == want


def test_alert_annotation_shape() -> None:
    data = {
        "Labels": {"instance": "web-1:9100", "job": "node"},
        "ExternalLabels": {},
        "Value": 0.9731,
    }
    text = (
        "{{ $labels := .Labels }}{{ $value := .Value }}"
        "Instance {{ $labels.instance | stripPort }} of {{ $labels.job }} is at "
        '{{ $value | humanizePercentage }} ({{ printf "%.2f" $value }}); missing=[{{ $labels.nope }}]'
    )
    assert run(text, data) == "Instance web-1 of node is at 97.31% (0.97); missing=[]"


def test_match_and_re_replace_all() -> None:
    assert run('{{ match "a+" "baaa" }} {{ match "^a$" "ba" }}') == "true false"
    assert run('{{ reReplaceAll "(a)(b)?" "[$2$1]" "abac" }}') == "[ba][a]c"
    assert run('{{ reReplaceAll "(?P<host>[^:]+):(\\\\d+)" "${host}" "h1:80" }}') == "h1"
    assert run('{{ reReplaceAll "x" "$$" "axb" }}') == "a$b"


def fake_query(q: str) -> list[Any]:
    if q == "empty":
        return []
    return [
        Sample({"instance": "b", "__name__": "up"}, 1.0),
        ({"instance": "a", "__name__": "up"}, 0.0),
    ]


def test_query_first_label_value_sort() -> None:
    text = (
        '{{ with query "up" }}{{ . | first | label "instance" }}={{ . | first | value }}{{ end }} '
        '{{ range query "up" | sortByLabel "instance" }}{{ .Labels.instance }}:{{ .Value }} {{ end }}'
        '{{ with query "empty" }}x{{ else }}none{{ end }}'
    )
    assert run(text, query=fake_query) == "b=1 a:0 b:1 none"


def test_first_of_empty_vector_errors() -> None:
    with pytest.raises(TemplateError, match="first\\(\\) called on vector with no elements"):
        run('{{ query "empty" | first | value }}', query=fake_query)


def test_query_without_callback_errors() -> None:
    with pytest.raises(TemplateError, match="error calling query"):
        run('{{ query "up" }}')


def test_args_tmpl_and_urls() -> None:
    text = '{{define "x"}}{{.arg0}} {{.arg1}}{{end}}{{template "x" (args 1 "arg")}}|{{ tmpl "x" (args 2 "b") }}'
    assert run(text) == "1 arg|2 b"
    url = "http://testhost:9090/path/prefix"
    assert run("{{ pathPrefix }} {{ externalURL }}", external_url=url) == f"/path/prefix {url}"
    assert run("{{ now }}", now=12.5) == "12.5"
    assert run('{{ "<b>" | safeHtml }}') == "<b>"


def test_expand_alert_template_defines_prometheus_variables() -> None:
    out = expand_alert_template(
        "{{ $labels.job }} {{ $value | humanize }} {{ $externalLabels.dc }} {{ $externalURL }} [{{ .Labels.nope }}]",
        name="__alert_X",
        labels={"job": "api"},
        value=1234567.0,
        external_labels={"dc": "eu"},
        external_url="http://prom",
    )
    assert out == "api 1.235M eu http://prom []"


def test_expand_alert_template_errors_are_wrapped_like_prometheus() -> None:
    with pytest.raises(TemplateError) as info:
        expand_alert_template("{{ $value | nope }}", name="__alert_X", labels={}, value=1.0)
    assert str(info.value) == (
        'error parsing template __alert_X: template: __alert_X:1: function "nope" not defined'
    )
    with pytest.raises(TemplateError) as info:
        expand_alert_template("{{ index $labels 1 }}", name="__alert_X", labels={}, value=1.0)
    assert str(info.value).startswith(
        'error executing template __alert_X: template: __alert_X:1:115: executing "__alert_X" at <index $labels 1>: '
        "error calling index: value has type int; should be string"
    )


def test_expand_alert_template_query_uses_callback() -> None:
    out = expand_alert_template(
        '{{ with query "up" }}{{ len . }}{{ end }}',
        name="__alert_Q",
        labels={},
        value=0.0,
        query=fake_query,
    )
    assert out == "2"
