from __future__ import annotations

import math

import pytest

from tidewatch.ingest.exposition import (
    ExpositionError,
    iter_samples,
    line_number_of,
    parse_exposition,
    parse_series,
)

TEXT = b"""# HELP http_requests_total The total number of HTTP requests.
# TYPE http_requests_total counter
http_requests_total{method="post",code="200"} 1027 1395066363000
http_requests_total{method="post",code="400"}    3 1395066363000

# Escaping in label values:
msdos_file_access_time_seconds{path="C:\\\\DIR\\\\FILE.TXT",error="Cannot find file:\\n\\"FILE.TXT\\""} 1.458255915e9

# Minimalistic line:
metric_without_timestamp_and_labels 12.47

# A weird metric from before the epoch:
something_weird{problem="division by zero"} +Inf -3982045
neg_inf -Inf
not_a_number NaN
# HELP rpc_duration_seconds A summary with \\\\ and \\n escapes.
# TYPE rpc_duration_seconds summary
rpc_duration_seconds{quantile="0.01"} 3102
rpc_duration_seconds_sum 1.7560473e+07
rpc_duration_seconds_count 2693
  indented_metric{a="b" , c = "d",} 5
# TYPE legacy untyped
legacy 1
"""


def _samples(body: bytes, om: bool = False) -> list[tuple[dict[str, str], int | None, float]]:
    return [(dict(lbls), ts, v) for lbls, ts, v in iter_samples(body, om)]


def test_text_format_samples_values_and_escapes() -> None:
    s = _samples(TEXT)
    assert s[0] == (
        {"__name__": "http_requests_total", "method": "post", "code": "200"},
        1395066363000,
        1027.0,
    )
    assert s[1][2] == 3.0
    assert s[2][0] == {
        "__name__": "msdos_file_access_time_seconds",
        "path": "C:\\DIR\\FILE.TXT",
        "error": 'Cannot find file:\n"FILE.TXT"',
    }
    assert s[2][1] is None
    assert s[3] == ({"__name__": "metric_without_timestamp_and_labels"}, None, 12.47)
    assert s[4][1] == -3982045 and s[4][2] == math.inf
    assert s[5][2] == -math.inf
    assert math.isnan(s[6][2])
    assert s[-2][0] == {"__name__": "indented_metric", "a": "b", "c": "d"}
    assert len(s) == 12


def test_text_format_metadata() -> None:
    p = parse_exposition(TEXT, False)
    assert p.metadata["http_requests_total"].type == "counter"
    assert p.metadata["http_requests_total"].help == "The total number of HTTP requests."
    assert p.metadata["rpc_duration_seconds"].type == "summary"
    assert p.metadata["rpc_duration_seconds"].help == "A summary with \\ and \n escapes."
    assert p.metadata["legacy"].type == "unknown"


OM = b"""# TYPE acme_http_router_request_seconds summary
# UNIT acme_http_router_request_seconds seconds
# HELP acme_http_router_request_seconds Latency though all of ACME's HTTP request router.
acme_http_router_request_seconds_sum{path="/api/v1",method="GET"} 9036.32
acme_http_router_request_seconds_count{path="/api/v1",method="GET"} 807283.0 1520430000.123
# TYPE foo histogram
foo_bucket{le="0.5"} 3 # {trace_id="KOO5S4vxi0o"} 0.67
foo_bucket{le="+Inf"} 17 1520879607.789 # {trace_id="oHg5SJYRHA0",span="x # y"} 9.8 1520879607.789
foo_count 17
foo_sum 324789.3
# TYPE info_metric info
info_metric_info{name="pretty \\"name\\"",version="8.2.7"} 1
# EOF
"""


def test_openmetrics_samples_timestamps_and_exemplars() -> None:
    p = parse_exposition(OM, True)
    assert p.timestamps[1] == 1520430000123  # seconds -> ms
    assert p.keys[3] == b'foo_bucket{le="+Inf"}'
    assert p.timestamps[3] == 1520879607789
    ex0 = p.exemplars[2]
    assert dict(ex0.labels) == {"trace_id": "KOO5S4vxi0o"} and ex0.value == 0.67 and ex0.ts == 0
    ex1 = p.exemplars[3]
    assert dict(ex1.labels) == {"trace_id": "oHg5SJYRHA0", "span": "x # y"}
    assert ex1.ts == 1520879607789
    meta = p.metadata["acme_http_router_request_seconds"]
    assert (meta.type, meta.unit) == ("summary", "seconds")
    assert meta.help == "Latency though all of ACME's HTTP request router."
    assert p.metadata["info_metric"].type == "info"
    s = _samples(OM, True)
    assert s[-1][0]["name"] == 'pretty "name"'
    assert len(s) == 7


def test_openmetrics_requires_eof_and_nothing_after() -> None:
    with pytest.raises(ExpositionError, match="# EOF"):
        parse_exposition(b"a 1\n", True)
    with pytest.raises(ExpositionError, match="line 3: unexpected data after # EOF"):
        parse_exposition(b"a 1\n# EOF\nb 2\n", True)


def test_utf8_quoted_names() -> None:
    s = _samples(b'{"my.metric", "some.label"="v"} 1\n')
    assert s[0][0] == {"__name__": "my.metric", "some.label": "v"}


@pytest.mark.parametrize(
    ("body", "lineno", "fragment"),
    [
        (b"ok 1\nbad_value abc\n", 2, "invalid syntax"),
        (b'ok 1\n\nmetric{a="b"}\n', 3, "expected value"),
        (b"a 1\nb 2\nc 1 2 3\n", 3, "unexpected text"),
        (b'a 1\nm{a="1"} 1 notats\n', 2, "ParseInt"),
        (b"# TYPE a nonsense\n", 1, "invalid metric type"),
        (b"x 1\n0bad 1\n", 2, "invalid metric name"),
        (b"x 1\nm{a=b} 1\n", 2, "label"),
        (b'x 1\nm{a="1",a="2"} 1\n', 2, "duplicate label name"),
        (b'm{1a="x"} 1\n', 1, "label"),
        (b'x 1\ny 2\nm{a="unterminated} 1\n', 3, ""),
        (b"x 1_000\n", 1, "invalid syntax"),
    ],
)
def test_malformed_lines_name_the_line(body: bytes, lineno: int, fragment: str) -> None:
    with pytest.raises(ExpositionError) as info:
        list(iter_samples(body, False))
    msg = str(info.value)
    assert f"line {lineno}:" in msg
    assert fragment in msg


def test_parse_series_fast_and_slow_paths_agree() -> None:
    fast = parse_series(b'm{a="1",b="two words",c="x}y"}')
    slow = parse_series(b'm{a="1",b="two words",c="x}y",d="\\\\"}')
    assert fast == {"__name__": "m", "a": "1", "b": "two words", "c": "x}y"}
    assert slow == {**fast, "d": "\\"}
    assert parse_series(b"m{}") == {"__name__": "m"}
    with pytest.raises(ValueError):
        parse_series(b'm{a="1"')


def test_line_number_of() -> None:
    body = b'a 1\nb{x="1"} 2\nb 3\n'
    assert line_number_of(body, b"a") == 1
    assert line_number_of(body, b'b{x="1"}') == 2


def test_empty_label_values_are_dropped() -> None:
    s = _samples(b'm{a="",b="1"} 1\n')
    assert s[0][0] == {"__name__": "m", "b": "1"}


def test_known_series_shortcut_still_validates_values() -> None:
    known = {b'm{a="1"}', b"n"}
    p = parse_exposition(b'm{a="1"} 2\nn 3 1000\n', False, known)
    assert p.keys == [b'm{a="1"}', b"n"] and p.values == [2.0, 3.0] and p.timestamps == [None, 1000]
    with pytest.raises(ExpositionError, match=r"line 2: .*invalid syntax"):
        parse_exposition(b'm{a="1"} 2\nn zz\n', False, known)
    with pytest.raises(ExpositionError, match="line 2: unexpected data after # EOF"):
        parse_exposition(b"# EOF\nn 3\n", True, known)


def test_help_escapes_differ_between_formats() -> None:
    text = parse_exposition(b'# HELP m a \\"q\\" \\\\ b\nm 1\n', False).metadata["m"].help
    om = parse_exposition(b'# HELP m a \\"q\\" \\\\ b\nm 1\n# EOF\n', True).metadata["m"].help
    assert text == 'a \\"q\\" \\ b'
    assert om == 'a "q" \\ b'


def test_crlf_line_endings() -> None:
    s = _samples(b'# TYPE m gauge\r\nm{a="1"} 2\r\nn 3\r\n')
    assert [(d["__name__"], v) for d, _, v in s] == [("m", 2.0), ("n", 3.0)]


def test_metric_name_required() -> None:
    for key in (b'{a="1"}', b'{__name__=""}'):
        with pytest.raises(ValueError, match="metric name missing"):
            parse_series(key)
    assert parse_series(b'{__name__="x",a="1"}') == {"__name__": "x", "a": "1"}
