"""Aggregation operators (``sum by (...)``, ``topk``, ``quantile``, ...).

Series are grouped once; groups of equal size are stacked into one
``(groups * steps, members)`` block so each operator runs as a handful of numpy
calls across all groups and steps, with Prometheus's order of accumulation
(input order, Kahan-compensated sums, incremental means and variances).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np

from tidewatch.labels import METRIC_NAME, Labels
from tidewatch.promql.ast import AggregateExpr
from tidewatch.promql.errors import QueryError, go_format_f, go_g
from tidewatch.promql.labelhash import labels_hash
from tidewatch.promql.values import F64, Bools, ScalarSteps, StringSteps, VectorSteps
from tidewatch.promql.windows import (
    EPS,
    PLAIN_SUM_REL_ERROR,
    kahan_inc,
    kahan_rows,
    quantile_rows,
    variance_rows,
)

if TYPE_CHECKING:
    from tidewatch.promql.engine import Evaluator

INT64_MAX = 9.223372036854775807e18


def grouping_labels(lbls: Labels, grouping: frozenset[str], without: bool) -> Labels:
    if without:
        return tuple(p for p in lbls if p[0] not in grouping and p[0] != METRIC_NAME)
    if not grouping:
        return ()
    return tuple(p for p in lbls if p[0] in grouping)


def _groups(
    labels: list[Labels], grouping: frozenset[str], without: bool
) -> tuple[list[Labels], list[list[int]]]:
    index: dict[Labels, int] = {}
    keys: list[Labels] = []
    members: list[list[int]] = []
    for i, lbls in enumerate(labels):
        key = grouping_labels(lbls, grouping, without)
        g = index.get(key)
        if g is None:
            g = index[key] = len(keys)
            keys.append(key)
            members.append([])
        members[g].append(i)
    return keys, members


def _by_size(
    members: list[list[int]], values: F64, present: Bools, fn: Callable[[F64, Bools, int], F64]
) -> tuple[F64, Bools]:
    """Run ``fn(block, mask, k)`` over groups stacked by size; block rows are
    (group, step) pairs, columns the group's members in input order."""
    n_steps = values.shape[1]
    out = np.full((len(members), n_steps), np.nan)
    out_p = np.zeros((len(members), n_steps), dtype=bool)
    sizes: dict[int, list[int]] = {}
    for g, m in enumerate(members):
        sizes.setdefault(len(m), []).append(g)
    for k, gids in sizes.items():
        idx = np.array([members[g] for g in gids], dtype=np.intp)  # (G, k)
        block = values[idx].transpose(0, 2, 1).reshape(-1, k)  # (G*N, k)
        mask = present[idx].transpose(0, 2, 1).reshape(-1, k)
        res = fn(block, mask, k).reshape(len(gids), n_steps)
        out[gids] = res
        out_p[gids] = mask.any(axis=1).reshape(len(gids), n_steps)
    return out, out_p


def _avg(block: F64, mask: Bools, k: int) -> F64:
    rows = len(block)
    s = np.zeros(rows)
    c = np.zeros(rows)
    mean = np.zeros(rows)
    count = np.zeros(rows)
    incremental = np.zeros(rows, dtype=bool)
    for j in range(k):
        m = mask[:, j]
        x = block[:, j]
        cnt = count + 1
        first = m & (count == 0)
        ns, nc = kahan_inc(x, s, c)
        overflow = m & ~first & ~incremental & np.isinf(ns)
        prev = np.maximum(cnt - 1, 1)
        mean = np.where(overflow, s / prev, mean)
        c = np.where(overflow, c / prev, c)
        incremental |= overflow
        plain = m & ~incremental
        s = np.where(first, x, np.where(plain, ns, s))
        c = np.where(first, 0.0, np.where(plain, nc, c))
        q = (cnt - 1) / cnt
        im, ic = kahan_inc(x / cnt, q * mean, q * c)
        inc_rows = m & incremental
        mean = np.where(inc_rows, im, mean)
        c = np.where(inc_rows, ic, c)
        count = np.where(m, cnt, count)
    count = np.maximum(count, 1)
    return np.where(incremental, mean + c, s / count + c / count)


def _plain_ok(block: F64, mask: Bools) -> tuple[F64, F64, Bools]:
    """Row sums by numpy, counts, and which rows that sum is exact enough for
    (error bound far below the result); the rest need Kahan summation."""
    x = np.where(mask, block, 0.0)
    with np.errstate(all="ignore"):
        s = x.sum(axis=1)
        a = np.abs(x).sum(axis=1)
        cnt = mask.sum(axis=1).astype(np.float64)
        exact = (cnt * EPS * a <= PLAIN_SUM_REL_ERROR * np.abs(s)) & np.isfinite(a)
    return s, cnt, exact


def _sum(block: F64, mask: Bools, k: int) -> F64:
    s, _, exact = _plain_ok(block, mask)
    if not exact.all():
        redo = ~exact
        s[redo] = kahan_rows(block[redo], mask[redo])
    return s


def _mean(block: F64, mask: Bools, k: int) -> F64:
    s, cnt, exact = _plain_ok(block, mask)
    with np.errstate(all="ignore"):
        out = s / np.maximum(cnt, 1)
    if not exact.all():
        redo = ~exact
        out[redo] = _avg(block[redo], mask[redo], k)
    return out


def _minmax(block: F64, mask: Bools, k: int, is_max: bool) -> F64:
    filled = np.where(mask, block, np.nan)
    with np.errstate(all="ignore"):
        return (np.fmax if is_max else np.fmin).reduce(filled, axis=1)


def aggregate(ev: Evaluator, node: AggregateExpr) -> VectorSteps:
    op = node.op
    param = ev.eval(node.param) if node.param is not None else None
    vec = ev.eval_vector(node.expr)
    n = ev.n
    grouping = frozenset(node.grouping)
    if op == "count_values":
        assert isinstance(param, StringSteps)
        return _count_values(vec, param.value, grouping, node.without)
    if op in ("topk", "bottomk", "limitk", "limit_ratio"):
        assert isinstance(param, ScalarSteps)
        return _select_k(ev, node, vec, param.values)
    if op == "quantile":
        assert isinstance(param, ScalarSteps)
        _warn_quantile(ev, param.values, node)
    keys, members = _groups(vec.labels, grouping, node.without)
    if not keys:
        return VectorSteps.empty(n)
    drop = np.array([bool(vec.drop_name[m].any()) for m in members], dtype=bool)
    values, present = vec.values, vec.present
    if op == "sum":
        out, out_p = _by_size(members, values, present, _sum)
    elif op == "avg":
        out, out_p = _by_size(members, values, present, _mean)
    elif op == "count":
        out, out_p = _by_size(members, values, present, lambda b, m, k: m.sum(axis=1).astype(float))
    elif op == "group":
        out, out_p = _by_size(members, values, present, lambda b, m, k: np.ones(len(b)))
    elif op == "max":
        out, out_p = _by_size(members, values, present, lambda b, m, k: _minmax(b, m, k, True))
    elif op == "min":
        out, out_p = _by_size(members, values, present, lambda b, m, k: _minmax(b, m, k, False))
    elif op in ("stdvar", "stddev"):
        out, out_p = _by_size(members, values, present, lambda b, m, k: variance_rows(b, m))
        if op == "stddev":
            out = np.sqrt(out)
    elif op == "quantile":
        assert isinstance(param, ScalarSteps)
        q = param.values
        tiled_q: dict[int, F64] = {}

        def qfn(b: F64, m: Bools, k: int) -> F64:
            reps = len(b) // n
            if reps not in tiled_q:
                tiled_q[reps] = np.tile(q, reps)
            return quantile_rows(tiled_q[reps], b, m)

        out, out_p = _by_size(members, values, present, qfn)
    else:
        raise QueryError("execution", f"unsupported aggregation {op}")
    return VectorSteps(keys, out, out_p, drop).compact()


def _warn_quantile(ev: Evaluator, q: F64, node: AggregateExpr) -> None:
    """Prometheus warns once each for NaN, the largest value above 1 and the smallest below 0."""
    assert node.param is not None
    pos = node.param.pos[0]
    msg = "quantile value should be between 0 and 1, got "
    finite = q[~np.isnan(q)]
    if len(finite) < len(q):
        ev.annotations.warn(msg + "NaN", pos)
    if len(finite) and float(finite.max()) > 1:
        ev.annotations.warn(msg + go_g(float(finite.max())), pos)
    if len(finite) and float(finite.min()) < 0:
        ev.annotations.warn(msg + go_g(float(finite.min())), pos)


def _select_k(ev: Evaluator, node: AggregateExpr, vec: VectorSteps, param: F64) -> VectorSteps:
    op = node.op
    n = ev.n
    if op == "limit_ratio":
        return _limit_ratio(ev, node, vec, param)
    if len(param) and float(np.nanmax(param) if not np.isnan(param).all() else np.nan) < 1:
        return VectorSteps.empty(n)
    if np.isnan(param).any():
        raise QueryError("execution", "Parameter value is NaN")
    if float(param.min()) <= -INT64_MAX:
        raise QueryError("execution", f"Scalar value {go_g(float(param.min()))} underflows int64")
    if float(param.max()) >= INT64_MAX:
        raise QueryError("execution", f"Scalar value {go_g(float(param.max()))} overflows int64")
    if not vec.labels:
        return VectorSteps.empty(n)
    k = np.trunc(param).astype(np.int64)
    _, members = _groups(vec.labels, frozenset(node.grouping), node.without)
    selected = np.zeros_like(vec.present)
    rank_first = np.zeros(len(vec.labels), dtype=np.int64)
    group_of = np.zeros(len(vec.labels), dtype=np.int64)
    for g, m in enumerate(members):
        group_of[m] = g
    # Groups of equal size are ranked together: blocks of (groups, members, steps).
    sizes: dict[int, list[int]] = {}
    for g, m in enumerate(members):
        sizes.setdefault(len(m), []).append(g)
    for size, gids in sizes.items():
        idx = np.array([members[g] for g in gids], dtype=np.intp)  # (G, size)
        vals = vec.values[idx]
        pres = vec.present[idx]
        if op == "limitk":
            rank = np.cumsum(pres, axis=1) - 1
        else:
            nan = np.isnan(vals)
            key = -vals if op == "topk" else vals
            key = np.where(nan, 0.0, key)
            order = np.lexsort((key, nan, ~pres), axis=1)
            rank = np.empty_like(order)
            ranks = np.broadcast_to(np.arange(size)[None, :, None], order.shape)
            np.put_along_axis(rank, order, ranks, axis=1)
        flat = idx.ravel()
        selected[flat] = (pres & (rank < k[None, None, :])).reshape(-1, vec.n_steps)
        rank_first[flat] = rank[:, :, 0].ravel()
    rows = np.flatnonzero(selected.any(axis=1))
    # Instant queries return each group's series best first (Prometheus's heap order).
    rows = rows[np.lexsort((rank_first[rows], group_of[rows]))]
    out = vec.take(rows)
    out.present = selected[rows]
    return out


def _limit_ratio(ev: Evaluator, node: AggregateExpr, vec: VectorSteps, param: F64) -> VectorSteps:
    """Keeps a series when its label hash, scaled to [0, 1], falls inside the ratio
    (or, for a negative ratio, inside its complement) — the same series as Prometheus."""
    n = ev.n
    if not np.isnan(param).any() and not param.any():
        return VectorSteps.empty(n)
    if np.isnan(param).any():
        raise QueryError("execution", "Ratio value is NaN")
    assert node.param is not None
    pos = node.param.pos[0]
    hi, lo = float(param.max()), float(param.min())
    if hi > 1.0:
        ev.annotations.warn(
            f"ratio value should be between -1 and 1, got {go_g(hi)}, capping to 1", pos
        )
    if lo < -1.0:
        ev.annotations.warn(
            f"ratio value should be between -1 and 1, got {go_g(lo)}, capping to -1", pos
        )
    if not vec.labels:
        return VectorSteps.empty(n)
    r = np.clip(param, -1.0, 1.0)[None, :]
    offsets = np.array([labels_hash(lbls) / float(2**64 - 1) for lbls in vec.labels])[:, None]
    keep = ((r >= 0) & (offsets < r)) | ((r < 0) & (offsets >= 1.0 + r))
    out = VectorSteps(vec.labels, vec.values, vec.present & keep, vec.drop_name)
    return out.compact()


def _count_values(
    vec: VectorSteps, label: str, grouping: frozenset[str], without: bool
) -> VectorSteps:
    if not label or not _valid_label_name(label):
        raise QueryError("execution", f'invalid label name "{label}"')
    n = vec.n_steps
    if not vec.labels:
        return VectorSteps.empty(n)
    # The output group is the series' group (with the value label set to the sample
    # value); split it into the part from the labels and the value itself.
    keep_value = not without or label not in grouping
    base_grouping = grouping - {label} if not without else grouping | {label}
    index: dict[Labels, int] = {}
    base_keys: list[Labels] = []
    base_id = np.empty(len(vec.labels), dtype=np.int64)
    for i, lbls in enumerate(vec.labels):
        key = grouping_labels(lbls, base_grouping, without)
        base_id[i] = index.setdefault(key, len(index))
        if base_id[i] == len(base_keys):
            base_keys.append(key)
    rows, steps = np.nonzero(vec.present)
    vals = vec.values[rows, steps]
    if keep_value:
        # Bits tell -0 from 0 (Go prints them differently); all NaNs print as "NaN".
        bits = np.where(np.isnan(vals), np.nan, vals).view(np.uint64)
        pairs = np.stack([base_id[rows].astype(np.uint64), bits], axis=1)
        uniq, group_of = np.unique(pairs, axis=0, return_inverse=True)
        group_of = np.asarray(group_of).reshape(-1)
        keys = []
        for b, vbits in uniq.tolist():
            d = dict(base_keys[int(b)])
            d[label] = go_format_f(float(np.array([vbits], dtype=np.uint64).view(np.float64)[0]))
            keys.append(tuple(sorted(d.items())))
    else:
        keys = base_keys
        group_of = base_id[rows]
    counts = np.zeros((len(keys), n))
    np.add.at(counts, (group_of, steps), 1.0)
    # Different values can print the same (never in practice): merge them.
    if len(set(keys)) != len(keys):
        merged: dict[Labels, np.ndarray] = {}
        for k, c in zip(keys, counts, strict=True):
            merged[k] = merged[k] + c if k in merged else c
        keys, counts = list(merged), np.vstack(list(merged.values()))
    return VectorSteps(list(keys), counts, counts > 0, np.zeros(len(keys), dtype=bool)).compact()


def _valid_label_name(name: str) -> bool:
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
