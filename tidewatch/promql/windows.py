"""Range-vector kernels: one series, every step's window at once.

A window is ``[lo[j], hi[j])``, indices into the series' sorted ``ts``/``values``
(staleness markers already removed). Kernels return ``(values, present)`` arrays of
one entry per step. Cheap kernels use prefix sums and fancy indexing; kernels that
need the exact sequential arithmetic Prometheus does (Kahan sums, Welford variance,
smoothing) gather windows into a padded 2-D array and run the recurrence across the
window position, vectorised over all windows: Python loops run over the window
length, never over samples.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from tidewatch.promql.values import F64, I64, Bools

# Cap on elements of one gathered (windows x length) block.
_GATHER_CELLS = 1 << 21

KernelResult = tuple[F64, Bools]


def _nan(n: int) -> F64:
    return np.full(n, np.nan, dtype=np.float64)


def gather(values: F64, lo: I64, hi: I64) -> tuple[F64, Bools]:
    """Windows as a padded ``(n, L)`` block plus its validity mask."""
    cnt = hi - lo
    width = int(cnt.max()) if len(cnt) else 0
    width = max(width, 1)
    idx = lo[:, None] + np.arange(width, dtype=np.int64)[None, :]
    mask = idx < hi[:, None]
    if len(values) == 0:
        return np.zeros(idx.shape), mask
    np.minimum(idx, len(values) - 1, out=idx)
    return values[idx], mask


def per_chunk(lo: I64, hi: I64, fn: Callable[[I64, I64], F64]) -> F64:
    """Apply ``fn`` to step chunks small enough to gather."""
    n = len(lo)
    if n == 0:
        return np.zeros(0)
    width = max(int((hi - lo).max()), 1)
    chunk = max(1, _GATHER_CELLS // width)
    if chunk >= n:
        return fn(lo, hi)
    return np.concatenate([fn(lo[i : i + chunk], hi[i : i + chunk]) for i in range(0, n, chunk)])


def kahan_inc(inc: F64, s: F64, c: F64) -> tuple[F64, F64]:
    """Prometheus's ``kahansum.Inc`` over arrays."""
    t = s + inc
    big = np.abs(s) >= np.abs(inc)
    comp = np.where(big, (s - t) + inc, (inc - t) + s)
    c = np.where(np.isinf(t), 0.0, c + comp)
    return t, c


def kahan_rows(block: F64, mask: Bools) -> F64:
    """Kahan sum of each row's valid cells, in order."""
    n, width = block.shape
    s = np.zeros(n)
    c = np.zeros(n)
    for j in range(width):
        m = mask[:, j]
        x = np.where(m, block[:, j], 0.0)
        t, c2 = kahan_inc(x, s, c)
        s = np.where(m, t, s)
        c = np.where(m, c2, c)
    return np.where(np.isinf(s), s, s + c)


# ------------------------------------------------------------------ simple kernels


def count_over_time(ts: I64, v: F64, lo: I64, hi: I64) -> KernelResult:
    cnt = hi - lo
    return cnt.astype(np.float64), cnt > 0


def last_over_time(ts: I64, v: F64, lo: I64, hi: I64) -> KernelResult:
    ok = hi > lo
    out = _nan(len(lo))
    out[ok] = v[hi[ok] - 1]
    return out, ok


def first_over_time(ts: I64, v: F64, lo: I64, hi: I64) -> KernelResult:
    ok = hi > lo
    out = _nan(len(lo))
    out[ok] = v[lo[ok]]
    return out, ok


def ts_of_last_over_time(ts: I64, v: F64, lo: I64, hi: I64) -> KernelResult:
    ok = hi > lo
    out = _nan(len(lo))
    out[ok] = ts[hi[ok] - 1] / 1000.0
    return out, ok


def ts_of_first_over_time(ts: I64, v: F64, lo: I64, hi: I64) -> KernelResult:
    ok = hi > lo
    out = _nan(len(lo))
    out[ok] = ts[lo[ok]] / 1000.0
    return out, ok


def present_over_time(ts: I64, v: F64, lo: I64, hi: I64) -> KernelResult:
    ok = hi > lo
    return np.ones(len(lo)), ok


def _reduce_windows(ufunc: np.ufunc, v: F64, lo: I64, hi: I64) -> KernelResult:
    """``ufunc.reduce`` over every non-empty window using one ``reduceat``:
    interleaving ``lo, hi`` pairs lets overlapping windows share one pass."""
    ok = hi > lo
    out = _nan(len(lo))
    if not ok.any() or len(v) == 0:
        return out, ok
    padded = np.append(v, 0.0)
    pairs = np.empty(2 * int(ok.sum()), dtype=np.int64)
    pairs[0::2] = lo[ok]
    pairs[1::2] = hi[ok]
    out[ok] = ufunc.reduceat(padded, pairs)[0::2]
    return out, ok


def max_over_time(ts: I64, v: F64, lo: I64, hi: I64) -> KernelResult:
    # fmax ignores NaN unless every value is NaN, as Prometheus's comparison loop does.
    return _reduce_windows(np.fmax, v, lo, hi)


def min_over_time(ts: I64, v: F64, lo: I64, hi: I64) -> KernelResult:
    return _reduce_windows(np.fmin, v, lo, hi)


def _ts_of_extreme(ts: I64, v: F64, lo: I64, hi: I64, is_max: bool) -> KernelResult:
    ok = hi > lo

    def fn(lo_c: I64, hi_c: I64) -> F64:
        block, mask = gather(v, lo_c, hi_c)
        tblock, _ = gather(ts.astype(np.float64), lo_c, hi_c)
        best = block[:, 0].copy()
        best_t = tblock[:, 0].copy()
        for j in range(block.shape[1]):
            cur = block[:, j]
            cond = (cur >= best) if is_max else (cur <= best)
            take = mask[:, j] & (cond | np.isnan(best))
            best = np.where(take, cur, best)
            best_t = np.where(take, tblock[:, j], best_t)
        return best_t / 1000.0

    out = _nan(len(lo))
    if ok.any():
        out[ok] = per_chunk(lo[ok], hi[ok], fn)
    return out, ok


def ts_of_max_over_time(ts: I64, v: F64, lo: I64, hi: I64) -> KernelResult:
    return _ts_of_extreme(ts, v, lo, hi, True)


def ts_of_min_over_time(ts: I64, v: F64, lo: I64, hi: I64) -> KernelResult:
    return _ts_of_extreme(ts, v, lo, hi, False)


def _gathered(
    v: F64, lo: I64, hi: I64, fn: Callable[[F64, Bools], F64], min_count: int = 1
) -> KernelResult:
    ok = (hi - lo) >= min_count
    out = _nan(len(lo))
    if ok.any():

        def chunk(lo_c: I64, hi_c: I64) -> F64:
            block, mask = gather(v, lo_c, hi_c)
            return fn(block, mask)

        with np.errstate(all="ignore"):
            out[ok] = per_chunk(lo[ok], hi[ok], chunk)
    return out, ok


# Plain summation is used where its error bound (n * eps * sum|x|) is this far below
# |sum|; other windows get Prometheus's Kahan summation.
PLAIN_SUM_REL_ERROR = 1e-12
EPS = float(np.finfo(np.float64).eps)


def _plain_sums(v: F64, lo: I64, hi: I64) -> tuple[F64, Bools, Bools]:
    """Window sums by ``reduceat``, whether each window is non-empty, and which
    windows need compensated summation instead."""
    out, ok = _reduce_windows(np.add, v, lo, hi)
    if not ok.any():
        return out, ok, ok
    absum, _ = _reduce_windows(np.add, np.abs(v), lo, hi)
    cnt = (hi - lo).astype(np.float64)
    with np.errstate(all="ignore"):
        exact = (cnt * EPS * absum <= PLAIN_SUM_REL_ERROR * np.abs(out)) & np.isfinite(absum)
    return out, ok, ok & ~exact


def sum_over_time(ts: I64, v: F64, lo: I64, hi: I64) -> KernelResult:
    out, ok, redo = _plain_sums(v, lo, hi)
    if redo.any():
        out[redo] = _gathered(v, lo[redo], hi[redo], kahan_rows)[0]
    return out, ok


def _avg_rows(block: F64, mask: Bools) -> F64:
    """Kahan mean, switching to an incremental mean when the sum overflows."""
    n, width = block.shape
    s = block[:, 0].copy()
    c = np.zeros(n)
    mean = np.zeros(n)
    incremental = np.zeros(n, dtype=bool)
    count = np.ones(n)
    for j in range(1, width):
        m = mask[:, j]
        x = block[:, j]
        cnt = np.float64(j + 1)
        ns, nc = kahan_inc(x, s, c)
        overflow = m & ~incremental & np.isinf(ns)
        # Rows that just overflowed switch to the incremental mean.
        mean = np.where(overflow, s / (cnt - 1), mean)
        c = np.where(overflow, c / (cnt - 1), c)
        incremental = incremental | overflow
        plain = m & ~incremental
        s = np.where(plain, ns, s)
        c = np.where(plain, nc, c)
        q = (cnt - 1) / cnt
        im, ic = kahan_inc(x / cnt, q * mean, q * c)
        inc_rows = m & incremental
        mean = np.where(inc_rows, im, mean)
        c = np.where(inc_rows, ic, c)
        count = np.where(m, cnt, count)
    return np.where(incremental, mean + c, s / count + c / count)


def avg_over_time(ts: I64, v: F64, lo: I64, hi: I64) -> KernelResult:
    sums, ok, redo = _plain_sums(v, lo, hi)
    with np.errstate(all="ignore"):
        out = sums / np.maximum(hi - lo, 1)
    if redo.any():
        out[redo] = _gathered(v, lo[redo], hi[redo], _avg_rows)[0]
    return out, ok


def variance_rows(block: F64, mask: Bools) -> F64:
    """Population variance of each row's valid cells, two-pass (mean first): as
    accurate as Prometheus's compensated Welford loop without looping in Python.
    Any NaN or infinity gives NaN, as there."""
    count = np.maximum(mask.sum(axis=1), 1)
    # Shifting by the first value keeps constant windows at exactly zero.
    first = block[np.arange(len(block)), mask.argmax(axis=1)]
    shifted = np.where(mask, block - first[:, None], 0.0)
    mean = shifted.sum(axis=1) / count
    dev = np.where(mask, shifted - mean[:, None], 0.0)
    out = (dev * dev).sum(axis=1) / count
    # Any NaN or infinity makes the variance NaN (the shift would hide infinities).
    bad = (mask & ~np.isfinite(block)).any(axis=1)
    return np.where(bad, np.nan, out)


def stdvar_over_time(ts: I64, v: F64, lo: I64, hi: I64) -> KernelResult:
    return _gathered(v, lo, hi, variance_rows)


def stddev_over_time(ts: I64, v: F64, lo: I64, hi: I64) -> KernelResult:
    out, ok = _gathered(v, lo, hi, variance_rows)
    return np.sqrt(out), ok


def quantile_rows(q: F64, block: F64, mask: Bools) -> F64:
    """Prometheus's ``quantile``: linear interpolation between closest ranks, per row."""
    n_valid = mask.sum(axis=1)
    srt = np.sort(np.where(mask, block, np.inf), axis=1)
    # NaN sorts last in numpy; Prometheus sorts NaN first (less than everything).
    nan_count = (np.isnan(block) & mask).sum(axis=1)
    if nan_count.any():
        rows = np.flatnonzero(nan_count)
        for r in rows.tolist():
            vals = block[r][mask[r]]
            vals = np.concatenate([vals[np.isnan(vals)], np.sort(vals[~np.isnan(vals)])])
            srt[r, : len(vals)] = vals
    nf = n_valid.astype(np.float64)
    special = np.isnan(q) | (q < 0) | (q > 1)
    rank = np.where(special, 0.0, q) * (nf - 1)
    lower = np.maximum(0, np.floor(rank))
    upper = np.minimum(nf - 1, lower + 1)
    weight = rank - np.floor(rank)
    li = lower.astype(np.int64)
    ui = upper.astype(np.int64)
    rows = np.arange(len(srt))
    with np.errstate(all="ignore"):
        res = srt[rows, li] * (1 - weight) + srt[rows, ui] * weight
    res = np.where(np.isnan(q), np.nan, res)
    res = np.where(q < 0, -np.inf, res)
    res = np.where(q > 1, np.inf, res)
    return res


def quantile_over_time(ts: I64, v: F64, lo: I64, hi: I64, q: F64) -> KernelResult:
    ok = hi > lo
    out = _nan(len(lo))
    if ok.any():
        idx = np.flatnonzero(ok)
        lo_ok, hi_ok, q_ok = lo[ok], hi[ok], q[ok]
        width = max(int((hi_ok - lo_ok).max()), 1)
        chunk = max(1, _GATHER_CELLS // width)
        for i in range(0, len(idx), chunk):
            block, mask = gather(v, lo_ok[i : i + chunk], hi_ok[i : i + chunk])
            out[idx[i : i + chunk]] = quantile_rows(q_ok[i : i + chunk], block, mask)
    return out, ok


def mad_over_time(ts: I64, v: F64, lo: I64, hi: I64) -> KernelResult:
    def fn(block: F64, mask: Bools) -> F64:
        half = np.full(len(block), 0.5)
        med = quantile_rows(half, block, mask)
        dev = np.abs(block - med[:, None])
        res = quantile_rows(half, dev, mask)
        has_nan = (np.isnan(block) & mask).any(axis=1)
        return np.where(has_nan, np.nan, res)

    return _gathered(v, lo, hi, fn)


def changes(ts: I64, v: F64, lo: I64, hi: I64) -> KernelResult:
    ok = hi > lo
    if len(v) < 2:
        return np.zeros(len(lo)), ok
    prev, cur = v[:-1], v[1:]
    changed = (cur != prev) & ~(np.isnan(cur) & np.isnan(prev))
    return _pair_counts(changed, lo, hi), ok


def _pair_counts(flags: Bools, lo: I64, hi: I64) -> F64:
    """Count flagged adjacent pairs ``(i-1, i)`` with ``lo < i < hi`` per window."""
    cum = np.concatenate([[0], np.cumsum(flags)])
    top = len(cum) - 1
    a = np.minimum(lo, top)
    b = np.minimum(np.maximum(hi - 1, lo), top)
    return (cum[b] - cum[a]).astype(np.float64)


def resets(ts: I64, v: F64, lo: I64, hi: I64) -> KernelResult:
    ok = hi > lo
    if len(v) < 2:
        return np.zeros(len(lo)), ok
    return _pair_counts(v[1:] < v[:-1], lo, hi), ok


def extrapolated_rate(
    ts: I64,
    v: F64,
    lo: I64,
    hi: I64,
    range_start: I64,
    range_end: I64,
    range_s: float,
    is_counter: bool,
    is_rate: bool,
) -> KernelResult:
    """rate/increase/delta with Prometheus's extrapolation rules.

    Computed for every window with clamped indexes (no per-window masking copies);
    windows with fewer than two samples are masked out at the end."""
    n = hi - lo
    ok = n >= 2
    if not ok.any() or len(v) == 0:
        return _nan(len(lo)), ok
    top = len(v) - 1
    i0 = np.minimum(lo, top)
    i1 = np.clip(hi - 1, 0, top)
    first_v = v[i0]
    with np.errstate(all="ignore"):
        result = v[i1] - first_v
        if is_counter and len(v) >= 2:
            # A drop means the counter restarted: add the value before the drop.
            adds = np.where(v[1:] < v[:-1], v[:-1], 0.0)
            cum = np.concatenate([[0.0], np.cumsum(adds)])
            corr = cum[i1] - cum[i0]
            # cumsum of Inf/NaN poisons later windows: recompute those exactly.
            bad = ~np.isfinite(corr) & ok
            if bad.any():
                for k in np.flatnonzero(bad).tolist():
                    a = adds[i0[k] : i1[k]]
                    corr[k] = float(np.sum(a)) if len(a) else 0.0
            result += corr
        first_t = ts[i0]
        last_t = ts[i1]
        dur_start = (first_t - range_start) / 1000.0
        dur_end = (range_end - last_t) / 1000.0
        sampled = (last_t - first_t) / 1000.0
        avg_dur = sampled / np.maximum(n - 1, 1)
        threshold = avg_dur * 1.1
        half = avg_dur / 2
        np.copyto(dur_start, half, where=dur_start >= threshold)
        if is_counter:
            use_zero = (result > 0) & (first_v >= 0)
            dur_zero = sampled * (first_v / result)
            np.copyto(dur_start, dur_zero, where=use_zero & (dur_zero < dur_start))
        np.copyto(dur_end, half, where=dur_end >= threshold)
        factor = (sampled + dur_start + dur_end) / sampled
        np.copyto(factor, 1.0, where=sampled == 0)
        if is_rate:
            factor /= range_s
        result *= factor
    result[~ok] = np.nan
    return result, ok


def instant_rate(ts: I64, v: F64, lo: I64, hi: I64, is_rate: bool) -> KernelResult:
    """irate / idelta: the last two samples of each window."""
    n = hi - lo
    ok = n >= 2
    out = _nan(len(lo))
    if not ok.any():
        return out, ok
    i1 = hi[ok] - 1
    i0 = i1 - 1
    dt = ts[i1] - ts[i0]
    with np.errstate(all="ignore"):
        if is_rate:
            res = np.where(v[i1] < v[i0], v[i1], v[i1] - v[i0])
            res = res / (dt / 1000.0)
        else:
            res = v[i1] - v[i0]
    good = dt != 0
    full = ok.copy()
    full[ok] = good
    out[ok] = res
    return out, full


def _regression(
    ts: I64, v: F64, lo: I64, hi: I64, intercept_t: I64 | None
) -> tuple[F64, F64, Bools]:
    """Least-squares slope and intercept per window, Prometheus's arithmetic.

    The time sums (sum of x, sum of x^2) come from exact int64 prefix sums of the
    integer millisecond times; only the value sums need the gathered windows."""
    ok = (hi - lo) >= 2
    slope = _nan(len(lo))
    icpt = _nan(len(lo))
    if not ok.any():
        return slope, icpt, ok
    lo_ok, hi_ok = lo[ok], hi[ok]
    ref = ts[lo_ok] if intercept_t is None else intercept_t[ok]
    tf = ts.astype(np.float64)
    # A window is constant when no adjacent pair inside it differs (NaN differs).
    if len(v) >= 2:
        changed = (v[1:] != v[:-1]) | (np.isnan(v[1:]) & np.isnan(v[:-1]))
        const_all = _pair_counts(changed, lo_ok, hi_ok) == 0
    else:
        const_all = np.ones(len(lo_ok), dtype=bool)
    base = int(ts.min())
    u = ts - base
    p1 = np.concatenate(([0], np.cumsum(u)))
    # Wraps around on overflow: differences stay exact modulo 2**64.
    p2 = np.concatenate(([0], np.cumsum(u * u)))

    def both(lo_c: I64, hi_c: I64, ref_c: I64, const_y: Bools) -> tuple[F64, F64]:
        n_i = hi_c - lo_c
        cnt = n_i.astype(np.float64)
        d = ref_c - base
        s1 = p1[hi_c] - p1[lo_c]
        sum_t = s1 - n_i * d  # sum of (t - ref), exact
        sum_t2 = (p2[hi_c] - p2[lo_c]) - 2 * d * s1 + n_i * d * d  # exact when < 2**63
        width = max(int(n_i.max()), 1)
        idx = lo_c[:, None] + np.arange(width, dtype=np.int64)[None, :]
        mask = idx < hi_c[:, None]
        np.minimum(idx, len(v) - 1, out=idx)
        yb = v[idx]
        xb = (tf[idx] - ref_c[:, None].astype(np.float64)) / 1e3
        xm = np.where(mask, xb, 0.0)
        ym = np.where(mask, yb, 0.0)
        init_y = yb[:, 0]
        sx = sum_t / 1e3
        sx2 = sum_t2 / 1e6
        # Windows too long for exact int64 squares: sum the gathered x instead.
        far = np.maximum(np.abs(tf[lo_c] - ref_c), np.abs(tf[hi_c - 1] - ref_c))
        big = cnt * far * far >= 2.0**62
        if big.any():
            sx2 = np.where(big, (xm * xm).sum(axis=1), sx2)
        sy = ym.sum(axis=1)
        sxy = (xm * ym).sum(axis=1)
        cov = sxy - sx * sy / cnt
        var = sx2 - sx * sx / cnt
        sl = cov / var
        ic = sy / cnt - sl * sx / cnt
        inf_init = np.isinf(init_y)
        sl = np.where(const_y, np.where(inf_init, np.nan, 0.0), sl)
        ic = np.where(const_y, np.where(inf_init, np.nan, init_y), ic)
        return sl, ic

    width = max(int((hi_ok - lo_ok).max()), 1)
    chunk = max(1, _GATHER_CELLS // width)
    sl_parts, ic_parts = [], []
    with np.errstate(all="ignore"):
        for i in range(0, len(lo_ok), chunk):
            sl_i = slice(i, i + chunk)
            a, b = both(lo_ok[sl_i], hi_ok[sl_i], ref[sl_i], const_all[sl_i])
            sl_parts.append(a)
            ic_parts.append(b)
    slope[ok] = np.concatenate(sl_parts)
    icpt[ok] = np.concatenate(ic_parts)
    return slope, icpt, ok


def deriv(ts: I64, v: F64, lo: I64, hi: I64) -> KernelResult:
    slope, _, ok = _regression(ts, v, lo, hi, None)
    return slope, ok


def predict_linear(ts: I64, v: F64, lo: I64, hi: I64, eval_t: I64, duration: F64) -> KernelResult:
    slope, icpt, ok = _regression(ts, v, lo, hi, eval_t)
    with np.errstate(all="ignore"):
        return slope * duration + icpt, ok


def double_exponential_smoothing(
    ts: I64, v: F64, lo: I64, hi: I64, sf: float, tf: float
) -> KernelResult:
    def fn(block: F64, mask: Bools) -> F64:
        s1 = block[:, 0].copy()
        b = block[:, 1] - block[:, 0]
        s0 = np.zeros(len(block))
        for i in range(1, block.shape[1]):
            m = mask[:, i]
            x = sf * block[:, i]
            if i - 1 == 0:
                nb = b
            else:
                nb = tf * (s1 - s0) + (1 - tf) * b
            y = (1 - sf) * (s1 + nb)
            b = np.where(m, nb, b)
            s0 = np.where(m, s1, s0)
            s1 = np.where(m, x + y, s1)
        return s1

    return _gathered(v, lo, hi, fn, min_count=2)


SIMPLE_KERNELS: dict[str, Callable[[I64, F64, I64, I64], KernelResult]] = {
    "count_over_time": count_over_time,
    "last_over_time": last_over_time,
    "first_over_time": first_over_time,
    "ts_of_last_over_time": ts_of_last_over_time,
    "ts_of_first_over_time": ts_of_first_over_time,
    "ts_of_max_over_time": ts_of_max_over_time,
    "ts_of_min_over_time": ts_of_min_over_time,
    "present_over_time": present_over_time,
    "max_over_time": max_over_time,
    "min_over_time": min_over_time,
    "sum_over_time": sum_over_time,
    "avg_over_time": avg_over_time,
    "stdvar_over_time": stdvar_over_time,
    "stddev_over_time": stddev_over_time,
    "mad_over_time": mad_over_time,
    "changes": changes,
    "resets": resets,
    "deriv": deriv,
}

# Functions whose output keeps the metric name.
KEEPS_NAME = {"last_over_time", "first_over_time"}


# ------------------------------------------------------------ anchored / smoothed
#
# These experimental selectors widen each window by the lookback delta (before the
# range for both, after it for ``smoothed``) so the value at the range boundaries
# can be taken from the sample just outside (anchored) or interpolated (smoothed).


def _interp(ts: I64, v: F64, i1: I64, i2: I64, t: I64, is_counter: bool) -> F64:
    y1 = v[i1]
    y2 = v[i2]
    if is_counter:
        y1 = np.where(y2 < y1, 0.0, y1)
    with np.errstate(all="ignore"):
        return y1 + (y2 - y1) * (t - ts[i1]) / (ts[i2] - ts[i1])


def _boundaries(
    ts: I64, lo: I64, hi: I64, range_start: I64, range_end: I64, smoothed: bool
) -> tuple[I64, I64, Bools]:
    """First and last sample index used by Prometheus's extended rate, and validity."""
    last = hi - 1
    k = np.clip(np.searchsorted(ts, range_start, side="right"), lo, last)
    first = np.maximum(lo, k - 1)
    if smoothed:
        last = np.clip(np.searchsorted(ts, range_end, side="left"), lo, last)
    valid = ts[last] > range_start
    if smoothed:
        valid &= ts[first] <= range_end
    return first, last, valid


def extended_rate(
    ts: I64,
    v: F64,
    lo: I64,
    hi: I64,
    range_start: I64,
    range_end: I64,
    range_s: float,
    smoothed: bool,
    is_counter: bool,
    is_rate: bool,
) -> KernelResult:
    """rate/increase/delta over anchored or smoothed windows: the difference of the
    boundary values, corrected for counter resets, without extrapolation."""
    out = _nan(len(lo))
    ok = hi > lo
    if not ok.any():
        return out, ok
    idx = np.flatnonzero(ok)
    lo_, hi_ = lo[idx], hi[idx]
    rs, re_ = range_start[idx], range_end[idx]
    first, last, valid = _boundaries(ts, lo_, hi_, rs, re_, smoothed)
    top = len(v) - 1
    left = v[first].astype(np.float64)
    right = v[last].astype(np.float64)
    if smoothed:
        need_l = ts[first] < rs
        left = np.where(
            need_l, _interp(ts, v, first, np.minimum(first + 1, top), rs, is_counter), left
        )
        need_r = (last > lo_) & (ts[last] > re_)
        right = np.where(
            need_r, _interp(ts, v, np.maximum(last - 1, 0), last, re_, is_counter), right
        )
    with np.errstate(all="ignore"):
        result = right - left
        if is_counter:
            fi = np.where(ts[first] <= rs, first + 1, first)
            li = np.where(ts[last] >= re_, last - 1, last)
            has = fi <= li
            fi_c = np.clip(fi, 0, top)
            li_c = np.clip(li, 0, top)
            corr = np.where(has & (v[fi_c] < left), left, 0.0)
            if len(v) >= 2:
                adds = np.where(v[1:] < v[:-1], v[:-1], 0.0)
                cum = np.concatenate([[0.0], np.cumsum(adds)])
                corr = corr + np.where(has, cum[li_c] - cum[fi_c], 0.0)
            prev = np.where(has, v[li_c], left)
            corr = corr + np.where(right < prev, prev, 0.0)
            result = result + corr
        if is_rate:
            result = result / range_s
    out[idx] = result
    full = ok.copy()
    full[idx] = valid
    out[~full] = np.nan
    return out, full


def _anchor_start(ts: I64, lo: I64, hi: I64, range_start: I64) -> tuple[I64, Bools]:
    """Index of the anchor (last sample at or before the range start, else the first),
    and whether any sample lies after the range start."""
    k = np.searchsorted(ts, range_start, side="right")
    k = np.clip(k, lo, hi)
    found = k < hi
    start = np.where(k > lo, k - 1, lo)
    return start.astype(np.int64), found


def anchored_changes(ts: I64, v: F64, lo: I64, hi: I64, range_start: I64) -> KernelResult:
    start, found = _anchor_start(ts, lo, hi, range_start)
    counts, _ = changes(ts, v, start, hi)
    return counts, found & (hi > lo)


def anchored_resets(ts: I64, v: F64, lo: I64, hi: I64, range_start: I64) -> KernelResult:
    start, found = _anchor_start(ts, lo, hi, range_start)
    counts, _ = resets(ts, v, start, hi)
    return counts, found & (hi > lo)


def extend_window(
    ts: I64, v: F64, lo: int, hi: int, mint: int, maxt: int, smoothed: bool
) -> tuple[I64, F64]:
    """An anchored/smoothed range vector as returned by a query: boundary points at
    ``mint`` and ``maxt`` plus the samples strictly inside."""
    if hi <= lo:
        return np.zeros(0, dtype=np.int64), np.zeros(0)
    lo_a = np.array([lo], dtype=np.int64)
    hi_a = np.array([hi], dtype=np.int64)
    first, last, _ = _boundaries(ts, lo_a, hi_a, np.array([mint]), np.array([maxt]), smoothed)
    f, la = int(first[0]), int(last[0])
    if ts[la] <= mint:
        return np.zeros(0, dtype=np.int64), np.zeros(0)
    left = float(v[f])
    right = float(v[la])
    if smoothed and ts[f] < mint:
        left = float(_interp(ts, v, first, first + 1, np.array([mint]), False)[0])
    if smoothed and la > lo and ts[la] > maxt:
        right = float(_interp(ts, v, last - 1, last, np.array([maxt]), False)[0])
    if ts[f] <= mint:
        f += 1
    if ts[la] >= maxt:
        la -= 1
    inner_t = ts[f : la + 1] if la >= f else np.zeros(0, dtype=np.int64)
    inner_v = v[f : la + 1] if la >= f else np.zeros(0)
    return (
        np.concatenate([[mint], inner_t, [maxt]]).astype(np.int64),
        np.concatenate([[left], inner_v, [right]]),
    )


def smoothed_values(ts: I64, v: F64, times: I64, lookback_ms: int) -> KernelResult:
    """A ``smoothed`` instant selector: the sample at each time, else the value
    interpolated between its neighbours within the lookback delta, else the last
    value before it."""
    n = len(times)
    out = _nan(n)
    if len(ts) == 0:
        return out, np.zeros(n, dtype=bool)
    i = np.searchsorted(ts, times, side="left")
    top = len(ts) - 1
    has_next = (i <= top) & (ts[np.minimum(i, top)] <= times + lookback_ms)
    prev_i = np.maximum(i - 1, 0)
    has_prev = (i > 0) & (ts[prev_i] > times - lookback_ms)
    nxt = np.minimum(i, top)
    exact = has_next & (ts[nxt] == times)
    both = has_prev & has_next & ~exact
    only_prev = has_prev & ~has_next
    out = np.where(exact, v[nxt], out)
    out = np.where(both, _interp(ts, v, prev_i, nxt, times, False), out)
    out = np.where(only_prev, v[prev_i], out)
    return out, exact | both | only_prev
