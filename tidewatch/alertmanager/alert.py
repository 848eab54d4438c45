"""An alert as Alertmanager holds it, with Alertmanager's rules for merging repeated
deliveries, resolving by timeout and ordering alerts inside a notification.

Times are int milliseconds since the epoch; 0 means "not set" (Go's zero time).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cmp_to_key

from tidewatch.alertmanager.fingerprint import fingerprint
from tidewatch.labels import Labels, get

Clock = Callable[[], int]


def wall_clock_ms() -> int:
    return time.time_ns() // 1_000_000


class AlertError(ValueError):
    pass


@dataclass
class Alert:
    labels: Labels
    annotations: dict[str, str] = field(default_factory=dict)
    starts_at: int = 0
    ends_at: int = 0
    generator_url: str = ""
    updated_at: int = 0
    # True when ends_at was set by resolve_timeout rather than by the sender.
    timeout: bool = False
    fingerprint: int = field(init=False, default=0)

    def __post_init__(self) -> None:
        self.fingerprint = fingerprint(self.labels)

    @property
    def name(self) -> str:
        return get(self.labels, "alertname")

    def resolved_at(self, now_ms: int) -> bool:
        return self.ends_at != 0 and self.ends_at <= now_ms

    def copy(self, **changes: object) -> Alert:
        """A shallow copy with some fields changed."""
        dup = object.__new__(Alert)
        dup.__dict__.update(self.__dict__)
        dup.__dict__.update(changes)
        if "labels" in changes:
            dup.fingerprint = fingerprint(dup.labels)
        return dup

    def merge(self, newer: Alert, now_ms: int) -> Alert:
        """Combine two deliveries of the same alert (Alertmanager's ``Alert.Merge``)."""
        if newer.updated_at < self.updated_at:
            return newer.merge(self, now_ms)
        res = newer.copy()
        if self.starts_at < newer.starts_at:
            res.starts_at = self.starts_at
        if newer.resolved_at(now_ms):
            # The latest explicit resolution wins if both are resolved.
            if self.resolved_at(now_ms) and self.ends_at > newer.ends_at:
                res.ends_at = self.ends_at
        elif self.ends_at > newer.ends_at and not self.timeout:
            # A sender-given end time beats a timeout if it is later.
            res.ends_at = self.ends_at
        return res


def validate(alert: Alert) -> None:
    """Alertmanager's ``Alert.Validate`` for alerts posted to the API."""
    if alert.starts_at == 0:
        raise AlertError("start time missing")
    if alert.ends_at != 0 and alert.ends_at < alert.starts_at:
        raise AlertError("start time must be before end time")
    if not alert.labels:
        raise AlertError("at least one label pair required")
    for name, value in alert.labels:
        if not _valid_label_name(name):
            raise AlertError(f'invalid label set: invalid name "{name}"')
        if value == "":
            raise AlertError(f'invalid label set: invalid value "" for "{name}"')


def _valid_label_name(name: str) -> bool:
    if not name or not (name[0].isascii() and (name[0].isalpha() or name[0] == "_")):
        return False
    return all(c.isascii() and (c.isalnum() or c == "_") for c in name)


def prepare_incoming(alert: Alert, now_ms: int, resolve_timeout_ms: int) -> Alert:
    """Stamp an alert received from a client, as the API v2 POST handler does:
    ``updated_at`` is now, a missing start is now (or the end), and a missing end
    becomes now + resolve_timeout, marked as a timeout."""
    a = alert.copy(updated_at=now_ms)
    if a.starts_at == 0:
        a.starts_at = a.ends_at if a.ends_at else now_ms
    if a.ends_at == 0:
        a.timeout = True
        a.ends_at = now_ms + resolve_timeout_ms
    return a


def _labels_before(a: Labels, b: Labels) -> bool:
    """prometheus/common ``LabelSet.Before``: compare sorted pairs, shorter first."""
    for (an, av), (bn, bv) in zip(a, b, strict=False):
        if an != bn:
            return an < bn
        if av != bv:
            return av < bv
    return len(a) < len(b)


def _cmp(x: Alert, y: Alert) -> int:
    for key in ("job", "instance"):
        xv, yv = get(x.labels, key), get(y.labels, key)
        x_ok, y_ok = _has(x.labels, key), _has(y.labels, key)
        if not x_ok and not y_ok:
            continue
        if not x_ok:
            return 1
        if not y_ok:
            return -1
        if xv != yv:
            return -1 if xv < yv else 1
    if _labels_before(x.labels, y.labels):
        return -1
    if _labels_before(y.labels, x.labels):
        return 1
    return 0


def _has(lbls: Labels, name: str) -> bool:
    return any(k == name for k, _ in lbls)


def sort_alerts(alerts: list[Alert]) -> list[Alert]:
    """Notification order: by ``job``, then ``instance``, then the whole label set."""
    return sorted(alerts, key=cmp_to_key(_cmp))
