"""A small in-memory :class:`~tidewatch.tsdb.interface.Querier` for the test
language runner and unit tests: a dict of label set → sorted numpy columns."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from tidewatch.labels import Labels
from tidewatch.matcher import Matcher

try:
    from tidewatch.tsdb.interface import Series
except ImportError:  # pragma: no cover - only while the tsdb package is mid-change

    @dataclass
    class Series:  # type: ignore[no-redef]
        labels: Labels
        ts: np.ndarray
        values: np.ndarray


class MemoryStorage:
    """Samples appended per series; ``querier()`` returns a read view."""

    def __init__(self) -> None:
        self._pending: dict[Labels, dict[int, float]] = {}
        self._series: dict[Labels, tuple[np.ndarray, np.ndarray]] = {}
        self._dirty = False

    def add(self, labels: Labels, t_ms: int, value: float) -> None:
        self._pending.setdefault(labels, {})[t_ms] = value
        self._dirty = True

    def add_many(self, labels: Labels, ts: Sequence[int], values: Sequence[float]) -> None:
        d = self._pending.setdefault(labels, {})
        d.update(zip(ts, values, strict=True))
        self._dirty = True

    def clear(self) -> None:
        self._pending.clear()
        self._series.clear()
        self._dirty = False

    def _flush(self) -> None:
        if not self._dirty:
            return
        for lbls, d in self._pending.items():
            if lbls in self._series:
                old_ts, old_v = self._series[lbls]
                for t, v in zip(old_ts.tolist(), old_v.tolist(), strict=True):
                    d.setdefault(t, v)
            keys = sorted(d)
            self._series[lbls] = (
                np.array(keys, dtype=np.int64),
                np.array([d[k] for k in keys], dtype=np.float64),
            )
        self._pending = {}
        self._dirty = False

    def querier(self) -> MemoryQuerier:
        self._flush()
        return MemoryQuerier(self._series)


class MemoryQuerier:
    def __init__(self, series: dict[Labels, tuple[np.ndarray, np.ndarray]]) -> None:
        self._series = series
        self._sorted = sorted(series)

    def select(self, matchers: Sequence[Matcher], mint: int, maxt: int) -> list[Series]:
        out: list[Series] = []
        for lbls in self._sorted:
            if not all(m.matches_labels(lbls) for m in matchers):
                continue
            ts, vals = self._series[lbls]
            lo, hi = np.searchsorted(ts, [mint, maxt], side="left")
            hi = int(np.searchsorted(ts, maxt, side="right"))
            if hi <= lo:
                continue
            out.append(Series(lbls, ts[lo:hi], vals[lo:hi]))
        return out

    def series_labels(self, matchers: Sequence[Matcher], mint: int, maxt: int) -> list[Labels]:
        return [s.labels for s in self.select(matchers, mint, maxt)]

    def label_names(self, matchers: Sequence[Matcher], mint: int, maxt: int) -> list[str]:
        names = {k for s in self.select(matchers, mint, maxt) for k, _ in s.labels}
        return sorted(names)

    def label_values(
        self, name: str, matchers: Sequence[Matcher], mint: int, maxt: int
    ) -> list[str]:
        vals = {v for s in self.select(matchers, mint, maxt) for k, v in s.labels if k == name}
        return sorted(vals)

    def close(self) -> None:
        pass
