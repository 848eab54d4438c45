"""The appender: collects one batch (a scrape, a remote-write request) in plain lists
and hands it to the TSDB on commit, where it is checked and logged as whole arrays."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from tidewatch.labels import Labels
from tidewatch.tsdb.head import Batch
from tidewatch.tsdb.interface import AppendStats, Exemplar, MetricMetadata

if TYPE_CHECKING:
    from tidewatch.tsdb.db import TSDB


class TSDBAppender:
    """Not shared between threads; the TSDB makes concurrent commits safe."""

    __slots__ = ("_db", "_exemplars", "_labels", "_metadata", "_refs", "_ts", "_vals")

    def __init__(self, db: TSDB) -> None:
        self._db = db
        self._refs: list[int] = []
        self._ts: list[int] = []
        self._vals: list[float] = []
        self._labels: list[Labels] = []
        self._exemplars: list[tuple[int, Labels, Exemplar]] = []
        self._metadata: list[tuple[str, MetricMetadata]] = []

    def append(self, ref: int, labels: Labels, t: int, v: float) -> int:
        head = self._db.head
        # A dict membership test (no lock needed under the GIL) catches refs of
        # series dropped from the head since the caller cached them.
        if ref <= 0 or ref not in head.labels_of:
            with head.lock:
                ref = head.get_or_create(labels)
        self._refs.append(ref)
        self._ts.append(t)
        self._vals.append(v)
        self._labels.append(labels)
        return ref

    def append_exemplar(self, ref: int, labels: Labels, exemplar: Exemplar) -> None:
        self._exemplars.append((ref, labels, exemplar))

    def update_metadata(self, metric_family: str, meta: MetricMetadata) -> None:
        self._metadata.append((metric_family, meta))

    def commit(self) -> AppendStats:
        batch = Batch(
            np.array(self._refs, dtype=np.int64),
            np.array(self._ts, dtype=np.int64),
            np.array(self._vals, dtype=np.float64),
            self._labels,
        )
        exemplars, metadata = self._exemplars, self._metadata
        self.rollback()
        return self._db.commit(batch, exemplars, metadata)

    def rollback(self) -> None:
        self._refs = []
        self._ts = []
        self._vals = []
        self._labels = []
        self._exemplars = []
        self._metadata = []
