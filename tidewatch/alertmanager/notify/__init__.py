"""Notifiers: the integrations (webhook, Slack, PagerDuty, e-mail, Microsoft Teams,
Telegram, Discord, Opsgenie) and :class:`ReceiverNotifier`, which the dispatcher
calls with each notification and which fans it out to a receiver's integrations
with retries, backoff and per-integration metrics."""

from tidewatch.alertmanager.notify.errors import NotifyError
from tidewatch.alertmanager.notify.metrics import NotifierMetrics
from tidewatch.alertmanager.notify.receiver import (
    Backoff,
    NotificationFailed,
    ReceiverNotifier,
    build_integrations,
)

__all__ = [
    "Backoff",
    "NotificationFailed",
    "NotifierMetrics",
    "NotifyError",
    "ReceiverNotifier",
    "build_integrations",
]
