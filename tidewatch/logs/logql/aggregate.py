"""Range aggregations over per-step windows, and vector aggregations across series."""

from __future__ import annotations

import functools
import math

import numpy as np

from tidewatch.labels import Labels
from tidewatch.logs.logql import ast
from tidewatch.logs.logql.values import F64, I64, Bools, QueryError, Vec

# --------------------------------------------------------------------------- range aggregations


def _cumsum_window(values: F64, lo: I64, hi: I64) -> F64:
    cs = np.concatenate(([0.0], np.cumsum(values)))
    return np.asarray(cs[hi] - cs[lo], dtype=np.float64)


def _window_sum(values: F64, lo: I64, hi: I64) -> F64:
    if np.isfinite(values).all():
        return _cumsum_window(values, lo, hi)
    with np.errstate(invalid="ignore", over="ignore"):
        return np.array(
            [
                values[a:b].sum() if b > a else 0.0
                for a, b in zip(lo.tolist(), hi.tolist(), strict=False)
            ]
        )


def _quantile(q: float, v: F64) -> float:
    if math.isnan(q):
        return math.nan
    if q < 0:
        return -math.inf
    if q > 1:
        return math.inf
    s = np.sort(v)
    rank = q * (len(s) - 1)
    lower = max(0, math.floor(rank))
    upper = min(len(s) - 1, lower + 1)
    weight = rank - math.floor(rank)
    return float(s[lower] * (1 - weight) + s[upper] * weight)


def _variance(v: F64) -> float:
    with np.errstate(invalid="ignore", over="ignore"):
        mean = float(v.mean())
        return float(((v - mean) ** 2).mean())


def _counter_rate(ts: I64, v: F64, start: int, end: int, range_s: float) -> float:
    """Prometheus's extrapolated counter rate over ``(start, end]``; 0 for one sample."""
    if len(v) < 2:
        return 0.0
    resets = np.where(v[1:] < v[:-1], v[:-1], 0.0).sum()
    delta = float(v[-1] - v[0] + resets)
    first_t, last_t = int(ts[0]), int(ts[-1])
    sampled = (last_t - first_t) / 1e9
    if sampled <= 0:
        return 0.0
    to_start = (first_t - start) / 1e9
    to_end = (end - last_t) / 1e9
    avg_gap = sampled / (len(v) - 1)
    threshold = avg_gap * 1.1
    # Clamp to half an interval first; the zero point may only shorten it further.
    if to_start >= threshold:
        to_start = avg_gap / 2
    if delta > 0 and v[0] >= 0:
        to_start = min(to_start, sampled * (float(v[0]) / delta))
    if to_end >= threshold:
        to_end = avg_gap / 2
    interval = sampled + to_start + to_end
    return delta * (interval / sampled) / range_s


def range_values(
    node: ast.RangeAggregation, ts: I64, vals: F64, lo: I64, hi: I64, starts: I64, ends: I64
) -> tuple[F64, Bools]:
    """Per-step values of one series for the node's range operation."""
    op = node.op
    count = (hi - lo).astype(np.float64)
    present = hi > lo
    range_s = node.range.range_ns / 1e9
    unwrapped = node.range.unwrap is not None
    if op == "count_over_time":
        return count, present
    if op == "rate" and not unwrapped:
        return count / range_s, present
    if op in ("bytes_over_time", "bytes_rate"):
        total = _cumsum_window(vals, lo, hi)
        return (total if op == "bytes_over_time" else total / range_s), present
    if op == "sum_over_time":
        return _window_sum(vals, lo, hi), present
    if op == "rate":
        return _window_sum(vals, lo, hi) / range_s, present
    out = np.full(len(lo), np.nan)
    param = node.param if node.param is not None else 0.0
    for j, (a, b) in enumerate(zip(lo.tolist(), hi.tolist(), strict=False)):
        if b <= a:
            continue
        w = vals[a:b]
        if op == "avg_over_time":
            out[j] = _mean(w)
        elif op == "max_over_time":
            out[j] = np.fmax.reduce(w)
        elif op == "min_over_time":
            out[j] = np.fmin.reduce(w)
        elif op == "first_over_time":
            out[j] = w[0]
        elif op == "last_over_time":
            out[j] = w[-1]
        elif op == "stdvar_over_time":
            out[j] = _variance(w)
        elif op == "stddev_over_time":
            out[j] = math.sqrt(_variance(w))
        elif op == "quantile_over_time":
            out[j] = _quantile(param, w)
        elif op == "rate_counter":
            out[j] = _counter_rate(ts[a:b], w, int(starts[j]), int(ends[j]), range_s)
        else:
            raise QueryError(f"unknown range aggregation {op}")
    return out, present


def _mean(w: F64) -> float:
    with np.errstate(invalid="ignore", over="ignore"):
        return float(w.sum() / len(w))


# --------------------------------------------------------------------------- vector aggregations


def _group_key(lb: Labels, grouping: ast.Grouping | None) -> Labels:
    if grouping is None:
        return ()
    if grouping.without:
        drop = set(grouping.labels)
        return tuple((k, v) for k, v in lb if k not in drop)
    keep = set(grouping.labels)
    return tuple((k, v) for k, v in lb if k in keep)


def _groups(vec: Vec, grouping: ast.Grouping | None) -> dict[Labels, list[int]]:
    out: dict[Labels, list[int]] = {}
    for i, lb in enumerate(vec.labels):
        out.setdefault(_group_key(lb, grouping), []).append(i)
    return out


def vector_aggregate(node: ast.VectorAggregation, vec: Vec) -> Vec:
    op = node.op
    n_steps = vec.values.shape[1]
    if op in ("sort", "sort_desc"):
        return _sort(vec, desc=op == "sort_desc")
    if op in ("topk", "bottomk"):
        return _select_k(node, vec)
    labels: list[Labels] = []
    rows: list[F64] = []
    masks: list[Bools] = []
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        for key, idx in _groups(vec, node.grouping).items():
            block = vec.values[idx]
            mask = vec.present[idx]
            cnt = mask.sum(axis=0)
            any_present = cnt > 0
            if not any_present.any():
                continue
            zeroed = np.where(mask, block, 0.0)
            if op == "sum":
                val = zeroed.sum(axis=0)
            elif op == "count":
                val = cnt.astype(np.float64)
            elif op == "avg":
                val = zeroed.sum(axis=0) / np.maximum(cnt, 1)
                # Infinities of both signs, or one infinity: as Prometheus's incremental mean.
            elif op in ("max", "min"):
                nanned = np.where(mask, block, np.nan)
                val = (np.fmax if op == "max" else np.fmin).reduce(nanned, axis=0)
            elif op in ("stddev", "stdvar"):
                mean = zeroed.sum(axis=0) / np.maximum(cnt, 1)
                dev = np.where(mask, (block - mean) ** 2, 0.0).sum(axis=0) / np.maximum(cnt, 1)
                val = np.sqrt(dev) if op == "stddev" else dev
            else:
                raise QueryError(f"unknown vector aggregation {op}")
            labels.append(key)
            rows.append(np.asarray(val, dtype=np.float64))
            masks.append(any_present)
    if not labels:
        return Vec([], np.zeros((0, n_steps)), np.zeros((0, n_steps), dtype=bool))
    return Vec(labels, np.vstack(rows), np.vstack(masks))


def _sort_key_value(v: float, desc: bool) -> tuple[int, float]:
    if math.isnan(v):
        return (1, 0.0)
    return (0, -v if desc else v)


def _sort(vec: Vec, desc: bool) -> Vec:
    """Orders series by their value at the last step (what an instant query shows)."""
    if not vec.labels:
        return vec
    last = vec.values[:, -1]
    order = sorted(range(len(vec.labels)), key=lambda i: _sort_key_value(float(last[i]), desc))
    return vec.take(order)


def _column_key(column: list[float], top: bool, r: int) -> tuple[int, float]:
    return _sort_key_value(column[r], top)


def _select_k(node: ast.VectorAggregation, vec: Vec) -> Vec:
    k = int(node.param or 0)
    if k < 1:
        return Vec(
            [], np.zeros((0, vec.values.shape[1])), np.zeros((0, vec.values.shape[1]), dtype=bool)
        )
    top = node.op == "topk"
    keep = np.zeros_like(vec.present)
    for idx in _groups(vec, node.grouping).values():
        sub_vals = vec.values[idx]
        sub_mask = vec.present[idx]
        for j in range(vec.values.shape[1]):
            cand = [r for r in range(len(idx)) if sub_mask[r, j]]
            if not cand:
                continue
            column: list[float] = sub_vals[:, j].tolist()
            cand.sort(key=functools.partial(_column_key, column, top))
            for r in cand[:k]:
                keep[idx[r], j] = True
    rows = [i for i in range(len(vec.labels)) if keep[i].any()]
    out = vec.take(rows)
    out.present = keep[rows] if rows else out.present
    if len(out.labels) > 1 and out.values.shape[1] == 1:
        # An instant topk lists its series best first, as Loki does.
        order = sorted(
            range(len(out.labels)), key=lambda r: _sort_key_value(float(out.values[r, 0]), top)
        )
        out = out.take(order)
    return out
