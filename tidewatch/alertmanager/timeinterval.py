"""Time intervals (``time_intervals`` / ``mute_time_intervals``): when a route is muted
or active. Semantics follow Alertmanager's ``timeinterval`` package: every listed
field must match (AND), any range within a field may match (OR), ranges are
inclusive except times of day (``end_time`` exclusive), and day-of-month indices may
be negative (``-1`` is the last day of the month)."""

from __future__ import annotations

import calendar
import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import re2

WEEKDAYS = ["sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday"]
MONTHS = [
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
]
_VALID_TIME = re2.compile(r"^((([01][0-9])|(2[0-3])):[0-5][0-9])$|(^24:00$)")


class TimeIntervalError(ValueError):
    pass


@dataclass(frozen=True)
class TimeRange:
    start_minute: int  # minutes since midnight, inclusive
    end_minute: int  # exclusive


@dataclass(frozen=True)
class InclusiveRange:
    begin: int
    end: int


@dataclass
class TimeInterval:
    """One entry of a named interval's ``time_intervals`` list. ``None`` = any."""

    times: list[TimeRange] | None = None
    weekdays: list[InclusiveRange] | None = None  # 0 = Sunday, as Go's time.Weekday
    days_of_month: list[InclusiveRange] | None = None
    months: list[InclusiveRange] | None = None  # 1..12
    years: list[InclusiveRange] | None = None
    location: str = ""  # "" = UTC; "Local" = the machine's zone

    def contains(self, when: dt.datetime) -> bool:
        """Whether the aware datetime ``when`` falls inside this interval."""
        t = when.astimezone(_zone(self.location))
        if self.times is not None:
            minute = t.hour * 60 + t.minute
            if not any(r.start_minute <= minute < r.end_minute for r in self.times):
                return False
        if self.days_of_month is not None and not _day_of_month_matches(self.days_of_month, t):
            return False
        if self.months is not None and not any(r.begin <= t.month <= r.end for r in self.months):
            return False
        if self.weekdays is not None:
            weekday = (t.weekday() + 1) % 7  # Python: Monday=0; Go: Sunday=0
            if not any(r.begin <= weekday <= r.end for r in self.weekdays):
                return False
        return self.years is None or any(r.begin <= t.year <= r.end for r in self.years)


@dataclass
class NamedTimeInterval:
    name: str
    time_intervals: list[TimeInterval] = field(default_factory=list)

    def contains(self, when: dt.datetime) -> bool:
        return any(ti.contains(when) for ti in self.time_intervals)


def in_any(intervals: Sequence[NamedTimeInterval], when_ms: int) -> bool:
    """Whether the time (epoch milliseconds) is inside any of the named intervals."""
    if not intervals:
        return False
    when = dt.datetime.fromtimestamp(when_ms / 1000.0, tz=dt.UTC)
    return any(ni.contains(when) for ni in intervals)


def _day_of_month_matches(ranges: list[InclusiveRange], t: dt.datetime) -> bool:
    days = calendar.monthrange(t.year, t.month)[1]
    for r in ranges:
        begin = days + r.begin + 1 if r.begin < 0 else r.begin
        end = days + r.end + 1 if r.end < 0 else r.end
        if begin > days:
            continue
        begin = _clamp(begin, -days, days)
        end = _clamp(end, -days, days)
        if begin <= t.day <= end:
            return True
    return False


def _clamp(n: int, lo: int, hi: int) -> int:
    return lo if n <= lo else hi if n >= hi else n


_ZONES: dict[str, dt.tzinfo] = {}


def _zone(name: str) -> dt.tzinfo:
    if name in ("", "UTC"):
        return dt.UTC
    zone = _ZONES.get(name)
    if zone is None:
        zone = load_location(name)
        _ZONES[name] = zone
    return zone


def load_location(name: str) -> dt.tzinfo:
    """An IANA zone (``Europe/Berlin``), ``UTC`` or ``Local``, as Go's LoadLocation."""
    if name in ("", "UTC"):
        return dt.UTC
    if name == "Local":
        local = dt.datetime.now().astimezone().tzinfo
        return local if local is not None else dt.UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise TimeIntervalError(f"unknown time zone {name}") from None


# --- parsing the YAML string forms --------------------------------------------


def parse_time_of_day(text: str) -> int:
    if _VALID_TIME.match(text) is None:
        raise TimeIntervalError(f"couldn't parse timestamp {text}, invalid format")
    hours, minutes = text.split(":")
    return int(hours) * 60 + int(minutes)


def parse_time_range(start: str, end: str) -> TimeRange:
    if start == "" or end == "":
        raise TimeIntervalError("both start and end times must be provided")
    r = TimeRange(parse_time_of_day(start), parse_time_of_day(end))
    if r.start_minute >= r.end_minute:
        raise TimeIntervalError("start time cannot be equal or greater than end time")
    return r


def _split_range(text: str) -> tuple[str, str]:
    low = text.lower()
    if ":" not in low:
        return low, low
    parts = low.split(":")
    if len(parts) != 2:
        raise TimeIntervalError(f"couldn't parse range {low}, invalid format")
    return parts[0], parts[1]


def _int(text: str, what: str) -> int:
    try:
        return int(text, 10)
    except ValueError:
        raise TimeIntervalError(f"{text} is not a valid {what}") from None


def parse_weekday_range(text: str) -> InclusiveRange:
    a, b = _split_range(text)
    for part in (a, b):
        if part not in WEEKDAYS:
            raise TimeIntervalError(f"{part} is not a valid weekday")
    r = InclusiveRange(WEEKDAYS.index(a), WEEKDAYS.index(b))
    if r.begin > r.end:
        raise TimeIntervalError("start day cannot be before end day")
    return r


def parse_day_of_month_range(text: str) -> InclusiveRange:
    a, b = _split_range(text)
    r = InclusiveRange(_int(a, "day of the month"), _int(b, "day of the month"))
    for v in (r.begin, r.end):
        if v == 0 or v < -31 or v > 31:
            raise TimeIntervalError(f"{v} is not a valid day of the month: out of range")
    if r.begin < 0 < r.end:
        raise TimeIntervalError("end day must be negative if start day is negative")
    check_begin = 28 + r.begin if r.begin < 0 else r.begin
    check_end = 28 + r.end if r.end < 0 else r.end
    if check_begin > check_end:
        raise TimeIntervalError(f"end day {r.end} is always before start day {r.begin}")
    return r


def _month(text: str) -> int:
    if text in MONTHS:
        return MONTHS.index(text) + 1
    try:
        n = int(text, 10)
    except ValueError:
        raise TimeIntervalError(f"{text} is not a valid month") from None
    if not 1 <= n <= 12:
        raise TimeIntervalError(f"{text} is not a valid month")
    return n


def parse_month_range(text: str) -> InclusiveRange:
    a, b = _split_range(text)
    r = InclusiveRange(_month(a), _month(b))
    if r.begin > r.end:
        raise TimeIntervalError(f"end month {b} is before start month {a}")
    return r


def parse_year_range(text: str) -> InclusiveRange:
    a, b = _split_range(text)
    r = InclusiveRange(_int(a, "year"), _int(b, "year"))
    if r.begin > r.end:
        raise TimeIntervalError(f"end year {r.end} is before start year {r.begin}")
    return r
