"""All alerts Alertmanager currently knows, by fingerprint. A repeated delivery is
merged with the stored alert when their active periods overlap (Alertmanager's
``mem.Alerts.Put``); resolved alerts are dropped by :meth:`AlertStore.gc`."""

from __future__ import annotations

from collections.abc import Iterator

from tidewatch.alertmanager.alert import Alert


class AlertStore:
    def __init__(self) -> None:
        self._alerts: dict[int, Alert] = {}

    def put(self, alert: Alert, now_ms: int) -> Alert:
        """Store an alert, merging with an overlapping earlier one; returns what is stored."""
        old = self._alerts.get(alert.fingerprint)
        if old is not None and (
            (old.starts_at < alert.ends_at < old.ends_at)
            or (old.starts_at < alert.starts_at < old.ends_at)
        ):
            alert = old.merge(alert, now_ms)
        self._alerts[alert.fingerprint] = alert
        return alert

    def get(self, fp: int) -> Alert | None:
        return self._alerts.get(fp)

    def __iter__(self) -> Iterator[Alert]:
        return iter(list(self._alerts.values()))

    def __len__(self) -> int:
        return len(self._alerts)

    def gc(self, now_ms: int) -> list[Alert]:
        """Remove and return the alerts resolved by ``now_ms``."""
        dead = [a for a in self._alerts.values() if a.resolved_at(now_ms)]
        for a in dead:
            del self._alerts[a.fingerprint]
        return dead
