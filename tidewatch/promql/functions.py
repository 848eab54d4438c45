"""Function calls: range-vector functions (through ``windows``), element-wise math,
date functions, label manipulation, sorting, ``absent``, and classic-histogram
``histogram_quantile``/``histogram_fraction``."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np

from tidewatch.labels import METRIC_NAME, Labels
from tidewatch.matcher import MatchType, RegexError, compile_anchored
from tidewatch.promql import windows
from tidewatch.promql.ast import (
    Call,
    Expr,
    MatrixSelector,
    ParenExpr,
    StringLiteral,
    SubqueryExpr,
    VectorSelector,
)
from tidewatch.promql.errors import QueryError, go_g
from tidewatch.promql.histograms import bucket_fraction, bucket_quantile, parse_le
from tidewatch.promql.info import eval_info
from tidewatch.promql.values import (
    F64,
    RangeSteps,
    ScalarSteps,
    StepValue,
    VectorSteps,
)

if TYPE_CHECKING:
    from tidewatch.promql.engine import Evaluator

_MATH: dict[str, Callable[[F64], F64]] = {
    "abs": np.abs,
    "ceil": np.ceil,
    "floor": np.floor,
    "exp": np.exp,
    "sqrt": np.sqrt,
    "ln": np.log,
    "log2": np.log2,
    "log10": np.log10,
    "sin": np.sin,
    "cos": np.cos,
    "tan": np.tan,
    "asin": np.arcsin,
    "acos": np.arccos,
    "atan": np.arctan,
    "sinh": np.sinh,
    "cosh": np.cosh,
    "tanh": np.tanh,
    "asinh": np.arcsinh,
    "acosh": np.arccosh,
    "atanh": np.arctanh,
    "rad": np.radians,
    "deg": np.degrees,
    "sgn": np.sign,
}

_RATE_LIKE = {"rate", "increase", "delta"}
_ANCHORED_SAFE = {"resets", "changes", "rate", "increase", "delta"}
_SMOOTHED_SAFE = {"rate", "increase", "delta"}
_DATE_FUNCS = {
    "minute",
    "hour",
    "day_of_week",
    "day_of_month",
    "day_of_year",
    "days_in_month",
    "month",
    "year",
}
_NATIVE_ONLY = {
    "histogram_count",
    "histogram_sum",
    "histogram_avg",
    "histogram_stddev",
    "histogram_stdvar",
}


def _unwrap(e: Expr) -> Expr:
    while isinstance(e, ParenExpr):
        e = e.expr
    return e


def call(ev: Evaluator, node: Call) -> StepValue:
    name = node.func.name
    args = node.args
    n = ev.n
    if name == "time":
        return ScalarSteps(ev.steps / 1000.0)
    if name == "pi":
        return ScalarSteps(np.full(n, math.pi))
    if name in ("start", "end", "range", "step"):
        value = {
            "start": ev.query_start / 1000.0,
            "end": ev.query_end / 1000.0,
            "range": (ev.query_end - ev.query_start) / 1000.0,
            "step": ev.query_step / 1000.0,
        }[name]
        return ScalarSteps(np.full(n, value))
    if name == "info":
        return eval_info(ev, node)
    if name in ("min_of", "max_of"):
        a, b = ev.eval_scalar(args[0]).values, ev.eval_scalar(args[1]).values
        return ScalarSteps(np.minimum(a, b) if name == "min_of" else np.maximum(a, b))
    matrix_idx = next(
        (i for i, a in enumerate(args) if isinstance(_unwrap(a), MatrixSelector | SubqueryExpr)),
        None,
    )
    if (
        matrix_idx is not None
        and node.func.arg_types[min(matrix_idx, len(node.func.arg_types) - 1)].value == "matrix"
    ):
        return _range_function(ev, node, matrix_idx)
    if name == "vector":
        s = ev.eval_scalar(args[0]).values
        return VectorSteps(
            [()], s[None, :].copy(), np.ones((1, n), dtype=bool), np.zeros(1, dtype=bool)
        )
    if name == "scalar":
        v = ev.eval_vector(args[0])
        cnt = v.present.sum(axis=0)
        vals = np.where(v.present, v.values, 0.0).sum(axis=0) if len(v.labels) else np.zeros(n)
        return ScalarSteps(np.where(cnt == 1, vals, np.nan))
    if name == "timestamp":
        return _timestamp(ev, node)
    if name in _MATH:
        v = ev.eval_vector(args[0])
        return _with_values(v, _MATH[name](v.values))
    if name == "round":
        v = ev.eval_vector(args[0])
        to = ev.eval_scalar(args[1]).values if len(args) > 1 else np.ones(n)
        inv = 1.0 / to
        return _with_values(v, np.floor(v.values * inv[None, :] + 0.5) / inv[None, :])
    if name in ("clamp", "clamp_min", "clamp_max"):
        return _clamp(ev, node)
    if name in _DATE_FUNCS:
        if args:
            v = ev.eval_vector(args[0])
        else:
            v = VectorSteps(
                [()],
                (ev.steps / 1000.0)[None, :],
                np.ones((1, n), dtype=bool),
                np.zeros(1, dtype=bool),
            )
        return _with_values(v, _date_func(name, v.values))
    if name in ("sort", "sort_desc"):
        return _sort(ev, node, desc=name == "sort_desc")
    if name in ("sort_by_label", "sort_by_label_desc"):
        return _sort_by_label(ev, node, desc=name == "sort_by_label_desc")
    if name == "label_replace":
        return _label_replace(ev, node)
    if name == "label_join":
        return _label_join(ev, node)
    if name == "absent":
        v = ev.eval_vector(args[0])
        missing = np.asarray(~v.present.any(axis=0), dtype=bool)
        return VectorSteps(
            [_absent_labels(args[0])],
            np.ones((1, n)),
            missing[None, :],
            np.ones(1, dtype=bool),
        ).compact()
    if name == "histogram_quantile":
        return _histogram_quantile(ev, node)
    if name == "histogram_quantiles":
        return _histogram_quantiles(ev, node)
    if name == "histogram_fraction":
        return _histogram_fraction(ev, node)
    if name in _NATIVE_ONLY:
        ev.eval_vector(args[0])
        return VectorSteps.empty(n)
    raise QueryError("execution", f"function {name} is not supported")


def _with_values(v: VectorSteps, values: F64) -> VectorSteps:
    return VectorSteps(v.labels, values, v.present, np.ones(len(v.labels), dtype=bool))


def _clamp(ev: Evaluator, node: Call) -> VectorSteps:
    name = node.func.name
    v = ev.eval_vector(node.args[0])
    n = ev.n
    if name == "clamp":
        lo = ev.eval_scalar(node.args[1]).values
        hi = ev.eval_scalar(node.args[2]).values
    elif name == "clamp_min":
        lo = ev.eval_scalar(node.args[1]).values
        hi = np.full(n, np.inf)
    else:
        lo = np.full(n, -np.inf)
        hi = ev.eval_scalar(node.args[1]).values
    # Go's math.Max/Min propagate NaN; clamp with max < min yields nothing.
    vals = np.maximum(lo[None, :], np.minimum(hi[None, :], v.values))
    present = v.present & ~(hi < lo)[None, :]
    return VectorSteps(v.labels, vals, present, np.ones(len(v.labels), dtype=bool)).compact()


def _date_func(name: str, values: F64) -> F64:
    finite = np.isfinite(values)
    secs = np.where(finite, np.trunc(np.where(finite, values, 0)), 0).astype(np.int64)
    dt = secs.astype("datetime64[s]")
    days = dt.astype("datetime64[D]")
    months = dt.astype("datetime64[M]")
    years = dt.astype("datetime64[Y]")
    if name == "minute":
        out = (dt.astype("datetime64[m]") - dt.astype("datetime64[h]")).astype(np.int64)
    elif name == "hour":
        out = (dt.astype("datetime64[h]") - days).astype(np.int64)
    elif name == "day_of_week":
        out = (days.astype(np.int64) + 4) % 7
    elif name == "day_of_month":
        out = (days - months.astype("datetime64[D]")).astype(np.int64) + 1
    elif name == "day_of_year":
        out = (days - years.astype("datetime64[D]")).astype(np.int64) + 1
    elif name == "days_in_month":
        out = ((months + 1).astype("datetime64[D]") - months.astype("datetime64[D]")).astype(
            np.int64
        )
    elif name == "month":
        out = months.astype(np.int64) % 12 + 1
    else:
        out = years.astype(np.int64) + 1970
    return np.where(finite, out.astype(np.float64), np.nan)


def _timestamp(ev: Evaluator, node: Call) -> VectorSteps:
    arg = node.args[0]
    if isinstance(arg, VectorSelector):
        times = ev.eval_times(
            arg.at_ms, arg.at_modifier, ev.duration(arg.offset_expr, arg.offset_ms, negative=True)
        )
        vec, ts = ev.select_vector_at(arg, times, with_ts=True)
        return VectorSteps(
            vec.labels, ts / 1000.0, vec.present, np.ones(len(vec.labels), dtype=bool)
        )
    v = ev.eval_vector(arg)
    vals = np.broadcast_to((ev.steps / 1000.0)[None, :], v.values.shape).copy()
    return _with_values(v, vals)


def _sort(ev: Evaluator, node: Call, *, desc: bool) -> VectorSteps:
    v = ev.eval_vector(node.args[0])
    if not ev.is_instant:
        ev.annotations.warn(
            "sort is ineffective for range queries since results are always ordered by labels",
            node.pos[0],
        )
        return v
    vals = v.values[:, 0]
    nan = np.isnan(vals)
    key = -vals if desc else vals
    order = np.lexsort((np.where(nan, 0.0, key), nan))
    return v.take(order)


def _natsort_key(s: str) -> list[tuple[int, int | str]]:
    parts: list[tuple[int, int | str]] = []
    num = ""
    txt = ""
    for ch in s:
        if ch.isdigit():
            if txt:
                parts.append((1, txt))
                txt = ""
            num += ch
        else:
            if num:
                parts.append((0, int(num)))
                num = ""
            txt += ch
    if num:
        parts.append((0, int(num)))
    if txt:
        parts.append((1, txt))
    return parts


def _sort_by_label(ev: Evaluator, node: Call, *, desc: bool) -> VectorSteps:
    v = ev.eval_vector(node.args[0])
    if not ev.is_instant:
        ev.annotations.warn(
            "sort is ineffective for range queries since results are always ordered by labels",
            node.pos[0],
        )
        return v
    names = [_string_arg(a) for a in node.args[1:]]

    def key(i: int) -> tuple[list[list[tuple[int, int | str]]], tuple[tuple[str, str], ...]]:
        d = dict(v.labels[i])
        return [_natsort_key(d.get(nm, "")) for nm in names], v.labels[i]

    order = sorted(range(len(v.labels)), key=key, reverse=desc)
    return v.take(order)


def _string_arg(e: Expr) -> str:
    e = _unwrap(e)
    if isinstance(e, StringLiteral):
        return e.value
    raise QueryError("execution", "expected a string literal argument")


def _valid_label_name(name: str) -> bool:
    if not name:
        return False
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _expand(template: str, m: object) -> str:
    """Go regexp ``Expand``: ``$1``, ``${1}``, ``$name``, ``${name}``, ``$$``."""
    out: list[str] = []
    i = 0
    groups = m.groups()  # type: ignore[attr-defined]
    named = m.re.groupindex  # type: ignore[attr-defined]
    while i < len(template):
        c = template[i]
        if c != "$" or i + 1 >= len(template):
            out.append(c)
            i += 1
            continue
        nxt = template[i + 1]
        if nxt == "$":
            out.append("$")
            i += 2
            continue
        if nxt == "{":
            end = template.find("}", i + 2)
            if end < 0:
                out.append(c)
                i += 1
                continue
            ref = template[i + 2 : end]
            i = end + 1
        else:
            j = i + 1
            while j < len(template) and (template[j].isalnum() or template[j] == "_"):
                j += 1
            ref = template[i + 1 : j]
            if not ref:
                out.append(c)
                i += 1
                continue
            i = j
        if ref.isdigit():
            k = int(ref)
            if k == 0:
                out.append(m.group(0))  # type: ignore[attr-defined]
            elif k <= len(groups):
                out.append(groups[k - 1] or "")
        elif ref in named:
            out.append(m.group(ref) or "")  # type: ignore[attr-defined]
    return "".join(out)


def _set_label(lbls: Labels, name: str, value: str) -> Labels:
    d = dict(lbls)
    if value:
        d[name] = value
    else:
        d.pop(name, None)
    return tuple(sorted(d.items()))


def _label_replace(ev: Evaluator, node: Call) -> VectorSteps:
    v = ev.eval_vector(node.args[0])
    dst, repl, src, regex = (_string_arg(a) for a in node.args[1:5])
    try:
        rx = compile_anchored(regex)
    except RegexError:
        raise QueryError(
            "execution", f'invalid regular expression in label_replace(): "{regex}"'
        ) from None
    if not _valid_label_name(dst):
        raise QueryError("execution", f'invalid destination label name in label_replace(): "{dst}"')
    labels: list[Labels] = []
    drop = v.drop_name.copy()
    for i, lbls in enumerate(v.labels):
        srcval = dict(lbls).get(src, "")
        m = rx.match(srcval)
        if m is None:
            labels.append(lbls)
            continue
        labels.append(_set_label(lbls, dst, _expand(repl, m)))
        if dst == METRIC_NAME:
            drop[i] = False
    return _dedupe(VectorSteps(labels, v.values, v.present, drop))


def _label_join(ev: Evaluator, node: Call) -> VectorSteps:
    v = ev.eval_vector(node.args[0])
    dst = _string_arg(node.args[1])
    sep = _string_arg(node.args[2])
    srcs = [_string_arg(a) for a in node.args[3:]]
    if not _valid_label_name(dst):
        raise QueryError("execution", f'invalid destination label name in label_join(): "{dst}"')
    labels = []
    drop = v.drop_name.copy()
    for i, lbls in enumerate(v.labels):
        d = dict(lbls)
        labels.append(_set_label(lbls, dst, sep.join(d.get(s, "") for s in srcs)))
        if dst == METRIC_NAME:
            drop[i] = False
    return _dedupe(VectorSteps(labels, v.values, v.present, drop))


def _dedupe(v: VectorSteps) -> VectorSteps:
    """Merge rows with equal labels when their steps don't overlap; error otherwise."""
    if len(set(v.labels)) == len(v.labels):
        return v
    index: dict[Labels, int] = {}
    rows: list[int] = []
    vals = v.values.copy()
    pres = v.present.copy()
    for i, lbls in enumerate(v.labels):
        j = index.get(lbls)
        if j is None:
            index[lbls] = i
            rows.append(i)
            continue
        if (pres[j] & pres[i]).any():
            raise QueryError("execution", "vector cannot contain metrics with the same labelset")
        vals[j] = np.where(pres[i], vals[i], vals[j])
        pres[j] |= pres[i]
    out = VectorSteps(v.labels, vals, pres, v.drop_name)
    return out.take(rows)


def _absent_labels(arg: Expr) -> Labels:
    if isinstance(arg, MatrixSelector):
        arg = arg.vs
    if not isinstance(arg, VectorSelector):
        return ()
    d: dict[str, str] = {}
    seen: set[str] = set()
    for m in arg.matchers:
        if m.name == METRIC_NAME:
            continue
        if m.type is MatchType.EQUAL and m.name not in seen:
            d[m.name] = m.value
            seen.add(m.name)
        else:
            d.pop(m.name, None)
    return tuple(sorted((k, v) for k, v in d.items() if v))


# ------------------------------------------------------------------ range functions


def _range_function(ev: Evaluator, node: Call, idx: int) -> VectorSteps:
    name = node.func.name
    args = node.args
    n = ev.n
    scalars = [
        ev.eval_scalar(a).values if i != idx and a.type.value == "scalar" else None
        for i, a in enumerate(args)
    ]
    sel = _unwrap(args[idx])
    anchored = isinstance(sel, MatrixSelector) and sel.vs.anchored
    smoothed = isinstance(sel, MatrixSelector) and sel.vs.smoothed
    if anchored and name not in _ANCHORED_SAFE:
        raise QueryError(
            "execution",
            f"anchored modifier can only be used with: {', '.join(sorted(_ANCHORED_SAFE))} "
            f"- not with {name}",
        )
    if smoothed and name not in _SMOOTHED_SAFE:
        raise QueryError(
            "execution",
            f"smoothed modifier can only be used with: {', '.join(sorted(_SMOOTHED_SAFE))} "
            f"- not with {name}",
        )
    rng = ev.eval_range(args[idx])
    if name == "absent_over_time":
        any_data = np.asarray((rng.hi > rng.lo).any(axis=0), dtype=bool)
        return VectorSteps(
            [_absent_labels(_unwrap(args[idx]))],
            np.ones((1, n)),
            (~any_data)[None, :],
            np.ones(1, dtype=bool),
        ).compact()
    n_series = len(rng.labels)
    out = np.full((n_series, n), np.nan)
    ok = np.zeros((n_series, n), dtype=bool)
    if rng.anchored or rng.smoothed:
        # Their kernels binary-search one series' sorted times: one series per call.
        for k in range(n_series):
            ev.check()
            s0, s1 = int(rng.starts[k]), int(rng.ends[k])
            kernel = _kernel(ev, node, rng, scalars, 1)
            out[k], ok[k] = kernel(rng.ts[s0:s1], rng.values[s0:s1], rng.lo[k] - s0, rng.hi[k] - s0)
    else:
        # All series and steps in one kernel call (in row chunks to bound memory);
        # windows never cross a series boundary, so prefix sums and pairwise
        # kernels over the concatenated samples stay exact.
        batch = max(1, _BATCH_WINDOWS // max(n, 1))
        for b0 in range(0, n_series, batch):
            ev.check()
            b1 = min(n_series, b0 + batch)
            kernel = _kernel(ev, node, rng, scalars, b1 - b0)
            vals, good = kernel(rng.ts, rng.values, rng.lo[b0:b1].ravel(), rng.hi[b0:b1].ravel())
            out[b0:b1] = vals.reshape(b1 - b0, n)
            ok[b0:b1] = good.reshape(b1 - b0, n)
    rows = np.flatnonzero(ok.any(axis=1))
    if len(rows) == 0:
        return VectorSteps.empty(n)
    labels = [rng.labels[r] for r in rows.tolist()]
    if name in ("rate", "increase"):
        # One check per metric name, not per series.
        for metric in dict.fromkeys(_metric_name(lbls) for lbls in labels):
            _maybe_not_counter(ev, metric, args[idx].pos[0])
    drops = rng.drop_name[rows] | (name not in windows.KEEPS_NAME)
    return VectorSteps(labels, out[rows], ok[rows], drops)


_BATCH_WINDOWS = 1 << 22


def _metric_name(lbls: Labels) -> str:
    for k, v in lbls:
        if k == METRIC_NAME:
            return v
    return ""


def _maybe_not_counter(ev: Evaluator, name: str, pos: int) -> None:
    if name and not name.endswith(("_total", "_sum", "_count", "_bucket")):
        ev.annotations.info(
            f'metric might not be a counter, name does not end in _total/_sum/_count/_bucket: "{name}"',
            pos,
        )


Kernel = Callable[[np.ndarray, F64, np.ndarray, np.ndarray], windows.KernelResult]


def _kernel(
    ev: Evaluator, node: Call, rng: RangeSteps, scalars: list[F64 | None], reps: int
) -> Kernel:
    """The kernel for ``node`` over ``reps`` concatenated series: per-step
    parameters are tiled to one entry per window."""
    name = node.func.name
    if rng.anchored or rng.smoothed:
        return _extended_kernel(name, rng, reps)
    if name in windows.SIMPLE_KERNELS:
        return windows.SIMPLE_KERNELS[name]
    if name in _RATE_LIKE:
        is_counter = name != "delta"
        is_rate = name == "rate"
        range_s = rng.range_ms / 1000.0
        starts = np.tile(rng.range_start, reps)
        ends = np.tile(rng.range_end, reps)

        def rate(ts: np.ndarray, v: F64, lo: np.ndarray, hi: np.ndarray) -> windows.KernelResult:
            return windows.extrapolated_rate(
                ts, v, lo, hi, starts, ends, range_s, is_counter, is_rate
            )

        return rate
    if name in ("irate", "idelta"):
        is_rate = name == "irate"
        return lambda ts, v, lo, hi: windows.instant_rate(ts, v, lo, hi, is_rate)
    if name == "quantile_over_time":
        q = scalars[0]
        assert q is not None
        _check_quantile(ev, q, node.args[0].pos[0])
        q_all = np.tile(q, reps)
        return lambda ts, v, lo, hi: windows.quantile_over_time(ts, v, lo, hi, q_all)
    if name == "predict_linear":
        dur = scalars[1]
        assert dur is not None
        eval_t = np.tile(ev.steps, reps)
        dur_all = np.tile(dur, reps)
        return lambda ts, v, lo, hi: windows.predict_linear(ts, v, lo, hi, eval_t, dur_all)
    if name == "double_exponential_smoothing":
        sf_arr, tf_arr = scalars[1], scalars[2]
        assert sf_arr is not None and tf_arr is not None
        sf, tf = float(sf_arr[0]), float(tf_arr[0])
        if not 0 < sf < 1:
            raise QueryError(
                "execution", f"invalid smoothing factor. Expected: 0 < sf < 1, got: {sf:f}"
            )
        if not 0 < tf < 1:
            raise QueryError(
                "execution", f"invalid trend factor. Expected: 0 < tf < 1, got: {tf:f}"
            )
        return lambda ts, v, lo, hi: windows.double_exponential_smoothing(ts, v, lo, hi, sf, tf)
    raise QueryError("execution", f"function {name} is not supported")


def _extended_kernel(name: str, rng: RangeSteps, reps: int) -> Kernel:
    starts = np.tile(rng.range_start, reps)
    ends = np.tile(rng.range_end, reps)
    if name == "changes":
        return lambda ts, v, lo, hi: windows.anchored_changes(ts, v, lo, hi, starts)
    if name == "resets":
        return lambda ts, v, lo, hi: windows.anchored_resets(ts, v, lo, hi, starts)
    is_counter = name != "delta"
    is_rate = name == "rate"
    range_s = rng.range_ms / 1000.0
    smoothed = rng.smoothed

    def rate(ts: np.ndarray, v: F64, lo: np.ndarray, hi: np.ndarray) -> windows.KernelResult:
        return windows.extended_rate(
            ts, v, lo, hi, starts, ends, range_s, smoothed, is_counter, is_rate
        )

    return rate


def _check_quantile(ev: Evaluator, q: F64, pos: int) -> None:
    for value in np.unique(q).tolist():
        if math.isnan(value) or value < 0 or value > 1:
            ev.annotations.warn(f"quantile value should be between 0 and 1, got {go_g(value)}", pos)


# ------------------------------------------------------------------ classic histograms


def _bucket_groups(
    ev: Evaluator, v: VectorSteps, pos: int
) -> tuple[list[Labels], list[list[int]], list[float], list[bool]]:
    """Group bucket series by their labels without ``le``."""
    index: dict[Labels, int] = {}
    keys: list[Labels] = []
    members: list[list[int]] = []
    les: list[float] = [0.0] * len(v.labels)
    drops: list[bool] = []
    for i, lbls in enumerate(v.labels):
        d = dict(lbls)
        le = parse_le(d.get("le", ""))
        if le is None:
            name = d.get(METRIC_NAME, "")
            msg = f'bucket label "le" is missing or has a malformed value of "{d.get("le", "")}"'
            if name:
                msg += f' for metric name "{name}"'
            ev.annotations.warn(msg, pos)
            continue
        les[i] = le
        key = tuple(p for p in lbls if p[0] != "le")
        g = index.get(key)
        if g is None:
            g = index[key] = len(keys)
            keys.append(key)
            members.append([])
            drops.append(False)
        members[g].append(i)
    return keys, members, les, drops


def _histogram_quantile(ev: Evaluator, node: Call) -> VectorSteps:
    q = ev.eval_scalar(node.args[0]).values
    v = ev.eval_vector(node.args[1])
    _check_quantile(ev, q, node.args[0].pos[0])
    keys, members, les, _ = _bucket_groups(ev, v, node.args[1].pos[0])
    out_v, out_p = _quantiles(ev, q, v, keys, members, les, node.args[1].pos[0])
    return VectorSteps(keys, out_v, out_p, np.ones(len(keys), dtype=bool)).compact()


def _quantiles(
    ev: Evaluator,
    q: F64,
    v: VectorSteps,
    keys: list[Labels],
    members: list[list[int]],
    les: list[float],
    pos: int,
) -> tuple[F64, np.ndarray]:
    """Quantile of every bucket group at every step. Groups with the same bucket
    bounds (the usual case: one histogram, many label sets) are stacked side by side
    as extra columns and computed in one pass."""
    n = ev.n
    out_v = np.full((len(keys), n), np.nan)
    out_p = np.zeros((len(keys), n), dtype=bool)
    layouts: dict[tuple[float, ...], list[tuple[int, list[int]]]] = {}
    for g, m in enumerate(members):
        order = sorted(m, key=lambda i: les[i])
        layouts.setdefault(tuple(les[i] for i in order), []).append((g, order))
    for layout, groups in layouts.items():
        ev.check()
        gids = [g for g, _ in groups]
        idx = np.array([order for _, order in groups], dtype=np.intp)  # (G, k)
        counts = v.values[idx].transpose(1, 0, 2).reshape(len(layout), -1)
        present = v.present[idx].transpose(1, 0, 2).reshape(len(layout), -1)
        res, ok, fix = bucket_quantile(np.tile(q, len(gids)), np.array(layout), counts, present)
        out_v[gids] = res.reshape(len(gids), n)
        out_p[gids] = ok.reshape(len(gids), n)
        if fix is not None:
            cols, min_b, max_b, max_diff = fix
            for gi in np.unique(cols // n).tolist():
                steps = cols[cols // n == gi] % n
                _monotonicity_info(
                    ev, keys[gids[gi]], pos, (steps, min_b, max_b, max_diff), ev.steps
                )
    return out_v, out_p


def _openmetrics_float(v: float) -> str:
    text = go_g(v)
    if math.isfinite(v) and v == math.floor(v) and not any(c in text for c in "e."):
        text += ".0"
    return text


def _histogram_quantiles(ev: Evaluator, node: Call) -> VectorSteps:
    """``histogram_quantiles(v, "label", q1, q2, ...)``: one output series per
    quantile, told apart by ``label``."""
    v = ev.eval_vector(node.args[0])
    label = _string_arg(node.args[1])
    qs = [ev.eval_scalar(a).values for a in node.args[2:]]
    for a, q in zip(node.args[2:], qs, strict=True):
        _check_quantile(ev, q, a.pos[0])
    keys, members, les, _ = _bucket_groups(ev, v, node.args[0].pos[0])
    labels: list[Labels] = []
    rows_v: list[np.ndarray] = []
    rows_p: list[np.ndarray] = []
    for q in qs:
        all_v, all_p = _quantiles(ev, q, v, keys, members, les, node.args[0].pos[0])
        for g in range(len(members)):
            res, ok = all_v[g], all_p[g]
            # A quantile that changes between steps labels each step by its value.
            for u in np.unique(q[ok]).tolist():
                steps = ok & ((q == u) | (np.isnan(q) & math.isnan(u)))
                labels.append(_set_label(keys[g], label, _openmetrics_float(u)))
                rows_v.append(res)
                rows_p.append(steps)
    if not labels:
        return VectorSteps.empty(ev.n)
    out = VectorSteps(
        labels, np.vstack(rows_v), np.vstack(rows_p), np.ones(len(labels), dtype=bool)
    )
    return _dedupe(out)


def _monotonicity_info(
    ev: Evaluator,
    key: Labels,
    pos: int,
    fix: tuple[np.ndarray, float, float, float],
    steps: np.ndarray,
) -> None:
    fixed_steps, min_b, max_b, max_diff = fix
    name = dict(key).get(METRIC_NAME, "")
    ev.annotations.monotonicity(name, pos, steps[fixed_steps], min_b, max_b, max_diff)


def _histogram_fraction(ev: Evaluator, node: Call) -> VectorSteps:
    lower = ev.eval_scalar(node.args[0]).values
    upper = ev.eval_scalar(node.args[1]).values
    v = ev.eval_vector(node.args[2])
    keys, members, les, _ = _bucket_groups(ev, v, node.args[2].pos[0])
    n = ev.n
    out_v = np.full((len(keys), n), np.nan)
    out_p = np.zeros((len(keys), n), dtype=bool)
    for g, m in enumerate(members):
        idx = np.array(m, dtype=np.intp)
        le = np.array([les[i] for i in m])
        res, ok = bucket_fraction(lower, upper, le, v.values[idx], v.present[idx])
        out_v[g], out_p[g] = res, ok
    return VectorSteps(keys, out_v, out_p, np.ones(len(keys), dtype=bool)).compact()
