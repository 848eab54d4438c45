"""Each pipeline stage: YAML in, entry in -> labels, line, timestamp, metadata out."""

from __future__ import annotations

from typing import Any

import pytest

from tidewatch.config.yamlnodes import Ctx, compose
from tidewatch.logs.agent.stages import Entry, Pipeline, build_pipeline

T0 = 1_700_000_000_000_000_000


def pipeline(yaml_text: str) -> Pipeline:
    return build_pipeline(Ctx("p.yml"), compose(yaml_text, "p.yml"), "pipeline_stages")


def run(yaml_text: str, *lines: str, labels: dict[str, str] | None = None) -> list[Entry]:
    p = pipeline(yaml_text)
    entries = [Entry(dict(labels or {"job": "app"}), T0 + i, ln) for i, ln in enumerate(lines)]
    return p.process(entries) + p.flush(T0, force=True)


# (stages yaml, input line, expected labels, expected line, expected ts, expected metadata)
CASES: list[tuple[str, str, dict[str, str], str, int, dict[str, str]]] = [
    (  # json + labels + output; numbers print as Go does
        """
- json:
    expressions: {level: level, msg: msg, code: "resp.code", user: "users[0].name"}
- labels: {level: "", code: ""}
- structured_metadata: {user: ""}
- output: {source: msg}
""",
        '{"level":"warn","msg":"slow","resp":{"code":503.0},"users":[{"name":"ann"}]}',
        {"job": "app", "level": "warn", "code": "503"},
        "slow",
        T0,
        {"user": "ann"},
    ),
    (  # regex with a source
        """
- regex: {expression: '^(?P<ip>\\S+) (?P<method>[A-Z]+) (?P<path>\\S+)'}
- regex: {source: path, expression: '^/(?P<area>[a-z]+)/'}
- labels: {method: "", area: ""}
""",
        "10.0.0.1 GET /api/users",
        {"job": "app", "method": "GET", "area": "api"},
        "10.0.0.1 GET /api/users",
        T0,
        {},
    ),
    (  # logfmt with a mapping to another name
        """
- logfmt: {mapping: {lvl: level, duration: ""}}
- labels: {lvl: ""}
- structured_metadata: {duration: ""}
""",
        'level=error msg="disk full" duration=1.5s',
        {"job": "app", "lvl": "error"},
        'level=error msg="disk full" duration=1.5s',
        T0,
        {"duration": "1.5s"},
    ),
    (  # timestamp from a Go layout with a location
        """
- regex: {expression: '^(?P<ts>\\S+ \\S+)'}
- timestamp: {source: ts, format: '2006-01-02 15:04:05.000', location: Europe/Paris}
""",
        "2024-01-15 12:00:00.250 started",
        {"job": "app"},
        "2024-01-15 12:00:00.250 started",
        1705316400250000000,
        {},
    ),
    (  # timestamp in epoch milliseconds from JSON (a float64 in JSON)
        """
- json: {expressions: {t: ts}}
- timestamp: {source: t, format: UnixMs}
""",
        '{"ts": 1705316400250}',
        {"job": "app"},
        '{"ts": 1705316400250}',
        1705316400250000000,
        {},
    ),
    (  # template rewrites an extracted value; static_labels; labeldrop
        """
- regex: {expression: 'level=(?P<level>\\w+)'}
- template: {source: level, template: '{{ ToUpper .Value }}'}
- labels: {level: ""}
- static_labels: {team: core, env: prod}
- labeldrop: [env]
""",
        "level=info ok",
        {"job": "app", "level": "INFO", "team": "core"},
        "level=info ok",
        T0,
        {},
    ),
    (  # labelallow keeps only the listed labels
        """
- static_labels: {a: "1", b: "2"}
- labelallow: [job, b]
""",
        "x",
        {"job": "app", "b": "2"},
        "x",
        T0,
        {},
    ),
    (  # replace on the line, with a template on the captured group
        """
- replace:
    expression: 'password=(\\S+)'
    replace: '****'
""",
        "login user=bob password=hunter2 ok",
        {"job": "app"},
        "login user=bob password=**** ok",
        T0,
        {},
    ),
    (  # replace on an extracted value, named group lands in extracted
        """
- regex: {expression: '^(?P<msg>.*)$'}
- replace:
    source: msg
    expression: '(?P<ip>\\d+\\.\\d+\\.\\d+\\.\\d+)'
    replace: '{{ .Value | Hash "salt" | trunc 8 }}'
- output: {source: msg}
""",
        "from 10.1.2.3 ok",
        {"job": "app"},
        "from 7b4a8b21 ok",
        T0,
        {},
    ),
    (  # cri, full line
        "- cri: {}\n",
        "2024-01-15T12:00:00.5Z stderr F something failed",
        {"job": "app", "stream": "stderr"},
        "something failed",
        1705320000500000000,
        {},
    ),
    (  # match keeps: nested stages run only on matching lines
        """
- match:
    selector: '{job="app"} |= "GET"'
    stages:
      - regex: {expression: '(?P<method>GET)'}
      - labels: {method: ""}
""",
        "GET /",
        {"job": "app", "method": "GET"},
        "GET /",
        T0,
        {},
    ),
    (  # match with another job: untouched
        """
- match:
    selector: '{job="other"}'
    stages:
      - static_labels: {x: "y"}
""",
        "GET /",
        {"job": "app"},
        "GET /",
        T0,
        {},
    ),
]


@pytest.mark.parametrize(("stages", "line", "labels", "out", "ts", "meta"), CASES)
def test_stage_table(
    stages: str, line: str, labels: dict[str, str], out: str, ts: int, meta: dict[str, str]
) -> None:
    (e,) = run(stages, line)
    if "Hash" in stages:
        import hashlib

        digest = hashlib.sha3_256(b"salt10.1.2.3").hexdigest()[:8]  # Hash(salt, input)
        out = out.replace("7b4a8b21", digest)
    assert (e.labels, e.line, e.ts, e.metadata) == (labels, out, ts, meta)


@pytest.mark.parametrize(
    ("stages", "lines", "kept"),
    [
        ("- drop: {expression: 'DEBUG'}\n", ["DEBUG x", "INFO y"], ["INFO y"]),
        ("- drop: {longer_than: 5}\n", ["short", "too long"], ["short"]),
        ("- drop: {older_than: 1h}\n", ["x"], []),  # T0 is far in the past
        (
            "- regex: {expression: 'l=(?P<l>\\w+)'}\n- drop: {source: l, value: debug}\n",
            ["l=debug", "l=info", "none"],
            ["l=info", "none"],
        ),
        (
            "- regex: {expression: 'a=(?P<a>\\w+) b=(?P<b>\\w+)'}\n"
            "- drop: {source: [a, b], separator: '-', expression: '^x-y$'}\n",
            ["a=x b=y", "a=x b=z"],
            ["a=x b=z"],
        ),
        (
            '- match: {selector: \'{job="app"} |~ "health.*"\', action: drop}\n',
            ["healthz", "GET /"],
            ["GET /"],
        ),
        ("- limit: {rate: 0.001, burst: 2, drop: true}\n", ["1", "2", "3", "4"], ["1", "2"]),
        (
            "- json: {expressions: {a: a}, drop_malformed: true}\n",
            ['{"a":1}', "not json"],
            ['{"a":1}'],
        ),
    ],
)
def test_filter_stages(stages: str, lines: list[str], kept: list[str]) -> None:
    assert [e.line for e in run(stages, *lines)] == kept


def test_drop_counts_reasons() -> None:
    p = pipeline(
        "- drop: {expression: x, drop_counter_reason: noisy}\n- limit: {rate: 0.01, burst: 1, drop: true}\n"
    )
    p.process([Entry({"job": "a"}, T0, ln) for ln in ["x", "a", "b", "c"]])
    assert dict(p.stats.dropped) == {"noisy": 1, "ratelimit": 2}


def test_limit_by_label_and_backpressure() -> None:
    p = pipeline("- limit: {rate: 0.01, burst: 1, by_label_name: app, drop: true}\n")
    out = p.process([Entry({"app": a}, T0, a) for a in ["x", "x", "y", "y"]])
    assert [e.line for e in out] == ["x", "y"]
    slow = pipeline("- limit: {rate: 10, burst: 1}\n")
    out = slow.process([Entry({}, T0, str(i)) for i in range(5)])
    assert len(out) == 5 and slow.stats.delay_s == pytest.approx(0.4, abs=0.05)


def test_timestamp_fudge_and_skip() -> None:
    yaml_text = """
- regex: {expression: '^(?P<t>\\S+)'}
- timestamp: {source: t, format: RFC3339, action_on_failure: %s}
"""
    lines = ["2024-01-01T00:00:00Z a", "garbage b"]
    fudged = run(yaml_text % "fudge", *lines)
    assert [e.ts for e in fudged] == [1704067200000000000, 1704067200000000001]
    skipped = run(yaml_text % "skip", *lines)
    assert [e.ts for e in skipped] == [1704067200000000000, T0 + 1]


def test_timestamp_fallback_formats() -> None:
    yaml_text = """
- regex: {expression: '^(?P<t>\\S+)'}
- timestamp: {source: t, format: RFC3339, fallback_formats: [UnixMs, "02/Jan/2006:15:04:05"]}
"""
    out = run(yaml_text, "1704067200123 a", "01/Jan/2024:00:00:01 b")
    assert [e.ts for e in out] == [1704067200123000000, 1704067201000000000]


def test_multiline_joins_and_caps() -> None:
    yaml_text = "- multiline: {firstline: '^\\d{4}-', max_lines: 3}\n"
    out = run(yaml_text, "2024- a", " b", " c", " d", "2024- e", " f")
    assert [e.line for e in out] == ["2024- a\n b\n c", " d", "2024- e\n f"]
    assert out[0].ts == T0


def test_multiline_keeps_streams_apart() -> None:
    p = pipeline("- multiline: {firstline: '^START'}\n")
    a, b = {"f": "a"}, {"f": "b"}
    got = p.process(
        [
            Entry(dict(a), 1, "START a"),
            Entry(dict(b), 2, "START b"),
            Entry(dict(a), 3, "a2"),
            Entry(dict(b), 4, "b2"),
            Entry(dict(a), 5, "START a again"),
        ]
    )
    got += p.flush(0, force=True)
    assert sorted(e.line for e in got) == sorted(["START a again", "START a\na2", "START b\nb2"])


def test_cri_partial_lines_join() -> None:
    out = run(
        "- cri: {}\n",
        "2024-01-15T12:00:00Z stdout P part one ",
        "2024-01-15T12:00:00Z stdout P part two ",
        "2024-01-15T12:00:01Z stdout F end",
        "2024-01-15T12:00:02Z stdout F whole",
    )
    assert [e.line for e in out] == ["part one part two end", "whole"]
    assert out[0].ts == 1705320000000000000


def test_docker_non_json_passes_through() -> None:
    (e,) = run("- docker: {}\n", "plain text")
    assert (e.line, e.labels) == ("plain text", {"job": "app"})


def test_extracted_starts_with_labels() -> None:
    # Promtail seeds the extracted map with the labels, so `filename` can be parsed.
    yaml_text = """
- regex: {source: filename, expression: '/(?P<svc>[a-z]+)\\.log$'}
- labels: {svc: ""}
"""
    (e,) = run(yaml_text, "x", labels={"filename": "/var/log/api.log"})
    assert e.labels == {"filename": "/var/log/api.log", "svc": "api"}


def test_template_functions() -> None:
    yaml_text = """
- regex: {expression: '(?P<v>.*)'}
- template: {source: v, template: '{{ Replace .Value "a" "o" -1 | TrimSpace }}-{{ .missing }}'}
- output: {source: v}
"""
    (e,) = run(yaml_text, " banana ")
    assert e.line == "bonono-<no value>"  # as Go prints a missing map key


def _err(yaml_text: str) -> str:
    with pytest.raises(Exception) as info:
        pipeline(yaml_text)
    return str(info.value)


@pytest.mark.parametrize(
    ("yaml_text", "message"),
    [
        ("- nosuch: {}\n", 'p.yml:1: pipeline_stages[0].nosuch: unknown field "nosuch"'),
        (
            "- regex:\n    expression: '(unclosed'\n",
            "p.yml:2: pipeline_stages[0].regex.expression: could not compile",
        ),
        ("- regex:\n    expression: 'no groups'\n", "must contain at least one named group"),
        (
            "- timestamp:\n    source: t\n",
            "p.yml:2: pipeline_stages[0].timestamp.format: format is required",
        ),
        ("- labels:\n    bad-name: x\n", "invalid label name: bad-name"),
        (
            "- match:\n    selector: '{job='\n    stages: [{docker: {}}]\n",
            "invalid selector syntax",
        ),
        ("- match:\n    selector: '{a=\"b\"}'\n", "must contain at least one stage"),
        ("- json:\n    expressions: {a: 'x[?'}\n", "could not compile JMESPath"),
        ("- template:\n    source: a\n    template: '{{ .x '\n", "could not compile template"),
        ("- drop: {}\n", "drop stage needs at least one of"),
        ("- docker: {}\n  cri: {}\n", "exactly one stage name"),
        ("- multiline:\n    max_lines: 3\n", "must define `firstline`"),
        ("- limit:\n    burst: 3\n", "positive rate"),
    ],
)
def test_stage_config_errors(yaml_text: str, message: str) -> None:
    assert message in _err(yaml_text)


def test_nested_error_line() -> None:
    text = """- match:
    selector: '{a="b"}'
    stages:
      - regex:
          expression: 'ok(?P<x>.)'
      - timestamp:
          source: x
          format: RFC3339
          action_on_failure: explode
"""
    msg = _err(text)
    assert msg.startswith(
        "p.yml:9: pipeline_stages[0].match.stages[1].timestamp.action_on_failure:"
    )


def test_decolorize_sampling_pack() -> None:
    (e,) = run("- decolorize: {}\n", "\x1b[31mred\x1b[0m text")
    assert e.line == "red text"
    assert run("- sampling: {rate: 0}\n", "a", "b") == []
    assert len(run("- sampling: {rate: 1}\n", "a", "b")) == 2
    (p,) = run(
        "- static_labels: {svc: api, pod: p1}\n- pack: {labels: [svc, pod], ingest_timestamp: false}\n",
        'hello "x"',
    )
    assert p.labels == {"job": "app"}
    assert p.line == '{"pod":"p1","svc":"api","_entry":"hello \\"x\\""}'
    assert p.ts == T0


def _render(p: Pipeline) -> str:
    from prometheus_client import CollectorRegistry, generate_latest

    from tidewatch.logs.agent.stages import custom_metrics_of

    class C:
        def collect(self) -> list[Any]:
            return custom_metrics_of(p.stages)

    reg = CollectorRegistry()
    reg.register(C())
    return generate_latest(reg).decode()


def test_metrics_stage() -> None:
    p = pipeline(
        """
- regex: {expression: 'status=(?P<status>\\d+) dur=(?P<dur>[\\d.]+)'}
- labels: {status: ""}
- metrics:
    lines_total:
      type: Counter
      description: all lines
      config: {match_all: true, action: inc}
    bytes_total:
      type: Counter
      config: {match_all: true, count_entry_bytes: true, action: add}
    errors:
      type: Counter
      source: status
      config: {value: "500", action: inc}
    last_duration:
      type: Gauge
      source: dur
      config: {action: set}
    duration_seconds:
      type: Histogram
      source: dur
      prefix: app_
      config: {buckets: [0.1, 1]}
"""
    )
    lines = ["status=200 dur=0.05", "status=500 dur=2", "status=500 dur=0.5", "no match"]
    p.process([Entry({"job": "a"}, T0, ln) for ln in lines])
    text = _render(p)
    assert 'promtail_custom_lines_total{job="a",status="200"} 1.0' in text
    assert 'promtail_custom_lines_total{job="a"} 1.0' in text
    assert "# TYPE promtail_custom_lines_total counter" in text
    assert "# TYPE promtail_custom_errors untyped" in text
    assert 'promtail_custom_bytes_total{job="a",status="500"} 34.0' in text
    assert 'promtail_custom_errors{job="a",status="500"} 2.0' in text
    assert 'promtail_custom_errors{job="a",status="200"}' not in text
    assert 'promtail_custom_last_duration{job="a",status="500"} 0.5' in text
    assert 'app_duration_seconds_bucket{job="a",le="0.1",status="200"} 1.0' in text
    assert 'app_duration_seconds_bucket{job="a",le="1.0",status="500"} 1.0' in text
    assert 'app_duration_seconds_bucket{job="a",le="+Inf",status="500"} 2.0' in text
    assert 'app_duration_seconds_sum{job="a",status="500"} 2.5' in text


def test_metrics_stage_errors() -> None:
    assert "metric type must be" in _err("- metrics:\n    x: {type: Summary}\n")
    assert "counter action must be one of" in _err(
        "- metrics:\n    x: {type: Counter, config: {action: set}}\n"
    )
