"""``RemoteWriteManager``: the queues of every ``remote_write`` entry, their self
metrics, and ``TeeStorage``, which hands each committed batch to the queues."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.metrics_core import HistogramMetricFamily

from tidewatch.labels import Labels
from tidewatch.remote.send.config import RemoteWriteConfig, decode_configs
from tidewatch.remote.send.queue import DEFAULT_MAX_BACKLOG_BYTES, RemoteQueue
from tidewatch.remote.send.stats import DURATION_BUCKETS
from tidewatch.tsdb.interface import (
    Appender,
    AppendStats,
    Exemplar,
    MetricMetadata,
    Querier,
    Storage,
    StorageError,
)

log = logging.getLogger(__name__)
I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]


class RemoteWriteManager:
    """Owns one ``RemoteQueue`` per ``remote_write`` entry, under
    ``<data_dir>/remote_write/<queue hash>/``.

    ``configs`` are the raw entries (``cfg.prometheus.remote_write``); they are decoded
    and validated here, raising ``RemoteWriteConfigError`` naming the field.
    ``max_backlog_bytes`` caps each queue's log during an outage (oldest data dropped).
    """

    def __init__(
        self,
        configs: list[dict[str, Any]],
        external_labels: dict[str, str] | None,
        data_dir: str | Path,
        max_backlog_bytes: int = DEFAULT_MAX_BACKLOG_BYTES,
    ) -> None:
        self.base = Path(data_dir) / "remote_write"
        self.max_backlog_bytes = max_backlog_bytes
        self.external_labels = dict(external_labels or {})
        self.configs: list[RemoteWriteConfig] = decode_configs(configs)
        self.queues: dict[str, RemoteQueue] = {}
        self.metadata: dict[str, MetricMetadata] = {}  # latest per metric family
        self.metadata_version = 0  # bumped when ``metadata`` changes (see update_metadata)
        self._started = False
        self._lock = asyncio.Lock()

    def _make_queue(self, cfg: RemoteWriteConfig) -> RemoteQueue:
        q = RemoteQueue(cfg, self.base / cfg.hash, self.external_labels, self.max_backlog_bytes)
        q.metadata_source = lambda: dict(self.metadata)
        q.metadata_version = lambda: self.metadata_version
        return q

    async def start(self) -> None:
        async with self._lock:
            for cfg in self.configs:
                q = self._make_queue(cfg)
                await q.start()
                self.queues[cfg.hash] = q
            self._started = True

    async def apply_config(
        self, configs: list[dict[str, Any]], external_labels: dict[str, str] | None
    ) -> None:
        """Reconcile with a reloaded config; a bad config raises and changes nothing.

        Queues are keyed by url and name: a changed one is reconfigured in place, keeping
        its backlog and losing no commit; removed ones stop, new ones start.
        """
        decoded = decode_configs(configs)
        ext = dict(external_labels or {})
        async with self._lock:
            wanted = {c.hash: c for c in decoded}
            self.external_labels = ext
            for h in [h for h in self.queues if h not in wanted]:
                await self.queues.pop(h).stop()
            for h, q in self.queues.items():
                q.reconfigure(wanted[h], ext)
            self.configs = decoded
            if self._started:
                for h, cfg in wanted.items():
                    if h not in self.queues:
                        q = self._make_queue(cfg)
                        await q.start()
                        self.queues[h] = q

    async def stop(self, flush_timeout: float = 5.0) -> None:
        async with self._lock:
            queues, self.queues = list(self.queues.values()), {}
            await asyncio.gather(*(q.stop(flush_timeout) for q in queues))
            self._started = False

    def enqueue(
        self,
        refs: Sequence[int] | I64,
        labels: Sequence[Labels],
        ts: Sequence[int] | I64,
        vals: Sequence[float] | F64,
    ) -> None:
        """Hand one committed batch (parallel lists or arrays, one entry per sample) to
        every queue."""
        if not len(refs) or not self.queues:
            return
        ref_arr = np.asarray(refs, dtype=np.int64)
        ts_arr = np.asarray(ts, dtype=np.int64)
        val_arr = np.asarray(vals, dtype=np.float64)
        for q in list(self.queues.values()):  # a reload may change the dict meanwhile
            try:
                q.enqueue(ref_arr, labels, ts_arr, val_arr)
            except OSError as exc:
                # A full or failing disk must not fail the commit it follows.
                log.error("remote_write %s: cannot queue samples: %s", q.cfg.remote_name, exc)
                q.stats.samples_dropped += len(ref_arr)

    def update_metadata(self, items: list[tuple[str, MetricMetadata]]) -> None:
        """Record the latest metadata per family; every scrape repeats it, so the
        version only moves on a real change (2.0 queues cache per-series metadata)."""
        known = self.metadata
        for family, meta in items:
            if known.get(family) != meta:
                known[family] = meta
                self.metadata_version += 1

    def enqueue_exemplars(self, items: list[tuple[int, Labels, Exemplar]]) -> None:
        """Hand one committed batch's exemplars to the queues with ``send_exemplars``."""
        for q in list(self.queues.values()):
            if q.cfg.send_exemplars:
                try:
                    q.enqueue_exemplars(items)
                except OSError as exc:
                    log.error("remote_write %s: cannot queue exemplars: %s", q.cfg.remote_name, exc)

    def self_metrics(self) -> Iterable[Metric]:
        """``prometheus_remote_storage_*`` families for tidewatch's ``/metrics``."""
        names = ["remote_name", "url"]

        def counter(name: str, doc: str) -> CounterMetricFamily:
            return CounterMetricFamily(f"prometheus_remote_storage_{name}", doc, labels=names)

        def gauge(name: str, doc: str) -> GaugeMetricFamily:
            return GaugeMetricFamily(f"prometheus_remote_storage_{name}", doc, labels=names)

        samples = counter("samples", "Total number of samples sent to remote storage.")
        failed = counter(
            "samples_failed",
            "Total number of samples which failed on send to remote storage, non-recoverable errors.",
        )
        retried = counter(
            "samples_retried",
            "Total number of samples which failed on send to remote storage but were retried because the send error was recoverable.",
        )
        dropped = counter(
            "samples_dropped",
            "Total number of samples which were dropped after being read from the WAL before being sent via remote write, either via relabelling or unintentionally because of an unknown reference ID.",
        )
        sent_bytes = counter(
            "bytes",
            "The total number of bytes of data (not metadata) sent by the queue after compression.",
        )
        pending = gauge(
            "samples_pending",
            "The number of samples pending in the queues shards to be sent to the remote storage.",
        )
        highest_sent = gauge(
            "queue_highest_sent_timestamp_seconds",
            "Timestamp from a WAL sample, the highest timestamp successfully sent by this queue, in seconds since epoch.",
        )
        ex_total = counter("exemplars", "Total number of exemplars sent to remote storage.")
        ex_failed = counter(
            "exemplars_failed",
            "Total number of exemplars which failed on send to remote storage, non-recoverable errors.",
        )
        ex_retried = counter(
            "exemplars_retried",
            "Total number of exemplars which failed on send to remote storage but were retried because the send error was recoverable.",
        )
        ex_pending = gauge(
            "exemplars_pending",
            "The number of exemplars pending in the queues shards to be sent to the remote storage.",
        )
        md_total = counter("metadata", "Total number of metadata entries sent to remote storage.")
        md_failed = counter(
            "metadata_failed",
            "Total number of metadata entries which failed on send to remote storage, non-recoverable errors.",
        )
        md_retried = counter(
            "metadata_retried",
            "Total number of metadata entries which failed on send to remote storage but were retried because the send error was recoverable.",
        )
        shards = gauge(
            "shards", "The number of shards used for parallel sending to the remote storage."
        )
        min_shards = gauge(
            "shards_min", "The minimum number of shards that the queue is allowed to run."
        )
        max_shards = gauge(
            "shards_max", "The maximum number of shards that the queue is allowed to run."
        )
        duration = HistogramMetricFamily(
            "prometheus_remote_storage_sent_batch_duration_seconds",
            "Duration of send calls to the remote storage.",
            labels=names,
        )
        highest = 0.0
        for q in self.queues.values():
            lv = [q.cfg.remote_name, q.cfg.url]
            s = q.stats
            samples.add_metric(lv, s.samples_total)
            failed.add_metric(lv, s.samples_failed)
            retried.add_metric(lv, s.samples_retried)
            dropped.add_metric(lv, s.samples_dropped)
            sent_bytes.add_metric(lv, s.bytes_total)
            pending.add_metric(lv, max(s.samples_pending, 0))
            highest_sent.add_metric(lv, s.highest_sent_ts)
            ex_total.add_metric(lv, s.exemplars_total)
            ex_failed.add_metric(lv, s.exemplars_failed)
            ex_retried.add_metric(lv, s.exemplars_retried)
            ex_pending.add_metric(lv, max(s.exemplars_pending, 0))
            md_total.add_metric(lv, s.metadata_total)
            md_failed.add_metric(lv, s.metadata_failed)
            md_retried.add_metric(lv, s.metadata_retried)
            shards.add_metric(lv, s.shards)
            min_shards.add_metric(lv, q.cfg.queue.min_shards)
            max_shards.add_metric(lv, q.cfg.queue.max_shards)
            cumulative = [
                (str(float(b)), c) for b, c in zip(DURATION_BUCKETS, s.batch_buckets, strict=True)
            ]
            cumulative.append(("+Inf", s.batch_count))
            duration.add_metric(lv, cumulative, s.batch_sum)
            highest = max(highest, s.highest_enqueued_ts)
        yield GaugeMetricFamily(
            "prometheus_remote_storage_highest_timestamp_in_seconds",
            "Highest timestamp that has come into the remote storage via the Appender interface, in seconds since epoch.",
            value=highest,
        )
        yield from (samples, failed, retried, dropped, sent_bytes, pending, highest_sent)
        yield from (ex_total, ex_failed, ex_retried, ex_pending)
        yield from (md_total, md_failed, md_retried, shards, min_shards, max_shards, duration)


class TeeAppender:
    """Appends to the wrapped storage; on a successful commit, also to the queues."""

    def __init__(self, inner: Appender, manager: RemoteWriteManager) -> None:
        self.inner = inner
        self.manager = manager
        self._inner_append = inner.append
        self._refs: list[int] = []
        self._labels: list[Labels] = []
        self._ts: list[int] = []
        self._vals: list[float] = []
        # Whole-array appends, kept as arrays (in call order with the lists above).
        self._chunks: list[tuple[I64, Sequence[Labels], I64, F64]] = []
        self._metadata: list[tuple[str, MetricMetadata]] = []
        self._exemplars: list[tuple[int, Labels, Exemplar]] = []

    def append(self, ref: int, labels: Labels, t: int, v: float) -> int:
        # Parallel lists measured cheaper than a tuple per sample unzipped at commit.
        ref = self._inner_append(ref, labels, t, v)
        if ref <= 0:
            # Queues key their series cache on these refs (see RemoteQueue.enqueue).
            raise StorageError("storage under TeeStorage returned no series ref")
        self._refs.append(ref)
        self._labels.append(labels)
        self._ts.append(t)
        self._vals.append(v)
        return ref

    def append_batch(
        self,
        refs: npt.NDArray[np.int64],
        labels: Sequence[Labels],
        ts: npt.NDArray[np.int64],
        vals: npt.NDArray[np.float64],
    ) -> None:
        """Whole-array appends (a repeat scrape); the inner store keeps them columnar."""
        inner_batch = getattr(self.inner, "append_batch", None)
        if inner_batch is None:
            for ref, lbls, t, v in zip(
                refs.tolist(), labels, ts.tolist(), vals.tolist(), strict=True
            ):
                self.append(ref, lbls, t, v)
            return
        inner_batch(refs, labels, ts, vals)  # replaces stale refs in place
        if self._refs:  # keep call order: earlier single samples go first
            self._chunks.append(self._lists_as_arrays())
        self._chunks.append((refs.copy(), labels, ts, vals))

    def _lists_as_arrays(self) -> tuple[I64, Sequence[Labels], I64, F64]:
        out = (
            np.asarray(self._refs, np.int64),
            self._labels,
            np.asarray(self._ts, np.int64),
            np.asarray(self._vals, np.float64),
        )
        self._refs, self._labels, self._ts, self._vals = [], [], [], []
        return out

    def append_exemplar(self, ref: int, labels: Labels, exemplar: Exemplar) -> None:
        self.inner.append_exemplar(ref, labels, exemplar)
        self._exemplars.append((ref, labels, exemplar))

    def update_metadata(self, metric_family: str, meta: MetricMetadata) -> None:
        self.inner.update_metadata(metric_family, meta)
        self._metadata.append((metric_family, meta))

    def commit(self) -> AppendStats:
        stats = self.inner.commit()
        if self._chunks:
            parts = self._chunks
            if self._refs:
                parts.append(self._lists_as_arrays())
            self._chunks = []
            if len(parts) == 1:
                self.manager.enqueue(*parts[0])
            else:
                labels: list[Labels] = []
                for p in parts:
                    labels.extend(p[1])
                self.manager.enqueue(
                    np.concatenate([p[0] for p in parts]),
                    labels,
                    np.concatenate([p[2] for p in parts]),
                    np.concatenate([p[3] for p in parts]),
                )
        else:
            refs, labels, ts, vals = self._refs, self._labels, self._ts, self._vals
            self._refs, self._labels, self._ts, self._vals = [], [], [], []
            self.manager.enqueue(refs, labels, ts, vals)
        if self._exemplars:
            self.manager.enqueue_exemplars(self._exemplars)
            self._exemplars = []
        if self._metadata:
            self.manager.update_metadata(self._metadata)
            self._metadata = []
        return stats

    def rollback(self) -> None:
        self._refs, self._labels, self._ts, self._vals = [], [], [], []
        self._chunks = []
        self._metadata = []
        self._exemplars = []
        self.inner.rollback()


class TeeStorage:
    """A ``Storage`` whose appenders also forward every committed batch to remote write.

    The wrapped storage must return positive series refs that never name another label
    set later (true of the TSDB and of ``SeriesOnlyStorage``).
    """

    def __init__(self, storage: Storage, manager: RemoteWriteManager) -> None:
        self.storage = storage
        self.manager = manager

    def appender(self) -> Appender:
        if not self.manager.queues:
            # Nothing to forward to: write straight through, keeping the store's fast paths.
            return self.storage.appender()
        return TeeAppender(self.storage.appender(), self.manager)

    def querier(self) -> Querier:
        return self.storage.querier()
