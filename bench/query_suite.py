"""The fixed suite of dashboard-style PromQL queries the query benchmark runs.

Each query is run as an instant query and as range queries over 1 h and 24 h at the
step Grafana would pick for a ~1000-pixel panel with a 15 s scrape interval (15 s and
1 m). `$__rate_interval` is substituted as Grafana does:
max($__interval + scrape interval, 4 x scrape interval).

The project follows Prometheus 3; the reference is Debian's 2.42. Where the two
versions answer differently by design, the suite stays clear of the difference: every
evaluation time is a multiple of 15 s, so subquery ranges are a second short of a round
duration (3.x leaves the range's first point out, 2.x keeps it; 29m59s never lands on a
subquery step), and sample timestamps sit off round seconds for the same reason.
"""

from __future__ import annotations

from dataclasses import dataclass

SCRAPE_S = 15


@dataclass(frozen=True)
class Query:
    name: str
    expr: str  # may contain $__rate_interval
    sorted: bool = False  # the instant result's order is part of the answer
    # topk/bottomk may pick either of two equal values (PromQL leaves ties open), and
    # float sums in another order can break a tie either way: compare values, not picks.
    ties: bool = False


@dataclass(frozen=True)
class Mode:
    name: str  # "instant", "range 1h", "range 24h"
    range_s: int  # 0 for an instant query
    step_s: int

    @property
    def rate_interval_s(self) -> int:
        return max(self.step_s + SCRAPE_S, 4 * SCRAPE_S)

    def render(self, expr: str) -> str:
        return expr.replace("$__rate_interval", f"{self.rate_interval_s}s")


# Instant queries get $__rate_interval as a 15 s-step panel would.
MODES = (
    Mode("instant", 0, SCRAPE_S),
    Mode("range 1h", 3600, 15),
    Mode("range 24h", 86400, 60),
)

RI = "$__rate_interval"

QUERIES: tuple[Query, ...] = (
    Query("up", "up"),
    Query("rate by job", f"sum by (job) (rate(http_requests_total[{RI}]))"),
    Query("5xx by job,code", 'sum by (job, code) (rate(http_requests_total{code=~"5.."}[5m]))'),
    Query(
        "error ratio on(job)",
        'sum by (job) (rate(http_requests_total{code="500"}[5m]))'
        " / on (job) sum by (job) (rate(http_requests_total[5m]))",
    ),
    Query(
        "cpu avg without",
        f'avg without (cpu, mode) (rate(node_cpu_seconds_total{{mode!="idle"}}[{RI}]))',
    ),
    Query(
        "cpu busy %",
        '(1 - avg by (instance) (rate(node_cpu_seconds_total{mode="idle"}[5m]))) * 100',
    ),
    Query(
        "p99 by job",
        "histogram_quantile(0.99, sum by (le, job) (rate(http_request_duration_seconds_bucket[5m])))",
    ),
    Query(
        "p50 per series",
        f'histogram_quantile(0.5, rate(http_request_duration_seconds_bucket{{method="GET"}}[{RI}]))',
    ),
    Query(
        "p90 one job",
        "histogram_quantile(0.9, sum by (le) "
        f'(rate(http_request_duration_seconds_bucket{{job="api"}}[{RI}])))',
    ),
    Query(
        "avg latency",
        "sum by (job) (rate(http_request_duration_seconds_sum[5m]))"
        " / sum by (job) (rate(http_request_duration_seconds_count[5m]))",
    ),
    Query(
        "topk instances", "topk(5, sum by (instance) (rate(http_requests_total[5m])))", ties=True
    ),
    Query("bottomk memory", "bottomk(3, process_resident_memory_bytes)", ties=True),
    Query(
        "sort_desc paths",
        "sort_desc(sum by (path) (rate(http_requests_total[5m])))",
        sorted=True,
    ),
    Query(
        "group_left version",
        "rate(process_cpu_seconds_total[5m]) * on (job, instance) group_left (version) build_info",
    ),
    Query(
        "label_replace host",
        'label_replace(rate(process_cpu_seconds_total[5m]), "host", "$1", "instance", "([^:.]+)[.:].*")',
    ),
    Query(
        "subquery max rate",
        'max_over_time(rate(http_requests_total{path="/login"}[5m])[29m59s:1m])',
    ),
    Query("subquery avg deriv", "avg_over_time(deriv(queue_depth[5m])[59m59s:5m])"),
    Query("avg_over_time", "avg_over_time(queue_depth[10m])"),
    Query("max_over_time 1h", "max_over_time(temperature_celsius[1h])"),
    Query("quantile_over_time", "quantile_over_time(0.9, queue_depth[30m])"),
    Query("stddev_over_time", "stddev_over_time(temperature_celsius[30m])"),
    Query(
        "increase 1h by path", "sum by (path) (increase(http_request_duration_seconds_count[1h]))"
    ),
    Query("irate cpu", "irate(process_cpu_seconds_total[5m])"),
    Query("resets", "resets(http_requests_total[1h]) > 0"),
    Query("changes up", "changes(up[1h])"),
    Query("delta temp", "delta(temperature_celsius[30m])"),
    Query("predict_linear", "predict_linear(process_resident_memory_bytes[1h], 3600)"),
    Query("quantile by job", "quantile by (job) (0.9, rate(http_requests_total[5m]))"),
    Query("count by version", "count by (version) (build_info)"),
    Query("filter > 40", "sum by (instance) (queue_depth) > 40"),
    Query("clamp avg", "clamp_max(avg by (job) (temperature_celsius), 45)"),
    Query("absent", 'absent(up{job="nonexistent"})'),
)
