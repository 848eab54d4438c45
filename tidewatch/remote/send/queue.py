"""One remote's queue: commits are written to its on-disk log; a reader tails the log,
batches samples and sends them over shards (concurrent senders, a series always on the
same shard so its samples arrive in order), retrying as the remote write spec says.

The read position only advances after every batch before it was delivered (or refused
for good), so an outage or a restart re-sends from the log: at-least-once delivery.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from tidewatch.ingest.relabel import relabel
from tidewatch.labels import Labels
from tidewatch.remote.send.client import Attempt, RemoteClient
from tidewatch.remote.send.config import RemoteWriteConfig
from tidewatch.remote.send.encode import (
    F64,
    I64,
    encode_exemplar_request,
    encode_metadata_request,
    encode_write_request,
)
from tidewatch.remote.send.encode_v2 import encode_v2_exemplar_request, encode_v2_write_request
from tidewatch.remote.send.queue_log import Position, QueueReader, QueueWriter, concat
from tidewatch.remote.send.series_labels import SeriesLabels
from tidewatch.remote.send.stats import QueueStats
from tidewatch.remote.write import PROTO_V1
from tidewatch.tsdb.interface import Exemplar, MetricMetadata

log = logging.getLogger(__name__)

_UNKNOWN = -2
# The log's cap while the remote is unreachable; past it the oldest data goes first.
DEFAULT_MAX_BACKLOG_BYTES = 2 << 30
_PROTOCOL_ERROR_EVERY_S = 60.0


class RemoteQueue:
    def __init__(
        self,
        cfg: RemoteWriteConfig,
        directory: Path,
        external_labels: dict[str, str],
        max_backlog_bytes: int = DEFAULT_MAX_BACKLOG_BYTES,
    ) -> None:
        self.cfg = cfg
        self.max_backlog_bytes = max_backlog_bytes
        self.dir = directory
        self.external_labels = dict(external_labels)
        self.stats = QueueStats()
        self.writer = QueueWriter(directory)
        self.reader = QueueReader(directory)
        self.stats.samples_pending = self.reader.backlog_samples()
        # storage ref -> queue ref (-1: dropped by relabeling; _UNKNOWN: not seen yet)
        self._qref_of = np.full(1024, _UNKNOWN, np.int64)
        self._external_pairs = tuple(sorted(self.external_labels.items()))
        self._series = SeriesLabels(cfg.protobuf_message)
        self._declared = np.zeros(1024, np.bool_)  # per queue ref: in ``_series``
        self._segment_series: set[int] = set()
        self._prune_due = False
        self._write_lock = threading.Lock()  # commits may come from worker threads
        self._wake = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None
        self._metadata_task: asyncio.Task[None] | None = None
        self._stop_event = asyncio.Event()
        # Latest metadata per metric family (from the manager); sent periodically.
        self.metadata_source: Callable[[], dict[str, MetricMetadata]] = dict
        self.metadata_version: Callable[[], int] = lambda: 0  # moves when the source changes
        self.client = RemoteClient(cfg)
        self._stopping = False
        self._protocol_error_at = -math.inf  # when a refusal of 2.0 was last logged

    # -- write side (called by the tee appender's commit, synchronously) ------------
    def _queue_ref(self, lbls: Labels, new: list[tuple[int, Labels]]) -> int:
        """The queue ref of a series after external labels and write relabeling;
        -1 when relabeling drops it."""
        if self.cfg.relabel:
            d = dict(lbls)
            for k, v in self.external_labels.items():
                d.setdefault(k, v)
            out = relabel(d, self.cfg.relabel)
            if not out:
                return -1
            return self.writer.ref_of(tuple(sorted(out.items())), new)
        if self._external_pairs:
            # Reuse the series' own (name, value) pairs: less memory per series.
            names = {k for k, _ in lbls}
            extra = tuple(p for p in self._external_pairs if p[0] not in names)
            if extra:
                lbls = tuple(sorted(lbls + extra))
        return self.writer.ref_of(lbls, new)

    def enqueue(self, refs: I64, labels: Sequence[Labels], ts: I64, vals: F64) -> None:
        """Queue a committed batch: per sample its storage ref, labels, time, value.

        Storage refs must name one label set for the storage's lifetime (the TSDB and
        the agent storage never reuse a ref), so known series map to queue refs with
        one array lookup; only new ones are labeled and relabeled, in Python.
        """
        with self._write_lock:
            self._enqueue_locked(refs, labels, ts, vals)

    def _enqueue_locked(self, refs: I64, labels: Sequence[Labels], ts: I64, vals: F64) -> None:
        forgotten = self.writer.maybe_rotate()
        if forgotten:
            gone = np.isin(self._qref_of, np.fromiter(forgotten, np.int64, len(forgotten)))
            self._qref_of[gone] = _UNKNOWN
        top = int(refs.max()) + 1
        if top > len(self._qref_of):
            grown = np.full(max(top, 2 * len(self._qref_of)), _UNKNOWN, np.int64)
            grown[: len(self._qref_of)] = self._qref_of
            self._qref_of = grown
        qrefs = self._qref_of[refs]
        missing = np.flatnonzero(qrefs == _UNKNOWN)
        new: list[tuple[int, Labels]] = []
        if len(missing):
            uniq, first = np.unique(refs[missing], return_index=True)
            for ref, i in zip(uniq.tolist(), missing[first].tolist(), strict=True):
                self._qref_of[ref] = self._queue_ref(labels[i], new)
            qrefs = self._qref_of[refs]
        keep = qrefs >= 0
        kept = int(np.count_nonzero(keep))
        if kept < len(qrefs):
            self.stats.samples_dropped += len(qrefs) - kept
            qrefs, ts, vals = qrefs[keep], ts[keep], vals[keep]
        self.writer.append(new, qrefs, ts, vals)
        if kept:
            self.stats.samples_pending += kept
            self.stats.highest_enqueued_ts = max(
                self.stats.highest_enqueued_ts, float(ts.max()) / 1000.0
            )
            self._notify()

    def _notify(self) -> None:
        loop = self._loop
        if loop is None:
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            self._wake.set()
        else:
            loop.call_soon_threadsafe(self._wake.set)

    def reconfigure(self, cfg: RemoteWriteConfig, external_labels: dict[str, str]) -> None:
        """Apply a reloaded config in place: the log, its backlog and the read position
        stay; series are relabeled afresh when relabeling or external labels changed."""
        with self._write_lock:
            if (
                cfg.write_relabel_configs != self.cfg.write_relabel_configs
                or external_labels != self.external_labels
            ):
                self._qref_of[:] = _UNKNOWN
            self.cfg = cfg
            self.external_labels = dict(external_labels)
            self._external_pairs = tuple(sorted(self.external_labels.items()))
            self.client.reconfigure(cfg)

    # -- lifecycle --------------------------------------------------------------------
    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self.client.start()
        self._task = asyncio.create_task(self._run(), name=f"remote-write {self.cfg.remote_name}")
        if self.cfg.metadata.send:
            self._metadata_task = asyncio.create_task(self._metadata_loop())

    async def stop(self, flush_timeout: float = 5.0) -> None:
        """Send what is queued for up to ``flush_timeout`` s; the rest stays in the log."""
        self._stopping = True
        self._wake.set()
        self._stop_event.set()
        if self._metadata_task is not None:
            self._metadata_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._metadata_task
        if self._task is not None:
            with contextlib.suppress(TimeoutError, asyncio.CancelledError):
                await asyncio.wait_for(asyncio.shield(self._task), flush_timeout)
            if not self._task.done():
                self._task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._task
        await self.client.close()
        self.reader.save()  # commits may have been saved lazily
        self.writer.close()

    # -- read side ----------------------------------------------------------------------
    async def _run(self) -> None:
        """The read loop; an unexpected error re-reads from the last committed position
        (at-least-once) instead of leaving the queue dead."""
        while True:
            try:
                await self._read_and_send()
                return
            except Exception:
                log.exception("remote_write %s: send loop failed; resuming", self.cfg.remote_name)
                self.reader.rewind()
                await asyncio.sleep(1.0)

    async def _read_and_send(self) -> None:
        pending_ex: list[list[Any]] = []
        pending: list[tuple[I64, I64, F64]] = []
        pending_n = 0
        first_at = 0.0
        while True:
            batch = self.reader.read()
            if batch.new_segment:
                self._segment_series = set()
                self._prune_due = True
            if batch.series:
                self._declare(batch.series)
            if (batch.samples or batch.exemplars) and not (pending_n or pending_ex):
                first_at = time.monotonic()
            if batch.samples:
                pending.append(concat(batch))
                pending_n += batch.samples
            pending_ex.extend(batch.exemplars)
            caught_up = not batch.series and not batch.samples and not batch.exemplars
            now = time.monotonic()
            q = self.cfg.queue  # read each time: a reload may change it
            deadline = q.batch_send_deadline_ms / 1000.0
            due = (pending_n or pending_ex) and (
                pending_n >= q.max_samples_per_send * q.max_shards
                or (caught_up and pending_n >= q.max_samples_per_send)
                or (caught_up and now - first_at >= deadline)
                or (caught_up and self._stopping)
            )
            if due:
                end = Position(*self.reader.pos.as_tuple())
                if pending_n:
                    await self._flush(pending, pending_n)
                if pending_ex:
                    await self._send_exemplars(pending_ex)
                pending, pending_n, pending_ex = [], 0, []
                self.reader.commit(end)
                self._prune_labels()
                continue
            if not caught_up:
                continue
            if (
                not pending
                and not pending_ex
                and self.reader.committed.as_tuple() != self.reader.pos.as_tuple()
            ):
                self.reader.commit(Position(*self.reader.pos.as_tuple()))
                self._prune_labels()
            if self._stopping and not pending and not pending_ex:
                return
            self._wake.clear()
            wait = deadline - (now - first_at) if pending or pending_ex else None
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), wait)

    def _declare(self, series: list[tuple[int, Labels]]) -> None:
        top = max(ref for ref, _ in series) + 1
        if top > len(self._declared):
            grown = np.zeros(max(top, 2 * len(self._declared)), np.bool_)
            grown[: len(self._declared)] = self._declared
            self._declared = grown
        known = self._series
        for ref, lbls in series:
            if ref not in known:  # a segment re-declares every live series
                known.add(ref, lbls)
            self._segment_series.add(ref)
            self._declared[ref] = True

    def _prune_labels(self) -> None:
        """Once nothing from older segments is pending, keep only the series this
        segment declared (each segment re-declares every series still in use)."""
        if self._prune_due:
            keep = self._segment_series
            self._series.keep_only(keep)
            self._declared[:] = False
            if keep:
                self._declared[np.fromiter(keep, np.int64, len(keep))] = True
            self._prune_due = False

    async def _flush(self, pending: list[tuple[I64, I64, F64]], n: int) -> None:
        q = self.cfg.queue
        self._series.switch(self.cfg.protobuf_message)  # a reload may have changed it
        refs = np.concatenate([p[0] for p in pending])
        ts = np.concatenate([p[1] for p in pending])
        vals = np.concatenate([p[2] for p in pending])
        if q.sample_age_limit_ms > 0:
            # Too old to be worth sending (e.g. after a long outage), as the option says.
            fresh = ts >= int(time.time() * 1000) - q.sample_age_limit_ms
            stale = len(ts) - int(np.count_nonzero(fresh))
            if stale:
                self.stats.samples_dropped += stale
                self.stats.samples_pending -= stale
                refs, ts, vals = refs[fresh], ts[fresh], vals[fresh]
                n = len(refs)
                if n == 0:
                    return
        shards = min(q.max_shards, max(q.min_shards, math.ceil(n / q.max_samples_per_send)))
        self.stats.shards = shards
        if shards == 1:
            await self._send_shard(refs, ts, vals)
            return
        shard_of = refs % shards
        jobs = []
        for s in range(shards):
            idx = np.flatnonzero(shard_of == s)
            if len(idx):
                jobs.append(self._send_shard(refs[idx], ts[idx], vals[idx]))
        await asyncio.gather(*jobs)

    async def _send_shard(self, refs: I64, ts: I64, vals: F64) -> None:
        step = self.cfg.queue.max_samples_per_send
        refs, ts, vals = self._drop_undeclared(refs, ts, vals)
        for lo in range(0, len(refs), step):
            r, t, v = refs[lo : lo + step], ts[lo : lo + step], vals[lo : lo + step]
            body = self._encode(r, t, v)
            await self._send(body, len(r), float(t.max()) / 1000.0, self._series.protocol)

    def _encode(self, refs: I64, ts: I64, vals: F64) -> bytes:
        """A request in the protocol of ``_series`` (which follows the config)."""
        series = self._series
        if not series.is_v2:
            return encode_write_request(refs, ts, vals, series.v1)[0]
        metadata = self._v2_metadata(refs) if self.cfg.metadata.send else None
        return encode_v2_write_request(refs, ts, vals, series.v2, series.table, metadata)[0]

    def _v2_metadata(self, refs: I64) -> dict[int, tuple[int, int, int]]:
        """Per series, its family's metadata as symbol ids: 2.0 carries metadata inside
        each series instead of in separate requests."""
        uniq = np.unique(refs).tolist()
        return self._series.metadata_ids(uniq, self.metadata_source, self.metadata_version())

    def _drop_undeclared(self, refs: I64, ts: I64, vals: F64) -> tuple[I64, I64, F64]:
        """Samples of series the log never declared (which only a damaged log can
        produce) cannot be labeled: count them as dropped rather than fail the batch."""
        declared = self._declared
        inside = (refs >= 0) & (refs < len(declared))
        keep = inside & declared[np.where(inside, refs, 0)]
        if keep.all():
            return refs, ts, vals
        lost = len(refs) - int(np.count_nonzero(keep))
        log.warning(
            "remote_write %s: dropping %d samples of %d undeclared series",
            self.cfg.remote_name,
            lost,
            len(np.unique(refs[~keep])),
        )
        self.stats.samples_dropped += lost
        self.stats.samples_pending -= lost
        return refs[keep], ts[keep], vals[keep]

    def _enforce_backlog_limit(self) -> None:
        with self._write_lock:  # the writer must not rotate meanwhile
            lost = self.reader.drop_oldest(self.max_backlog_bytes, self.writer.segment)
        if lost:
            log.warning(
                "remote_write %s: queue over %d bytes while the remote is failing;"
                " dropped the oldest %d samples",
                self.cfg.remote_name,
                self.max_backlog_bytes,
                lost,
            )
            self.stats.samples_dropped += lost
            self.stats.samples_pending -= lost

    async def _attempt(self, body: bytes, protocol: str) -> Attempt:
        """POST once; a refusal of the 2.0 message itself is logged as an error."""
        result = await self.client.post(body, protocol)
        self.stats.observe_batch(result.seconds)
        now = time.monotonic()
        if result.protocol_refused and now - self._protocol_error_at >= _PROTOCOL_ERROR_EVERY_S:
            # Every batch would repeat it: once a minute is enough to be seen.
            self._protocol_error_at = now
            log.error(
                "remote_write %s: %s refused %s: %s",
                self.cfg.remote_name,
                self.cfg.url,
                protocol,
                result.reason,
            )
        return result

    async def _send(self, body: bytes, samples: int, max_ts: float, protocol: str) -> None:
        """Deliver one request of samples, retrying recoverable failures forever."""
        q = self.cfg.queue
        backoff = q.min_backoff_ms / 1000.0
        while True:
            self.stats.samples_total += samples
            self.stats.bytes_total += len(body)
            result = await self._attempt(body, protocol)
            outcome, retry_after, reason = result.outcome, result.retry_after, result.reason
            if outcome == "ok":
                written = samples if result.written is None else result.written.samples
                self._count_written(samples, written, result.status)
                self.stats.samples_pending -= samples
                self.stats.highest_sent_ts = max(self.stats.highest_sent_ts, max_ts)
                return
            if outcome == "refused":
                # A refusal of 2.0 itself was logged (rate-limited) by _attempt.
                log.log(
                    logging.DEBUG if result.protocol_refused else logging.WARNING,
                    "remote_write %s: dropping %d samples, server answered %s",
                    self.cfg.remote_name,
                    samples,
                    reason,
                )
                written = 0 if result.written is None else min(result.written.samples, samples)
                self.stats.samples_delivered += written
                self.stats.samples_failed += samples - written
                self.stats.samples_pending -= samples
                return
            self.stats.samples_retried += samples
            self._enforce_backlog_limit()
            log.debug("remote_write %s: retrying after %s", self.cfg.remote_name, reason)
            await asyncio.sleep(retry_after if retry_after is not None else backoff)
            backoff = min(backoff * 2, q.max_backoff_ms / 1000.0)

    def _count_written(self, sent: int, written: int, status: int | None) -> None:
        """A 2xx answer: a 2.0 receiver that wrote fewer samples than sent broke the
        spec's rule against partial 2xx; count the rest as failed, as the spec allows."""
        written = min(max(written, 0), sent)
        self.stats.samples_delivered += written
        if written < sent:
            log.warning(
                "remote_write %s: receiver answered %s but wrote only %d of %d samples;"
                " counting %d as failed",
                self.cfg.remote_name,
                status,
                written,
                sent,
                sent - written,
            )
            self.stats.samples_failed += sent - written

    # -- metadata ----------------------------------------------------------------------
    async def _metadata_loop(self) -> None:
        """Send every known metric family's metadata each ``send_interval``."""
        m = self.cfg.metadata
        while not self._stopping:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop_event.wait(), m.send_interval_ms / 1000.0)
            if self._stopping:
                return
            if self.cfg.protobuf_message != PROTO_V1:
                continue  # 2.0 sends each family's metadata inside its series
            items = sorted(self.metadata_source().items())
            for lo in range(0, len(items), m.max_samples_per_send):
                chunk = items[lo : lo + m.max_samples_per_send]
                await self._send_metadata(encode_metadata_request(chunk), len(chunk))

    async def _send_metadata(self, body: bytes, n: int) -> None:
        await self._deliver_counted(body, n, "metadata", PROTO_V1, give_up_on_stop=True)

    async def _deliver_counted(
        self, body: bytes, n: int, kind: str, protocol: str, give_up_on_stop: bool = False
    ) -> bool:
        """Deliver a metadata or exemplar request, counting into ``<kind>_*`` stats;
        True when delivered."""
        q = self.cfg.queue
        st = self.stats
        backoff = q.min_backoff_ms / 1000.0
        while not (give_up_on_stop and self._stopping):
            setattr(st, f"{kind}_total", getattr(st, f"{kind}_total") + n)
            result = await self._attempt(body, protocol)
            outcome, retry_after, reason = result.outcome, result.retry_after, result.reason
            if outcome == "ok" and kind == "exemplars" and result.written is not None:
                lost = n - min(n, result.written.exemplars)
                if lost:
                    log.warning(
                        "remote_write %s: receiver wrote %d of %d exemplars",
                        self.cfg.remote_name,
                        n - lost,
                        n,
                    )
                    st.exemplars_failed += lost
            if outcome == "ok":
                return True
            if outcome == "refused":
                log.warning(
                    "remote_write %s: dropping %d %s, server answered %s",
                    self.cfg.remote_name,
                    n,
                    kind,
                    reason,
                )
                setattr(st, f"{kind}_failed", getattr(st, f"{kind}_failed") + n)
                return False
            setattr(st, f"{kind}_retried", getattr(st, f"{kind}_retried") + n)
            await asyncio.sleep(retry_after if retry_after is not None else backoff)
            backoff = min(backoff * 2, q.max_backoff_ms / 1000.0)
        return False

    # -- exemplars ---------------------------------------------------------------------
    def enqueue_exemplars(self, items: Sequence[tuple[int, Labels, Exemplar]]) -> None:
        """Queue a committed batch's exemplars (storage ref, series labels, exemplar)."""
        with self._write_lock:
            new: list[tuple[int, Labels]] = []
            rows: list[list[Any]] = []
            table = self._qref_of
            for ref, lbls, ex in items:
                qref = int(table[ref]) if 0 < ref < len(table) else _UNKNOWN
                if qref == _UNKNOWN:
                    qref = self._queue_ref(lbls, new)
                    if 0 < ref < len(table):
                        table[ref] = qref
                if qref >= 0:
                    rows.append([qref, [list(p) for p in ex.labels], ex.value, ex.ts])
            self.writer.append_exemplars(new, rows)
        if rows:
            self.stats.exemplars_pending += len(rows)
            self._notify()

    async def _send_exemplars(self, rows: list[list[Any]]) -> None:
        step = self.cfg.queue.max_samples_per_send
        series = self._series
        series.switch(self.cfg.protobuf_message)
        known = [r for r in rows if r[0] in series]
        for lo in range(0, len(known), step):
            chunk = known[lo : lo + step]
            if series.is_v2:
                body = encode_v2_exemplar_request(chunk, series.v2, series.table)
            else:
                body = encode_exemplar_request(chunk, series.v1)
            await self._deliver_counted(body, len(chunk), "exemplars", series.protocol)
        self.stats.exemplars_pending -= len(rows)
