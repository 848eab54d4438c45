"""The PromQL evaluator: instant and range queries with Prometheus 3 semantics.

Usage::

    engine = Engine(lookback_delta_ms=300_000, max_samples=50_000_000, timeout_ms=120_000)
    result = engine.range_query(storage.querier(), "sum(rate(x_total[5m]))", start, end, step)
    data = result_to_json(result)  # the API's "data" object

Every node is evaluated for all steps of the query at once (see ``values.py``):
selectors pack all series into one sorted key and locate every (series, step)
sample with one ``np.searchsorted``; range functions run vectorised kernels over
per-step window bounds; aggregations and binary operators work on
``(series, steps)`` arrays. Python loops run over series, groups or window
positions, never over individual samples. Errors raise :class:`QueryError` whose
``error_type`` is the API's ``errorType``.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from tidewatch.labels import METRIC_NAME, Labels
from tidewatch.matcher import Matcher
from tidewatch.promql import aggregations, binops, functions, windows
from tidewatch.promql.ast import (
    AggregateExpr,
    BinaryExpr,
    Call,
    DurationEvalError,
    DurationExpr,
    Expr,
    MatrixSelector,
    NumberLiteral,
    ParenExpr,
    StepInvariantExpr,
    StringLiteral,
    SubqueryExpr,
    UnaryExpr,
    ValueType,
    VectorSelector,
    eval_duration_expr,
)
from tidewatch.promql.errors import Annotations, QueryError
from tidewatch.promql.packing import pack_arrays, select_packed
from tidewatch.promql.values import (
    I64,
    Matrix,
    MatrixSeries,
    RangeSteps,
    ResultValue,
    Sample,
    Scalar,
    ScalarSteps,
    StepValue,
    String,
    StringSteps,
    Vector,
    VectorSteps,
)
from tidewatch.value import stale_mask

if TYPE_CHECKING:
    from tidewatch.tsdb.interface import Querier

__all__ = [
    "Engine",
    "Matrix",
    "MatrixSeries",
    "QueryError",
    "QueryResult",
    "QueryStats",
    "Sample",
    "Scalar",
    "String",
    "Vector",
    "result_to_json",
]

MAX_POINTS_PER_SERIES = 11_000
TOO_MANY_SAMPLES = "query processing would load too many samples into memory in query execution"
# Upper bound on cells of temporary (series x steps) arrays built at once.
_CHUNK_CELLS = 1 << 22
# Labels removed together with the metric name (Prometheus's metadata labels).
_METADATA_LABELS = frozenset({METRIC_NAME, "__type__", "__unit__"})


@dataclass
class QueryStats:
    eval_total_time: float = 0.0
    result_sort_time: float = 0.0
    query_preparation_time: float = 0.0
    inner_eval_time: float = 0.0
    exec_queue_time: float = 0.0
    exec_total_time: float = 0.0
    total_queryable_samples: int = 0
    peak_samples: int = 0


@dataclass
class QueryResult:
    value: Vector | Matrix | Scalar | String
    warnings: list[str] = field(default_factory=list)
    infos: list[str] = field(default_factory=list)
    stats: QueryStats = field(default_factory=QueryStats)


def _drop_metadata(lbls: Labels) -> Labels:
    return tuple(p for p in lbls if p[0] not in _METADATA_LABELS)


class Evaluator:
    """Evaluates nodes over one grid of steps. Subqueries use a child evaluator
    with its own grid and the same limits, deadline and annotations."""

    def __init__(
        self,
        querier: Querier,
        steps: I64,
        *,
        lookback_ms: int,
        query_start: int,
        query_end: int,
        query_step: int,
        deadline: float,
        cancel: threading.Event | None,
        max_samples: int,
        default_subquery_step_ms: int,
        annotations: Annotations,
        stats: QueryStats,
        is_instant: bool,
    ) -> None:
        self.querier = querier
        self.steps = steps
        self.lookback_ms = lookback_ms
        self.query_start = query_start
        self.query_end = query_end
        self.query_step = query_step
        self.deadline = deadline
        self.cancel = cancel
        self.max_samples = max_samples
        self.default_subquery_step_ms = default_subquery_step_ms
        self.annotations = annotations
        self.stats = stats
        self.is_instant = is_instant

    @property
    def n(self) -> int:
        return len(self.steps)

    def child(self, steps: I64) -> Evaluator:
        return Evaluator(
            self.querier,
            steps,
            lookback_ms=self.lookback_ms,
            query_start=self.query_start,
            query_end=self.query_end,
            query_step=self.query_step,
            deadline=self.deadline,
            cancel=self.cancel,
            max_samples=self.max_samples,
            default_subquery_step_ms=self.default_subquery_step_ms,
            annotations=self.annotations,
            stats=self.stats,
            is_instant=False,
        )

    # ------------------------------------------------------------ limits

    def check(self) -> None:
        if self.cancel is not None and self.cancel.is_set():
            raise QueryError("canceled", "query was canceled in expression evaluation")
        if time.monotonic() > self.deadline:
            raise QueryError("timeout", "query timed out in expression evaluation")

    def account(self, n_samples: int) -> None:
        self.stats.total_queryable_samples += n_samples
        if n_samples > self.stats.peak_samples:
            self.stats.peak_samples = n_samples
        if n_samples > self.max_samples:
            raise QueryError("execution", TOO_MANY_SAMPLES)

    # ------------------------------------------------------------ helpers

    def duration(self, expr: DurationExpr | None, fallback: int, *, negative: bool = False) -> int:
        if expr is None:
            return fallback
        try:
            return eval_duration_expr(
                expr, self.query_step, self.query_end - self.query_start, allow_negative=negative
            )
        except DurationEvalError as exc:
            raise QueryError("execution", str(exc)) from None

    def eval_times(self, at_ms: int | None, at_modifier: str | None, offset_ms: int) -> I64:
        """Per-step evaluation time of a selector or subquery after ``@`` and offset."""
        if at_modifier == "start":
            base = np.full(self.n, self.query_start, dtype=np.int64)
        elif at_modifier == "end":
            base = np.full(self.n, self.query_end, dtype=np.int64)
        elif at_ms is not None:
            base = np.full(self.n, at_ms, dtype=np.int64)
        else:
            base = self.steps
        return base - np.int64(offset_ms)

    # ------------------------------------------------------------ dispatch

    def eval(self, node: Expr) -> StepValue:
        self.check()
        if isinstance(node, NumberLiteral):
            return ScalarSteps(np.full(self.n, node.value, dtype=np.float64))
        if isinstance(node, StringLiteral):
            return StringSteps(node.value)
        if isinstance(node, ParenExpr | StepInvariantExpr):
            return self.eval(node.expr)
        if isinstance(node, UnaryExpr):
            return self._unary(node)
        if isinstance(node, VectorSelector):
            return self.select_vector(node)
        if isinstance(node, MatrixSelector):
            return self.select_range(node)
        if isinstance(node, SubqueryExpr):
            return self.subquery(node)
        if isinstance(node, Call):
            return functions.call(self, node)
        if isinstance(node, AggregateExpr):
            return aggregations.aggregate(self, node)
        if isinstance(node, BinaryExpr):
            return binops.binary(self, node)
        if isinstance(node, DurationExpr):
            ms = self.duration(node, 0, negative=True)
            return ScalarSteps(np.full(self.n, ms / 1000.0))
        raise QueryError("internal", f"unhandled expression type {type(node).__name__}")

    def eval_vector(self, node: Expr) -> VectorSteps:
        v = self.eval(node)
        if not isinstance(v, VectorSteps):
            raise QueryError("internal", f"expected instant vector, got {type(v).__name__}")
        return v

    def eval_scalar(self, node: Expr) -> ScalarSteps:
        v = self.eval(node)
        if not isinstance(v, ScalarSteps):
            raise QueryError("internal", f"expected scalar, got {type(v).__name__}")
        return v

    def eval_range(self, node: Expr) -> RangeSteps:
        v = self.eval(node)
        if not isinstance(v, RangeSteps):
            raise QueryError("internal", f"expected range vector, got {type(v).__name__}")
        return v

    def _unary(self, node: UnaryExpr) -> StepValue:
        v = self.eval(node.expr)
        if node.op != "-":
            return v
        if isinstance(v, ScalarSteps):
            return ScalarSteps(-v.values)
        if isinstance(v, VectorSteps):
            return VectorSteps(v.labels, -v.values, v.present, np.ones(len(v.labels), dtype=bool))
        raise QueryError("internal", "unary minus on a non-numeric value")

    # ------------------------------------------------------------ selectors

    def _matchers(self, vs: VectorSelector) -> list[Matcher]:
        return list(vs.matchers)

    def select_vector(self, vs: VectorSelector, *, with_ts: bool = False) -> VectorSteps:
        times = self.eval_times(
            vs.at_ms, vs.at_modifier, self.duration(vs.offset_expr, vs.offset_ms, negative=True)
        )
        vec, _ = self.select_vector_at(vs, times, with_ts=with_ts)
        return vec

    def select_vector_at(
        self, vs: VectorSelector, times: I64, *, with_ts: bool = False
    ) -> tuple[VectorSteps, Any]:
        """Each series' latest sample in ``(t - lookback, t]`` for every time ``t``,
        unless it is a staleness marker; optionally the samples' timestamps."""
        n = len(times)
        if n == 0:
            return VectorSteps.empty(0), None
        if vs.smoothed:
            return self._select_smoothed(vs, times), None
        t_min = int(times.min()) - self.lookback_ms + 1
        t_max = int(times.max())
        p = select_packed(
            self.querier, self._matchers(vs), t_min, t_max, t_min, t_max, drop_stale=False
        )
        self.check()
        empty_ts = np.zeros((0, n), dtype=np.int64) if with_ts else None
        if not p.labels or len(p.ts) == 0:
            return VectorSteps.empty(n), empty_ts
        # Row chunks bound the temporary (series x steps) arrays; the dense result
        # counts against the sample limit as it grows.
        parts: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = []
        kept = 0
        chunk = max(1, _CHUNK_CELLS // n)
        lookback_start = (times - self.lookback_ms)[None, :]
        for r0 in range(0, len(p.labels), chunk):
            self.check()
            r1 = min(len(p.labels), r0 + chunk)
            idx = p.locate(times, "right", r0, r1) - 1
            ok = idx >= p.starts[r0:r1, None]
            idx = np.maximum(idx, 0)
            st = p.ts[idx]
            vals = p.values[idx]
            ok &= st > lookback_start
            ok &= ~stale_mask(vals)
            rows = np.flatnonzero(ok.any(axis=1))
            if len(rows) == 0:
                continue
            kept += len(rows)
            self.account(kept * n)
            parts.append((rows + r0, vals[rows], ok[rows], st[rows]))
        if not parts:
            return VectorSteps.empty(n), empty_ts
        rows_all = np.concatenate([x[0] for x in parts])
        vec = VectorSteps(
            [p.labels[r] for r in rows_all.tolist()],
            np.vstack([x[1] for x in parts]),
            np.vstack([x[2] for x in parts]),
            np.zeros(len(rows_all), dtype=bool),
        )
        return vec, (np.vstack([x[3] for x in parts]) if with_ts else None)

    def _select_smoothed(self, vs: VectorSelector, times: I64) -> VectorSteps:
        lb = self.lookback_ms
        series = self.querier.select(
            self._matchers(vs), int(times.min()) - lb + 1, int(times.max()) + lb
        )
        labels: list[Labels] = []
        rows_v: list[np.ndarray] = []
        rows_p: list[np.ndarray] = []
        for s in series:
            keep = ~stale_mask(s.values)
            vals, ok = windows.smoothed_values(s.ts[keep], s.values[keep], times, lb)
            if ok.any():
                labels.append(s.labels)
                rows_v.append(vals)
                rows_p.append(ok)
        self.account(sum(int(p.sum()) for p in rows_p))
        if not labels:
            return VectorSteps.empty(len(times))
        return VectorSteps(
            labels, np.vstack(rows_v), np.vstack(rows_p), np.zeros(len(labels), dtype=bool)
        )

    def select_range(self, ms: MatrixSelector) -> RangeSteps:
        vs = ms.vs
        range_ms = self.duration(ms.range_expr, ms.range_ms)
        times = self.eval_times(
            vs.at_ms, vs.at_modifier, self.duration(vs.offset_expr, vs.offset_ms, negative=True)
        )
        return self.select_range_at(vs, range_ms, times)

    def select_range_at(self, vs: VectorSelector, range_ms: int, times: I64) -> RangeSteps:
        starts = times - np.int64(range_ms)
        extended = vs.anchored or vs.smoothed
        win_start = starts - self.lookback_ms if extended else starts
        win_end = times + self.lookback_ms if vs.smoothed else times
        if len(times) == 0:
            return _empty_range(starts, times, range_ms)
        t_min = int(win_start.min())
        t_max = int(win_end.max())
        p = select_packed(
            self.querier, self._matchers(vs), t_min + 1, t_max, t_min, t_max, drop_stale=True
        )
        self.check()
        if not p.labels:
            return _empty_range(starts, times, range_ms)
        if len(p.labels) * len(times) > self.max_samples:
            raise QueryError("execution", TOO_MANY_SAMPLES)
        lo = p.locate(win_start, "right")
        hi = p.locate(win_end, "right")
        self.account(int((hi - lo).max(initial=0)) * len(p.labels))
        rng = RangeSteps(
            p.labels,
            p.ts,
            p.values,
            p.starts,
            p.ends,
            lo,
            hi,
            np.zeros(len(p.labels), dtype=bool),
            starts,
            times,
            range_ms,
            vs.anchored,
            vs.smoothed,
        )
        return rng.take(np.flatnonzero((hi > lo).any(axis=1)))

    def subquery(self, sq: SubqueryExpr) -> RangeSteps:
        range_ms = self.duration(sq.range_expr, sq.range_ms)
        step = self.duration(sq.step_expr, sq.step_ms) or self.default_subquery_step_ms
        offset = self.duration(sq.offset_expr, sq.offset_ms, negative=True)
        times = self.eval_times(sq.at_ms, sq.at_modifier, offset)
        starts = times - np.int64(range_ms)
        if len(times) == 0:
            return _empty_range(starts, times, range_ms)
        tmin = int(starts.min())
        tmax = int(times.max())
        # First step strictly after the earliest window start, aligned to multiples of step.
        first = (tmin // step) * step
        if first <= tmin:
            first += step
        inner_steps = np.arange(first, tmax + 1, step, dtype=np.int64)
        if len(inner_steps) == 0:
            return _empty_range(starts, times, range_ms)
        inner = self.child(inner_steps).eval(sq.expr)
        if isinstance(inner, ScalarSteps):
            ones = np.ones((1, len(inner_steps)), dtype=bool)
            inner = VectorSteps([()], inner.values[None, :], ones, np.zeros(1, dtype=bool))
        if not isinstance(inner, VectorSteps):
            raise QueryError("internal", "subquery of a non-vector expression")
        inner = inner.compact()
        # Present cells, row by row with ascending times, become the samples.
        rows, cols = np.nonzero(inner.present)
        counts = np.bincount(rows, minlength=len(inner.labels)).astype(np.int64)
        p = pack_arrays(
            inner.labels,
            inner_steps[cols],
            inner.values[rows, cols],
            counts,
            min(tmin, int(inner_steps[0])),
            max(tmax, int(inner_steps[-1])),
        )
        lo = p.locate(starts, "right")
        hi = p.locate(times, "right")
        rng = RangeSteps(
            p.labels,
            p.ts,
            p.values,
            p.starts,
            p.ends,
            lo,
            hi,
            inner.drop_name.copy(),
            starts,
            times,
            range_ms,
        )
        return rng.take(np.flatnonzero((hi > lo).any(axis=1)))


def _empty_range(starts: I64, times: I64, range_ms: int) -> RangeSteps:
    n = len(times)
    empty = np.zeros(0, dtype=np.int64)
    return RangeSteps(
        [],
        empty,
        np.zeros(0),
        empty,
        empty,
        np.zeros((0, n), dtype=np.int64),
        np.zeros((0, n), dtype=np.int64),
        np.zeros(0, dtype=bool),
        starts,
        times,
        range_ms,
    )


class Engine:
    """Runs PromQL queries against a :class:`Querier`."""

    def __init__(
        self,
        *,
        lookback_delta_ms: int = 300_000,
        max_samples: int = 50_000_000,
        timeout_ms: int = 120_000,
        default_subquery_step_ms: int = 60_000,
    ) -> None:
        self.lookback_delta_ms = lookback_delta_ms
        self.max_samples = max_samples
        self.timeout_ms = timeout_ms
        self.default_subquery_step_ms = default_subquery_step_ms

    def instant_query(
        self,
        querier: Querier,
        expr: str | Expr,
        t_ms: int,
        *,
        lookback_delta_ms: int | None = None,
        timeout_ms: int | None = None,
        cancel: threading.Event | None = None,
        query_text: str | None = None,
    ) -> QueryResult:
        return self._run(
            querier, expr, t_ms, t_ms, 0, lookback_delta_ms, timeout_ms, cancel, query_text
        )

    def range_query(
        self,
        querier: Querier,
        expr: str | Expr,
        start_ms: int,
        end_ms: int,
        step_ms: int,
        *,
        lookback_delta_ms: int | None = None,
        timeout_ms: int | None = None,
        cancel: threading.Event | None = None,
        query_text: str | None = None,
    ) -> QueryResult:
        if step_ms <= 0:
            raise QueryError(
                "bad_data",
                "zero or negative query resolution step widths are not accepted. Try a positive integer",
            )
        if end_ms < start_ms:
            raise QueryError("bad_data", "end timestamp must not be before start time")
        if (end_ms - start_ms) // step_ms > MAX_POINTS_PER_SERIES:
            raise QueryError(
                "bad_data",
                "exceeded maximum resolution of 11,000 points per timeseries. "
                "Try decreasing the query resolution (?step=XX)",
            )
        return self._run(
            querier,
            expr,
            start_ms,
            end_ms,
            step_ms,
            lookback_delta_ms,
            timeout_ms,
            cancel,
            query_text,
        )

    def _run(
        self,
        querier: Querier,
        expr: str | Expr,
        start: int,
        end: int,
        step: int,
        lookback_delta_ms: int | None,
        timeout_ms: int | None,
        cancel: threading.Event | None,
        query_text: str | None = None,
    ) -> QueryResult:
        t0 = time.monotonic()
        stats = QueryStats()
        if query_text is None:
            query_text = expr if isinstance(expr, str) else ""
        if isinstance(expr, str):
            from tidewatch.promql.parser import ParseError, parse_expr

            try:
                node = parse_expr(expr)
            except ParseError as exc:
                raise QueryError("bad_data", str(exc)) from None
        else:
            node = expr
        is_instant = step == 0
        if not is_instant and node.type not in (ValueType.SCALAR, ValueType.VECTOR):
            raise QueryError(
                "bad_data",
                f'invalid expression type "{node.type.documented()}" for range query, '
                "must be Scalar or instant Vector",
            )
        steps = (
            np.array([start], dtype=np.int64)
            if is_instant
            else np.arange(start, end + 1, step, dtype=np.int64)
        )
        lookback = self.lookback_delta_ms if lookback_delta_ms is None else lookback_delta_ms
        if lookback <= 0:
            lookback = self.lookback_delta_ms
        timeout = self.timeout_ms if timeout_ms is None else timeout_ms
        annotations = Annotations()
        stats.query_preparation_time = time.monotonic() - t0
        ev = Evaluator(
            querier,
            steps,
            lookback_ms=lookback,
            query_start=start,
            query_end=end,
            query_step=step,
            deadline=t0 + timeout / 1000.0,
            cancel=cancel,
            max_samples=self.max_samples,
            default_subquery_step_ms=self.default_subquery_step_ms,
            annotations=annotations,
            stats=stats,
            is_instant=is_instant,
        )
        t1 = time.monotonic()
        try:
            with np.errstate(all="ignore"):
                raw = ev.eval(node)
        except QueryError:
            raise
        except RecursionError:
            raise QueryError("execution", "query too deeply nested") from None
        except Exception as exc:  # a bug must not take the server down: report it
            raise QueryError("internal", f"unexpected error: {type(exc).__name__}: {exc}") from exc
        stats.inner_eval_time = time.monotonic() - t1
        t2 = time.monotonic()
        value = _to_result(raw, steps, is_instant)
        stats.result_sort_time = time.monotonic() - t2
        stats.eval_total_time = time.monotonic() - t1
        stats.exec_total_time = time.monotonic() - t0
        warnings, infos = annotations.render(query_text)
        return QueryResult(value, warnings, infos, stats)


def _finalize_labels(v: VectorSteps) -> list[Labels]:
    return [
        _drop_metadata(lbls) if drop else lbls
        for lbls, drop in zip(v.labels, v.drop_name.tolist(), strict=True)
    ]


def _to_result(raw: StepValue, steps: I64, is_instant: bool) -> ResultValue:
    t = int(steps[0]) if len(steps) else 0
    if isinstance(raw, StringSteps):
        return String(t, raw.value)
    if isinstance(raw, ScalarSteps):
        if is_instant:
            return Scalar(t, float(raw.values[0]))
        return Matrix([MatrixSeries((), steps.copy(), raw.values.copy())])
    if isinstance(raw, RangeSteps):
        out = []
        for k, lbls in enumerate(raw.labels):
            lo, hi = int(raw.lo[k, 0]), int(raw.hi[k, 0])
            if hi <= lo:
                continue
            if raw.drop_name[k]:
                lbls = _drop_metadata(lbls)
            if raw.anchored or raw.smoothed:
                ts, vals = windows.extend_window(
                    raw.ts[lo:hi],
                    raw.values[lo:hi],
                    0,
                    hi - lo,
                    int(raw.range_start[0]),
                    int(raw.range_end[0]),
                    raw.smoothed,
                )
                if len(ts):
                    out.append(MatrixSeries(lbls, ts, vals))
                continue
            out.append(MatrixSeries(lbls, raw.ts[lo:hi].copy(), raw.values[lo:hi].copy()))
        _check_unique([s.labels for s in out])
        return Matrix(out)
    labels = _finalize_labels(raw)
    if is_instant:
        samples = [
            Sample(lbls, t, float(raw.values[i, 0]))
            for i, lbls in enumerate(labels)
            if raw.present[i, 0]
        ]
        _check_unique([s.labels for s in samples])
        return Vector(samples)
    # Range query: merge series that became identical after name removal when
    # their steps do not overlap; overlapping ones are an error.
    by_labels: dict[Labels, int] = {}
    merged_v: list[np.ndarray] = []
    merged_p: list[np.ndarray] = []
    order: list[Labels] = []
    for i, lbls in enumerate(labels):
        p = raw.present[i]
        if not p.any():
            continue
        j = by_labels.get(lbls)
        if j is None:
            by_labels[lbls] = len(order)
            order.append(lbls)
            merged_v.append(raw.values[i].copy())
            merged_p.append(p.copy())
            continue
        if (merged_p[j] & p).any():
            raise QueryError("execution", "vector cannot contain metrics with the same labelset")
        merged_v[j] = np.where(p, raw.values[i], merged_v[j])
        merged_p[j] |= p
    series = []
    for j in sorted(range(len(order)), key=lambda k: order[k]):
        p = merged_p[j]
        series.append(MatrixSeries(order[j], steps[p].copy(), merged_v[j][p]))
    return Matrix(series)


def _check_unique(labels: list[Labels]) -> None:
    if len(set(labels)) != len(labels):
        raise QueryError("execution", "vector cannot contain metrics with the same labelset")


def result_to_json(result: QueryResult, *, with_stats: bool = False) -> dict[str, Any]:
    from tidewatch.promql.result_json import result_to_json as impl

    return impl(result, with_stats=with_stats)
