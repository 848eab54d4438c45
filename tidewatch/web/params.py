"""Request parameters as Prometheus's API reads them: GET query strings and POST
form bodies alike, times as Unix seconds or RFC 3339, durations as seconds or
Prometheus durations."""

from __future__ import annotations

import math
from datetime import datetime

from aiohttp import web
from multidict import MultiDict

from tidewatch.duration import DurationError, parse_duration
from tidewatch.web.responses import invalid_param

# Go's time.Time bounds that Prometheus uses for "no start" / "no end".
MIN_TIME_MS = -9223309901257974
MAX_TIME_MS = 9223309901257974


async def read_params(request: web.Request) -> MultiDict[str]:
    """Query-string and form parameters merged, as Go's ``r.Form`` does."""
    merged: MultiDict[str] = MultiDict(request.query)
    if request.method == "POST" and request.content_type == "application/x-www-form-urlencoded":
        form = await request.post()
        for key, value in form.items():
            if isinstance(value, str):
                merged.add(key, value)
    return merged


def parse_time_ms(name: str, text: str) -> int:
    """Parse a Prometheus API time (Unix seconds with fraction, or RFC 3339) to ms."""
    try:
        seconds = float(text)
    except ValueError:
        pass
    else:
        if math.isnan(seconds) or math.isinf(seconds):
            raise invalid_param(name, f'cannot parse "{text}" to a valid timestamp')
        return round(seconds * 1000)
    try:
        dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise invalid_param(name, f'cannot parse "{text}" to a valid timestamp') from None
    if dt.tzinfo is None:
        raise invalid_param(name, f'cannot parse "{text}" to a valid timestamp')
    return round(dt.timestamp() * 1000)


def parse_duration_ms(name: str, text: str) -> int:
    """Parse a duration parameter: float seconds (``"15"``, ``"0.5"``) or ``"5m"``."""
    try:
        seconds = float(text)
    except ValueError:
        pass
    else:
        if math.isnan(seconds) or math.isinf(seconds):
            raise invalid_param(name, f'cannot parse "{text}" to a valid duration')
        ms = seconds * 1000
        if ms >= 2**63 or ms <= -(2**63):
            raise invalid_param(
                name, f'cannot parse "{text}" to a valid duration. It overflows int64'
            )
        return round(ms)
    try:
        return parse_duration(text)
    except DurationError:
        raise invalid_param(name, f'cannot parse "{text}" to a valid duration') from None


def optional_time(params: MultiDict[str], name: str, default_ms: int) -> int:
    text = params.get(name, "")
    return default_ms if text == "" else parse_time_ms(name, text)


def optional_limit(params: MultiDict[str]) -> int:
    text = params.get("limit", "")
    if text == "":
        return 0
    try:
        limit = int(text)
    except ValueError:
        raise invalid_param("limit", f'cannot parse "{text}" to a valid limit') from None
    if limit < 0:
        raise invalid_param("limit", "limit must be non-negative")
    return limit
