"""Per-integration notification metrics with Alertmanager's names, exposed as
prometheus_client metric families (the self-metrics registry collects them)."""

from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Iterator

from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily, Metric

LATENCY_BUCKETS = (1.0, 5.0, 10.0, 15.0, 20.0)
INTEGRATIONS = (
    "discord",
    "email",
    "msteams",
    "opsgenie",
    "pagerduty",
    "slack",
    "telegram",
    "webhook",
)
REASONS = ("other", "clientError", "serverError", "contextCanceledOrDeadlineExceeded")


class NotifierMetrics:
    def __init__(self) -> None:
        self.notifications: dict[str, float] = dict.fromkeys(INTEGRATIONS, 0.0)
        self.failed: dict[tuple[str, str], float] = {
            (i, r): 0.0 for i in INTEGRATIONS for r in REASONS
        }
        self.requests: dict[str, float] = dict.fromkeys(INTEGRATIONS, 0.0)
        self.requests_failed: dict[str, float] = dict.fromkeys(INTEGRATIONS, 0.0)
        self._buckets: dict[str, list[int]] = defaultdict(lambda: [0] * len(LATENCY_BUCKETS))
        self._count: dict[str, int] = defaultdict(int)
        self._sum: dict[str, float] = defaultdict(float)
        for i in INTEGRATIONS:
            self._buckets[i]

    def notification(self, integration: str) -> None:
        self.notifications[integration] = self.notifications.get(integration, 0.0) + 1

    def failure(self, integration: str, reason: str) -> None:
        key = (integration, reason)
        self.failed[key] = self.failed.get(key, 0.0) + 1

    def request(self, integration: str, seconds: float, ok: bool) -> None:
        self.requests[integration] = self.requests.get(integration, 0.0) + 1
        if not ok:
            self.requests_failed[integration] = self.requests_failed.get(integration, 0.0) + 1
        idx = bisect.bisect_left(LATENCY_BUCKETS, seconds)
        counts = self._buckets[integration]
        for j in range(idx, len(LATENCY_BUCKETS)):
            counts[j] += 1
        self._count[integration] += 1
        self._sum[integration] += seconds

    def collect(self) -> Iterator[Metric]:
        total = CounterMetricFamily(
            "alertmanager_notifications",
            "The total number of attempted notifications.",
            labels=["integration"],
        )
        for i, v in sorted(self.notifications.items()):
            total.add_metric([i], v)
        failed = CounterMetricFamily(
            "alertmanager_notifications_failed",
            "The total number of failed notifications.",
            labels=["integration", "reason"],
        )
        for (i, r), v in sorted(self.failed.items()):
            failed.add_metric([i, r], v)
        requests = CounterMetricFamily(
            "alertmanager_notification_requests",
            "The total number of attempted notification requests.",
            labels=["integration"],
        )
        for i, v in sorted(self.requests.items()):
            requests.add_metric([i], v)
        req_failed = CounterMetricFamily(
            "alertmanager_notification_requests_failed",
            "The total number of failed notification requests.",
            labels=["integration"],
        )
        for i, v in sorted(self.requests_failed.items()):
            req_failed.add_metric([i], v)
        latency = HistogramMetricFamily(
            "alertmanager_notification_latency_seconds",
            "The latency of notifications in seconds.",
            labels=["integration"],
        )
        for i in sorted(self._buckets):
            counts = self._buckets[i]
            buckets = [(str(b), float(c)) for b, c in zip(LATENCY_BUCKETS, counts, strict=True)]
            buckets.append(("+Inf", float(self._count[i])))
            latency.add_metric([i], buckets, self._sum[i])
        yield from (total, failed, requests, req_failed, latency)
