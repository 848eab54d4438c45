"""LogQL evaluation: log queries to streams, metric queries to vectors/matrices.

Metric queries are evaluated for all steps at once. A range aggregation groups the
pipeline's output per label set, then finds each step's window ``(t-range, t]`` with
``searchsorted`` over the sorted timestamps; counts and sums come from cumulative
sums, the rest from per-window slices. Instant vectors travel as
``(labels, values[series, step], present[series, step])``.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from tidewatch.labels import Labels
from tidewatch.logs.logql import ast
from tidewatch.logs.logql.aggregate import range_values, vector_aggregate
from tidewatch.logs.logql.binops import binary_op, label_replace
from tidewatch.logs.logql.parser import ParseError, parse_expr
from tidewatch.logs.logql.pipeline import ERROR, Pipeline, PipelineError, label_filter, unwrap_value
from tidewatch.logs.logql.projection import Projection, projection_for
from tidewatch.logs.logql.store import LogReader, StreamChunk
from tidewatch.logs.logql.values import F64, I64, QueryError, Scalar, Vec
from tidewatch.matcher import Matcher, MatchType

DEFAULT_LIMIT = 100


@dataclass
class StreamResult:
    labels: Labels
    entries: list[tuple[int, str]]


@dataclass
class Streams:
    streams: list[StreamResult]


@dataclass
class VectorResult:
    t_ns: int
    samples: list[tuple[Labels, float]]


@dataclass
class MatrixResult:
    series: list[tuple[Labels, I64, F64]]


@dataclass
class ScalarResult:
    t_ns: int
    value: float


Result = Streams | VectorResult | MatrixResult | ScalarResult


@dataclass
class QueryStats:
    lines_processed: int = 0
    bytes_processed: int = 0
    entries_returned: int = 0
    exec_seconds: float = 0.0
    extra: dict[str, float] = field(default_factory=dict)


def _go_quote(v: str) -> str:
    return '"' + v.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _pipeline_error(labels: Labels) -> QueryError:
    err = dict(labels).get(ERROR, "")
    shown = "{" + ", ".join(f"{k}={_go_quote(v)}" for k, v in labels) + "}"
    return QueryError(
        f"pipeline error: '{err}' for series: '{shown}'.\n"
        f'Use a label filter to intentionally skip this error. (e.g | __error__!="{err}").\n'
        'To skip all potential errors you can match empty errors.(e.g __error__="")\n'
        'The label filter can also be specified after unwrap. (e.g | unwrap latency | __error__="" )\n'
    )


def _select(
    store: LogReader, matchers: list[Matcher], start_ns: int, end_ns: int, pipeline: Pipeline
) -> Iterator[StreamChunk]:
    """The store's chunks, with the pipeline's leading line filters handed down when the
    store can apply them over whole chunks."""
    if pipeline.leading and getattr(store, "accepts_line_filters", False):
        chunks: Iterator[StreamChunk] = store.select(  # type: ignore[call-arg]
            matchers, start_ns, end_ns, line_filters=pipeline.leading
        )
        return chunks
    return iter(store.select(matchers, start_ns, end_ns))


class _ProjectedError(Exception):
    """A projected evaluation met a pipeline error."""


def _line_bytes(lines: list[str]) -> F64:
    return np.fromiter(
        (len(x) if x.isascii() else len(x.encode()) for x in lines), np.float64, len(lines)
    )


class _Groups:
    """Kept entries' times (and values) per label set, gathered a chunk at a time with
    numpy: one array per group and chunk, never a Python object per entry."""

    def __init__(self) -> None:
        self.ids: dict[Labels, int] = {}
        self.ts: list[list[I64]] = []
        self.vals: list[list[F64]] = []

    def _append(self, gid: int, ts: I64, vals: F64 | None) -> None:
        while len(self.ts) <= gid:
            self.ts.append([])
            self.vals.append([])
        self.ts[gid].append(ts)
        if vals is not None:
            self.vals[gid].append(vals)

    def add(self, labels: list[Labels], uniform: Labels | None, ts: I64, vals: F64 | None) -> None:
        ids = self.ids
        if uniform is not None:
            self._append(ids.setdefault(uniform, len(ids)), ts, vals)
            return
        for lb in dict.fromkeys(labels):
            ids.setdefault(lb, len(ids))
        gids = np.fromiter(map(ids.__getitem__, labels), np.int64, len(labels))
        first = int(gids[0])
        if bool((gids == first).all()):
            self._append(first, ts, vals)
            return
        order = np.argsort(gids, kind="stable")
        sorted_ids = gids[order]
        cuts = np.flatnonzero(sorted_ids[1:] != sorted_ids[:-1]) + 1
        bounds = [0, *cuts.tolist(), len(order)]
        for a, b in itertools.pairwise(bounds):
            sel = order[a:b]
            self._append(int(sorted_ids[a]), ts[sel], vals[sel] if vals is not None else None)

    def series(self) -> list[tuple[Labels, I64, F64]]:
        """Per group: labels, times ascending, values in the same order."""
        out: list[tuple[Labels, I64, F64]] = []
        for lb, gid in self.ids.items():
            parts = self.ts[gid]
            t_arr = parts[0] if len(parts) == 1 else np.concatenate(parts)
            vparts = self.vals[gid]
            if vparts:
                v_arr = vparts[0] if len(vparts) == 1 else np.concatenate(vparts)
            else:
                v_arr = np.zeros(0, dtype=np.float64)
            if len(t_arr) > 1 and bool(np.any(t_arr[1:] < t_arr[:-1])):
                order = np.argsort(t_arr, kind="stable")
                t_arr = t_arr[order]
                if len(v_arr):
                    v_arr = v_arr[order]
            out.append((lb, t_arr, v_arr))
        return out


class LogQLEngine:
    """Evaluates LogQL over a :class:`LogReader`."""

    def __init__(self, max_entries_limit: int = 5000) -> None:
        self.max_entries_limit = max_entries_limit
        self.stats = QueryStats()

    # ------------------------------------------------------------------ API

    def query_range(
        self,
        store: LogReader,
        text: str,
        start_ns: int,
        end_ns: int,
        step_ns: int,
        direction: str = "backward",
        limit: int = DEFAULT_LIMIT,
    ) -> Result:
        t0 = time.perf_counter()
        self.stats = QueryStats()
        expr = self._parse(text)
        if isinstance(expr, ast.LogQuery):
            if limit > self.max_entries_limit:
                raise QueryError(
                    "max entries limit per query exceeded, limit > max_entries_limit_per_query "
                    f"({limit} > {self.max_entries_limit})"
                )
            res: Result = self._log_query(store, expr, start_ns, end_ns, direction, limit)
        else:
            if step_ns <= 0:
                raise QueryError("zero or negative query resolution step widths are not accepted")
            steps = np.arange(start_ns, end_ns + 1, step_ns, dtype=np.int64)
            res = self._to_matrix(self._eval(store, expr, steps), steps)
        self.stats.exec_seconds = time.perf_counter() - t0
        return res

    def query_instant(
        self,
        store: LogReader,
        text: str,
        t_ns: int,
        direction: str = "backward",
        limit: int = DEFAULT_LIMIT,
    ) -> Result:
        t0 = time.perf_counter()
        self.stats = QueryStats()
        expr = self._parse(text)
        if isinstance(expr, ast.LogQuery):
            raise QueryError(
                "log queries are not supported as an instant query type, "
                "please change your query to a range query type"
            )
        steps = np.array([t_ns], dtype=np.int64)
        value = self._eval(store, expr, steps)
        res: Result
        if isinstance(value, Scalar):
            res = ScalarResult(t_ns, float(value.values[0]))
        else:
            samples = [
                (lb, float(value.values[i, 0]))
                for i, lb in enumerate(value.labels)
                if value.present[i, 0]
            ]
            res = VectorResult(t_ns, samples)
        self.stats.exec_seconds = time.perf_counter() - t0
        return res

    def _parse(self, text: str) -> ast.Expr:
        expr = parse_expr(text)
        return expr

    # ------------------------------------------------------------------ log queries

    def _log_query(
        self,
        store: LogReader,
        q: ast.LogQuery,
        start_ns: int,
        end_ns: int,
        direction: str,
        limit: int,
    ) -> Streams:
        pipeline = self._pipeline(q.stages)
        forward = direction.lower() == "forward"
        by_labels: dict[Labels, list[tuple[int, str]]] = {}
        for chunk in _select(store, q.matchers, start_ns, end_ns, pipeline):
            self._count(chunk.lines)
            p = pipeline.process(chunk)
            ts = chunk.ts.tolist()
            for k, i in enumerate(p.index):
                by_labels.setdefault(p.labels[k], []).append((ts[i], p.lines[k]))
        # Keep the `limit` entries nearest the query's starting edge, over all streams.
        everything = [(t, lb, line) for lb, items in by_labels.items() for t, line in items]
        everything.sort(key=lambda x: x[0], reverse=not forward)
        if limit > 0:
            everything = everything[:limit]
        out: dict[Labels, list[tuple[int, str]]] = {}
        for t, lb, line in everything:
            out.setdefault(lb, []).append((t, line))
        self.stats.entries_returned = len(everything)
        return Streams([StreamResult(lb, entries) for lb, entries in out.items()])

    def _count(self, lines: list[str]) -> None:
        self.stats.lines_processed += len(lines)
        self.stats.bytes_processed += sum(map(len, lines))

    def _pipeline(self, stages: list[ast.Stage]) -> Pipeline:
        try:
            return Pipeline(stages)
        except (PipelineError, ValueError) as exc:
            raise QueryError(str(exc)) from None

    # ------------------------------------------------------------------ metric queries

    def _eval(self, store: LogReader, expr: ast.Expr, steps: I64) -> Vec | Scalar:
        if isinstance(expr, ast.Literal):
            return Scalar(np.full(len(steps), expr.value, dtype=np.float64))
        if isinstance(expr, ast.VectorExpr):
            return Vec(
                [()], np.full((1, len(steps)), expr.value), np.ones((1, len(steps)), dtype=bool)
            )
        if isinstance(expr, ast.RangeAggregation):
            return self._range(store, expr, steps)
        if isinstance(expr, ast.VectorAggregation):
            inner = self._aggregation_input(store, expr, steps)
            if isinstance(inner, Scalar):
                raise QueryError(f"unexpected scalar in {expr.op} aggregation")
            return vector_aggregate(expr, inner)
        if isinstance(expr, ast.BinaryExpr):
            left = self._eval(store, expr.left, steps)
            right = self._eval(store, expr.right, steps)
            return binary_op(expr, left, right)
        if isinstance(expr, ast.LabelReplace):
            inner = self._eval(store, expr.expr, steps)
            if isinstance(inner, Scalar):
                raise QueryError("unexpected scalar in label_replace")
            return label_replace(expr, inner)
        raise QueryError("log query is not a metric query")

    def _aggregation_input(
        self, store: LogReader, expr: ast.VectorAggregation, steps: I64
    ) -> Vec | Scalar:
        """The aggregation's input; projected (see :mod:`.projection`) when it allows."""
        projection = projection_for(expr)
        if projection is None or not isinstance(expr.expr, ast.RangeAggregation):
            return self._eval(store, expr.expr, steps)
        lines, nbytes = self.stats.lines_processed, self.stats.bytes_processed
        try:
            return self._range(store, expr.expr, steps, projection)
        except _ProjectedError:
            # A pipeline error: evaluate again unprojected, for the series Loki names.
            self.stats.lines_processed, self.stats.bytes_processed = lines, nbytes
            return self._eval(store, expr.expr, steps)

    def _range(
        self,
        store: LogReader,
        node: ast.RangeAggregation,
        steps: I64,
        projection: Projection | None = None,
    ) -> Vec:
        r = node.range
        ends = steps - r.offset_ns
        starts = ends - r.range_ns
        try:
            pipeline = Pipeline(r.query.stages, projection)
        except (PipelineError, ValueError) as exc:
            raise QueryError(str(exc)) from None
        unwrap = r.unwrap
        post: list[Callable[..., bool]] = []
        if unwrap is not None:
            try:
                post = [label_filter(f) for f in unwrap.post_filters]
            except ValueError as exc:
                raise QueryError(str(exc)) from None
        grouping = node.grouping
        groups = _Groups()
        want_bytes = node.op in ("bytes_over_time", "bytes_rate")
        t_lo, t_hi = int(starts.min()) + 1, int(ends.max()) + 1
        for chunk in _select(store, r.query.matchers, t_lo, t_hi, pipeline):
            self._count(chunk.lines)
            if unwrap is None:
                p = pipeline.process(chunk)
                if not p.index:
                    continue
                kept_ts = chunk.ts[np.asarray(p.index, dtype=np.intp)]
                sizes = _line_bytes(p.lines) if want_bytes else None
                groups.add(p.labels, p.uniform, kept_ts, sizes)
                continue
            ts = chunk.ts.tolist()
            p = pipeline.process(chunk, keep_entries=True)
            assert p.entries is not None
            u_labels: list[Labels] = []
            u_ts: list[int] = []
            u_vals: list[float] = []
            for k, i in enumerate(p.index):
                e = p.entries[k]
                v = unwrap_value(e, unwrap)
                if v is None:
                    continue
                if post and not all(f(e) for f in post):
                    continue
                e.labels.pop(unwrap.label, None)
                lbls = e.labels
                if grouping is not None and ERROR not in lbls:
                    if grouping.without:
                        for name in grouping.labels:
                            lbls.pop(name, None)
                    else:
                        lbls = {n: lbls[n] for n in grouping.labels if n in lbls}
                u_labels.append(tuple(sorted(lbls.items())))
                u_ts.append(ts[i])
                u_vals.append(v)
            if u_labels:
                groups.add(
                    u_labels,
                    None,
                    np.asarray(u_ts, dtype=np.int64),
                    np.asarray(u_vals, dtype=np.float64),
                )
        series = groups.series()
        if node.op == "absent_over_time":
            return self._absent(node, [t for _, t, _ in series], starts, ends)
        labels: list[Labels] = []
        rows: list[F64] = []
        masks: list[npt.NDArray[np.bool_]] = []
        for lb, t_arr, v_arr in series:
            lo = np.searchsorted(t_arr, starts, side="right")
            hi = np.searchsorted(t_arr, ends, side="right")
            values, present = range_values(node, t_arr, v_arr, lo, hi, starts, ends)
            if not present.any():
                continue
            if ERROR in dict(lb):
                if projection is not None:
                    raise _ProjectedError
                raise _pipeline_error(lb)
            labels.append(lb)
            rows.append(values)
            masks.append(present)
        n = len(steps)
        if not labels:
            return Vec([], np.zeros((0, n)), np.zeros((0, n), dtype=bool))
        return Vec(labels, np.vstack(rows), np.vstack(masks))

    def _absent(
        self, node: ast.RangeAggregation, series_ts: list[I64], starts: I64, ends: I64
    ) -> Vec:
        any_present = np.zeros(len(starts), dtype=bool)
        for t_arr in series_ts:
            lo = np.searchsorted(t_arr, starts, side="right")
            hi = np.searchsorted(t_arr, ends, side="right")
            any_present |= hi > lo
        absent = ~any_present
        if not absent.any():
            return Vec([], np.zeros((0, len(starts))), np.zeros((0, len(starts)), dtype=bool))
        lbls: dict[str, str] = {}
        for m in node.range.query.matchers:
            if m.type == MatchType.EQUAL and m.name not in lbls:
                lbls[m.name] = m.value
        lb = tuple(sorted(lbls.items()))
        return Vec([lb], np.ones((1, len(starts))), absent[None, :].copy())

    def _to_matrix(self, value: Vec | Scalar, steps: I64) -> MatrixResult:
        if isinstance(value, Scalar):
            return MatrixResult([((), steps.copy(), value.values.copy())])
        out: list[tuple[Labels, I64, F64]] = []
        for i, lb in enumerate(value.labels):
            mask = value.present[i]
            if mask.any():
                out.append((lb, steps[mask], value.values[i][mask]))
        return MatrixResult(out)


def check_query(text: str) -> ast.Expr:
    """Parse only (for API validation); raises :class:`ParseError`."""
    return parse_expr(text)


__all__ = [
    "LogQLEngine",
    "MatrixResult",
    "ParseError",
    "QueryError",
    "Result",
    "ScalarResult",
    "StreamResult",
    "Streams",
    "VectorResult",
    "check_query",
]
