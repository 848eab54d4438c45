"""Query results as the ``data`` object of Prometheus's HTTP API."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tidewatch.labels import Labels
from tidewatch.promql.errors import go_format_f
from tidewatch.promql.values import Matrix, Scalar, String, Vector

if TYPE_CHECKING:
    from tidewatch.promql.engine import QueryResult, QueryStats


def _metric(lbls: Labels) -> dict[str, str]:
    return dict(lbls)


def _ts(t_ms: int) -> float | int:
    # Prometheus prints seconds with millisecond precision; whole seconds print as ints.
    return t_ms // 1000 if t_ms % 1000 == 0 else t_ms / 1000.0


def value_to_json(value: Vector | Matrix | Scalar | String) -> dict[str, Any]:
    if isinstance(value, Vector):
        return {
            "resultType": "vector",
            "result": [
                {"metric": _metric(s.labels), "value": [_ts(s.t_ms), go_format_f(s.value)]}
                for s in value.samples
            ],
        }
    if isinstance(value, Matrix):
        result = []
        for s in value.series:
            pts = [
                [_ts(t), go_format_f(v)]
                for t, v in zip(s.ts.tolist(), s.values.tolist(), strict=True)
            ]
            result.append({"metric": _metric(s.labels), "values": pts})
        return {"resultType": "matrix", "result": result}
    if isinstance(value, Scalar):
        return {"resultType": "scalar", "result": [_ts(value.t_ms), go_format_f(value.value)]}
    return {"resultType": "string", "result": [_ts(value.t_ms), value.value]}


def stats_to_json(stats: QueryStats) -> dict[str, Any]:
    return {
        "timings": {
            "evalTotalTime": stats.eval_total_time,
            "resultSortTime": stats.result_sort_time,
            "queryPreparationTime": stats.query_preparation_time,
            "innerEvalTime": stats.inner_eval_time,
            "execQueueTime": stats.exec_queue_time,
            "execTotalTime": stats.exec_total_time,
        },
        "samples": {
            "totalQueryableSamples": stats.total_queryable_samples,
            "peakSamples": stats.peak_samples,
        },
    }


def result_to_json(result: QueryResult, *, with_stats: bool = False) -> dict[str, Any]:
    data = value_to_json(result.value)
    if with_stats:
        data["stats"] = stats_to_json(result.stats)
    return data
