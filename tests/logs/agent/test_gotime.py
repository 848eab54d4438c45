"""Go layouts and Promtail's named formats."""

from __future__ import annotations

import pytest

from tidewatch.logs.agent.stages.gotime import TimeParseError, time_parser

T = 1562708916  # 2019-07-09T21:48:36Z


@pytest.mark.parametrize(
    ("fmt", "text", "ns"),
    [
        ("RFC3339", "2019-07-09T21:48:36Z", T * 10**9),
        ("RFC3339", "2019-07-09T23:48:36+02:00", T * 10**9),
        ("RFC3339Nano", "2019-07-09T21:48:36.000000001Z", T * 10**9 + 1),
        ("RFC3339", "2019-07-09T21:48:36.5Z", T * 10**9 + 500_000_000),  # Go accepts a fraction
        ("ANSIC", "Tue Jul  9 21:48:36 2019", T * 10**9),
        ("UnixDate", "Tue Jul  9 21:48:36 UTC 2019", T * 10**9),
        ("RubyDate", "Tue Jul 09 16:48:36 -0500 2019", T * 10**9),
        ("RFC822Z", "09 Jul 19 21:48 +0000", (T - 36) * 10**9),
        ("RFC1123", "Tue, 09 Jul 2019 21:48:36 GMT", T * 10**9),
        ("RFC850", "Tuesday, 09-Jul-19 21:48:36 UTC", T * 10**9),
        ("Unix", "1562708916", T * 10**9),
        ("Unix", "1562708916.25", T * 10**9 + 250_000_000),
        ("UnixMs", "1562708916123", T * 10**9 + 123_000_000),
        ("UnixUs", "1562708916123456", T * 10**9 + 123_456_000),
        ("UnixNs", "1562708916123456789", T * 10**9 + 123_456_789),
        ("2006-01-02 15:04:05,000", "2019-07-09 21:48:36,042", T * 10**9 + 42_000_000),
        ("02/Jan/2006:15:04:05 -0700", "09/Jul/2019:14:48:36 -0700", T * 10**9),
        ("Jan 2 2006 3:04:05 PM", "Jul 9 2019 9:48:36 PM", T * 10**9),
        ("January 02, 2006 15:04", "July 09, 2019 21:48", (T - 36) * 10**9),
    ],
)
def test_formats(fmt: str, text: str, ns: int) -> None:
    assert time_parser(fmt)(text) == ns


def test_location_applies_without_zone() -> None:
    parse = time_parser("2006-01-02 15:04:05", "America/New_York")
    assert parse("2019-07-09 17:48:36") == T * 10**9  # EDT, UTC-4


def test_year_less_stamp_is_this_year() -> None:
    import datetime as dt

    ns = time_parser("Stamp")("Jan  2 03:04:05")
    assert dt.datetime.fromtimestamp(ns / 1e9, dt.UTC).year == dt.datetime.now(dt.UTC).year


@pytest.mark.parametrize(
    ("fmt", "text"),
    [("RFC3339", "yesterday"), ("UnixMs", "12a"), ("RFC3339", "2019-13-40T00:00:00Z")],
)
def test_errors(fmt: str, text: str) -> None:
    with pytest.raises(TimeParseError):
        time_parser(fmt)(text)


def test_unknown_location() -> None:
    with pytest.raises(ValueError, match="unknown time zone"):
        time_parser("RFC3339", "Mars/Olympus")
