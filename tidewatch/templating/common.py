"""Helpers shared by the Prometheus and Alertmanager function sets: Go regexp
functions on RE2, ``title``, number conversion and ``humanizeDuration``."""

from __future__ import annotations

import datetime as dt
import functools
import json
import math
import numbers
from collections.abc import Callable
from typing import Any

import re2

from tidewatch.templating.gofmt import go_type_name, sprintf
from tidewatch.templating.gotime import GoDuration
from tidewatch.templating.values import SafeHTML

_RE2_OPTIONS = re2.Options()
_RE2_OPTIONS.log_errors = False  # errors are reported to the template's caller instead

# RE2's error codes as Go's regexp/syntax words them.
_GO_REGEXP_ERRORS = {
    "missing )": "missing closing )",
    "missing ]": "missing closing ]",
    "bad repetition operator": "invalid nested repetition operator",
    "no argument for repetition operator": "missing argument to repetition operator",
    "trailing \\": "trailing backslash at end of expression",
    "invalid perl operator": "invalid or unsupported Perl syntax",
    "invalid repetition size": "invalid repeat count",
}


def _go_regexp_error(exc: Exception, pattern: str) -> str:
    raw = exc.args[0] if exc.args else ""
    msg = raw.decode(errors="replace") if isinstance(raw, bytes) else str(raw)
    code, _, expr = msg.partition(": ")
    code = _GO_REGEXP_ERRORS.get(code, code)
    if code.startswith("missing closing"):
        expr = pattern
    return f"error parsing regexp: {code}: `{expr}`"


@functools.lru_cache(maxsize=512)
def compile_regexp(pattern: str) -> Any:
    """Unanchored RE2 regex (Go's regexp syntax), with Go's error text."""
    try:
        return re2.compile(pattern, _RE2_OPTIONS)
    except re2.error as exc:
        raise ValueError(_go_regexp_error(exc, pattern)) from None


def match(pattern: str, text: str) -> bool:
    """Go's ``regexp.MatchString``: does ``text`` contain a match."""
    return compile_regexp(pattern).search(_str(text)) is not None


def _extract(tmpl: str, i: int) -> tuple[str, int] | None:
    """Name after a "$" at ``i`` ("name" or "{name}"), and where the rest starts."""
    brace = i < len(tmpl) and tmpl[i] == "{"
    j = i + 1 if brace else i
    k = j
    while k < len(tmpl) and (tmpl[k].isalnum() or tmpl[k] == "_"):
        k += 1
    if k == j:
        return None
    name = tmpl[j:k]
    if brace:
        if k >= len(tmpl) or tmpl[k] != "}":
            return None
        k += 1
    return name, k


def _expand(rx: Any, tmpl: str, m: Any) -> str:
    out: list[str] = []
    i = 0
    n = len(tmpl)
    while i < n:
        d = tmpl.find("$", i)
        if d < 0:
            break
        out.append(tmpl[i:d])
        i = d + 1
        if i < n and tmpl[i] == "$":
            out.append("$")
            i += 1
            continue
        ext = _extract(tmpl, i)
        if ext is None:
            out.append("$")
            continue
        name, i = ext
        if name.isdigit() and name.isascii() and (name == "0" or name[0] != "0"):
            num = int(name)
            if num <= rx.groups and m.start(num) >= 0:
                out.append(m.group(num))
        else:
            idx = rx.groupindex.get(name)
            if idx is not None and m.start(idx) >= 0:
                out.append(m.group(idx))
    out.append(tmpl[i:])
    return "".join(out)


def re_replace_all(pattern: str, repl: str, text: str) -> str:
    """Go's ``Regexp.ReplaceAllString``: ``$1``/``${name}`` expansion, Go's empty-match rules."""
    rx = compile_regexp(pattern)
    text = _str(text)
    out: list[str] = []
    last_end = 0
    pos = 0
    n = len(text)
    while pos <= n:
        m = rx.search(text, pos)
        if m is None:
            break
        start, end = m.span()
        out.append(text[last_end:start])
        # No empty match right after the previous match (Go's rule).
        if end > last_end or start == 0:
            out.append(_expand(rx, repl, m))
        last_end = end
        pos = end if end > pos else pos + 1
    out.append(text[last_end:])
    return "".join(out)


def _str(v: Any) -> str:
    if not isinstance(v, str):
        raise ValueError(f"wrong type for value; expected string; got {go_type_name(v)}")
    return v


# Unicode word breaking (UAX #29, as x/text/cases uses) keeps a word together across
# these when a letter or digit follows: "o'neil", "foo.bar", "a:b".
_MID_WORD = frozenset(".:'\u2019\u00b7")


def _title(text: str, lower_rest: bool) -> str:
    out: list[str] = []
    in_word = False
    n = len(text)
    for i, ch in enumerate(text):
        if ch.isalnum() or ch == "_":
            if in_word:
                out.append(ch.lower() if lower_rest else ch)
            else:
                out.append(ch.upper())
                in_word = True
            continue
        out.append(ch)
        if not (in_word and ch in _MID_WORD and i + 1 < n and text[i + 1].isalnum()):
            in_word = False
    return "".join(out)


def title_keep_rest(text: str) -> str:
    """Prometheus's ``title``: upper-case each word's first letter, leave the rest."""
    return _title(_str(text), lower_rest=False)


def title_lower_rest(text: str) -> str:
    """Alertmanager's ``title`` (x/text cases.Title): "hELLO wORLD" -> "Hello World"."""
    return _title(_str(text), lower_rest=True)


def parse_go_float(s: str) -> float:
    """``strconv.ParseFloat(s, 64)`` with Go's error text."""
    t = s.strip()
    if t != s or not t or "_" in t:
        raise ValueError(f'strconv.ParseFloat: parsing "{s}": invalid syntax')
    try:
        return float(t)
    except ValueError:
        pass
    try:
        if t.lower().startswith(("0x", "-0x", "+0x")):
            return float.fromhex(t)
    except ValueError:
        pass
    raise ValueError(f'strconv.ParseFloat: parsing "{s}": invalid syntax')


def convert_to_float(v: Any) -> float:
    """prometheus/common's ConvertToFloat: numbers, numeric strings, durations."""
    if isinstance(v, bool):
        raise ValueError("can't convert bool to float")
    if isinstance(v, (int, float, numbers.Real)):
        return float(v)
    if isinstance(v, str):
        return parse_go_float(v)
    if isinstance(v, GoDuration):
        return v.ns / 1e9
    if isinstance(v, dt.timedelta):
        return v.total_seconds()
    raise ValueError(f"can't convert {go_type_name(v)} to float")


_SMALL_PREFIXES = ("m", "u", "n", "p", "f", "a", "z", "y")


def humanize_duration(i: Any) -> str:
    v = convert_to_float(i)
    if math.isnan(v) or math.isinf(v):
        return sprintf("%.4g", v)
    if v == 0:
        return sprintf("%.4gs", v)
    if abs(v) >= 1:
        sign = ""
        if v < 0:
            sign = "-"
            v = -v
        total = int(v)
        seconds = total % 60
        minutes = total // 60 % 60
        hours = total // 3600 % 24
        days = total // 86400
        if days:
            return f"{sign}{days}d {hours}h {minutes}m {seconds}s"
        if hours:
            return f"{sign}{hours}h {minutes}m {seconds}s"
        if minutes:
            return f"{sign}{minutes}m {seconds}s"
        return sign + sprintf("%.4gs", v)
    prefix = ""
    for p in _SMALL_PREFIXES:
        if abs(v) >= 1:
            break
        prefix = p
        v *= 1000
    return sprintf("%.4g%ss", v, prefix)


def to_upper(s: str) -> str:
    return s.upper()


def to_lower(s: str) -> str:
    return s.lower()


def trim_space(s: str) -> str:
    return s.strip()


def safe_text(text: str) -> SafeHTML:
    """``safeHtml``/``safeUrl``: unchanged text that HTML-escaping templates leave alone."""
    return SafeHTML(text)


def to_json_value(v: Any) -> Any:
    """Python data as Go's encoding/json would see the Go value."""
    if v is None or isinstance(v, (str, bool, int, float)):
        return v
    if isinstance(v, dt.datetime):
        from tidewatch.templating.gotime import go_time_format

        return go_time_format(v, "2006-01-02T15:04:05.999999999Z07:00")
    if isinstance(v, GoDuration):
        return v.ns
    to_json: Callable[[], Any] | None = getattr(v, "to_json", None)
    if to_json is not None:
        return to_json_value(to_json())
    if isinstance(v, dict):
        # Go sorts map keys; struct (dataclass) fields keep declaration order.
        return {str(k): to_json_value(v[k]) for k in sorted(v, key=str)}
    if isinstance(v, (list, tuple)):
        return [to_json_value(x) for x in v]
    if hasattr(v, "__dataclass_fields__"):
        return {k: to_json_value(getattr(v, k)) for k in v.__dataclass_fields__}
    return str(v)


def to_json(v: Any) -> str:
    """Go's ``json.Marshal``: sorted map keys, HTML-safe escapes, no spaces."""
    text = json.dumps(to_json_value(v), separators=(",", ":"), ensure_ascii=False)
    return (
        text.replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("&", "\\u0026")
        .replace("\u2028", "\\u2028")
        .replace("\u2029", "\\u2029")
    )
