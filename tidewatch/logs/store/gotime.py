"""Go's time formats as Loki prints them in error messages (UTC)."""

from __future__ import annotations

import datetime as dt

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def _split(ns: int) -> tuple[dt.datetime, int]:
    secs, frac = divmod(ns, 1_000_000_000)
    return _EPOCH + dt.timedelta(seconds=secs), frac


def go_string(ns: int) -> str:
    """``time.Time.String()``: ``2006-01-02 15:04:05.999999999 +0000 UTC``."""
    t, frac = _split(ns)
    text = t.strftime("%Y-%m-%d %H:%M:%S")
    if frac:
        text += "." + f"{frac:09d}".rstrip("0")
    return text + " +0000 UTC"


def rfc3339(ns: int) -> str:
    """``time.RFC3339``: whole seconds, ``Z``."""
    t, _ = _split(ns)
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_rfc3339_ns(text: str) -> int:
    """RFC 3339 with up to nanosecond fractions (Go's RFC3339Nano); raises ValueError."""
    s = text.strip().replace("z", "Z").replace("Z", "+00:00")
    frac_ns = 0
    dot = s.find(".")
    if dot != -1:
        end = dot + 1
        while end < len(s) and s[end].isdigit():
            end += 1
        digits = s[dot + 1 : end]
        if not digits:
            raise ValueError(f"invalid fraction in {text!r}")
        frac_ns = int((digits + "000000000")[:9])
        s = s[:dot] + s[end:]
    t = dt.datetime.fromisoformat(s)
    if t.tzinfo is None:
        t = t.replace(tzinfo=dt.UTC)
    return int((t - _EPOCH).total_seconds()) * 1_000_000_000 + frac_ns
