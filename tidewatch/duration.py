"""Prometheus durations (``1h30m``, ``5m``, ``250ms``, ``2w``, ``1y``), parsed once here.

Everything that reads a duration — configs, PromQL, LogQL, the HTTP API — uses
:func:`parse_duration`, so one grammar and one set of error messages apply everywhere.
"""

from __future__ import annotations

import re

_UNITS_MS = {
    "y": 365 * 24 * 3600 * 1000,
    "w": 7 * 24 * 3600 * 1000,
    "d": 24 * 3600 * 1000,
    "h": 3600 * 1000,
    "m": 60 * 1000,
    "s": 1000,
    "ms": 1,
}
_ORDER = ["y", "w", "d", "h", "m", "s", "ms"]
_PART = re.compile(r"([0-9]+)(ms|y|w|d|h|m|s)")


class DurationError(ValueError):
    pass


def parse_duration(text: str) -> int:
    """Parse a Prometheus duration into milliseconds.

    Units must appear at most once each and in decreasing order, as Prometheus requires.
    ``0`` alone is accepted.
    """
    if text == "0":
        return 0
    if not text:
        raise DurationError("empty duration string")
    pos = 0
    total = 0
    last_index = -1
    while pos < len(text):
        m = _PART.match(text, pos)
        if m is None:
            raise DurationError(f'not a valid duration string: "{text}"')
        unit = m.group(2)
        idx = _ORDER.index(unit)
        if idx <= last_index:
            raise DurationError(f'not a valid duration string: "{text}"')
        last_index = idx
        total += int(m.group(1)) * _UNITS_MS[unit]
        pos = m.end()
    if total >= 1 << 63:
        raise DurationError(f'duration out of range: "{text}"')
    return total


def parse_duration_seconds(text: str) -> float:
    return parse_duration(text) / 1000.0


def format_duration(ms: int) -> str:
    """Format milliseconds the way Prometheus prints durations (``1h30m``, ``90d``, ``0s``).

    Years and weeks are used only when they divide the duration exactly, as
    Prometheus does: ``90d`` reads better than ``12w6d``.
    """
    if ms == 0:
        return "0s"
    sign = ""
    if ms < 0:
        sign, ms = "-", -ms
    out: list[str] = []
    for unit in _ORDER:
        size = _UNITS_MS[unit]
        if unit in ("y", "w") and ms % size != 0:
            continue
        if ms >= size:
            n, ms = divmod(ms, size)
            out.append(f"{n}{unit}")
    return sign + "".join(out)
