"""Small builders shared by the notifier tests."""

from __future__ import annotations

import aiohttp

from tidewatch.alertmanager.alert import Alert
from tidewatch.alertmanager.config import AlertmanagerConfig, load_config
from tidewatch.alertmanager.notify import Backoff, NotifierMetrics, ReceiverNotifier
from tidewatch.labels import from_dict

NOW = 1_700_000_000_000


def alert(ends_at: int = 0, **labels: str) -> Alert:
    return Alert(
        from_dict(labels),
        {"summary": f"{labels.get('instance', '')} broke"},
        starts_at=NOW - 60_000,
        ends_at=ends_at,
    )


def fast_backoff() -> Backoff:
    return Backoff(initial_s=0.01, multiplier=1.5, max_s=0.05, jitter=0.0)


def notifier(
    cfg_text: str, session: aiohttp.ClientSession, metrics: NotifierMetrics | None = None
) -> tuple[ReceiverNotifier, AlertmanagerConfig]:
    cfg = load_config(cfg_text)
    n = ReceiverNotifier(
        cfg,
        session,
        metrics,
        external_url="http://am.test",
        clock=lambda: NOW,
        backoff=fast_backoff,
    )
    return n, cfg
