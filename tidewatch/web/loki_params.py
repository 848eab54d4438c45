"""Request parameters as Loki reads them: times as Unix ns, seconds (with a fraction)
or RFC 3339; steps as seconds or durations. Errors are plain-text 400s, as Loki's."""

from __future__ import annotations

import math
import time

from multidict import MultiDict

from tidewatch.duration import DurationError, parse_duration
from tidewatch.logs.store.gotime import parse_rfc3339_ns


class LokiParamError(Exception):
    """Answered as a plain-text 400 with this message."""


def parse_time_ns(text: str, default_ns: int) -> int:
    if text == "":
        return default_ns
    if "." in text:
        try:
            secs = float(text)
        except ValueError:
            pass
        else:
            if math.isfinite(secs):
                whole = math.floor(secs)
                frac = round((secs - whole) * 1000) / 1000
                return int(whole) * 1_000_000_000 + int(frac * 1e9)
    try:
        value = int(text)
    except ValueError:
        try:
            return parse_rfc3339_ns(text)
        except ValueError:
            raise LokiParamError(f'strconv.ParseInt: parsing "{text}": invalid syntax') from None
    # Loki reads up to 10 digits as seconds, longer as nanoseconds.
    return value * 1_000_000_000 if len(text.lstrip("-")) <= 10 else value


def parse_step_ns(text: str) -> int:
    try:
        secs = float(text)
    except ValueError:
        try:
            return parse_duration(text) * 1_000_000
        except DurationError:
            raise LokiParamError(f'cannot parse "{text}" to a valid duration') from None
    if not math.isfinite(secs):
        raise LokiParamError(f'cannot parse "{text}" to a valid duration')
    return round(secs * 1e9)


def int_param(params: MultiDict[str], name: str, default: int) -> int:
    text = params.get(name, "")
    if text == "":
        return default
    try:
        return int(text)
    except ValueError:
        raise LokiParamError(f'strconv.ParseInt: parsing "{text}": invalid syntax') from None


def now_ns() -> int:
    return time.time_ns()


def time_range(
    params: MultiDict[str], default_since_ns: int, end_default: int | None = None
) -> tuple[int, int]:
    now = now_ns() if end_default is None else end_default
    end = parse_time_ns(params.get("end", ""), now)
    since = default_since_ns
    if params.get("since"):
        since = parse_step_ns(params["since"])
    # Loki counts `since` back from `end`, or from now when `end` is in the future.
    start = parse_time_ns(params.get("start", ""), min(end, now) - since)
    return start, end
