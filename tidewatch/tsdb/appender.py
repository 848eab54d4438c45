"""The appender: collects one batch (a scrape, a remote-write request) in plain lists
and hands it to the TSDB on commit, where it is checked and logged as whole arrays."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from tidewatch.labels import Labels
from tidewatch.tsdb.encoding import F64, I64
from tidewatch.tsdb.head import Batch
from tidewatch.tsdb.interface import AppendStats, Exemplar, MetricMetadata

if TYPE_CHECKING:
    from tidewatch.tsdb.db import TSDB


class TSDBAppender:
    """Not shared between threads; the TSDB makes concurrent commits safe."""

    __slots__ = ("_arrays", "_db", "_exemplars", "_labels", "_metadata", "_refs", "_ts", "_vals")

    def __init__(self, db: TSDB) -> None:
        self._db = db
        self._refs: list[int] = []
        self._ts: list[int] = []
        self._vals: list[float] = []
        self._labels: list[Labels] = []
        self._exemplars: list[tuple[int, Labels, Exemplar]] = []
        self._metadata: list[tuple[str, MetricMetadata]] = []
        # Whole batches from append_batch: (refs, ts, vals, labels).
        self._arrays: list[tuple[I64, I64, F64, Sequence[Labels]]] = []

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

    def append_batch(self, refs: I64, labels: Sequence[Labels], ts: I64, vals: F64) -> None:
        """Append many samples at once; ``labels[i]`` names ``refs[i]``.

        Refs of series no longer in the head are replaced *in place* in ``refs``, so a
        caller that keeps the array (a scrape loop's layout) holds valid refs afterwards.
        """
        head = self._db.head
        alive = head.alive
        inside = (refs > 0) & (refs < len(alive))
        bad = ~inside
        bad[inside] = ~alive[refs[inside]]
        if bad.any():
            with head.lock:
                for i in np.flatnonzero(bad).tolist():
                    refs[i] = head.get_or_create(labels[i])
        if self._refs:  # keep call order: earlier single samples go first
            self._arrays.append(self._lists_as_arrays())
            self._refs, self._ts, self._vals, self._labels = [], [], [], []
        self._arrays.append((refs.copy(), ts, vals, labels))

    def append_exemplar(self, ref: int, labels: Labels, exemplar: Exemplar) -> None:
        self._exemplars.append((ref, labels, exemplar))

    def update_metadata(self, metric_family: str, meta: MetricMetadata) -> None:
        self._metadata.append((metric_family, meta))

    def commit(self) -> AppendStats:
        if self._arrays:
            parts = [*self._arrays]
            if self._refs:
                parts.append(self._lists_as_arrays())
            labels: list[Labels] = []
            for p in parts:
                labels.extend(p[3])
            batch = Batch(
                np.concatenate([p[0] for p in parts]),
                np.concatenate([p[1] for p in parts]),
                np.concatenate([p[2] for p in parts]),
                labels,
            )
        else:
            refs, ts, vals, lbls = self._lists_as_arrays()
            batch = Batch(refs, ts, vals, lbls)
        exemplars, metadata = self._exemplars, self._metadata
        self.rollback()
        return self._db.commit(batch, exemplars, metadata)

    def _lists_as_arrays(self) -> tuple[I64, I64, F64, list[Labels]]:
        return (
            np.array(self._refs, dtype=np.int64),
            np.array(self._ts, dtype=np.int64),
            np.array(self._vals, dtype=np.float64),
            self._labels,
        )

    def rollback(self) -> None:
        self._arrays = []
        self._refs = []
        self._ts = []
        self._vals = []
        self._labels = []
        self._exemplars = []
        self._metadata = []
