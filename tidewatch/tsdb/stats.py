"""Status and self-monitoring: ``/api/v1/status/tsdb`` data and the
``prometheus_tsdb_*`` metric families, under Prometheus's names."""

from __future__ import annotations

import heapq
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    Metric,
    SummaryMetricFamily,
)

from tidewatch.labels import METRIC_NAME

if TYPE_CHECKING:
    from tidewatch.tsdb.db import TSDB


def _top(items: Iterable[tuple[str, int]], limit: int) -> list[dict[str, Any]]:
    best = heapq.nlargest(limit, items, key=lambda kv: (kv[1], kv[0]))
    return [{"name": name, "value": value} for name, value in best]


def tsdb_status(db: TSDB, limit: int = 10) -> dict[str, Any]:
    head = db.head
    with head.lock:
        counts = {
            name: {v: len(ids) for v, ids in values.items()}
            for name, values in head.postings.index.items()
        }
        num_series = head.series_count()
        chunks = head.num_chunks()
        mint, maxt = head.mint, head.maxt
    by_metric = counts.get(METRIC_NAME, {})
    pairs = ((f"{n}={v}", c) for n, values in counts.items() for v, c in values.items())
    return {
        "headStats": {
            "numSeries": num_series,
            "numLabelPairs": sum(len(v) for v in counts.values()),
            "chunkCount": chunks,
            "minTime": int(mint),
            "maxTime": int(maxt),
        },
        "seriesCountByMetricName": _top(by_metric.items(), limit),
        "labelValueCountByLabelName": _top(((n, len(v)) for n, v in counts.items()), limit),
        "memoryInBytesByLabelName": _top(
            ((n, sum(len(v) * c for v, c in values.items())) for n, values in counts.items()),
            limit,
        ),
        "seriesCountByLabelValuePair": _top(pairs, limit),
    }


def self_metrics(db: TSDB) -> list[Metric]:
    head = db.head
    with head.lock:
        c = head.counters
        series = head.series_count()
        chunks = head.num_chunks()
        mint, maxt = head.mint, head.maxt
        exemplars = head.exemplar_count
        blocks = list(db.blocks)
    out: list[Metric] = []

    def gauge(name: str, doc: str, value: float) -> None:
        out.append(GaugeMetricFamily(name, doc, value=value))

    def counter(name: str, doc: str, value: float, typed: bool = False) -> None:
        if typed:
            fam = CounterMetricFamily(name, doc, labels=["type"])
            fam.add_metric(["float"], value)
            out.append(fam)
        else:
            out.append(CounterMetricFamily(name, doc, value=value))

    gauge("prometheus_tsdb_head_series", "Total number of series in the head block.", series)
    gauge("prometheus_tsdb_head_chunks", "Total number of chunks in the head block.", chunks)
    counter(
        "prometheus_tsdb_head_samples_appended_total",
        "Total number of appended samples.",
        c.samples_appended,
        True,
    )
    counter(
        "prometheus_tsdb_out_of_order_samples_total",
        "Total number of out of order samples ingestion failed attempts due to out of order being disabled.",
        c.out_of_order,
        True,
    )
    counter(
        "prometheus_tsdb_out_of_bound_samples_total",
        "Total number of out of bound samples ingestion failed attempts with out of order support disabled.",
        c.out_of_bounds,
        True,
    )
    counter(
        "tidewatch_tsdb_duplicate_sample_timestamp_total",
        "Samples rejected for a timestamp already holding another value.",
        c.duplicates,
    )
    counter(
        "prometheus_tsdb_head_series_created_total",
        "Total number of series created in the head",
        c.series_created,
    )
    counter(
        "prometheus_tsdb_head_series_removed_total",
        "Total number of series removed in the head",
        c.series_removed,
    )
    counter(
        "prometheus_tsdb_head_chunks_created_total",
        "Total number of chunks created in the head",
        c.chunks_created,
    )
    counter(
        "prometheus_tsdb_head_truncations_total",
        "Total number of head truncations attempted.",
        db.head_truncations,
    )
    gauge(
        "prometheus_tsdb_head_min_time",
        "Minimum time bound of the head block.",
        mint if series else 0,
    )
    gauge(
        "prometheus_tsdb_head_max_time",
        "Maximum timestamp of the head block.",
        maxt if series else 0,
    )
    gauge(
        "prometheus_tsdb_head_min_time_seconds",
        "Minimum time bound of the head block.",
        mint / 1000 if series else 0,
    )
    gauge(
        "prometheus_tsdb_head_max_time_seconds",
        "Maximum timestamp of the head block.",
        maxt / 1000 if series else 0,
    )
    wal = db.wal
    out.append(
        SummaryMetricFamily(
            "prometheus_tsdb_wal_fsync_duration_seconds",
            "Duration of write log fsync.",
            count_value=wal.fsync_count,
            sum_value=wal.fsync_sum,
        )
    )
    gauge(
        "prometheus_tsdb_wal_segment_current",
        "Write log segment index that TSDB is currently writing to.",
        wal.current_segment,
    )
    counter(
        "prometheus_tsdb_wal_corruptions_total",
        "Total number of WAL corruptions.",
        db.wal_corruptions,
    )
    gauge("prometheus_tsdb_blocks_loaded", "Number of currently loaded data blocks", len(blocks))
    counter(
        "prometheus_tsdb_compactions_total",
        "Total number of compactions that were executed for the partition.",
        db.compactions_total,
    )
    counter(
        "prometheus_tsdb_compactions_failed_total",
        "Total number of compactions that failed for the partition.",
        db.compactions_failed,
    )
    gauge(
        "prometheus_tsdb_storage_blocks_bytes",
        "The number of bytes that are currently used for local storage by all blocks.",
        sum(b.size_bytes for b in blocks),
    )
    gauge(
        "prometheus_tsdb_retention_limit_bytes",
        "Max number of bytes to be retained in the tsdb blocks, configured 0 means disabled",
        db.options.retention_bytes,
    )
    gauge(
        "prometheus_tsdb_retention_limit_seconds",
        "How long to retain samples in storage.",
        db.options.retention_ms / 1000,
    )
    counter(
        "prometheus_tsdb_time_retentions_total",
        "The number of times that blocks were deleted because the maximum time limit was exceeded.",
        db.time_retentions,
    )
    counter(
        "prometheus_tsdb_size_retentions_total",
        "The number of times that blocks were deleted because the maximum number of bytes was exceeded.",
        db.size_retentions,
    )
    lowest = min([b.meta.min_time for b in blocks] + ([mint] if series else []), default=0)
    gauge(
        "prometheus_tsdb_lowest_timestamp", "Lowest timestamp value stored in the database.", lowest
    )
    gauge(
        "prometheus_tsdb_lowest_timestamp_seconds",
        "Lowest timestamp value stored in the database.",
        lowest / 1000,
    )
    gauge(
        "prometheus_tsdb_exemplar_exemplars_in_storage",
        "Number of exemplars currently in circular storage.",
        exemplars,
    )
    return out
