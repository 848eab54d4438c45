"""Vectorised range kernels against straightforward per-window reference code."""

from __future__ import annotations

import itertools
import math
import statistics

import numpy as np
import pytest

from tidewatch.promql import windows


def _series(seed: int, n: int = 200) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    ts = np.cumsum(rng.integers(5_000, 25_000, n)).astype(np.int64)
    vals = np.cumsum(rng.random(n) * 10)
    # Counter resets at a few places.
    for k in rng.integers(1, n, 4):
        vals[k:] -= vals[k] - rng.random()
    return ts, vals


def _windows(ts: np.ndarray, range_ms: int, step: int) -> tuple[np.ndarray, ...]:
    ends = np.arange(int(ts[0]), int(ts[-1]) + 100_000, step, dtype=np.int64)
    starts = ends - range_ms
    lo = np.searchsorted(ts, starts, side="right").astype(np.int64)
    hi = np.searchsorted(ts, ends, side="right").astype(np.int64)
    return starts, ends, lo, hi


def _ref_rate(ts, vals, start, end, range_s, counter, is_rate):  # type: ignore[no-untyped-def]
    if len(ts) < 2:
        return None
    result = vals[-1] - vals[0]
    if counter:
        for a, b in itertools.pairwise(vals):
            if b < a:
                result += a
    to_start = (ts[0] - start) / 1000
    to_end = (end - ts[-1]) / 1000
    sampled = (ts[-1] - ts[0]) / 1000
    avg = sampled / (len(ts) - 1)
    if to_start >= avg * 1.1:
        to_start = avg / 2
    if counter and result > 0 and vals[0] >= 0:
        to_start = min(to_start, sampled * (vals[0] / result))
    if to_end >= avg * 1.1:
        to_end = avg / 2
    factor = (sampled + to_start + to_end) / sampled
    if is_rate:
        factor /= range_s
    return result * factor


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize(("counter", "is_rate"), [(True, True), (True, False), (False, False)])
def test_extrapolated_rate_matches_reference(seed: int, counter: bool, is_rate: bool) -> None:
    ts, vals = _series(seed)
    starts, ends, lo, hi = _windows(ts, 120_000, 17_000)
    got, ok = windows.extrapolated_rate(ts, vals, lo, hi, starts, ends, 120.0, counter, is_rate)
    for j in range(len(lo)):
        w = slice(lo[j], hi[j])
        ref = _ref_rate(ts[w], vals[w], starts[j], ends[j], 120.0, counter, is_rate)
        assert ok[j] == (ref is not None)
        if ref is not None:
            assert got[j] == pytest.approx(ref, rel=1e-9)


@pytest.mark.parametrize("seed", [4, 5])
def test_over_time_kernels(seed: int) -> None:
    ts, vals = _series(seed)
    _, _, lo, hi = _windows(ts, 300_000, 23_000)
    checks = {
        "sum_over_time": math.fsum,
        "avg_over_time": lambda w: math.fsum(w) / len(w),
        "min_over_time": min,
        "max_over_time": max,
        "count_over_time": len,
        "last_over_time": lambda w: w[-1],
        "stdvar_over_time": statistics.pvariance,
        "stddev_over_time": statistics.pstdev,
    }
    for name, ref in checks.items():
        got, ok = windows.SIMPLE_KERNELS[name](ts, vals, lo, hi)
        for j in range(len(lo)):
            w = list(vals[lo[j] : hi[j]])
            assert ok[j] == bool(w)
            if w:
                assert got[j] == pytest.approx(ref(w), rel=1e-9, abs=1e-9), name


def test_quantile_and_changes_and_resets() -> None:
    ts = np.arange(0, 100_000, 10_000, dtype=np.int64)
    vals = np.array([1.0, 3, 2, 2, 5, 4, 4, 4, 9, 0])
    lo = np.array([0, 2, 5], dtype=np.int64)
    hi = np.array([5, 8, 10], dtype=np.int64)
    q, _ = windows.quantile_over_time(ts, vals, lo, hi, np.array([0.5, 0.25, 0.9]))
    assert list(q) == pytest.approx([2.0, 2.5, 9 * 0.6 + 4 * 0.4])
    ch, _ = windows.changes(ts, vals, lo, hi)
    assert list(ch) == [3, 2, 2]
    rs, _ = windows.resets(ts, vals, lo, hi)
    assert list(rs) == [1, 1, 1]


def test_deriv_matches_polyfit() -> None:
    ts, vals = _series(7, 50)
    _, _, lo, hi = _windows(ts, 400_000, 60_000)
    got, ok = windows.deriv(ts, vals, lo, hi)
    for j in range(len(lo)):
        if hi[j] - lo[j] >= 2:
            x = (ts[lo[j] : hi[j]] - ts[lo[j]]) / 1000
            slope = np.polyfit(x, vals[lo[j] : hi[j]], 1)[0]
            assert got[j] == pytest.approx(slope, rel=1e-6)
        else:
            assert not ok[j]


def test_kahan_sum_keeps_small_terms() -> None:
    vals = np.array([1e100, 1.0, -1e100, 1.0])
    got, _ = windows.sum_over_time(
        np.arange(4, dtype=np.int64),
        vals,
        np.array([0], dtype=np.int64),
        np.array([4], dtype=np.int64),
    )
    assert got[0] == 2.0
