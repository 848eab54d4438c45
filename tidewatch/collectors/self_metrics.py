"""tidewatch's own /metrics: process, platform, build info, HTTP and each part's metrics.

Everything lives in a private CollectorRegistry (never prometheus_client's
global one), so tests and several instances in one process do not collide.
Parts of tidewatch (tsdb, scrape manager, rule manager ...) register as
*sources*: any object with `self_metrics() -> Iterable[Metric]`, collected on
every render, so their numbers are read where they already live instead of
being mirrored into client objects on the hot path.
"""

from __future__ import annotations

import logging
import platform
import threading
from collections.abc import Iterable, Iterator
from typing import Protocol

from prometheus_client import (
    CollectorRegistry,
    Counter,
    GCCollector,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

import tidewatch

log = logging.getLogger(__name__)

# Prometheus's own buckets for prometheus_http_request_duration_seconds.
HTTP_DURATION_BUCKETS = (0.1, 0.2, 0.4, 1.0, 3.0, 8.0, 20.0, 60.0, 120.0)
# Prometheus's buckets for prometheus_http_response_size_bytes (100 B .. 1 GB).
HTTP_SIZE_BUCKETS = tuple(float(100 * 10**i) for i in range(8))


class MetricsSource(Protocol):
    def self_metrics(self) -> Iterable[Metric]: ...


class _SourcesCollector(Collector):
    """Collects every added source; one failing source does not break /metrics."""

    def __init__(self) -> None:
        self._sources: list[object] = []
        self._lock = threading.Lock()

    def add(self, source: object) -> None:
        if not callable(getattr(source, "self_metrics", None)):
            raise TypeError(f"{type(source).__name__} has no self_metrics() method")
        with self._lock:
            if not any(s is source for s in self._sources):
                self._sources.append(source)

    def remove(self, source: object) -> None:
        with self._lock:
            self._sources = [s for s in self._sources if s is not source]

    def collect(self) -> Iterator[Metric]:
        with self._lock:
            sources = list(self._sources)
        for source in sources:
            try:
                metrics = list(source.self_metrics())  # type: ignore[attr-defined]
            except Exception:
                log.exception("self metrics of %s failed", type(source).__name__)
                continue
            yield from metrics


class _BuildInfoCollector(Collector):
    def __init__(self, revision: str, branch: str) -> None:
        version = tidewatch.__version__
        python = platform.python_version()
        tidewatch_info = GaugeMetricFamily(
            "tidewatch_build_info",
            "A metric with a constant '1' value labeled by version, revision, branch and "
            "pythonversion from which tidewatch was built.",
            labels=["version", "revision", "branch", "pythonversion"],
        )
        tidewatch_info.add_metric([version, revision, branch, python], 1.0)
        # Same labels as Prometheus's own, for dashboards that look for it.
        prometheus_info = GaugeMetricFamily(
            "prometheus_build_info",
            "A metric with a constant '1' value labeled by version, revision, branch, goversion "
            "(here the Python version), goos, goarch and tags from which tidewatch was built.",
            labels=["version", "revision", "branch", "goversion", "goos", "goarch", "tags"],
        )
        prometheus_info.add_metric(
            [
                version,
                revision,
                branch,
                f"python{python}",
                platform.system().lower(),
                _goarch(platform.machine()),
                "",
            ],
            1.0,
        )
        self._families: tuple[Metric, ...] = (tidewatch_info, prometheus_info)

    def collect(self) -> Iterator[Metric]:
        yield from self._families


def _goarch(machine: str) -> str:
    return {"x86_64": "amd64", "aarch64": "arm64", "i686": "386", "armv7l": "arm"}.get(
        machine.lower(), machine.lower()
    )


class SelfMetrics:
    """The registry behind GET /metrics."""

    def __init__(self, revision: str = "", branch: str = "") -> None:
        # Prometheus exposes no `*_created` series; without this every counter and
        # histogram would add one (prometheus_client only has a process-wide switch).
        disable_created_metrics()
        self.registry = CollectorRegistry(auto_describe=True)
        ProcessCollector(registry=self.registry)
        PlatformCollector(registry=self.registry)
        GCCollector(registry=self.registry)
        self.registry.register(_BuildInfoCollector(revision, branch))
        self.http_requests = Counter(
            "prometheus_http_requests_total",
            "Counter of HTTP requests.",
            ["code", "handler"],
            registry=self.registry,
        )
        self.http_request_duration = Histogram(
            "prometheus_http_request_duration_seconds",
            "Histogram of latencies for HTTP requests.",
            ["handler"],
            buckets=HTTP_DURATION_BUCKETS,
            registry=self.registry,
        )
        self.http_response_size = Histogram(
            "prometheus_http_response_size_bytes",
            "Histogram of response size for HTTP requests.",
            ["handler"],
            buckets=HTTP_SIZE_BUCKETS,
            registry=self.registry,
        )
        self._sources = _SourcesCollector()
        # Sources' names are unknown until collected; don't describe them at registration.
        self._sources_registry = CollectorRegistry(auto_describe=False)
        self._sources_registry.register(self._sources)

    def add_source(self, source: object) -> None:
        """Collect `source.self_metrics()` on every render from now on."""
        self._sources.add(source)

    def remove_source(self, source: object) -> None:
        self._sources.remove(source)

    def observe_http(
        self, handler: str, code: int, duration_s: float, response_bytes: int | None = None
    ) -> None:
        """Record one served request; `handler` is the route pattern, never the raw path."""
        self.http_requests.labels(str(code), handler).inc()
        self.http_request_duration.labels(handler).observe(duration_s)
        if response_bytes is not None:
            self.http_response_size.labels(handler).observe(response_bytes)

    def render(self) -> bytes:
        """Text exposition format 0.0.4 for GET /metrics."""
        return generate_latest(self.registry) + generate_latest(self._sources_registry)
