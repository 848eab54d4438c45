"""Prometheus's default OTLP name translation (UnderscoreEscapingWithSuffixes)."""

from __future__ import annotations

import pytest

from tidewatch.otlp.names import COUNTER, GAUGE, HISTOGRAM, SUMMARY, label_name, metric_name
from tidewatch.otlp.translate import format_float


@pytest.mark.parametrize(
    ("name", "unit", "kind", "want"),
    [
        ("http.server.duration", "s", HISTOGRAM, "http_server_duration_seconds"),
        ("requests.count", "1", COUNTER, "requests_count_total"),
        ("memory.usage", "By", GAUGE, "memory_usage_bytes"),
        ("cpu.utilization", "1", GAUGE, "cpu_utilization_ratio"),
        ("system.network.io", "By/s", COUNTER, "system_network_io_bytes_per_second_total"),
        ("queue.items", "{item}", GAUGE, "queue_items"),
        ("requests_total", "", COUNTER, "requests_total"),
        ("latency_seconds", "s", SUMMARY, "latency_seconds"),
        ("foo__bar..baz", "ms", GAUGE, "foo_bar_baz_milliseconds"),
        ("2xx.responses", "", COUNTER, "_2xx_responses_total"),
        ("temp", "Cel", GAUGE, "temp_celsius"),
        ("weird", "m/mo", GAUGE, "weird_meters_per_month"),
        ("...", "", GAUGE, ""),
    ],
)
def test_metric_name(name: str, unit: str, kind: str, want: str) -> None:
    assert metric_name(name, unit, kind) == want


@pytest.mark.parametrize(
    ("key", "want"),
    [
        ("http.method", "http_method"),
        ("1st", "key_1st"),
        ("_private", "key_private"),
        ("__reserved", "__reserved"),
        ("k8s.pod-name", "k8s_pod_name"),
    ],
)
def test_label_name(key: str, want: str) -> None:
    assert label_name(key) == want


@pytest.mark.parametrize(
    ("v", "want"),
    [
        (0.005, "0.005"),
        (5.0, "5"),
        (1e-7, "0.0000001"),
        (1e21, "1000000000000000000000"),
        (float("inf"), "+Inf"),
        (0.95, "0.95"),
    ],
)
def test_format_float_like_go(v: float, want: str) -> None:
    assert format_float(v) == want
