"""Time intervals: each field, negative days of month, and time zones."""

from __future__ import annotations

import datetime as dt

import pytest

from tidewatch.alertmanager.config import load_config
from tidewatch.alertmanager.timeinterval import (
    TimeIntervalError,
    in_any,
    parse_day_of_month_range,
    parse_time_range,
)

CFG = """
route: {receiver: a}
receivers: [{name: a}]
time_intervals:
  - name: business
    time_intervals:
      - weekdays: ['monday:friday']
        times: [{start_time: '09:00', end_time: '17:00'}]
        location: America/New_York
  - name: month_end
    time_intervals:
      - days_of_month: ['-2:-1']
  - name: winter
    time_intervals:
      - months: ['december', 'january:february']
      - years: ['1999']
"""


def _ms(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> int:
    return int(dt.datetime(year, month, day, hour, minute, tzinfo=dt.UTC).timestamp() * 1000)


@pytest.fixture(scope="module")
def intervals():  # type: ignore[no-untyped-def]
    return load_config(CFG).time_intervals


@pytest.mark.parametrize(
    ("name", "when", "inside"),
    [
        # 2024-03-04 is a Monday. 14:00 UTC = 09:00 New York (EST, UTC-5).
        ("business", (2024, 3, 4, 14, 0), True),
        ("business", (2024, 3, 4, 13, 59), False),
        ("business", (2024, 3, 4, 21, 59), True),
        ("business", (2024, 3, 4, 22, 0), False),  # end time is exclusive
        ("business", (2024, 3, 9, 15, 0), False),  # Saturday
        # Monday 02:00 UTC is still Sunday evening in New York.
        ("business", (2024, 3, 11, 2, 0), False),
        ("month_end", (2024, 2, 28, 12, 0), True),  # leap year: 28th, 29th
        ("month_end", (2024, 2, 27, 12, 0), False),
        ("month_end", (2023, 4, 30, 0, 0), True),
        ("month_end", (2023, 4, 28, 0, 0), False),
        ("winter", (2024, 12, 31, 23, 59), True),
        ("winter", (2024, 2, 1, 0, 0), True),
        ("winter", (2024, 3, 1, 0, 0), False),
        ("winter", (1999, 7, 1, 0, 0), True),
    ],
)
def test_contains(intervals, name: str, when: tuple[int, ...], inside: bool) -> None:  # type: ignore[no-untyped-def]
    assert in_any([intervals[name]], _ms(*when)) is inside


def test_empty_interval_matches_always_and_no_interval_never() -> None:
    cfg = load_config(CFG + "  - name: always\n    time_intervals: [{}]\n")
    assert in_any([cfg.time_intervals["always"]], _ms(2020, 1, 1))
    assert not in_any([], _ms(2020, 1, 1))


@pytest.mark.parametrize("bad", ["0", "32", "-1:5", "10:3", "a:b"])
def test_bad_days_of_month(bad: str) -> None:
    with pytest.raises(TimeIntervalError):
        parse_day_of_month_range(bad)


@pytest.mark.parametrize(
    ("start", "end"), [("9:00", "10:00"), ("10:00", "10:00"), ("23:00", "24:01")]
)
def test_bad_times(start: str, end: str) -> None:
    with pytest.raises(TimeIntervalError):
        parse_time_range(start, end)


def test_midnight_end() -> None:
    r = parse_time_range("23:00", "24:00")
    assert (r.start_minute, r.end_minute) == (1380, 1440)
