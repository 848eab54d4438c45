"""tidewatch's own /metrics registry."""

from __future__ import annotations

from collections.abc import Iterable

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.parser import text_string_to_metric_families

from tidewatch.collectors.self_metrics import SelfMetrics


class FakeStorage:
    def __init__(self) -> None:
        self.appended = 0

    def self_metrics(self) -> Iterable[Metric]:
        yield CounterMetricFamily(
            "prometheus_tsdb_head_samples_appended_total", "Samples appended.", value=self.appended
        )
        yield GaugeMetricFamily("prometheus_tsdb_head_series", "Series in the head.", value=3)


class Broken:
    def self_metrics(self) -> Iterable[Metric]:
        raise RuntimeError("boom")


def parse(body: bytes) -> dict[str, list[tuple[str, dict[str, str], float]]]:
    out: dict[str, list[tuple[str, dict[str, str], float]]] = {}
    for fam in text_string_to_metric_families(body.decode()):
        out[fam.name] = [(s.name, s.labels, s.value) for s in fam.samples]
    return out


def test_render_has_process_build_info_and_sources() -> None:
    metrics = SelfMetrics(revision="abc123")
    storage = FakeStorage()
    metrics.add_source(storage)
    metrics.add_source(storage)  # adding twice collects once
    metrics.add_source(Broken())  # a failing part must not break /metrics

    storage.appended = 41
    first = parse(metrics.render())
    storage.appended = 42
    fams = parse(metrics.render())

    assert fams["process_cpu_seconds"][0][2] >= 0
    assert fams["process_resident_memory_bytes"][0][2] > 1_000_000
    assert "python_info" in fams
    assert "python_gc_collections" in fams
    (build,) = fams["tidewatch_build_info"]
    assert build[1]["revision"] == "abc123" and build[1]["version"]
    assert fams["prometheus_build_info"][0][1]["goos"] == "linux"
    # Sources are read on every render, not copied once.
    assert first["prometheus_tsdb_head_samples_appended"] == [
        ("prometheus_tsdb_head_samples_appended_total", {}, 41.0)
    ]
    assert fams["prometheus_tsdb_head_samples_appended"][0][2] == 42.0
    assert fams["prometheus_tsdb_head_series"] == [("prometheus_tsdb_head_series", {}, 3.0)]


def test_remove_source() -> None:
    metrics = SelfMetrics()
    storage = FakeStorage()
    metrics.add_source(storage)
    metrics.remove_source(storage)
    assert "prometheus_tsdb_head_series" not in parse(metrics.render())


def test_http_request_metrics() -> None:
    metrics = SelfMetrics()
    metrics.observe_http("/api/v1/query", 200, 0.05, response_bytes=1500)
    metrics.observe_http("/api/v1/query", 200, 0.3)
    metrics.observe_http("/api/v1/query", 400, 0.01)
    fams = parse(metrics.render())
    assert not any(name.endswith("_created") for name in fams)  # Prometheus has none
    requests = {
        (s[1]["handler"], s[1]["code"]): s[2]
        for s in fams["prometheus_http_requests"]
        if s[0] == "prometheus_http_requests_total"
    }
    assert requests == {("/api/v1/query", "200"): 2.0, ("/api/v1/query", "400"): 1.0}
    buckets = {
        s[1]["le"]: s[2]
        for s in fams["prometheus_http_request_duration_seconds"]
        if s[0].endswith("_bucket")
    }
    assert buckets["0.1"] == 2.0 and buckets["0.4"] == 3.0 and buckets["+Inf"] == 3.0
    sizes = [s for s in fams["prometheus_http_response_size_bytes"] if s[0].endswith("_count")]
    assert sizes[0][2] == 1.0


def test_two_instances_do_not_collide() -> None:
    a, b = SelfMetrics(), SelfMetrics()
    a.observe_http("/metrics", 200, 0.001)
    assert b"/metrics" not in b.render()
