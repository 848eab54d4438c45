"""The TSDB: head + WAL + blocks, with compaction, retention and a maintenance thread.

Layout of the data directory (like Prometheus's): one directory per block named by
its ULID, and ``wal/`` with numbered segments and the latest checkpoint.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from prometheus_client.core import Metric

from tidewatch.labels import Labels
from tidewatch.matcher import Matcher
from tidewatch.tsdb import compact
from tidewatch.tsdb.appender import TSDBAppender
from tidewatch.tsdb.block import Block, clean_leftovers, delete_block_dir, is_block_dir, write_block
from tidewatch.tsdb.blockcheck import ADVICE, block_problem
from tidewatch.tsdb.columns import build_run, sort_samples
from tidewatch.tsdb.head import HEAD_FRAME, INT64_MAX, INT64_MIN, Batch, Head
from tidewatch.tsdb.interface import AppendStats, Exemplar, MetricMetadata
from tidewatch.tsdb.options import TSDBOptions
from tidewatch.tsdb.querier import TSDBQuerier
from tidewatch.tsdb.wal import (
    REC_EXEMPLARS,
    REC_METADATA,
    REC_SAMPLES,
    REC_SERIES,
    WAL,
    decode_json,
    decode_samples,
    decode_series,
    encode_json,
    encode_samples,
    encode_series,
)

log = logging.getLogger(__name__)
Progress = Callable[[str, float], None]
MAINTAIN_INTERVAL_S = 60.0
MAX_METADATA_PER_FAMILY = 10
SERIES_PER_RECORD = 10000


class DataDirLockedError(RuntimeError):
    pass


class TSDB:
    """Implements ``tidewatch.tsdb.interface.Storage``."""

    def __init__(self, path: str | Path, options: TSDBOptions | None = None) -> None:
        self.path = Path(path)
        self.options = options or TSDBOptions()
        self.head = Head(self.options.block_duration_ms, self.options.out_of_order_window_ms)
        self.wal = WAL(self.path / "wal")
        self.blocks: list[Block] = []
        self._metadata: dict[str, list[MetricMetadata]] = {}
        self._maint_lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.compactions_total = 0
        self.compactions_failed = 0
        self.head_truncations = 0
        self.blocks_deleted_by_retention = 0
        self.size_retentions = 0
        self.time_retentions = 0
        self.wal_corruptions = 0
        self._closed = False
        self._lock_file: Any = None

    # -- opening -------------------------------------------------------------------
    @classmethod
    def open(
        cls,
        path: str,
        options: TSDBOptions | None = None,
        progress: Progress | None = None,
    ) -> TSDB:
        db = cls(path, options)
        db._open(progress)
        return db

    def _open(self, progress: Progress | None) -> None:
        self.path.mkdir(parents=True, exist_ok=True)
        self._lock_dir()
        clean_leftovers(self.path)
        if progress:
            progress("load blocks", 0.0)
        self.blocks = self._load_blocks()
        if progress:
            progress("load blocks", 1.0)
        if self.blocks:
            self.head.min_valid_time = max(b.meta.max_time for b in self.blocks)
        self._replay(progress)
        self.wal.open_for_append()

    def _lock_dir(self) -> None:
        """One process per data directory, as Prometheus's lock file ensures."""
        f = open(self.path / "lock", "a+b")  # noqa: SIM115 - held until close()
        try:
            fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            f.close()
            raise DataDirLockedError(f"{self.path} is in use by another process") from None
        self._lock_file = f

    def _load_blocks(self) -> list[Block]:
        blocks = []
        for p in sorted(self.path.iterdir()):
            if not is_block_dir(p):
                continue
            try:
                block = Block(p)
            except (OSError, ValueError, KeyError, TypeError) as exc:
                log.error("skipping unreadable block %s: %s; %s", p, exc, ADVICE)
                continue
            problem = block_problem(block)
            if problem is not None:
                log.error("skipping unreadable block %s: %s; %s", p, problem, ADVICE)
                continue
            # A fresh, unloaded instance: blocks load lazily, on first read.
            blocks.append(Block(p))
        return sorted(blocks, key=lambda b: (b.meta.min_time, b.meta.max_time))

    def _replay(self, progress: Progress | None) -> None:
        head = self.head
        remap: dict[int, int] = {}
        cb = (lambda f: progress("wal replay", f)) if progress else None
        if progress:
            progress("wal replay", 0.0)
        with head.lock:
            for rec in self.wal.replay(cb):
                kind = rec[0]
                if kind == REC_SERIES:
                    for ref, lbls in decode_series(rec):
                        got = head.get_or_create(lbls, ref)
                        if got != ref:
                            remap[ref] = got
                        else:
                            remap.pop(ref, None)
                elif kind == REC_SAMPLES:
                    refs, ts, vals = decode_samples(rec)
                    if remap:
                        refs = np.array([remap.get(r, r) for r in refs.tolist()], np.int64)
                    inside = (refs > 0) & (refs < len(head.alive))
                    inside[inside] = head.alive[refs[inside]]
                    if not inside.all():
                        refs, ts, vals = refs[inside], ts[inside], vals[inside]
                    batch = Batch(refs, ts, vals)
                    keep, _ = head.check(batch, replay=True)
                    head.insert(refs[keep], ts[keep], vals[keep])
                elif kind == REC_METADATA:
                    for fam, metas in decode_json(rec).items():
                        for m in metas:
                            self._set_metadata(fam, MetricMetadata(*m))
                elif kind == REC_EXEMPLARS:
                    for ref, lbls, value, ts_ in decode_json(rec):
                        ref = remap.get(ref, ref)
                        if head.valid_ref(ref):
                            ex = Exemplar(tuple(tuple(p) for p in lbls), value, ts_)
                            head.add_exemplar(ref, ex)
            # Everything replayed is already in the WAL (or its checkpoint).
            head.logged[: len(head.alive)] = head.alive
        if progress:
            progress("wal replay", 1.0)

    # -- Storage interface ---------------------------------------------------------
    def appender(self) -> TSDBAppender:
        return TSDBAppender(self)

    def querier(self) -> TSDBQuerier:
        return TSDBQuerier(lambda: self.blocks, self.head)

    def commit(
        self,
        batch: Batch,
        exemplars: Sequence[tuple[int, Labels, Exemplar]],
        metadata: Sequence[tuple[str, MetricMetadata]],
    ) -> AppendStats:
        """Apply an appender's batch (called by ``TSDBAppender.commit``)."""
        head = self.head
        payloads: list[bytes] = []
        with head.lock:
            if len(batch.refs):
                head.resolve(batch)
                keep, stats = head.check(batch)
                refs, ts, vals = batch.refs[keep], batch.ts[keep], batch.vals[keep]
            else:
                stats = AppendStats()
                refs = ts = np.empty(0, np.int64)
                vals = np.empty(0, np.float64)
            ex_rows = []
            for ref, lbls, ex in exemplars:
                if not head.valid_ref(ref):
                    ref = head.get_or_create(lbls)
                if head.add_exemplar(ref, ex):
                    ex_rows.append((ref, ex))
            new_series = head.unlogged(
                np.concatenate([refs, [r for r, _ in ex_rows]]).astype(np.int64)
            )
            stats.series_added = len(new_series)
            if new_series:
                for i in range(0, len(new_series), SERIES_PER_RECORD):
                    payloads.append(encode_series(new_series[i : i + SERIES_PER_RECORD]))
            if len(refs):
                payloads.append(encode_samples(refs, ts, vals))
            if ex_rows:
                rows = [[r, [list(p) for p in e.labels], e.value, e.ts] for r, e in ex_rows]
                payloads.append(encode_json(REC_EXEMPLARS, rows))
            changed: dict[str, list[tuple[str, str, str]]] = {}
            for fam, meta in metadata:
                if self._set_metadata(fam, meta):
                    changed.setdefault(fam, []).append((meta.type, meta.help, meta.unit))
            if changed:
                payloads.append(encode_json(REC_METADATA, changed))
            head.counters.out_of_order += stats.out_of_order
            head.counters.out_of_bounds += stats.out_of_bounds
            head.counters.duplicates += stats.duplicates
            # WAL first, then visible: what a reader sees is always in the log.
            self.wal.log(*payloads)
            head.insert(refs, ts, vals)
        if self.options.wal_sync_interval_ms == 0:
            self.wal.sync()
        return stats

    def _set_metadata(self, family: str, meta: MetricMetadata) -> bool:
        lst = self._metadata.setdefault(family, [])
        if meta in lst:
            return False
        lst.insert(0, meta)
        del lst[MAX_METADATA_PER_FAMILY:]
        return True

    def metadata(self) -> dict[str, list[MetricMetadata]]:
        with self.head.lock:
            return {k: list(v) for k, v in self._metadata.items()}

    def query_exemplars(
        self, matcher_sets: list[list[Matcher]], start_ms: int, end_ms: int
    ) -> list[tuple[Labels, list[Exemplar]]]:
        out: dict[Labels, list[Exemplar]] = {}
        with self.head.lock:
            for matchers in matcher_sets:
                for ref in self.head.select_refs(matchers).tolist():
                    exs = [
                        e for e in self.head.exemplars.get(ref, ()) if start_ms <= e.ts <= end_ms
                    ]
                    if exs:
                        out[self.head.labels_of[ref]] = exs
        return sorted(out.items())

    # -- times ---------------------------------------------------------------------
    def min_time(self) -> int:
        """Oldest sample time in ms (0 when the database is empty)."""
        with self.head.lock:
            cands = [b.meta.min_time for b in self.blocks]
            if self.head.mint != INT64_MAX:
                cands.append(self.head.mint)
        return min(cands) if cands else 0

    def max_time(self) -> int:
        """Newest sample time in ms (0 when the database is empty)."""
        with self.head.lock:
            cands = [b.meta.max_time - 1 for b in self.blocks]
            if self.head.maxt != INT64_MIN:
                cands.append(self.head.maxt)
        return max(cands) if cands else 0

    # -- maintenance ---------------------------------------------------------------
    def start_background(self) -> None:
        if self._thread is not None:
            return
        self._thread = threading.Thread(target=self._loop, name="tsdb-maintenance", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        interval = self.options.wal_sync_interval_ms / 1000 or 1.0
        next_maint = time.monotonic() + MAINTAIN_INTERVAL_S
        while not self._stop.wait(interval):
            try:
                self.wal.sync()
                self.seal_head()
                self.merge_head_runs()
                if time.monotonic() >= next_maint:
                    self.maintain()
                    next_maint = time.monotonic() + MAINTAIN_INTERVAL_S
            except Exception:
                log.exception("tsdb maintenance failed")

    def maintain(self, now_ms: int | None = None) -> None:
        """One round: cut head blocks, compact, apply retention. ``now_ms`` is unused:
        retention counts from the newest data, as Prometheus does."""
        with self._maint_lock:
            self.seal_head()
            self.merge_head_runs()
            while self._cut_once():
                pass
            while self._compact_once():
                pass
            self._apply_retention()

    def seal_head(self) -> None:
        """Compress full head buffers into runs, outside the head lock."""
        head = self.head
        while True:
            with head.lock:
                if not head.frozen:
                    return
                buf = head.frozen[0]
            runs = head.encode_buffer(buf)
            with head.lock:
                if not head.frozen or head.frozen[0] is not buf:
                    return  # a head cut sealed it meanwhile
                head.frozen.pop(0)
                head.add_sealed(runs)

    def merge_head_runs(self) -> None:
        """Merge small sealed head runs (decoding and encoding outside the head lock)."""
        head = self.head
        while True:
            with head.lock:
                group = head.runs_to_merge()
            if not group:
                return
            parts = [r.decode_all() for r in group]
            merged = build_run(
                np.concatenate([p[0] for p in parts]),
                np.concatenate([p[1] for p in parts]),
                np.concatenate([p[2] for p in parts]),
                HEAD_FRAME,
                tier=group[0].tier + 1,
            )
            with head.lock:
                if not head.replace_runs(group, merged):
                    return

    def _cut_once(self) -> bool:
        head = self.head
        with head.lock:
            rng = head.range_to_cut()
            if rng is None:
                return False
            start, end = rng
            runs = head.take_range(start, end)
            in_runs = np.unique(np.concatenate([r.ids for r in runs] or [np.empty(0, np.int64)]))
            labels_of = {r: head.labels_of[r] for r in in_runs.tolist()}
        if runs:
            parts = [r.decode_all() for r in runs]
            ids, ts, vals = sort_samples(
                np.concatenate([p[0] for p in parts]),
                np.concatenate([p[1] for p in parts]),
                np.concatenate([p[2] for p in parts]),
            )
            uniq = np.unique(ids)
            labels = sorted(labels_of[r] for r in uniq.tolist())
            pos = {lbls: i for i, lbls in enumerate(labels)}
            lut = np.array([pos[labels_of[r]] for r in uniq.tolist()], np.int64)
            local = lut[np.searchsorted(uniq, ids)]
            ids, ts, vals = sort_samples(local, ts, vals, dedup=False)
            meta = write_block(self.path, labels, ids, ts, vals, start, end)
            block: Block | None = Block(self.path / meta.ulid)
        else:
            block = None
        with head.lock:
            if block is not None:
                self.blocks = sorted([*self.blocks, block], key=lambda b: b.meta.min_time)
            head.drop_before(end)
            closed = self.wal.rotate()
            series = head.all_series()
            kept_runs = list(head.runs)
            exemplars = [(r, e) for r, lst in head.exemplars.items() for e in lst]
            metadata = {k: [(m.type, m.help, m.unit) for m in v] for k, v in self._metadata.items()}
        self.head_truncations += 1
        self.wal.write_checkpoint(closed, _checkpoint(series, kept_runs, exemplars, metadata))
        return True

    def _compact_once(self) -> bool:
        with self.head.lock:
            blocks = list(self.blocks)
        ranges = compact.compaction_ranges(
            self.options.block_duration_ms, self.options.retention_ms
        )
        group = compact.plan([b.meta for b in blocks], ranges)
        if not group:
            return False
        ulids = {m.ulid for m in group}
        members = [b for b in blocks if b.ulid in ulids]
        try:
            meta = compact.merge(members, self.path)
        except Exception as exc:
            self.compactions_failed += 1
            if not self._drop_unreadable(members):
                log.error("compaction of %s failed: %s", sorted(ulids), exc)
            return False
        merged = Block(self.path / meta.ulid)
        with self.head.lock:
            self.blocks = sorted(
                [b for b in self.blocks if b.ulid not in ulids] + [merged],
                key=lambda b: b.meta.min_time,
            )
        for b in members:
            delete_block_dir(b.path)
        self.compactions_total += 1
        return True

    def _drop_unreadable(self, blocks: Sequence[Block]) -> bool:
        """Take blocks that fail a full read out of service (their files stay on disk)."""
        bad = {}
        for b in blocks:
            problem = block_problem(b, deep=True)
            if problem is not None:
                bad[b.ulid] = problem
                log.error("dropping unreadable block %s: %s; %s", b.path, problem, ADVICE)
        if bad:
            with self.head.lock:
                self.blocks = [b for b in self.blocks if b.ulid not in bad]
        return bool(bad)

    def _apply_retention(self) -> None:
        with self.head.lock:
            blocks = sorted(self.blocks, key=lambda b: b.meta.max_time)
        doomed: set[str] = set()
        opts = self.options
        if opts.retention_ms > 0 and blocks:
            newest = blocks[-1].meta.max_time
            for b in blocks[:-1]:
                if newest - b.meta.max_time > opts.retention_ms:
                    doomed.add(b.ulid)
            if doomed:
                self.time_retentions += 1
        if opts.retention_bytes > 0:
            total = self.wal.size_bytes() + sum(
                b.size_bytes for b in blocks if b.ulid not in doomed
            )
            by_size = False
            for b in blocks:
                if total <= opts.retention_bytes:
                    break
                if b.ulid in doomed:
                    continue
                doomed.add(b.ulid)
                total -= b.size_bytes
                by_size = True
            if by_size:
                self.size_retentions += 1
        if not doomed:
            return
        with self.head.lock:
            gone = [b for b in self.blocks if b.ulid in doomed]
            self.blocks = [b for b in self.blocks if b.ulid not in doomed]
        for b in gone:
            delete_block_dir(b.path)
        self.blocks_deleted_by_retention += len(gone)

    def blocks_bytes(self) -> int:
        with self.head.lock:
            return sum(b.size_bytes for b in self.blocks)

    def sync(self) -> None:
        self.wal.sync()

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
        with self.head.lock:
            self.wal.close()
        if self._lock_file is not None:
            self._lock_file.close()
            self._lock_file = None

    def __enter__(self) -> TSDB:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- status --------------------------------------------------------------------
    def stats(self, limit: int = 10) -> dict[str, Any]:
        from tidewatch.tsdb.stats import tsdb_status

        return tsdb_status(self, limit)

    def self_metrics(self) -> Iterable[Metric]:
        from tidewatch.tsdb.stats import self_metrics

        return self_metrics(self)

    @contextlib.contextmanager
    def paused_maintenance(self) -> Iterator[None]:
        """Hold off cuts, compaction and retention (backups use this)."""
        with self._maint_lock:
            yield


def _checkpoint(
    series: list[tuple[int, Labels]],
    runs: list[Any],
    exemplars: list[tuple[int, Exemplar]],
    metadata: dict[str, list[tuple[str, str, str]]],
) -> Iterator[bytes]:
    for i in range(0, len(series), SERIES_PER_RECORD):
        yield encode_series(series[i : i + SERIES_PER_RECORD])
    if metadata:
        yield encode_json(REC_METADATA, metadata)
    for run in runs:
        ids, ts, vals = run.decode_all()
        if len(ids):
            yield encode_samples(ids, ts, vals)
    if exemplars:
        rows = [[r, [list(p) for p in e.labels], e.value, e.ts] for r, e in exemplars]
        yield encode_json(REC_EXEMPLARS, rows)


__all__ = ["TSDB", "DataDirLockedError"]
