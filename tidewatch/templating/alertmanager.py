"""Alertmanager's template functions and the data notification templates see
(``.Alerts.Firing``, ``.CommonLabels.SortedPairs`` ...), with Go's names."""

from __future__ import annotations

import datetime as dt
import urllib.parse
import zoneinfo
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from tidewatch.templating.common import (
    humanize_duration,
    match,
    re_replace_all,
    safe_text,
    title_lower_rest,
    to_json,
    to_lower,
    to_upper,
    trim_space,
)
from tidewatch.templating.gotime import UTC, GoDuration, go_time_format


@dataclass(frozen=True)
class Pair:
    Name: str
    Value: str


class Pairs(list[Pair]):
    def Names(self) -> list[str]:
        return [p.Name for p in self]

    def Values(self) -> list[str]:
        return [p.Value for p in self]

    def String(self) -> str:
        return ", ".join(f"{p.Name}={p.Value}" for p in self)


class KV(dict[str, str]):
    """A label or annotation set; ``{{ .Labels.foo }}`` and Go's KV methods."""

    def SortedPairs(self) -> Pairs:
        keys = sorted(k for k in self if k != "alertname")
        if "alertname" in self:
            keys.insert(0, "alertname")  # Alertmanager puts alertname first
        return Pairs(Pair(k, self[k]) for k in keys)

    def Remove(self, keys: Iterable[str]) -> KV:
        drop = set(keys)
        return KV({k: v for k, v in self.items() if k not in drop})

    def Names(self) -> list[str]:
        return self.SortedPairs().Names()

    def Values(self) -> list[str]:
        return self.SortedPairs().Values()

    def String(self) -> str:
        return self.SortedPairs().String()


_ZERO_TIME = dt.datetime(1, 1, 1, tzinfo=UTC)


@dataclass
class Alert:
    Status: str = ""
    Labels: KV = field(default_factory=KV)
    Annotations: KV = field(default_factory=KV)
    StartsAt: dt.datetime = _ZERO_TIME
    EndsAt: dt.datetime = _ZERO_TIME
    GeneratorURL: str = ""
    Fingerprint: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "status": self.Status,
            "labels": self.Labels,
            "annotations": self.Annotations,
            "startsAt": self.StartsAt,
            "endsAt": self.EndsAt,
            "generatorURL": self.GeneratorURL,
            "fingerprint": self.Fingerprint,
        }


class Alerts(list[Alert]):
    def Firing(self) -> list[Alert]:
        return [a for a in self if a.Status == "firing"]

    def Resolved(self) -> list[Alert]:
        return [a for a in self if a.Status == "resolved"]


@dataclass
class Data:
    """What Alertmanager passes to notification templates (and webhook bodies)."""

    Receiver: str = ""
    Status: str = ""
    Alerts: Alerts = field(default_factory=lambda: Alerts())
    GroupLabels: KV = field(default_factory=KV)
    CommonLabels: KV = field(default_factory=KV)
    CommonAnnotations: KV = field(default_factory=KV)
    ExternalURL: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "receiver": self.Receiver,
            "status": self.Status,
            "alerts": list(self.Alerts),
            "groupLabels": self.GroupLabels,
            "commonLabels": self.CommonLabels,
            "commonAnnotations": self.CommonAnnotations,
            "externalURL": self.ExternalURL,
        }


def _join(sep: str, items: Iterable[str]) -> str:
    return sep.join(items)


def _url_unescape(s: str) -> str:
    """Go's ``url.QueryUnescape``, including its error for a bad ``%`` escape."""
    i = s.find("%")
    while i >= 0:
        esc = s[i + 1 : i + 3]
        if len(esc) < 2 or any(c not in "0123456789abcdefABCDEF" for c in esc):
            bad = s[i : i + 3]
            raise ValueError(f'invalid URL escape "{bad}"')
        i = s.find("%", i + 3)
    return urllib.parse.unquote_plus(s, errors="surrogateescape")


def _date(layout: str, t: dt.datetime) -> str:
    return go_time_format(t, layout)


def _tz(name: str, t: dt.datetime) -> dt.datetime:
    try:
        loc: dt.tzinfo = UTC if name in ("", "UTC") else zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {name}") from None
    if t.tzinfo is None:
        t = t.replace(tzinfo=UTC)
    return t.astimezone(loc)


def _since(t: dt.datetime) -> GoDuration:
    if t.tzinfo is None:
        t = t.replace(tzinfo=UTC)
    delta = dt.datetime.now(UTC) - t
    return GoDuration(delta // dt.timedelta(microseconds=1) * 1000)


def _string_slice(*s: str) -> list[str]:
    return list(s)


def _list(*args: Any) -> list[Any]:
    return list(args)


def _append(items: Iterable[Any], *args: Any) -> list[Any]:
    return [*items, *args]


def _dict(*values: Any) -> dict[str, Any]:
    if len(values) % 2:
        raise ValueError("dict requires an even number of arguments")
    out: dict[str, Any] = {}
    for i in range(0, len(values), 2):
        key = values[i]
        if not isinstance(key, str):
            raise ValueError("dict keys must be strings")
        out[key] = values[i + 1]
    return out


def alertmanager_funcs() -> dict[str, Callable[..., Any]]:
    """Alertmanager's ``DefaultFuncs`` (template/template.go), including the recent
    additions ``now``, ``list``, ``append`` and ``dict``."""
    return {
        "toUpper": to_upper,
        "toLower": to_lower,
        "title": title_lower_rest,
        "trimSpace": trim_space,
        "join": _join,
        "match": match,
        "safeHtml": safe_text,
        "safeUrl": safe_text,
        "urlUnescape": _url_unescape,
        "reReplaceAll": re_replace_all,
        "stringSlice": _string_slice,
        "date": _date,
        "tz": _tz,
        "now": lambda: dt.datetime.now(UTC),
        "since": _since,
        "humanizeDuration": humanize_duration,
        "toJson": to_json,
        "list": _list,
        "append": _append,
        "dict": _dict,
    }


_REGEX_META = frozenset("\\.+*?()|[]{}^$")


def quote_meta(s: str) -> str:
    """Go's ``regexp.QuoteMeta`` (Alertmanager applies it to ``.Receiver``)."""
    return "".join("\\" + c if c in _REGEX_META else c for c in s)
