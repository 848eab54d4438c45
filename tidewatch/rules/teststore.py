"""A small in-memory storage for rule unit tests.

Input series are loaded up front but only samples up to ``till`` are visible, as
promtool's lazy loader adds them step by step: rules evaluated at time t never see
later input. Rule output is appended in time order, so per-series Python lists
with cached numpy views are enough.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence

import numpy as np

from tidewatch.labels import Labels
from tidewatch.matcher import Matcher
from tidewatch.tsdb.interface import AppendStats, Exemplar, MetricMetadata, Series

MAX_TIME = 2**63 - 1


class _SeriesData:
    __slots__ = ("arrays", "ts", "vals")

    def __init__(self) -> None:
        self.ts: list[int] = []
        self.vals: list[float] = []
        self.arrays: tuple[np.ndarray, np.ndarray] | None = None

    def add(self, t: int, v: float) -> None:
        self.arrays = None
        if not self.ts or t > self.ts[-1]:
            self.ts.append(t)
            self.vals.append(v)
            return
        i = bisect.bisect_left(self.ts, t)
        if i < len(self.ts) and self.ts[i] == t:
            self.vals[i] = v
        else:
            self.ts.insert(i, t)
            self.vals.insert(i, v)

    def view(self) -> tuple[np.ndarray, np.ndarray]:
        if self.arrays is None:
            self.arrays = (
                np.array(self.ts, dtype=np.int64),
                np.array(self.vals, dtype=np.float64),
            )
        return self.arrays


class UnitTestStorage:
    def __init__(self) -> None:
        self.series: dict[Labels, _SeriesData] = {}
        self.till = MAX_TIME

    def add(self, labels: Labels, t: int, v: float) -> None:
        data = self.series.get(labels)
        if data is None:
            data = self.series[labels] = _SeriesData()
        data.add(t, v)

    def appender(self) -> _Appender:
        return _Appender(self)

    def querier(self) -> _Querier:
        return _Querier(self, self.till)


class _Appender:
    def __init__(self, store: UnitTestStorage) -> None:
        self.store = store
        self.pending: list[tuple[Labels, int, float]] = []

    def append(self, ref: int, labels: Labels, t: int, v: float) -> int:
        self.pending.append((labels, t, v))
        return 0

    def append_exemplar(self, ref: int, labels: Labels, exemplar: Exemplar) -> None:
        pass

    def update_metadata(self, metric_family: str, meta: MetricMetadata) -> None:
        pass

    def commit(self) -> AppendStats:
        for labels, t, v in self.pending:
            self.store.add(labels, t, v)
        n = len(self.pending)
        self.pending = []
        return AppendStats(samples=n)

    def rollback(self) -> None:
        self.pending = []


class _Querier:
    def __init__(self, store: UnitTestStorage, till: int) -> None:
        self.store = store
        self.till = till

    def select(self, matchers: Sequence[Matcher], mint: int, maxt: int) -> list[Series]:
        maxt = min(maxt, self.till)
        out: list[Series] = []
        for lbls in sorted(self.store.series):
            if not all(m.matches_labels(lbls) for m in matchers):
                continue
            ts, vals = self.store.series[lbls].view()
            lo = int(np.searchsorted(ts, mint, side="left"))
            hi = int(np.searchsorted(ts, maxt, side="right"))
            if hi > lo:
                out.append(Series(lbls, ts[lo:hi], vals[lo:hi]))
        return out

    def series_labels(self, matchers: Sequence[Matcher], mint: int, maxt: int) -> list[Labels]:
        return [s.labels for s in self.select(matchers, mint, maxt)]

    def label_names(self, matchers: Sequence[Matcher], mint: int, maxt: int) -> list[str]:
        return sorted({k for s in self.select(matchers, mint, maxt) for k, _ in s.labels})

    def label_values(
        self, name: str, matchers: Sequence[Matcher], mint: int, maxt: int
    ) -> list[str]:
        return sorted(
            {v for s in self.select(matchers, mint, maxt) for k, v in s.labels if k == name}
        )

    def close(self) -> None:
        pass
