"""Loki's JSON ``data`` object for ``/loki/api/v1/query`` and ``query_range``."""

from __future__ import annotations

from typing import Any

from tidewatch.gofloat import format_float
from tidewatch.logs.logql.engine import (
    MatrixResult,
    QueryStats,
    Result,
    ScalarResult,
    Streams,
    VectorResult,
)


def format_value(v: float) -> str:
    """Go's ``strconv.FormatFloat(v, 'f', -1, 64)``, as Loki renders sample values."""
    return format_float(v, "f")


def _seconds(t_ns: int) -> float | int:
    # Loki prints sample times as seconds with millisecond precision.
    ms = t_ns // 1_000_000
    return ms // 1000 if ms % 1000 == 0 else ms / 1000


def _stats(stats: QueryStats | None) -> dict[str, Any]:
    s = stats or QueryStats()
    exec_s = s.exec_seconds
    return {
        "summary": {
            "bytesProcessedPerSecond": int(s.bytes_processed / exec_s) if exec_s > 0 else 0,
            "linesProcessedPerSecond": int(s.lines_processed / exec_s) if exec_s > 0 else 0,
            "totalBytesProcessed": s.bytes_processed,
            "totalLinesProcessed": s.lines_processed,
            "execTime": exec_s,
            "queueTime": 0,
            "subqueries": 0,
            "totalEntriesReturned": s.entries_returned,
            "splits": 0,
            "shards": 0,
            "totalPostFilterLines": s.entries_returned,
            "totalStructuredMetadataBytesProcessed": 0,
        }
    }


def result_to_json(result: Result, stats: QueryStats | None = None) -> dict[str, Any]:
    """The ``data`` object: ``{"resultType": ..., "result": ..., "stats": ...}``."""
    body: Any
    if isinstance(result, Streams):
        body = [
            {"stream": dict(s.labels), "values": [[str(t), line] for t, line in s.entries]}
            for s in result.streams
        ]
        kind = "streams"
    elif isinstance(result, MatrixResult):
        body = [
            {
                "metric": dict(lb),
                "values": [
                    [_seconds(t), format_value(v)]
                    for t, v in zip(ts.tolist(), vals.tolist(), strict=False)
                ],
            }
            for lb, ts, vals in result.series
        ]
        kind = "matrix"
    elif isinstance(result, VectorResult):
        body = [
            {"metric": dict(lb), "value": [_seconds(result.t_ns), format_value(v)]}
            for lb, v in result.samples
        ]
        kind = "vector"
    else:
        assert isinstance(result, ScalarResult)
        body = [_seconds(result.t_ns), format_value(result.value)]
        kind = "scalar"
    return {"resultType": kind, "result": body, "stats": _stats(stats)}
