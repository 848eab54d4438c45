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
