"""The storage of agent mode: it only hands out series refs. Samples go nowhere but
to the remote-write queues (``TeeStorage`` wraps this), whose logs are the WAL.

Per series it keeps the label set and its ref: what scrape loops need to reuse refs
and what the queues key their relabel cache on. Nothing can be queried.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from tidewatch.labels import Labels
from tidewatch.matcher import Matcher
from tidewatch.tsdb.encoding import F64, I64
from tidewatch.tsdb.interface import (
    Appender,
    AppendStats,
    Exemplar,
    MetricMetadata,
    Querier,
    Series,
)


class _NoQuerier:
    """Agent mode answers no queries; every read is empty."""

    def select(self, matchers: Sequence[Matcher], mint: int, maxt: int) -> list[Series]:
        return []

    def series_labels(self, matchers: Sequence[Matcher], mint: int, maxt: int) -> list[Labels]:
        return []

    def label_names(self, matchers: Sequence[Matcher], mint: int, maxt: int) -> list[str]:
        return []

    def label_values(
        self, name: str, matchers: Sequence[Matcher], mint: int, maxt: int
    ) -> list[str]:
        return []

    def close(self) -> None:
        pass


class _RefAppender:
    def __init__(self, storage: SeriesOnlyStorage) -> None:
        self.storage = storage
        self.samples = 0

    def append(self, ref: int, labels: Labels, t: int, v: float) -> int:
        self.samples += 1
        s = self.storage
        if 0 < ref < len(s.labels_of):
            known = s.labels_of[ref]
            if known is labels or known == labels:
                return ref
        return s.ref_of(labels)

    def append_batch(self, refs: I64, labels: Sequence[Labels], ts: I64, vals: F64) -> None:
        """Many samples at once (a repeat scrape). Series are never dropped here, so
        every ref handed out stays valid; only unknown refs need their labels looked up
        (in place in ``refs``, as the TSDB's batch append does)."""
        self.samples += len(refs)
        s = self.storage
        bad = np.flatnonzero((refs <= 0) | (refs >= len(s.labels_of)))
        for i in bad.tolist():
            refs[i] = s.ref_of(labels[i])

    def append_exemplar(self, ref: int, labels: Labels, exemplar: Exemplar) -> None:
        pass

    def update_metadata(self, metric_family: str, meta: MetricMetadata) -> None:
        pass

    def commit(self) -> AppendStats:
        n, self.samples = self.samples, 0
        return AppendStats(samples=n)

    def rollback(self) -> None:
        self.samples = 0


class SeriesOnlyStorage:
    def __init__(self) -> None:
        self.refs: dict[Labels, int] = {}
        self.labels_of: list[Labels] = [()]  # index 0 is "no ref"

    def ref_of(self, labels: Labels) -> int:
        ref = self.refs.get(labels)
        if ref is None:
            ref = len(self.labels_of)
            self.labels_of.append(labels)
            self.refs[labels] = ref
        return ref

    @property
    def num_series(self) -> int:
        return len(self.refs)

    def appender(self) -> Appender:
        return _RefAppender(self)

    def querier(self) -> Querier:
        return _NoQuerier()
