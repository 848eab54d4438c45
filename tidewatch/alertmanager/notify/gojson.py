"""JSON bodies as Go's ``encoding/json`` writes them for Alertmanager's notifiers:
struct fields in declaration order (build dicts in that order), map keys sorted,
``<``, ``>``, ``&``, U+2028 and U+2029 escaped, times in RFC 3339 with nanoseconds,
and a trailing newline (``json.Encoder``)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import orjson

from tidewatch.templating.gotime import UTC

_HTML_SAFE = (
    (b"<", b"\\u003c"),
    (b">", b"\\u003e"),
    (b"&", b"\\u0026"),
    ("\u2028".encode(), b"\\u2028"),
    ("\u2029".encode(), b"\\u2029"),
)


def rfc3339nano(t: dt.datetime) -> str:
    """Go's ``time.RFC3339Nano``: trailing zeros of the fraction dropped, ``Z`` for UTC."""
    if t.tzinfo is None:
        t = t.replace(tzinfo=UTC)
    base = t.strftime("%Y-%m-%dT%H:%M:%S")
    if t.year < 1000:
        base = f"{t.year:04d}" + base[base.index("-") :]
    frac = f"{t.microsecond:06d}".rstrip("0")
    if frac:
        base += "." + frac
    off = t.utcoffset()
    if not off:
        return base + "Z"
    minutes = int(off.total_seconds()) // 60
    sign = "+" if minutes >= 0 else "-"
    minutes = abs(minutes)
    return f"{base}{sign}{minutes // 60:02d}:{minutes % 60:02d}"


def _default(obj: Any) -> Any:
    if isinstance(obj, dt.datetime):
        return rfc3339nano(obj)
    if isinstance(obj, dict):
        return dict(obj)
    if isinstance(obj, list):
        return list(obj)
    raise TypeError(f"cannot encode {type(obj).__name__}")


def sorted_map(d: dict[str, Any]) -> dict[str, Any]:
    """A Go map: encoded with its keys sorted."""
    return {k: d[k] for k in sorted(d)}


def dumps(obj: Any, *, newline: bool = True) -> bytes:
    """``json.Encoder.Encode`` (newline-terminated) or ``json.Marshal`` (not)."""
    body = orjson.dumps(
        obj,
        default=_default,
        option=orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_SUBCLASS,
    )
    for raw, esc in _HTML_SAFE:
        if raw in body:
            body = body.replace(raw, esc)
    return body + b"\n" if newline else body
