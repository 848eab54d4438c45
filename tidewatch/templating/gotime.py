"""Go's time printing for templates: ``time.Time.String``, ``Time.Format`` layouts
and ``time.Duration``. Times are aware ``datetime`` objects."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

UTC = dt.UTC

MONTHS = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
]
DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]


class GoDuration:
    """A ``time.Duration`` (int nanoseconds) that prints like Go: ``1h2m3.5s``, ``250ms``."""

    __slots__ = ("ns",)

    def __init__(self, ns: int) -> None:
        self.ns = int(ns)

    def Seconds(self) -> float:
        return self.ns / 1e9

    def Minutes(self) -> float:
        return self.ns / 6e10

    def Hours(self) -> float:
        return self.ns / 3.6e12

    def Milliseconds(self) -> int:
        return int(self.ns / 1e6)

    def String(self) -> str:
        return str(self)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, GoDuration) and other.ns == self.ns

    def __hash__(self) -> int:
        return hash(self.ns)

    def __str__(self) -> str:
        ns = self.ns
        if ns == 0:
            return "0s"
        sign = "-" if ns < 0 else ""
        u = abs(ns)
        if u < 1_000_000_000:
            if u < 1_000:
                return f"{sign}{u}ns"
            if u < 1_000_000:
                return sign + _fraction(u, 1_000) + "µs"
            return sign + _fraction(u, 1_000_000) + "ms"
        hours, rem = divmod(u, 3_600_000_000_000)
        minutes, rem = divmod(rem, 60_000_000_000)
        out = sign
        if hours:
            out += f"{hours}h"
        if hours or minutes:
            out += f"{minutes}m"
        return out + _fraction(rem, 1_000_000_000) + "s"

    __repr__ = __str__


def _fraction(value: int, unit: int) -> str:
    whole, frac = divmod(value, unit)
    if not frac:
        return str(whole)
    digits = str(frac).rjust(len(str(unit)) - 1, "0").rstrip("0")
    return f"{whole}.{digits}"


def _zone_name(t: dt.datetime) -> str:
    name = t.tzname() or ""
    if not name or name.startswith(("UTC+", "UTC-")) or name[0] in "+-":
        return _offset(t, "-0700")
    return name


def _offset(t: dt.datetime, style: str) -> str:
    off = t.utcoffset() or dt.timedelta(0)
    secs = int(off.total_seconds())
    if style.startswith("Z") and secs == 0:
        return "Z"
    sign = "-" if secs < 0 else "+"
    secs = abs(secs)
    hh, mm, ss = secs // 3600, secs // 60 % 60, secs % 60
    core = style.lstrip("Z")
    if core in ("-07", "07"):
        return f"{sign}{hh:02d}"
    if core in ("-07:00", "07:00"):
        return f"{sign}{hh:02d}:{mm:02d}"
    if core in ("-07:00:00", "07:00:00"):
        return f"{sign}{hh:02d}:{mm:02d}:{ss:02d}"
    if core in ("-070000", "070000"):
        return f"{sign}{hh:02d}{mm:02d}{ss:02d}"
    return f"{sign}{hh:02d}{mm:02d}"


def ensure_aware(t: dt.datetime) -> dt.datetime:
    return t if t.tzinfo is not None else t.replace(tzinfo=UTC)


def go_time_string(t: dt.datetime) -> str:
    """``time.Time.String()``: ``2006-01-02 15:04:05.999999999 -0700 MST``."""
    return go_time_format(t, "2006-01-02 15:04:05.999999999 -0700 MST")


# Layout elements, longest first where one is a prefix of another.
_TOKENS = [
    "January",
    "Monday",
    "2006",
    "-07:00:00",
    "-070000",
    "-07:00",
    "-0700",
    "-07",
    "Z07:00:00",
    "Z070000",
    "Z07:00",
    "Z0700",
    "Z07",
    "Jan",
    "Mon",
    "MST",
    "002",
    "__2",
    "_2",
    "01",
    "02",
    "03",
    "04",
    "05",
    "06",
    "15",
    "PM",
    "pm",
    "1",
    "2",
    "3",
    "4",
    "5",
]


def _fraction_token(layout: str, i: int) -> int:
    """Length of a ``.000``/``,999`` fractional-seconds element at ``i`` (after seconds), else 0."""
    if i + 1 >= len(layout) or layout[i] not in ".," or layout[i + 1] not in "09":
        return 0
    ch = layout[i + 1]
    j = i + 1
    while j < len(layout) and layout[j] == ch:
        j += 1
    if j < len(layout) and layout[j].isdigit():
        return 0
    return j - i


def go_time_format(t: dt.datetime, layout: str) -> str:
    """``time.Time.Format(layout)`` with Go's reference time ``Mon Jan 2 15:04:05 MST 2006``."""
    t = ensure_aware(t)
    out: list[str] = []
    i = 0
    n = len(layout)
    while i < n:
        flen = _fraction_token(layout, i)
        if flen:
            ch = layout[i + 1]
            digits = f"{t.microsecond:06d}000"[: flen - 1]
            if ch == "9":
                digits = digits.rstrip("0")
                out.append(layout[i] + digits if digits else "")
            else:
                out.append(layout[i] + digits)
            i += flen
            continue
        for tok in _TOKENS:
            if layout.startswith(tok, i):
                # "Jan"/"Mon" must not swallow the start of a lower-case word ("Month").
                if tok in ("Jan", "Mon") and layout[i + 3 : i + 4].islower():
                    continue
                out.append(_element(t, tok))
                i += len(tok)
                break
        else:
            out.append(layout[i])
            i += 1
    return "".join(out)


def _element(t: dt.datetime, tok: str) -> str:
    if tok == "2006":
        return f"{t.year:04d}"
    if tok == "06":
        return f"{t.year % 100:02d}"
    if tok == "January":
        return MONTHS[t.month - 1]
    if tok == "Jan":
        return MONTHS[t.month - 1][:3]
    if tok == "01":
        return f"{t.month:02d}"
    if tok == "1":
        return str(t.month)
    if tok == "Monday":
        return DAYS[t.weekday()]
    if tok == "Mon":
        return DAYS[t.weekday()][:3]
    if tok == "02":
        return f"{t.day:02d}"
    if tok == "_2":
        return f"{t.day:2d}"
    if tok == "2":
        return str(t.day)
    if tok == "002":
        return f"{t.timetuple().tm_yday:03d}"
    if tok == "__2":
        return f"{t.timetuple().tm_yday:3d}"
    if tok == "15":
        return f"{t.hour:02d}"
    if tok in ("3", "03"):
        h = t.hour % 12 or 12
        return str(h) if tok == "3" else f"{h:02d}"
    if tok == "04":
        return f"{t.minute:02d}"
    if tok == "4":
        return str(t.minute)
    if tok == "05":
        return f"{t.second:02d}"
    if tok == "5":
        return str(t.second)
    if tok == "PM":
        return "PM" if t.hour >= 12 else "AM"
    if tok == "pm":
        return "pm" if t.hour >= 12 else "am"
    if tok == "MST":
        return _zone_name(t)
    return _offset(t, tok)


def from_unix_seconds(v: float) -> dt.datetime:
    """A UTC time from float seconds, truncated to microseconds (Python's resolution)."""
    ns = int(v * 1e9)
    return dt.datetime(1970, 1, 1, tzinfo=UTC) + dt.timedelta(microseconds=ns // 1000)


def is_time(v: Any) -> bool:
    return isinstance(v, dt.datetime)


def _unix(t: dt.datetime) -> int:
    return int(ensure_aware(t).timestamp() // 1)


def _sub(t: dt.datetime, u: dt.datetime) -> GoDuration:
    return GoDuration((ensure_aware(t) - ensure_aware(u)) // dt.timedelta(microseconds=1) * 1000)


# Methods of Go's time.Time that templates call on datetimes ({{ .StartsAt.Unix }}).
TIME_METHODS: dict[str, Callable[..., Any]] = {
    "Format": go_time_format,
    "String": go_time_string,
    "Unix": _unix,
    "UnixMilli": lambda t: _unix(t) * 1000 + t.microsecond // 1000,
    "UnixNano": lambda t: _unix(t) * 1_000_000_000 + t.microsecond * 1000,
    "UTC": lambda t: ensure_aware(t).astimezone(UTC),
    "Local": lambda t: ensure_aware(t).astimezone(),
    "Year": lambda t: t.year,
    "Day": lambda t: t.day,
    "Hour": lambda t: t.hour,
    "Minute": lambda t: t.minute,
    "Second": lambda t: t.second,
    "Month": lambda t: MONTHS[t.month - 1],
    "Weekday": lambda t: DAYS[t.weekday()],
    "IsZero": lambda t: (t.year, t.month, t.day, t.hour, t.minute, t.second) == (1, 1, 1, 0, 0, 0),
    "Before": lambda t, u: ensure_aware(t) < ensure_aware(u),
    "After": lambda t, u: ensure_aware(t) > ensure_aware(u),
    "Equal": lambda t, u: ensure_aware(t) == ensure_aware(u),
    "Sub": _sub,
    "Add": lambda t, d: t + dt.timedelta(microseconds=d.ns // 1000),
}
