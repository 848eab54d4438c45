"""``detected_level``: the log level Loki's distributor attaches as structured metadata.

Order, as Loki's field detector: a ``detected_level`` already sent is normalised; else a
level-like stream label, else a level-like structured metadata entry, else the OTLP
``severity_number``, else the line itself (a JSON or logfmt level field, or a level word
standing on its own).
"""

from __future__ import annotations

from collections.abc import Mapping

import orjson

DETECTED_LEVEL = "detected_level"
LEVEL_FIELDS = (
    "level",
    "LEVEL",
    "Level",
    "log.level",
    "severity",
    "SEVERITY",
    "Severity",
    "SeverityText",
    "lvl",
    "LVL",
    "Lvl",
)
_LEVEL_FIELD_SET = frozenset(LEVEL_FIELDS)
_JSON_MAX_DEPTH = 2

_NORMAL = {
    "trace": "trace",
    "trc": "trace",
    "debug": "debug",
    "dbg": "debug",
    "info": "info",
    "inf": "info",
    "information": "info",
    "warn": "warn",
    "wrn": "warn",
    "warning": "warn",
    "error": "error",
    "err": "error",
    "critical": "critical",
    "fatal": "fatal",
}
# Words searched in the line, most specific first (as Loki's scan).
_WORDS = (
    ("trace", "trace"),
    ("debug", "debug"),
    ("fatal", "fatal"),
    ("critical", "critical"),
    ("error", "error"),
    ("err", "error"),
    ("warning", "warn"),
    ("warn", "warn"),
    ("info", "info"),
)
# OTLP severity number ranges: 1-4 trace, 5-8 debug, ... 21-24 fatal.
_BY_SEVERITY = ("trace", "debug", "info", "warn", "error", "fatal")


def normalize_level(level: str) -> str:
    return _NORMAL.get(level.lower(), level)


def level_from_severity_number(text: str) -> str:
    try:
        n = int(text)
    except ValueError:
        return "info"
    if n <= 0 or n > 24:
        return "unknown"
    return _BY_SEVERITY[(n - 1) // 4]


def detect_level(
    stream: Mapping[str, str], metadata: Mapping[str, str], line: str
) -> tuple[str, bool]:
    """(level, replace): ``replace`` when ``detected_level`` was sent and only normalised."""
    sent = metadata.get(DETECTED_LEVEL)
    if sent is not None:
        return normalize_level(sent), True
    for source in (stream, metadata):
        if _LEVEL_FIELD_SET.isdisjoint(source):
            continue  # the common case, checked in C
        for name in LEVEL_FIELDS:
            value = source.get(name)
            if value is not None:
                return normalize_level(value), False
    number = metadata.get("severity_number")
    if number:
        return level_from_severity_number(number), False
    return level_from_line(line), False


def level_from_line(line: str) -> str:
    stripped = line.strip()
    value: str | None = None
    if stripped.startswith("{") and stripped.endswith("}"):
        try:
            doc = orjson.loads(stripped)
        except orjson.JSONDecodeError:
            doc = None
        if isinstance(doc, dict):
            value = _json_level(doc, 0)
    elif "=" in line:
        value = _logfmt_level(line)
    if value is not None:
        level = _NORMAL.get(value.lower())
        if level is not None:
            return level
    return _word_level(line)


def _json_level(doc: dict[str, object], depth: int) -> str | None:
    if depth >= _JSON_MAX_DEPTH:
        return None
    for key, value in doc.items():
        if isinstance(value, str) and key in _LEVEL_FIELD_SET:
            return value
        if isinstance(value, dict):
            found = _json_level(value, depth + 1)
            if found is not None:
                return found
    return None


def _logfmt_level(line: str) -> str | None:
    """The value of the first level-like key (by the order of LEVEL_FIELDS)."""
    best: tuple[int, str] | None = None
    for token in line.split():
        key, eq, value = token.partition("=")
        if not eq:
            continue
        for rank, name in enumerate(LEVEL_FIELDS):
            if key.lower() == name.lower() and (best is None or rank < best[0]):
                best = (rank, value.strip('"'))
    return best[1] if best else None


def _word_level(line: str) -> str:
    lower = line.lower()
    for word, level in _WORDS:
        pos = lower.find(word)
        if pos == -1:
            continue
        end = pos + len(word)
        if _boundary(lower, pos - 1) and _boundary(lower, end):
            return level
    return "unknown"


def _boundary(text: str, pos: int) -> bool:
    if pos < 0 or pos >= len(text):
        return True
    c = text[pos]
    return not (c.isalnum() or c == "_")
