"""Alertmanager's functions and notification-template shapes."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from tidewatch.templating import (
    KV,
    Alert,
    Alerts,
    Data,
    Template,
    TemplateError,
    alertmanager_funcs,
)

NOTIFICATION_TEMPLATES = """
{{ define "__am" }}Alertmanager{{ end }}
{{ define "__amURL" }}{{ .ExternalURL }}/#/alerts?receiver={{ .Receiver | urlquery }}{{ end }}
{{ define "__subject" }}[{{ .Status | toUpper }}{{ if eq .Status "firing" }}:{{ .Alerts.Firing | len }}{{ end }}] {{ .GroupLabels.SortedPairs.Values | join " " }} {{ if gt (len .CommonLabels) (len .GroupLabels) }}({{ with .CommonLabels.Remove .GroupLabels.Names }}{{ .Values | join " " }}{{ end }}){{ end }}{{ end }}
{{ define "__alert_list" }}{{ range . }}Labels:
{{ range .Labels.SortedPairs }} - {{ .Name }} = {{ .Value }}
{{ end }}Annotations:
{{ range .Annotations.SortedPairs }} - {{ .Name }} = {{ .Value }}
{{ end }}Source: {{ .GeneratorURL }}
{{ end }}{{ end }}
{{ define "slack.title" }}{{ template "__subject" . }}{{ end }}
{{ define "slack.fallback" }}{{ template "slack.title" . }} | {{ template "__amURL" . }}{{ end }}
{{ define "opsgenie.description" }}{{ .CommonAnnotations.SortedPairs.Values | join " " }}
{{ if gt (len .Alerts.Firing) 0 -}}
Alerts Firing:
{{ template "__alert_list" .Alerts.Firing }}
{{- end }}
{{ if gt (len .Alerts.Resolved) 0 -}}
Alerts Resolved:
{{ template "__alert_list" .Alerts.Resolved }}
{{- end }}
{{- end }}
"""

T0 = dt.datetime(2024, 3, 5, 14, 7, 9, 250000, tzinfo=dt.UTC)


def sample_data() -> Data:
    common = {"alertname": "HighLatency", "job": "api", "severity": "page"}
    alerts = Alerts(
        [
            Alert(
                Status="firing",
                Labels=KV(common, instance="a:80"),
                Annotations=KV(summary="slow"),
                StartsAt=T0,
                GeneratorURL="http://prom/graph?g0.expr=x",
                Fingerprint="abc",
            ),
            Alert(
                Status="firing", Labels=KV(common, instance="b:80"), Annotations=KV(summary="slow")
            ),
            Alert(
                Status="resolved",
                Labels=KV(common, instance="c:80"),
                Annotations=KV(summary="slow"),
            ),
        ]
    )
    return Data(
        Receiver="team a",
        Status="firing",
        Alerts=alerts,
        GroupLabels=KV(alertname="HighLatency"),
        CommonLabels=KV(common),
        CommonAnnotations=KV(summary="slow"),
        ExternalURL="http://am:9093",
    )


def templates() -> Template:
    return Template("", alertmanager_funcs(), missingkey_zero=True).parse(NOTIFICATION_TEMPLATES)


def test_subject_and_fallback() -> None:
    t = templates()
    assert t.execute(sample_data(), "slack.title") == "[FIRING:2] HighLatency (api page)"
    assert t.execute(sample_data(), "slack.fallback") == (
        "[FIRING:2] HighLatency (api page) | http://am:9093/#/alerts?receiver=team+a"
    )


def test_alert_lists() -> None:
    out = templates().execute(sample_data(), "opsgenie.description")
    assert out.startswith(
        "slow\nAlerts Firing:\nLabels:\n - alertname = HighLatency\n - instance = a:80\n"
    )
    assert "Source: http://prom/graph?g0.expr=x\n" in out
    assert out.count("Labels:") == 3
    assert "Alerts Resolved:\nLabels:\n - alertname = HighLatency\n - instance = c:80" in out


def test_kv_methods_and_printing() -> None:
    kv = KV(b="2", alertname="X", a="1")
    t = Template("t", alertmanager_funcs())
    t.parse('{{ .SortedPairs.Names }}|{{ . }}|{{ (.Remove (stringSlice "a")).Names }}|{{ .a }}')
    assert t.execute(kv) == "[alertname a b]|alertname=X, a=1, b=2|[alertname b]|1"


def test_string_funcs() -> None:
    f = alertmanager_funcs()
    cases = {
        '{{ title "hELLO wORLD" }}': "Hello World",
        '{{ title "o\'neil foo.bar x-y_z" }}': "O'neil Foo.bar X-Y_z",
        '{{ "  x y \\n" | trimSpace }}': "x y",
        '{{ stringSlice "a" "b" | join ", " }}': "a, b",
        '{{ urlUnescape "a%20b+c" }}': "a b c",
        '{{ reReplaceAll "(\\\\w+)@" "$1 at " "me@x" }}': "me at x",
        '{{ match "^fi" "firing" }}': "true",
        '{{ safeUrl "http://x/?a=<b>" }}': "http://x/?a=<b>",
        "{{ humanizeDuration 3661 }}": "1h 1m 1s",
        '{{ toUpper "a" }}{{ toLower "B" }}': "Ab",
    }
    for text, want in cases.items():
        assert Template("t", f).parse(text).execute(None) == want, text


def test_time_funcs() -> None:
    f = alertmanager_funcs()
    data = {"t": T0}
    t = Template("t", f).parse(
        '{{ .t }}|{{ date "2006-01-02 15:04:05.000 MST" .t }}|{{ .t | tz "Europe/Paris" | date "Jan _2 3:04PM -07:00" }}'
        '|{{ .t.Format "Monday 02/01/06" }}|{{ .t.Unix }}'
    )
    assert t.execute(data) == (
        "2024-03-05 14:07:09.25 +0000 UTC|2024-03-05 14:07:09.250 UTC|Mar  5 3:07PM +01:00"
        "|Tuesday 05/03/24|1709647629"
    )
    recent = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=90)
    since = Template("t", f).parse("{{ since . }}").execute(recent)
    assert since.startswith("1m30") and since.endswith("s")
    with pytest.raises(TemplateError, match="unknown time zone Nowhere/Else"):
        Template("t", f).parse('{{ tz "Nowhere/Else" . }}').execute(T0)


def test_to_json() -> None:
    f = alertmanager_funcs()
    out = Template("t", f).parse("{{ toJson . }}").execute({"b": [1, "<x>"], "a": KV(k="v")})
    assert out == '{"a":{"k":"v"},"b":[1,"\\u003cx\\u003e"]}'
    data = sample_data()
    decoded = json.loads(Template("t", f).parse("{{ toJson . }}").execute(data))
    assert decoded["receiver"] == "team a"
    assert decoded["alerts"][0]["startsAt"] == "2024-03-05T14:07:09.25Z"
    assert decoded["commonLabels"]["severity"] == "page"


def test_execute_string_sees_definitions_and_is_cached() -> None:
    t = templates()
    assert t.execute_string("", sample_data()) == ""
    text = '{{ template "slack.title" . }} / {{ .Receiver }}'
    assert t.execute_string(text, sample_data()) == "[FIRING:2] HighLatency (api page) / team a"
    assert t.execute_string(text, sample_data()) == "[FIRING:2] HighLatency (api page) / team a"
    t.parse('{{ define "slack.title" }}changed{{ end }}')
    assert t.execute_string(text, sample_data()) == "changed / team a"
    with pytest.raises(TemplateError, match='template: :1: function "nope" not defined'):
        t.execute_string("{{ nope }}", None)


def test_list_append_dict() -> None:
    f = alertmanager_funcs()
    text = '{{ $l := list "a" 1 }}{{ $l = append $l "z" }}{{ $l }} {{ $d := dict "k" 2 "j" "x" }}{{ $d.k }} {{ $d }}'
    assert Template("t", f).parse(text).execute(None) == "[a 1 z] 2 map[j:x k:2]"
    with pytest.raises(TemplateError, match="dict requires an even number of arguments"):
        Template("t", f).parse('{{ dict "a" }}').execute(None)


def test_autoescape_html_mode() -> None:
    t = Template("mail", alertmanager_funcs(), autoescape=True)
    t.parse(
        '{{ define "row" }}<td>{{ . }}</td>{{ end }}'
        '<p>{{ .a }}</p>{{ template "row" .b }}{{ .c | safeHtml }}{{ printf "%s+%d" "x" 1 }}'
    )
    out = t.execute({"a": "<b>R&D 'x'</b>", "b": 'q"', "c": "<i>ok</i>"})
    assert out == "<p>&lt;b&gt;R&amp;D &#39;x&#39;&lt;/b&gt;</p><td>q&#34;</td><i>ok</i>x&#43;1"
    # The same functions in a text template do not escape.
    assert Template("t", alertmanager_funcs()).parse("{{ .a }}").execute({"a": "<b>"}) == "<b>"
