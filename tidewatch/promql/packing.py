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
    from tidewatch.tsdb.interface import Series


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
    ends = np.cumsum(counts).astype(np.int64)
    starts = ends - counts
    if len(ts):
        base = min(int(ts.min()), t_min)
        span = max(int(ts.max()), t_max) - base + 2
    else:
        base, span = t_min, max(t_max - t_min + 2, 2)
    sid = np.repeat(np.arange(len(labels), dtype=np.int64), counts)
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
