import numpy as np
import pytest

from tidewatch.tsdb.columns import build_run
from tidewatch.tsdb.encoding import decode_frame, encode_frame
from tidewatch.value import STALE_NAN


def _roundtrip(ts: np.ndarray, vals: np.ndarray, restarts: np.ndarray) -> None:
    t2, v2, r2 = decode_frame(encode_frame(ts, vals, restarts))
    assert np.array_equal(t2, ts)
    assert np.array_equal(v2.view(np.uint64), vals.view(np.uint64))
    assert np.array_equal(r2, restarts)


@pytest.mark.parametrize("kind", ["counter", "decimal", "float", "special", "const"])
def test_frame_roundtrip_is_bit_exact(kind: str) -> None:
    rng = np.random.default_rng(7)
    n = 1000
    ts = 1_700_000_000_000 + np.cumsum(rng.integers(14990, 15010, n))
    if kind == "counter":
        vals = np.cumsum(rng.integers(0, 50, n)).astype(float)
    elif kind == "decimal":
        vals = np.round(rng.normal(20, 5, n), 2)
    elif kind == "float":
        vals = rng.random(n) * 1e6
    elif kind == "const":
        vals = np.full(n, 3.0)
    else:
        vals = rng.random(n)
        vals[[1, 5, 9, 10]] = [STALE_NAN, np.nan, -0.0, np.inf]
        vals[11] = -np.inf
    restarts = np.array([0, 1, 2, 300, 301, 999])
    _roundtrip(ts.astype(np.int64), vals, restarts)


def test_single_sample_and_negative_deltas() -> None:
    _roundtrip(np.array([5], np.int64), np.array([1.5]), np.array([0]))
    ts = np.array([100, 50, 10, 10_000_000_000_000], np.int64)  # restarts allow any order
    _roundtrip(ts, np.array([1.0, -2.0, 3.0, 4.0]), np.array([0, 1, 2, 3]))


def test_run_gather_selects_ids_and_time() -> None:
    rng = np.random.default_rng(3)
    ids = rng.integers(1, 50, 5000)
    ts = rng.integers(0, 100_000, 5000)
    vals = rng.random(5000)
    run = build_run(ids, ts, vals, frame_size=256)
    sel = np.array([2, 7, 49, 51])
    gids, gts, gvals = run.gather(sel, 1000, 50_000)
    mask = np.isin(ids, sel) & (ts >= 1000) & (ts <= 50_000)
    want = sorted(zip(ids[mask].tolist(), ts[mask].tolist(), strict=True))
    # build_run drops exact (id, time) duplicates, keeping the first
    assert list(zip(gids.tolist(), gts.tolist(), strict=True)) == sorted(set(want))
    assert len(gvals) == len(gts)
