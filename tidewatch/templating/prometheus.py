"""Prometheus's template functions (alerting rules' labels/annotations, consoles)."""

from __future__ import annotations

import datetime as dt
import ipaddress
import math
import time
import urllib.parse
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from tidewatch.duration import parse_duration
from tidewatch.templating.builtins import query_escape
from tidewatch.templating.common import (
    convert_to_float,
    humanize_duration,
    match,
    re_replace_all,
    safe_text,
    title_keep_rest,
    to_lower,
    to_upper,
)
from tidewatch.templating.errors import TemplateError
from tidewatch.templating.gofmt import render_go_value, sprintf
from tidewatch.templating.gotime import UTC, GoDuration, go_time_string
from tidewatch.templating.template import Template


@dataclass
class Sample:
    """One element of a ``query`` result, as Prometheus templates see it."""

    Labels: dict[str, str] = field(default_factory=dict)
    Value: float = 0.0


QueryFunc = Callable[[str], Iterable[Any]]


def _to_sample(x: Any) -> Sample:
    if isinstance(x, Sample):
        return x
    if isinstance(x, tuple) and len(x) == 2:
        labels, value = x
        return Sample(dict(labels), float(value))
    labels = getattr(x, "Labels", None) or getattr(x, "labels", None) or {}
    value = getattr(x, "Value", None)
    if value is None:
        value = getattr(x, "value", 0.0)
    return Sample(dict(labels), float(value))


def _first(v: Any) -> Any:
    if v:
        return v[0]
    raise ValueError("first() called on vector with no elements")


def _sample_labels(s: Any) -> Mapping[str, str]:
    if s is None:
        raise ValueError("invalid memory address or nil pointer dereference")
    labels: Mapping[str, str] = s.Labels
    return labels


def _humanize(i: Any) -> str:
    v = convert_to_float(i)
    if v == 0 or math.isnan(v) or math.isinf(v):
        return sprintf("%.4g", v)
    prefix = ""
    if abs(v) >= 1:
        for p in ("k", "M", "G", "T", "P", "E", "Z", "Y"):
            if abs(v) < 1000:
                break
            prefix = p
            v /= 1000
        return sprintf("%.4g%s", v, prefix)
    for p in ("m", "u", "n", "p", "f", "a", "z", "y"):
        if abs(v) >= 1:
            break
        prefix = p
        v *= 1000
    return sprintf("%.4g%s", v, prefix)


def _humanize1024(i: Any) -> str:
    v = convert_to_float(i)
    if abs(v) <= 1 or math.isnan(v) or math.isinf(v):
        return sprintf("%.4g", v)
    prefix = ""
    for p in ("ki", "Mi", "Gi", "Ti", "Pi", "Ei", "Zi", "Yi"):
        if abs(v) < 1024:
            break
        prefix = p
        v /= 1024
    return sprintf("%.4g%s", v, prefix)


def _humanize_percentage(i: Any) -> str:
    return sprintf("%.4g%%", convert_to_float(i) * 100)


_MAX_INT64 = 2**63


def float_to_time(v: float) -> dt.datetime:
    """Prometheus's FloatToTime: seconds to a UTC time, truncated to milliseconds."""
    if math.isnan(v) or math.isinf(v):
        raise ValueError("value is NaN or Inf")
    ns = v * 1e9
    if ns >= _MAX_INT64 or ns < -_MAX_INT64:
        raise ValueError(
            f"{render_go_value(v)} cannot be represented as a nanoseconds timestamp since it overflows int64"
        )
    n = int(ns)  # Go truncates toward zero at each step
    ms = n // 1_000_000 if n >= 0 else -(-n // 1_000_000)
    return dt.datetime(1970, 1, 1, tzinfo=UTC) + dt.timedelta(milliseconds=ms)


def _humanize_timestamp(i: Any) -> str:
    v = convert_to_float(i)
    if math.isnan(v) or math.isinf(v):
        return sprintf("%.4g", v)
    return go_time_string(float_to_time(v))


def _to_time(i: Any) -> dt.datetime:
    return float_to_time(convert_to_float(i))


def _to_duration(i: Any) -> GoDuration:
    v = convert_to_float(i)
    if math.isnan(v) or math.isinf(v):
        raise ValueError("value is NaN or Inf")
    return GoDuration(int(v * 1e9))  # Go's float-to-int conversion truncates


def split_host_port(host_port: str) -> tuple[str, str]:
    """Go's ``net.SplitHostPort``; ValueError when it would fail."""
    if host_port.startswith("["):
        end = host_port.find("]")
        if end < 0:
            raise ValueError("missing ']' in address")
        rest = host_port[end + 1 :]
        if not rest.startswith(":"):
            raise ValueError("missing port in address")
        if ":" in rest[1:]:
            raise ValueError("too many colons in address")
        return host_port[1:end], rest[1:]
    idx = host_port.rfind(":")
    if idx < 0:
        raise ValueError("missing port in address")
    host = host_port[:idx]
    if ":" in host:
        raise ValueError("too many colons in address")
    if "[" in host or "]" in host:
        raise ValueError("unexpected bracket in address")
    return host, host_port[idx + 1 :]


def _strip_port(host_port: str) -> str:
    try:
        return split_host_port(host_port)[0]
    except ValueError:
        return host_port


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return "%" not in host


def _strip_domain(host_port: str) -> str:
    try:
        host, port = split_host_port(host_port)
    except ValueError:
        host, port = host_port, ""
    if _is_ip(host):
        return host_port
    host = host.split(".")[0]
    if port:
        return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    return host


def _label(label: str, s: Any) -> str:
    return _sample_labels(s).get(label, "")


def _graph_link(expr: str) -> str:
    return f"/graph?g0.expr={query_escape(expr)}&g0.tab=0"


def _table_link(expr: str) -> str:
    return f"/graph?g0.expr={query_escape(expr)}&g0.tab=1"


def _sort_by_label(label: str, v: list[Any]) -> list[Any]:
    v.sort(key=lambda s: _sample_labels(s).get(label, ""))
    return v


def _args(*a: Any) -> dict[str, Any]:
    return {f"arg{i}": x for i, x in enumerate(a)}


def _parse_duration(d: str) -> float:
    return parse_duration(d) / 1000.0


def _tmpl(template: Any, name: str, data: Any) -> str:
    out: str = template.execute(data, name)
    return out


_tmpl.template_aware = True  # type: ignore[attr-defined]


def prometheus_funcs(
    query: QueryFunc | None = None,
    external_url: str = "",
    *,
    now: float | None = None,
) -> dict[str, Callable[..., Any]]:
    """Prometheus's template functions. ``query(expr)`` returns the instant vector
    at evaluation time (``Sample``s, ``(labels, value)`` pairs or objects with
    ``labels``/``value``); ``now`` is that time in seconds (``now`` function)."""

    def query_(q: str) -> list[Sample]:
        if query is None:
            raise ValueError("no query function configured")
        return [_to_sample(x) for x in query(q)]

    path = urllib.parse.urlsplit(external_url).path if external_url else ""

    return {
        "query": query_,
        "first": _first,
        "label": _label,
        "value": lambda s: s.Value,
        "strvalue": lambda s: _sample_labels(s).get("__value__", ""),
        "args": _args,
        "reReplaceAll": re_replace_all,
        "safeHtml": safe_text,
        "match": match,
        "title": title_keep_rest,
        "toUpper": to_upper,
        "toLower": to_lower,
        "graphLink": _graph_link,
        "tableLink": _table_link,
        "sortByLabel": _sort_by_label,
        "stripPort": _strip_port,
        "stripDomain": _strip_domain,
        "humanize": _humanize,
        "humanize1024": _humanize1024,
        "humanizeDuration": humanize_duration,
        "humanizePercentage": _humanize_percentage,
        "humanizeTimestamp": _humanize_timestamp,
        "toTime": _to_time,
        "toDuration": _to_duration,
        "now": lambda: now if now is not None else time.time(),
        "pathPrefix": lambda: path,
        "externalURL": lambda: external_url,
        "parseDuration": _parse_duration,
        "tmpl": _tmpl,
    }


@dataclass
class AlertTemplateData:
    """The dot of an alerting rule's label and annotation templates."""

    Labels: dict[str, str] = field(default_factory=dict)
    ExternalLabels: dict[str, str] = field(default_factory=dict)
    ExternalURL: str = ""
    Value: Any = 0.0


# Prometheus prepends these so annotations can say {{ $labels.x }} and {{ $value }}.
ALERT_TEMPLATE_DEFS = (
    "{{$labels := .Labels}}{{$externalLabels := .ExternalLabels}}"
    "{{$externalURL := .ExternalURL}}{{$value := .Value}}"
)
_FUNC_NAMES = prometheus_funcs()
_alert_cache: dict[tuple[str, str], Template] = {}


def expand_alert_template(
    text: str,
    *,
    name: str,
    labels: Mapping[str, str],
    value: Any,
    external_labels: Mapping[str, str] | None = None,
    external_url: str = "",
    query: QueryFunc | None = None,
    now: float | None = None,
) -> str:
    """Expand one alert label/annotation template as Prometheus's rule manager does
    (``name`` is ``__alert_<rule name>``). Errors read like Prometheus's:
    ``error executing template NAME: template: NAME:1:..``; the caller shows them as
    ``<error expanding template: ...>``."""
    key = (name, text)
    parsed = _alert_cache.get(key)
    if parsed is None:
        try:
            parsed = Template(name, _FUNC_NAMES, missingkey_zero=True).parse(
                ALERT_TEMPLATE_DEFS + text
            )
        except TemplateError as exc:
            raise TemplateError(f"error parsing template {name}: {exc}") from None
        if len(_alert_cache) >= 4096:
            _alert_cache.clear()
        _alert_cache[key] = parsed
    run = parsed.clone().funcs(prometheus_funcs(query, external_url, now=now))
    data = AlertTemplateData(dict(labels), dict(external_labels or {}), external_url, value)
    try:
        return run.execute(data)
    except TemplateError as exc:
        raise TemplateError(f"error executing template {name}: {exc}") from None
