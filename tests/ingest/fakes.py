"""A small in-memory Storage/Appender for ingest tests (records what was committed)."""

from __future__ import annotations

from dataclasses import dataclass, field

from tidewatch.labels import Labels
from tidewatch.tsdb.interface import AppendStats, Exemplar, MetricMetadata
from tidewatch.value import is_stale


@dataclass
class MemoryStorage:
    samples: dict[Labels, list[tuple[int, float]]] = field(default_factory=dict)
    exemplars: list[tuple[Labels, Exemplar]] = field(default_factory=list)
    metadata: dict[str, MetricMetadata] = field(default_factory=dict)
    refs: dict[Labels, int] = field(default_factory=dict)
    commits: int = 0
    rollbacks: int = 0

    def appender(self) -> MemoryAppender:
        return MemoryAppender(self)

    def querier(self) -> None:  # not needed by ingest
        raise NotImplementedError

    # helpers for assertions
    def values(self, name: str, **labels: str) -> list[float]:
        return [v for _, v in self.series(name, **labels)]

    def series(self, name: str, **labels: str) -> list[tuple[int, float]]:
        out: list[tuple[int, float]] = []
        for lbls, samples in self.samples.items():
            d = dict(lbls)
            if d.get("__name__") == name and all(d.get(k) == v for k, v in labels.items()):
                out.extend(samples)
        return sorted(out, key=lambda s: s[0])

    def last(self, name: str, **labels: str) -> float:
        return self.series(name, **labels)[-1][1]

    def stale_series(self) -> set[Labels]:
        return {lb for lb, s in self.samples.items() if s and is_stale(s[-1][1])}


class MemoryAppender:
    def __init__(self, store: MemoryStorage) -> None:
        self.store = store
        self.pending: list[tuple[Labels, int, float]] = []
        self.pending_ex: list[tuple[Labels, Exemplar]] = []
        self.pending_meta: dict[str, MetricMetadata] = {}

    def append(self, ref: int, labels: Labels, t: int, v: float) -> int:
        assert isinstance(labels, tuple) and all(v for _, v in labels)
        assert list(labels) == sorted(labels)
        self.pending.append((labels, t, v))
        r = self.store.refs.setdefault(labels, len(self.store.refs) + 1)
        assert ref in (0, r), "ref does not match labels"
        return r

    def append_exemplar(self, ref: int, labels: Labels, exemplar: Exemplar) -> None:
        self.pending_ex.append((labels, exemplar))

    def update_metadata(self, metric_family: str, meta: MetricMetadata) -> None:
        self.pending_meta[metric_family] = meta

    def commit(self) -> AppendStats:
        added = 0
        for labels, t, v in self.pending:
            if labels not in self.store.samples:
                added += 1
            self.store.samples.setdefault(labels, []).append((t, v))
        self.store.exemplars.extend(self.pending_ex)
        self.store.metadata.update(self.pending_meta)
        self.store.commits += 1
        return AppendStats(samples=len(self.pending), series_added=added)

    def rollback(self) -> None:
        self.pending.clear()
        self.store.rollbacks += 1
