"""Classic-histogram math (``le`` buckets): quantiles with Prometheus's coalescing,
monotonicity fix and linear interpolation, and bucket fractions.

Inputs are one group's buckets at every step: ``le`` (k,), ``counts`` (k, steps)
and ``present`` (k, steps). Steps that share the same set of present buckets are
computed together, so work is vectorised across steps.
"""

from __future__ import annotations

import math

import numpy as np

from tidewatch.promql.values import F64, Bools

SMALL_DELTA_TOLERANCE = 1e-12
MIN_NORMAL = 2.2250738585072014e-308


def parse_le(text: str) -> float | None:
    """Go's ``strconv.ParseFloat`` for an ``le`` label; None when malformed."""
    t = text.strip()
    if not t or t != text or "_" in t:
        return None
    low = t.lower().lstrip("+-")
    if low in ("inf", "infinity"):
        return -math.inf if t.startswith("-") else math.inf
    if low == "nan":
        return math.nan
    try:
        if low.startswith("0x"):
            return float.fromhex(t)
        return float(t)
    except ValueError:
        return None


def almost_equal(a: F64, b: F64, eps: float) -> np.ndarray:
    """Prometheus's ``almost.Equal`` over arrays."""
    with np.errstate(all="ignore"):
        both_nan = np.isnan(a) & np.isnan(b)
        abs_sum = np.abs(a) + np.abs(b)
        diff = np.abs(a - b)
        tiny = (a == 0) | (b == 0) | (abs_sum < MIN_NORMAL)
        rel = diff / np.minimum(abs_sum, np.finfo(np.float64).max) < eps
        return both_nan | (a == b) | np.where(tiny, diff < eps * MIN_NORMAL, rel)


def _patterns(present: Bools) -> list[tuple[np.ndarray, np.ndarray]]:
    """(rows present, step columns) for each distinct presence pattern."""
    k, n = present.shape
    if n == 0:
        return []
    if present.all():  # the usual case: every bucket at every step
        return [(np.arange(k), np.arange(n))]
    if k <= 62:
        # One integer code per step (a bit per bucket): a 1-D unique is cheap.
        weights = np.left_shift(np.uint64(1), np.arange(k, dtype=np.uint64))
        codes = (present.astype(np.uint64) * weights[:, None]).sum(axis=0)
        uniq_codes, inverse = np.unique(codes, return_inverse=True)
        uniq = (uniq_codes[:, None] & weights[None, :]) != 0
    else:
        uniq, inverse = np.unique(present.T, axis=0, return_inverse=True)
    inverse = np.asarray(inverse).reshape(-1)
    out = []
    for p in range(len(uniq)):
        rows = np.flatnonzero(uniq[p])
        if len(rows) == 0:
            continue
        out.append((rows, np.flatnonzero(inverse == p)))
    return out


def _coalesced(le: F64, counts: F64) -> tuple[F64, F64]:
    """Sort by upper bound and sum buckets with equal bounds."""
    order = np.argsort(le, kind="stable")
    le_s = le[order]
    c = counts[order]
    starts = np.concatenate([[0], np.flatnonzero(np.diff(le_s) != 0) + 1])
    return le_s[starts], np.add.reduceat(c, starts, axis=0)


def bucket_quantile(
    q: F64, le: F64, counts: F64, present: Bools
) -> tuple[F64, Bools, tuple[np.ndarray, float, float, float] | None]:
    """Quantile per step; also ``(fixed step indexes, min bucket, max bucket,
    max diff)`` when the input had to be forced monotonic."""
    n = counts.shape[1]
    out: F64 = np.full(n, np.nan)
    ok: Bools = np.asarray(present.any(axis=0), dtype=bool)
    fixed_steps: list[np.ndarray] = []
    min_b, max_b, max_diff = math.inf, -math.inf, 0.0
    for rows, cols in _patterns(present):
        b_le, c = _coalesced(le[rows], counts[rows][:, cols])
        qq = q[cols]
        res = np.full(len(cols), np.nan)
        if not math.isinf(b_le[-1]) or b_le[-1] < 0:
            out[cols] = _special_q(qq, res)
            continue
        c = c.copy()
        forced = np.zeros(len(cols), dtype=bool)
        prev = c[0].copy()
        for i in range(1, len(b_le)):
            curr = c[i]
            same = curr == prev
            close = ~same & almost_equal(prev, curr, SMALL_DELTA_TOLERANCE)
            lower = ~same & ~close & (curr < prev)
            if lower.any():
                forced |= lower
                min_b = min(min_b, float(b_le[i]))
                max_b = max(max_b, float(b_le[i]))
                max_diff = max(max_diff, float(np.max((prev - curr)[lower])))
            c[i] = np.where(close | lower, prev, curr)
            prev = np.where(same | close | lower, prev, curr)
        if forced.any():
            fixed_steps.append(cols[forced])
        if len(b_le) < 2:
            out[cols] = _special_q(qq, res)
            continue
        obs = c[-1]
        with np.errstate(all="ignore"):
            rank = qq * obs
            # First bucket (excluding +Inf) whose count reaches the rank.
            reach = c[:-1] >= rank[None, :]
            b = np.where(reach.any(axis=0), reach.argmax(axis=0), len(b_le) - 1)
            cols_i = np.arange(len(cols))
            bucket_end = b_le[np.minimum(b, len(b_le) - 1)]
            prev_b = np.maximum(b - 1, 0)
            bucket_start = np.where(b > 0, b_le[prev_b], 0.0)
            cnt = c[np.minimum(b, len(b_le) - 1), cols_i]
            prev_cnt = np.where(b > 0, c[prev_b, cols_i], 0.0)
            interp = bucket_start + (bucket_end - bucket_start) * (
                (rank - prev_cnt) / (cnt - prev_cnt)
            )
            res = np.where(
                b == len(b_le) - 1,
                b_le[len(b_le) - 2],
                np.where((b == 0) & (b_le[0] <= 0), b_le[0], interp),
            )
            res = np.where(obs == 0, np.nan, res)
        out[cols] = _special_q(qq, res)
    fix = None
    if fixed_steps:
        fix = (np.sort(np.concatenate(fixed_steps)), min_b, max_b, max_diff)
    return out, ok, fix


def _special_q(q: F64, res: F64) -> F64:
    res = np.where(np.isnan(q), np.nan, res)
    res = np.where(q < 0, -np.inf, res)
    return np.where(q > 1, np.inf, res)


def bucket_fraction(
    lower: F64, upper: F64, le: F64, counts: F64, present: Bools
) -> tuple[F64, Bools]:
    n = counts.shape[1]
    out: F64 = np.full(n, np.nan)
    ok: Bools = np.asarray(present.any(axis=0), dtype=bool)
    for rows, cols in _patterns(present):
        b_le, c = _coalesced(le[rows], counts[rows][:, cols])
        for k, j in enumerate(cols.tolist()):
            out[j] = _fraction_one(float(lower[j]), float(upper[j]), b_le, c[:, k])
    return out, ok


def _fraction_one(lower: float, upper: float, le: F64, counts: F64) -> float:
    if not math.isinf(le[-1]) or le[-1] < 0:
        return math.nan
    count = float(counts[-1])
    if count == 0 or math.isnan(lower) or math.isnan(upper):
        return math.nan
    if lower >= upper:
        return 0.0
    rank = lower_rank = upper_rank = 0.0
    lower_set = upper_set = False
    lower_bound = -math.inf if le[0] <= 0 else 0.0
    for i in range(len(le)):
        if i > 0:
            lower_bound = float(le[i - 1])
        upper_bound = float(le[i])
        bc = float(counts[i])

        def interp(
            x: float,
            lb: float = lower_bound,
            ub: float = upper_bound,
            cnt: float = bc,
            r: float = rank,
        ) -> float:
            if lb == -math.inf:
                return cnt
            return r + (cnt - r) * (x - lb) / (ub - lb)

        if not lower_set and lower_bound >= lower:
            lower_rank, lower_set = rank, True
        if not upper_set and lower_bound >= upper:
            upper_rank, upper_set = rank, True
        if lower_set and upper_set:
            break
        if not lower_set and lower_bound < lower < upper_bound:
            lower_rank, lower_set = interp(lower), True
        if not upper_set and lower_bound < upper < upper_bound:
            upper_rank, upper_set = interp(upper), True
        if lower_set and upper_set:
            break
        rank = bc
    if not lower_set or lower_rank > count:
        lower_rank = count
    if not upper_set or upper_rank > count:
        upper_rank = count
    return (upper_rank - lower_rank) / count
