"""Stream label strings (``{app="api", env="prod"}``) to sorted label sets, cached.

Pushers send the same few label strings again and again, so a parse is done once per
distinct string. Errors carry Loki's wording.
"""

from __future__ import annotations

from dataclasses import dataclass

from tidewatch.labels import Labels
from tidewatch.matcher import MatchType
from tidewatch.promql.parser import ParseError, parse_metric_selector

_CACHE_MAX = 100_000


class StreamLabelsError(Exception):
    pass


@dataclass(frozen=True)
class ParsedStream:
    labels: Labels  # sorted, empty values removed
    text: str  # canonical ``{a="b", c="d"}``
    duplicate: str  # first duplicated label name, "" if none


def _go_quote(v: str) -> str:
    return '"' + v.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def labels_text(labels: Labels) -> str:
    return "{" + ", ".join(f"{k}={_go_quote(v)}" for k, v in labels) + "}"


_cache: dict[str, ParsedStream] = {}


def parse_stream_labels(text: str) -> ParsedStream:
    hit = _cache.get(text)
    if hit is not None:
        return hit
    try:
        matchers = parse_metric_selector(text)
    except ParseError as exc:
        raise StreamLabelsError(f"Error parsing labels '{text}' with error: {exc}") from None
    for m in matchers:
        if m.type != MatchType.EQUAL:
            raise StreamLabelsError(
                f"Error parsing labels '{text}' with error: unexpected matcher {m}, "
                "stream labels must use ="
            )
    pairs = sorted((m.name, m.value) for m in matchers if m.value != "")
    duplicate = ""
    for i in range(1, len(pairs)):
        if pairs[i][0] == pairs[i - 1][0]:
            duplicate = pairs[i][0]
            break
    labels: Labels = tuple(pairs)
    parsed = ParsedStream(labels, labels_text(labels), duplicate)
    if len(_cache) >= _CACHE_MAX:
        _cache.clear()
    _cache[text] = parsed
    return parsed
