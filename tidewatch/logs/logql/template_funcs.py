"""Loki's ``line_format`` / ``label_format`` template functions (a subset of Sprig plus
Loki's own), for :class:`tidewatch.templating.Template`.

``__line__`` and ``__timestamp__`` read the entry being formatted from a
:class:`LineContext` that the pipeline stage updates before each execution.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import math
import urllib.parse
from collections.abc import Callable
from typing import Any

from tidewatch.logs.logql.units import go_parse_duration_ns, parse_bytes
from tidewatch.matcher import compile_regex
from tidewatch.templating import GoDuration
from tidewatch.templating.common import re_replace_all
from tidewatch.templating.gotime import go_time_format


class LineContext:
    __slots__ = ("line", "ts_ns")

    def __init__(self) -> None:
        self.line = ""
        self.ts_ns = 0


def _s(v: Any) -> str:
    return v if isinstance(v, str) else str(v)


def _to_int(v: Any) -> int:
    if isinstance(v, bool):
        return int(v)
    if isinstance(v, int):
        return v
    if isinstance(v, float):
        return int(v)
    try:
        return int(float(_s(v).strip()))
    except ValueError:
        return 0


def _to_float(v: Any) -> float:
    if isinstance(v, int | float):
        return float(v)
    try:
        return float(_s(v).strip())
    except ValueError:
        return 0.0


def _time(ts_ns: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(ts_ns / 1e9, tz=dt.UTC)


def _to_time(v: Any) -> dt.datetime:
    if isinstance(v, dt.datetime):
        return v
    return _time(_to_int(v) * 1_000_000_000)


def _regex_replace_all(regex: str, s: Any, repl: str) -> str:
    return re_replace_all(regex, repl, _s(s))


def _regex_replace_literal(regex: str, s: Any, repl: str) -> str:
    rx = compile_regex(regex)
    return str(rx.sub(lambda _m: repl, _s(s)))


def _default(d: Any, *args: Any) -> Any:
    v = args[-1] if args else None
    if v is None or v == "" or v is False or v == 0:
        return d
    return v


def _trunc(n: Any, s: Any) -> str:
    s, k = _s(s), _to_int(n)
    if k < 0:
        return s[k:] if -k < len(s) else s
    return s[:k]


def _substr(start: Any, end: Any, s: Any) -> str:
    s, a, b = _s(s), _to_int(start), _to_int(end)
    if a < 0:
        return s[:b]
    if b < 0 or b > len(s):
        return s[a:]
    return s[a:b]


def _align_left(n: Any, s: Any) -> str:
    k, s = _to_int(n), _s(s)
    return s[:k] if len(s) > k else s.ljust(k)


def _align_right(n: Any, s: Any) -> str:
    k, s = _to_int(n), _s(s)
    return s[len(s) - k :] if len(s) > k else s.rjust(k)


def _date(fmt: str, t: Any) -> str:
    return go_time_format(_to_time(t), fmt)


def _to_date(fmt: str, s: Any) -> dt.datetime:
    # Go layouts map onto ISO 8601 for the common cases (RFC 3339, "2006-01-02 15:04:05").
    try:
        t = dt.datetime.fromisoformat(_s(s).strip())
    except ValueError:
        return dt.datetime(1, 1, 1, tzinfo=dt.UTC)
    return t if t.tzinfo else t.replace(tzinfo=dt.UTC)


def _unix_epoch(t: Any) -> int:
    return int(_to_time(t).timestamp())


def _duration_seconds(s: Any) -> float:
    return go_parse_duration_ns(_s(s)) / 1e9


def _round(v: Any, precision: Any = 0, round_on: Any = 0.5) -> float:
    x = _to_float(v)
    p = 10 ** _to_int(precision)
    digit = x * p
    _, frac = math.modf(digit)
    r = math.ceil(digit) if frac >= _to_float(round_on) else math.floor(digit)
    return r / p


def _div(a: Any, b: Any) -> int:
    bi = _to_int(b)
    return 0 if bi == 0 else int(_to_int(a) / bi)


def _count(regex: str, s: Any) -> int:
    return len(compile_regex(regex).findall(_s(s)))


def _from_json(s: Any) -> Any:
    try:
        return json.loads(_s(s))
    except ValueError:
        return {}


def loki_funcs(ctx: LineContext) -> dict[str, Callable[..., Any]]:
    """The function map, with ``__line__``/``__timestamp__`` bound to ``ctx``."""
    return {
        "__line__": lambda: ctx.line,
        "__timestamp__": lambda: _time(ctx.ts_ns),
        "ToLower": lambda s: _s(s).lower(),
        "ToUpper": lambda s: _s(s).upper(),
        "lower": lambda s: _s(s).lower(),
        "upper": lambda s: _s(s).upper(),
        "title": lambda s: _s(s).title(),
        "Replace": lambda s, old, new, n: _s(s).replace(old, new, _to_int(n)),
        "replace": lambda old, new, s: _s(s).replace(old, new),
        "Trim": lambda s, cut: _s(s).strip(cut),
        "TrimLeft": lambda s, cut: _s(s).lstrip(cut),
        "TrimRight": lambda s, cut: _s(s).rstrip(cut),
        "TrimPrefix": lambda s, p: _s(s).removeprefix(p),
        "TrimSuffix": lambda s, p: _s(s).removesuffix(p),
        "TrimSpace": lambda s: _s(s).strip(),
        "trim": lambda s: _s(s).strip(),
        "trimAll": lambda cut, s: _s(s).strip(cut),
        "trimPrefix": lambda p, s: _s(s).removeprefix(p),
        "trimSuffix": lambda p, s: _s(s).removesuffix(p),
        "trunc": _trunc,
        "substr": _substr,
        "contains": lambda sub, s: sub in _s(s),
        "hasPrefix": lambda p, s: _s(s).startswith(p),
        "hasSuffix": lambda p, s: _s(s).endswith(p),
        "indent": lambda n, s: "\n".join(" " * _to_int(n) + ln for ln in _s(s).split("\n")),
        "nindent": lambda n, s: "\n" + "\n".join(" " * _to_int(n) + ln for ln in _s(s).split("\n")),
        "repeat": lambda n, s: _s(s) * _to_int(n),
        "regexReplaceAll": _regex_replace_all,
        "regexReplaceAllLiteral": _regex_replace_literal,
        "default": _default,
        "count": _count,
        "int": _to_int,
        "float64": _to_float,
        "add": lambda *a: sum(_to_int(x) for x in a),
        "sub": lambda a, b: _to_int(a) - _to_int(b),
        "mul": lambda *a: math.prod(_to_int(x) for x in a),
        "div": _div,
        "mod": lambda a, b: 0 if _to_int(b) == 0 else int(math.fmod(_to_int(a), _to_int(b))),
        "addf": lambda *a: sum(_to_float(x) for x in a),
        "subf": lambda a, *b: _to_float(a) - sum(_to_float(x) for x in b),
        "mulf": lambda *a: math.prod(_to_float(x) for x in a),
        "divf": lambda a, *b: _to_float(a) / math.prod(_to_float(x) for x in b),
        "max": lambda *a: max(_to_int(x) for x in a),
        "min": lambda *a: min(_to_int(x) for x in a),
        "maxf": lambda *a: max(_to_float(x) for x in a),
        "minf": lambda *a: min(_to_float(x) for x in a),
        "ceil": lambda v: float(math.ceil(_to_float(v))),
        "floor": lambda v: float(math.floor(_to_float(v))),
        "round": _round,
        "fromJson": _from_json,
        "date": _date,
        "toDate": _to_date,
        "now": lambda: dt.datetime.now(tz=dt.UTC),
        "unixEpoch": _unix_epoch,
        "unixEpochMillis": lambda t: int(_to_time(t).timestamp() * 1000),
        "unixEpochNanos": lambda t: int(_to_time(t).timestamp() * 1e9),
        "unixToTime": lambda s: _to_time(s),
        "alignLeft": _align_left,
        "alignRight": _align_right,
        "b64enc": lambda s: base64.b64encode(_s(s).encode()).decode(),
        "b64dec": lambda s: base64.b64decode(_s(s).encode()).decode("utf-8", "replace"),
        "urlencode": lambda s: urllib.parse.quote_plus(_s(s)),
        "urldecode": lambda s: urllib.parse.unquote_plus(_s(s)),
        "bytes": lambda s: float(parse_bytes(_s(s))),
        "duration": _duration_seconds,
        "duration_seconds": _duration_seconds,
        "toDuration": lambda s: GoDuration(int(go_parse_duration_ns(_s(s)))),
    }
