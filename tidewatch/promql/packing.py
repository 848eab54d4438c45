"""Many series' samples packed into one pair of arrays, searchable in one call.

Each series' timestamps are shifted into its own disjoint band of a single sorted
key (``series_index * span + (t - base)``), so one ``np.searchsorted`` locates
every (series, step) pair at once instead of one call per series.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from tidewatch.labels import Labels
from tidewatch.promql.values import F64, I64
from tidewatch.value import stale_mask

if TYPE_CHECKING:
    from tidewatch.matcher import Matcher
    from tidewatch.tsdb.interface import Querier, Series


@dataclass
class Packed:
    labels: list[Labels]
    ts: I64
    values: F64
    starts: I64  # (S,) first sample index of each series
    ends: I64  # (S,) one past its last sample
    key: I64
    base: int
    span: int

    def locate(self, times: I64, side: str, r0: int = 0, r1: int | None = None) -> I64:
        """``searchsorted`` of ``times`` (N,) within each series ``r0 <= k < r1``:
        (series, N) global indexes."""
        stop = len(self.labels) if r1 is None else r1
        rows = np.arange(r0, stop, dtype=np.int64)[:, None] * self.span
        q = rows + (np.clip(times, self.base, self.base + self.span - 1) - self.base)[None, :]
        return np.searchsorted(self.key, q, side=side).astype(np.int64)  # type: ignore[call-overload]


def pack_arrays(
    labels: list[Labels], ts: I64, values: F64, counts: I64, t_min: int, t_max: int
) -> Packed:
    """Pack already-concatenated samples; ``counts`` is samples per series."""
    sid = np.repeat(np.arange(len(labels), dtype=np.int64), counts)
    return _pack(labels, sid, ts, values, counts, t_min, t_max)


def _pack(
    labels: list[Labels], sid: I64, ts: I64, values: F64, counts: I64, t_min: int, t_max: int
) -> Packed:
    ends = np.cumsum(counts).astype(np.int64)
    starts = ends - counts
    if len(ts):
        base = min(int(ts.min()), t_min)
        span = max(int(ts.max()), t_max) - base + 2
    else:
        base, span = t_min, max(t_max - t_min + 2, 2)
    key = sid * span + (ts - base)
    return Packed(labels, ts, values, starts, ends, key, base, span)


def pack_series(series: Sequence[Series], t_min: int, t_max: int, *, drop_stale: bool) -> Packed:
    """Pack querier results; ``t_min``/``t_max`` bound the times that will be located."""
    labels = [s.labels for s in series]
    if not series:
        empty_i = np.zeros(0, dtype=np.int64)
        return pack_arrays([], empty_i, np.zeros(0), empty_i, t_min, t_max)
    ts = np.concatenate([s.ts for s in series]).astype(np.int64, copy=False)
    values = np.concatenate([s.values for s in series]).astype(np.float64, copy=False)
    counts = np.array([len(s.ts) for s in series], dtype=np.int64)
    if drop_stale:
        stale = stale_mask(values)
        if stale.any():
            keep = ~stale
            sid = np.repeat(np.arange(len(series)), counts)
            counts = np.bincount(sid[keep], minlength=len(series)).astype(np.int64)
            ts, values = ts[keep], values[keep]
    return pack_arrays(labels, ts, values, counts, t_min, t_max)


def select_packed(
    querier: Querier,
    matchers: list[Matcher],
    mint: int,
    maxt: int,
    t_min: int,
    t_max: int,
    *,
    drop_stale: bool,
) -> Packed:
    """Select ``[mint, maxt]`` and pack it for locating times in ``[t_min, t_max]``.
    Stores with a columnar select (``select_columns``) skip building and
    re-concatenating per-series arrays."""
    columns = getattr(querier, "select_columns", None)
    if columns is None:
        series = querier.select(matchers, mint, maxt)
        return pack_series(series, t_min, t_max, drop_stale=drop_stale)
    labels, sid, ts, values = columns(matchers, mint, maxt)
    if drop_stale and len(values):
        keep = ~stale_mask(values)
        if not keep.all():
            sid, ts, values = sid[keep], ts[keep], values[keep]
    counts = np.bincount(sid, minlength=len(labels)).astype(np.int64)
    return _pack(labels, sid, ts, values, counts, t_min, t_max)
