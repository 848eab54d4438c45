"""Parsing times with Go layouts (``2006-01-02T15:04:05Z07:00``) and Promtail's names.

A layout is compiled once into one RE2 pattern with a group per element, so parsing a
line's timestamp is one match plus integer arithmetic (no strptime, no float seconds).
"""

from __future__ import annotations

import calendar
import datetime as dt
import zoneinfo
from collections.abc import Callable

import re2

NAMED_LAYOUTS = {
    "ANSIC": "Mon Jan _2 15:04:05 2006",
    "UnixDate": "Mon Jan _2 15:04:05 MST 2006",
    "RubyDate": "Mon Jan 02 15:04:05 -0700 2006",
    "RFC822": "02 Jan 06 15:04 MST",
    "RFC822Z": "02 Jan 06 15:04 -0700",
    "RFC850": "Monday, 02-Jan-06 15:04:05 MST",
    "RFC1123": "Mon, 02 Jan 2006 15:04:05 MST",
    "RFC1123Z": "Mon, 02 Jan 2006 15:04:05 -0700",
    "RFC3339": "2006-01-02T15:04:05Z07:00",
    "RFC3339Nano": "2006-01-02T15:04:05.999999999Z07:00",
    "Layout": "01/02 03:04:05PM '06 -0700",
    "Kitchen": "3:04PM",
    "Stamp": "Jan _2 15:04:05",
    "StampMilli": "Jan _2 15:04:05.000",
    "StampMicro": "Jan _2 15:04:05.000000",
    "StampNano": "Jan _2 15:04:05.000000000",
}
UNIX_FORMATS = ("Unix", "UnixMs", "UnixUs", "UnixNs")

_MONTHS = [calendar.month_name[i] for i in range(1, 13)]
_MONTHS_SHORT = [calendar.month_abbr[i] for i in range(1, 13)]
_DAYS = [calendar.day_name[i] for i in range(7)]
_DAYS_SHORT = [calendar.day_abbr[i] for i in range(7)]

_ZONE = r"(Z|[+-]\d{2}(?::?\d{2}(?::?\d{2})?)?)"
# Longest first where one element is a prefix of another.
_ELEMENTS: list[tuple[str, str, str]] = [  # layout text, group kind, pattern
    ("January", "month_name", "(?i:(" + "|".join(_MONTHS) + "))"),
    ("Monday", "skip", "(?i:(?:" + "|".join(_DAYS) + "))"),
    ("2006", "year", r"(\d{4})"),
    ("Jan", "month_name", "(?i:(" + "|".join(_MONTHS_SHORT) + "))"),
    ("Mon", "skip", "(?i:(?:" + "|".join(_DAYS_SHORT) + "))"),
    ("MST", "zone_name", r"([A-Za-z]{3,5}|[+-]\d{2,4})"),
    ("002", "yday", r"(\d{3})"),
    ("__2", "yday", r" {0,2}(\d{1,3})"),
    ("_2", "day", r" ?(\d{1,2})"),
    ("Z07:00:00", "zone", _ZONE),
    ("-07:00:00", "zone", _ZONE),
    ("Z070000", "zone", _ZONE),
    ("-070000", "zone", _ZONE),
    ("Z07:00", "zone", _ZONE),
    ("-07:00", "zone", _ZONE),
    ("Z0700", "zone", _ZONE),
    ("-0700", "zone", _ZONE),
    ("Z07", "zone", _ZONE),
    ("-07", "zone", _ZONE),
    ("01", "month", r"(\d{2})"),
    ("02", "day", r"(\d{2})"),
    ("03", "hour12", r"(\d{2})"),
    ("04", "minute", r"(\d{2})"),
    ("05", "second", r"(\d{2})"),
    ("06", "year2", r"(\d{2})"),
    ("15", "hour", r"(\d{1,2})"),
    ("PM", "ampm", "([AaPp][Mm])"),
    ("pm", "ampm", "([AaPp][Mm])"),
    ("1", "month", r"(\d{1,2})"),
    ("2", "day", r"(\d{1,2})"),
    ("3", "hour12", r"(\d{1,2})"),
    ("4", "minute", r"(\d{1,2})"),
    ("5", "second", r"(\d{1,2})"),
]
_FRACTION = re2.compile(r"^[.,](0+|9+)")


class TimeParseError(ValueError):
    pass


def _compile_layout(layout: str) -> tuple[re2._Regexp, list[str]]:
    parts: list[str] = []
    kinds: list[str] = []
    i = 0
    last_second = False
    while i < len(layout):
        m = _FRACTION.search(layout[i:])
        if m is not None and last_second and not layout[i + m.end() : i + m.end() + 1].isdigit():
            run = m.group(1)
            digits = len(run)
            if run[0] == "0":
                parts.append(r"[.,](\d{" + str(digits) + "})")
            else:
                parts.append(r"(?:[.,](\d+))?")
            kinds.append("fraction")
            i += m.end()
            last_second = False
            continue
        if last_second:
            # Go accepts a fraction after the seconds even when the layout has none.
            parts.append(r"(?:[.,](\d+))?")
            kinds.append("fraction")
            last_second = False
        for text, kind, pattern in _ELEMENTS:
            if layout.startswith(text, i):
                if kind != "skip":
                    kinds.append(kind)
                parts.append(pattern)
                i += len(text)
                last_second = kind == "second"
                break
        else:
            parts.append(re2.escape(layout[i]))
            i += 1
    if last_second:
        parts.append(r"(?:[.,](\d+))?")
        kinds.append("fraction")
    return re2.compile("^" + "".join(parts) + "$"), kinds


def _zone_offset(text: str) -> int:
    if text in ("Z", "z"):
        return 0
    sign = -1 if text[0] == "-" else 1
    digits = text[1:].replace(":", "")
    h = int(digits[0:2])
    mnt = int(digits[2:4] or 0)
    s = int(digits[4:6] or 0)
    return sign * (h * 3600 + mnt * 60 + s)


class LayoutParser:
    """``parse(text) -> ns`` for one Go layout; ``location`` applies when it has no zone."""

    def __init__(self, layout: str, location: dt.tzinfo | None = None) -> None:
        self.layout = layout
        self.regex, self.kinds = _compile_layout(layout)
        self.location = location

    def parse(self, text: str) -> int:
        m = self.regex.match(text)
        if m is None:
            raise TimeParseError(f'parsing time "{text}" as "{self.layout}": cannot parse')
        year = 0
        month = day = 1
        hour = minute = second = frac_ns = 0
        pm: bool | None = None
        offset: int | None = None
        yday = 0
        for kind, value in zip(self.kinds, m.groups(), strict=True):
            if value is None:
                continue
            if kind == "year":
                year = int(value)
            elif kind == "year2":
                y = int(value)
                year = y + (1900 if y >= 69 else 2000)
            elif kind == "month":
                month = int(value)
            elif kind == "month_name":
                low = value.lower()
                names = _MONTHS if len(value) > 3 else _MONTHS_SHORT
                month = [n.lower() for n in names].index(low) + 1
            elif kind == "day":
                day = int(value)
            elif kind == "yday":
                yday = int(value)
            elif kind in ("hour", "hour12"):
                hour = int(value)
            elif kind == "minute":
                minute = int(value)
            elif kind == "second":
                second = int(value)
            elif kind == "fraction":
                frac_ns = int((value + "000000000")[:9])
            elif kind == "ampm":
                pm = value.lower() == "pm"
            elif kind == "zone":
                offset = _zone_offset(value)
            elif kind == "zone_name":
                if value[0] in "+-":
                    offset = _zone_offset(value)
                elif value.upper() in ("UTC", "GMT"):
                    offset = 0
        if pm is not None and hour <= 12:
            hour = hour % 12 + (12 if pm else 0)
        if year == 0:  # Promtail puts year-less stamps (syslog) in the current year
            year = dt.datetime.now(dt.UTC).year
        try:
            if yday:
                base = dt.datetime(year, 1, 1) + dt.timedelta(days=yday - 1)
                month, day = base.month, base.day
            naive = dt.datetime(year, month, day, hour, minute, second)
        except ValueError as exc:
            raise TimeParseError(f'parsing time "{text}": {exc}') from None
        if offset is None:
            loc = self.location
            offset = 0
            if loc is not None:
                off = naive.replace(tzinfo=loc).utcoffset()
                offset = int(off.total_seconds()) if off is not None else 0
        secs = calendar.timegm(naive.timetuple()) - offset
        return secs * 1_000_000_000 + frac_ns


def _unix_parser(fmt: str) -> Callable[[str], int]:
    def parse(text: str) -> int:
        t = text.strip()
        try:
            if fmt == "Unix":
                whole, _, frac = t.partition(".")
                return int(whole) * 1_000_000_000 + (int((frac + "000000000")[:9]) if frac else 0)
            n = int(t)
        except ValueError:
            raise TimeParseError(f'can\'t parse "{text}" as {fmt}') from None
        return n * {"UnixMs": 1_000_000, "UnixUs": 1_000, "UnixNs": 1}[fmt]

    return parse


def time_parser(fmt: str, location: str = "") -> Callable[[str], int]:
    """A parser for Promtail's ``format`` (a named layout, Unix*, or a Go layout); raises
    ValueError for an unknown ``location``."""
    if fmt in UNIX_FORMATS:
        return _unix_parser(fmt)
    loc: dt.tzinfo | None = None
    if location:
        try:
            loc = zoneinfo.ZoneInfo(location)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {location}") from None
    return LayoutParser(NAMED_LAYOUTS.get(fmt, fmt), loc).parse
