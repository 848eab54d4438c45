"""Go's duration and go-humanize's byte-size grammars, as Loki applies them.

Query literals accept Go durations (``1.5s``, ``250us``) and Prometheus ones
(``1d``, ``2w``); label values in filters and ``unwrap duration()`` accept only Go's.
"""

from __future__ import annotations

from tidewatch.duration import DurationError, parse_duration

_GO_UNITS_NS = {
    "ns": 1,
    "us": 1_000,
    "µs": 1_000,
    "μs": 1_000,
    "ms": 1_000_000,
    "s": 1_000_000_000,
    "m": 60_000_000_000,
    "h": 3_600_000_000_000,
}

_BYTE_UNITS = {
    "": 1,
    "b": 1,
    "k": 1000,
    "kb": 1000,
    "ki": 1024,
    "kib": 1024,
    "m": 1000**2,
    "mb": 1000**2,
    "mi": 1024**2,
    "mib": 1024**2,
    "g": 1000**3,
    "gb": 1000**3,
    "gi": 1024**3,
    "gib": 1024**3,
    "t": 1000**4,
    "tb": 1000**4,
    "ti": 1024**4,
    "tib": 1024**4,
    "p": 1000**5,
    "pb": 1000**5,
    "pi": 1024**5,
    "pib": 1024**5,
    "e": 1000**6,
    "eb": 1000**6,
    "ei": 1024**6,
    "eib": 1024**6,
}


def _go_quote(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def go_parse_duration_ns(text: str) -> float:
    """Go's ``time.ParseDuration`` in nanoseconds; ValueError carries Go's message."""
    orig = text
    s = text
    neg = False
    if s and s[0] in "+-":
        neg = s[0] == "-"
        s = s[1:]
    if s == "0":
        return 0.0
    if not s:
        raise ValueError(f"time: invalid duration {_go_quote(orig)}")
    total = 0.0
    while s:
        i = 0
        while i < len(s) and s[i].isdigit():
            i += 1
        int_part = s[:i]
        s = s[i:]
        frac_part = ""
        if s.startswith("."):
            s = s[1:]
            j = 0
            while j < len(s) and s[j].isdigit():
                j += 1
            frac_part = s[:j]
            s = s[j:]
        if not int_part and not frac_part:
            raise ValueError(f"time: invalid duration {_go_quote(orig)}")
        j = 0
        while j < len(s) and not (s[j].isdigit() or s[j] == "."):
            j += 1
        unit = s[:j]
        s = s[j:]
        if not unit:
            raise ValueError(f"time: missing unit in duration {_go_quote(orig)}")
        scale = _GO_UNITS_NS.get(unit)
        if scale is None:
            raise ValueError(f"time: unknown unit {_go_quote(unit)} in duration {_go_quote(orig)}")
        value = float(int(int_part or "0")) * scale
        if frac_part:
            value += int(frac_part) * scale / (10 ** len(frac_part))
        total += value
    return -total if neg else total


def parse_query_duration_ns(text: str) -> int:
    """A duration literal in a query: Go's grammar first, then Prometheus's (d, w, y)."""
    try:
        return int(go_parse_duration_ns(text))
    except ValueError:
        pass
    try:
        return parse_duration(text) * 1_000_000
    except DurationError as exc:
        raise ValueError(str(exc)) from None


def parse_bytes(text: str) -> int:
    """go-humanize's ``ParseBytes``: ``3MB`` = 3e6, ``2KiB`` = 2048, case-insensitive units."""
    i = 0
    while i < len(text) and (text[i].isdigit() or text[i] in ".,"):
        i += 1
    num = text[:i].replace(",", "")
    try:
        if not num or num.startswith(("0x", "0b", "0o")):
            raise ValueError
        f = float(num)
    except ValueError:
        raise ValueError(f'strconv.ParseFloat: parsing "{num}": invalid syntax') from None
    extra = text[i:].strip().lower()
    mult = _BYTE_UNITS.get(extra)
    if mult is None:
        raise ValueError(f"unhandled size name: {extra}")
    return int(f * mult)
