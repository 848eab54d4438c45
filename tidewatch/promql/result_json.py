"""Query results as the ``data`` object of Prometheus's HTTP API.

Big matrices dominate encoding time, so a matrix's points are encoded in bulk:
orjson formats every value of the result in one call (the same shortest digits
as Go), numpy masks pick the few whose Go ``'f'`` form differs (exponents, NaN,
infinities take the exact printer), and each series' ``values`` becomes one
``orjson.Fragment``. The ``data`` object must therefore be encoded with orjson.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import orjson

from tidewatch.labels import Labels
from tidewatch.promql.errors import go_format_f
from tidewatch.promql.values import F64, Matrix, MatrixSeries, Scalar, String, Vector

if TYPE_CHECKING:
    from tidewatch.promql.engine import QueryResult, QueryStats

# orjson switches to an exponent from 1e16 up and below 1e-5; Go's 'f' never does.
# (Conservative bounds: values outside take the exact printer.)
_PLAIN_MAX = 1e15
_PLAIN_MIN = 1e-4
# Below this many values, per-value printing beats the fixed cost of the bulk path.
_SMALL = 32


def _metric(lbls: Labels) -> dict[str, str]:
    return dict(lbls)


def _ts(t_ms: int) -> float | int:
    # Prometheus prints seconds with millisecond precision; whole seconds print as ints.
    return t_ms // 1000 if t_ms % 1000 == 0 else t_ms / 1000.0


def _value_tokens(values: F64) -> list[bytes]:
    """Go's ``FormatFloat(v, 'f', -1, 64)`` of every value, as JSON string bodies.

    orjson prints the same shortest round-trip digits; only its whole numbers
    (``12.0``), exponents and ``null`` (NaN, infinities) differ from Go's form."""
    n = len(values)
    if n < _SMALL:
        return [go_format_f(v).encode() for v in values.tolist()]
    text = orjson.dumps(values, option=orjson.OPT_SERIALIZE_NUMPY)[1:-1] + b","
    tokens = text.replace(b".0,", b",").split(b",")[:n]
    mag = np.abs(values)
    with np.errstate(invalid="ignore"):
        odd = ~((mag < _PLAIN_MAX) & ((mag >= _PLAIN_MIN) | (mag == 0)))
    for i in np.flatnonzero(odd).tolist():
        tokens[i] = go_format_f(float(values[i])).encode()
    return tokens


def format_values(values: F64) -> list[str]:
    """Go's ``FormatFloat(v, 'f', -1, 64)`` of every value, in bulk."""
    if len(values) < _SMALL:
        return [go_format_f(v) for v in values.tolist()]
    return [t.decode() for t in _value_tokens(values)]


def _ts_token(t_ms: int) -> bytes:
    return orjson.dumps(_ts(t_ms))


def _matrix_values(series: list[MatrixSeries]) -> list[orjson.Fragment]:
    """Each series' ``values`` array as ready JSON: all values are formatted in one
    pass, and each point's ``[t,"`` prefix comes from a table of distinct times."""
    if not series:
        return []
    all_ts = np.concatenate([s.ts for s in series])
    all_v = np.concatenate([s.values for s in series])
    uniq = np.unique(all_ts)
    prefixes = np.array([b'"],[' + _ts_token(t) + b',"' for t in uniq.tolist()], dtype=object)
    parts: list[bytes] = [b""] * (2 * len(all_ts))
    parts[0::2] = prefixes[np.searchsorted(uniq, all_ts)].tolist()
    parts[1::2] = _value_tokens(all_v)
    out = []
    pos = 0
    for s in series:
        k = 2 * len(s.ts)
        if k == 0:
            out.append(orjson.Fragment(b"[]"))
            continue
        # Drop the first point's leading '"],' and close the last point.
        body = b"".join(parts[pos : pos + k])
        out.append(orjson.Fragment(b"[" + body[3:] + b'"]]'))
        pos += k
    return out


def value_to_json(value: Vector | Matrix | Scalar | String) -> dict[str, Any]:
    if isinstance(value, Vector):
        samples = value.samples
        vals = format_values(np.array([s.value for s in samples], dtype=np.float64))
        return {
            "resultType": "vector",
            "result": [
                {"metric": _metric(s.labels), "value": [_ts(s.t_ms), v]}
                for s, v in zip(samples, vals, strict=True)
            ],
        }
    if isinstance(value, Matrix):
        # Points are pre-encoded JSON (orjson fragments): encode with orjson.
        result = [
            {"metric": _metric(s.labels), "values": frag}
            for s, frag in zip(value.series, _matrix_values(value.series), strict=True)
        ]
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
