"""The log store: streams keyed by label set, head entries in memory + WAL, compressed
chunks on disk, a label index, retention and deletes.

``push`` validates and appends under one lock, logs the accepted entries to the WAL
(fsynced before returning when ``wal_sync_interval_ms`` is 0) and cuts a stream's head
into a zstd chunk once it holds ``chunk_target_bytes``. ``maintain`` (every few seconds
from ``start_background``) cuts old or idle heads, checkpoints the WAL, applies
retention and compacts: a stream's small chunks are merged into ~1 MB ones compressed
harder (ingest stays cheap; the disk gets the better ratio later). ``select``
implements the LogQL engine's ``LogReader``.
"""

from __future__ import annotations

import dataclasses
import fcntl
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

import numpy as np

from tidewatch.labels import Labels
from tidewatch.logs.logql import ast
from tidewatch.logs.logql.store import StreamChunk
from tidewatch.logs.store.chunks import ChunkRef, ChunkSegments
from tidewatch.logs.store.columns import (
    decode_columns,
    decode_columns_containing,
    decode_columns_filtered,
)
from tidewatch.logs.store.deletes import DeleteRequests
from tidewatch.logs.store.gotime import go_string, rfc3339
from tidewatch.logs.store.index import LabelIndex
from tidewatch.logs.store.linefilter import BlobFilter, FilterMemo
from tidewatch.logs.store.linefilter import plan as plan_line_filters
from tidewatch.logs.store.options import LogStoreOptions
from tidewatch.logs.store.stream_labels import (
    ParsedStream,
    StreamLabelsError,
    labels_text,
    parse_stream_labels,
)
from tidewatch.logs.store.validate import (
    RateLimiter,
    multi_error,
    validate_entries,
    validate_labels,
)
from tidewatch.logs.store.walrec import (
    REC_ENTRIES,
    REC_SERIES,
    decode_entries,
    decode_series,
    encode_entries,
    encode_series,
)
from tidewatch.matcher import Matcher, matches_all
from tidewatch.tsdb.wal import WAL

if TYPE_CHECKING:  # push decoding imports this package's helpers
    from tidewatch.logs.push.decode import PushStream

log = logging.getLogger(__name__)

Progress = Callable[[str, float], None]
I64 = np.ndarray[Any, np.dtype[np.int64]]
Subscriber = Callable[[list[StreamChunk]], None]
_Planned = tuple[ChunkRef, BinaryIO]
INT64_MAX = (1 << 63) - 1
INT64_MIN = -(1 << 63)
MAX_COMPACTION_DEFERRALS = 6
MAINTAIN_INTERVAL_S = 5.0  # compaction keeps pace with ingest in budget-sized rounds


@dataclass
class PushResult:
    """HTTP status Loki would answer (204, 400 or 429) and its plain-text body."""

    status: int = 204
    message: str = ""
    lines: int = 0
    bytes: int = 0


@dataclass
class _Stream:
    sid: int
    labels: Labels
    text: str
    chunks: list[ChunkRef] = field(default_factory=list)
    head_ts: list[I64] = field(default_factory=list)
    head_lines: list[str] = field(default_factory=list)
    head_md: list[Labels] | None = None
    head_bytes: int = 0
    head_seq0: int = 0
    next_seq: int = 0
    head_since: float = 0.0  # wall time the head got its first entry
    last_append: float = 0.0
    max_ts: int = INT64_MIN  # newest accepted entry: the out-of-order window hangs off it
    last_ts: int = INT64_MIN
    last_line: str | None = None
    mint: int = INT64_MAX
    maxt: int = INT64_MIN

    def head_len(self) -> int:
        return len(self.head_lines)

    def head_columns(self) -> tuple[I64, list[str], list[Labels] | None]:
        ts = np.concatenate(self.head_ts) if self.head_ts else np.zeros(0, np.int64)
        if len(self.head_ts) > 1:
            self.head_ts = [ts]
        return ts, self.head_lines, self.head_md


class LogStore:
    accepts_line_filters = True  # select() applies leading line filters (LogReader)

    def __init__(self, path: str | Path, options: LogStoreOptions | None = None) -> None:
        self.path = Path(path)
        self.options = options or LogStoreOptions()
        self._lock = threading.RLock()
        self._maint_lock = threading.Lock()
        self._streams: dict[int, _Stream] = {}
        self._by_labels: dict[Labels, _Stream] = {}
        self._index = LabelIndex()
        self._next_id = 1
        self._subscribers: list[Subscriber] = []
        # Decompressed chunk bytes (not Python objects: cheap to hold, quick to decode).
        self._cache: OrderedDict[tuple[int, int], bytes] = OrderedDict()
        self._cache_bytes = 0
        self._cache_lock = threading.Lock()
        self._active_reads = 0  # select() generators in progress
        self._compaction_deferred = 0
        o = self.options
        self._limiter = RateLimiter(o.ingestion_rate_mb * 1e6, o.ingestion_burst_size_mb * 1e6)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._closed = False
        self._lock_file: Any = None
        self.wal = WAL(self.path / "wal")
        self.chunks = ChunkSegments(
            self.path / "chunks", o.chunk_segment_bytes, o.compression_level, o.compact_level
        )
        self.deletes = DeleteRequests(self.path / "deletes.json")
        # Counters for self metrics.
        self.lines_received = 0
        self.bytes_received = 0
        self.lines_discarded = 0

    # ------------------------------------------------------------------ opening

    @classmethod
    def open(
        cls,
        path: str | Path,
        options: LogStoreOptions | None = None,
        progress: Progress | None = None,
    ) -> LogStore:
        Path(path).mkdir(parents=True, exist_ok=True)
        store = cls(path, options)
        store._open(progress)
        return store

    def _open(self, progress: Progress | None) -> None:
        f = open(self.path / "lock", "a+b")  # noqa: SIM115 - held until close()
        try:
            fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            f.close()
            raise RuntimeError(f"log store {self.path} is in use by another process") from None
        self._lock_file = f
        if progress:
            progress("load log chunks", 0.0)
        refs = self.chunks.scan()
        flushed: dict[Labels, int] = {}
        for r in refs:
            flushed[r.labels] = max(flushed.get(r.labels, 0), r.seq1)
        if progress:
            progress("load log chunks", 1.0)
        self._replay_wal(flushed, progress)
        for r in refs:
            st = self._by_labels.get(r.labels)
            if st is None:
                st = self._new_stream(r.labels, self._next_id)
            st.chunks.append(r)
            st.mint, st.maxt = min(st.mint, r.mint), max(st.maxt, r.maxt)
            st.max_ts = max(st.max_ts, r.maxt)
            st.next_seq = max(st.next_seq, r.seq1)
            if not st.head_lines:
                st.head_seq0 = st.next_seq
        for st in self._streams.values():
            st.chunks.sort(key=lambda c: (c.mint, c.seq0))
        self.wal.open_for_append()

    def _new_stream(self, labels: Labels, sid: int) -> _Stream:
        st = _Stream(sid, labels, labels_text(labels))
        self._streams[sid] = st
        self._by_labels[labels] = st
        self._index.add(sid, labels)
        self._next_id = max(self._next_id, sid + 1)
        return st

    def _replay_wal(self, flushed: dict[Labels, int], progress: Progress | None) -> None:
        by_wal_id: dict[int, _Stream] = {}
        cb = (lambda f: progress("replay log WAL", f)) if progress else None
        for rec in self.wal.replay(cb):
            kind = rec[0]
            if kind == REC_SERIES:
                for sid, labels in decode_series(rec):
                    st = self._by_labels.get(labels)
                    if st is None:
                        st = self._new_stream(
                            labels, sid if sid not in self._streams else self._next_id
                        )
                    by_wal_id[sid] = st
            elif kind == REC_ENTRIES:
                sid, seq0, ts, lines, md = decode_entries(rec)
                st = by_wal_id.get(sid)
                if st is None:
                    continue
                skip = max(flushed.get(st.labels, 0), st.next_seq) - seq0
                if skip >= len(lines):
                    continue
                if skip > 0:
                    ts, lines = ts[skip:], lines[skip:]
                    md = md[skip:] if md is not None else None
                    seq0 += skip
                if not st.head_lines:
                    st.head_seq0 = seq0
                self._append_head(st, ts, lines, md, time.time())
                st.next_seq = seq0 + len(lines)

    # ------------------------------------------------------------------ ingest

    def push(self, streams: Sequence[PushStream], now_ns: int | None = None) -> PushResult:
        """Validate and store a push request; the result says what Loki would answer."""
        o = self.options
        now = time.time_ns() if now_ns is None else now_ns
        errors: list[str] = []
        accepted: list[tuple[ParsedStream, I64, list[str], list[Labels] | None]] = []
        total_bytes = total_lines = 0
        for ps in streams:
            self.lines_received += len(ps.lines)
            try:
                parsed = parse_stream_labels(ps.labels_text)
            except StreamLabelsError as exc:
                errors.append(str(exc))
                self.lines_discarded += len(ps.lines)
                continue
            err = validate_labels(parsed, o)
            if err is not None:
                errors.append(err)
                self.lines_discarded += len(ps.lines)
                continue
            ts, lines, md = ps.ts, ps.lines, ps.metadata
            check = validate_entries(parsed, ts, lines, md, now, o)
            lines = check.lines
            if check.keep is not None:
                errors.extend(check.errors)
                self.lines_discarded += int((~check.keep).sum())
                idx = np.flatnonzero(check.keep)
                ts = ts[idx]
                lines = [lines[i] for i in idx.tolist()]
                md = [md[i] for i in idx.tolist()] if md is not None else None
            if not lines:
                continue
            total_lines += len(lines)
            total_bytes += sum(map(len, lines))
            accepted.append((parsed, ts, lines, md))
        if accepted and not self._limiter.allow(total_bytes, now / 1e9):
            self.lines_discarded += total_lines
            return PushResult(
                429,
                f"Ingestion rate limit exceeded for user {o.tenant} "
                f"(limit: {int(o.ingestion_rate_mb * 1e6)} bytes/sec) while attempting to "
                f"ingest '{total_lines}' lines totaling '{total_bytes}' bytes, reduce log volume "
                "or contact your Loki administrator to see if the limit can be increased",
            )
        ingest_error = self._append(accepted) if accepted else None
        self.bytes_received += total_bytes
        if ingest_error is not None:
            return PushResult(ingest_error[0], ingest_error[1], total_lines, total_bytes)
        if errors:
            return PushResult(400, multi_error(errors), total_lines, total_bytes)
        return PushResult(204, "", total_lines, total_bytes)

    def _append(
        self, accepted: list[tuple[ParsedStream, I64, list[str], list[Labels] | None]]
    ) -> tuple[int, str] | None:
        """Append under the lock; the last stream's error (status, text), as Loki's
        ingester reports it."""
        o = self.options
        window = o.max_chunk_age_ns // 2
        payloads: list[bytes] = []
        notify: list[StreamChunk] = []
        last_error: tuple[int, str] | None = None
        wall = time.time()
        with self._lock:
            for parsed, ts, lines, md in accepted:
                st = self._by_labels.get(parsed.labels)
                if st is None:
                    if 0 < o.max_streams <= len(self._streams):
                        self.lines_discarded += len(lines)
                        last_error = (429, _stream_limit_message(parsed.text, o.tenant))
                        continue
                    st = self._new_stream(parsed.labels, self._next_id)
                    payloads.append(encode_series([(st.sid, st.labels)]))
                keep, err = self._order_check(st, ts, lines, window)
                if err is not None:
                    last_error = (400, err)
                if keep is not None:
                    idx = np.flatnonzero(keep)
                    self.lines_discarded += len(lines) - len(idx)
                    ts = ts[idx]
                    lines = [lines[i] for i in idx.tolist()]
                    md = [md[i] for i in idx.tolist()] if md is not None else None
                if not lines:
                    continue
                if not st.head_lines:
                    st.head_seq0 = st.next_seq
                payloads.append(encode_entries(st.sid, st.next_seq, ts, lines, md))
                st.next_seq += len(lines)
                self._append_head(st, ts, lines, md, wall)
                if self._subscribers:
                    notify.append(StreamChunk(st.labels, ts, lines, md))
                if st.head_bytes >= o.chunk_target_bytes:
                    self._cut(st)
            self.wal.log(*payloads)
        if o.wal_sync_interval_ms == 0:
            self.wal.sync()
        if notify:
            for sub in list(self._subscribers):
                try:
                    sub(notify)
                except Exception:
                    log.exception("log tail subscriber failed")
        return last_error

    def _order_check(
        self, st: _Stream, ts: I64, lines: list[str], window: int
    ) -> tuple[Any, str | None]:
        """Entries older than the stream's newest minus the window are refused (Loki's
        unordered writes); exact duplicates of the previous entry are dropped silently."""
        n = len(ts)
        if n and int(ts[0]) > st.max_ts and bool((ts[1:] > ts[:-1]).all()):
            return None, None  # the usual push: strictly newer, in order, so no duplicates
        floor = max(st.max_ts, INT64_MIN + window)  # no wrap-around below int64's minimum
        prior = np.maximum.accumulate(np.concatenate(([floor], ts)))[:-1]
        too_old = ts < prior - window
        dup = np.zeros(n, dtype=bool)
        same = np.flatnonzero(ts[1:] == ts[:-1]) + 1
        for i in same.tolist():
            dup[i] = lines[i] == lines[i - 1]
        if n and int(ts[0]) == st.last_ts and lines[0] == st.last_line:
            dup[0] = True
        err = None
        if too_old.any():
            bad = np.flatnonzero(too_old).tolist()
            limit = self.options.max_returned_stream_errors
            shown = bad[:limit] if limit > 0 else bad
            parts = []
            for i in shown:
                oldest = int(prior[i]) - window
                parts.append(
                    f"entry with timestamp {go_string(int(ts[i]))} ignored, reason: 'entry too far "
                    f"behind, entry timestamp is: {rfc3339(int(ts[i]))}, oldest acceptable "
                    f"timestamp is: {rfc3339(oldest)}',\n"
                )
            parts.append(
                f"user '{self.options.tenant}', total ignored: {len(bad)} out of {n} "
                f"for stream: {st.text}"
            )
            err = "".join(parts)
        if not too_old.any() and not dup.any():
            return None, None
        return ~(too_old | dup), err

    def _append_head(
        self, st: _Stream, ts: I64, lines: list[str], md: list[Labels] | None, wall: float
    ) -> None:
        if not st.head_lines:
            st.head_since = wall
        if md is not None and st.head_md is None:
            st.head_md = [()] * len(st.head_lines)
        st.head_ts.append(ts)
        st.head_lines.extend(lines)
        if st.head_md is not None:
            st.head_md.extend(md if md is not None else [()] * len(lines))
        st.head_bytes += sum(map(len, lines))
        st.last_append = wall
        lo, hi = int(ts.min()), int(ts.max())
        st.mint, st.maxt = min(st.mint, lo), max(st.maxt, hi)
        st.max_ts = max(st.max_ts, hi)
        st.last_ts, st.last_line = int(ts[-1]), lines[-1]

    def _cut(self, st: _Stream) -> None:
        """Sort the head by time and write it as one compressed chunk (lock held)."""
        ts, lines, md = st.head_columns()
        if not lines:
            return
        if len(ts) > 1 and bool(np.any(ts[1:] < ts[:-1])):
            order = np.argsort(ts, kind="stable")
            ts = ts[order]
            lines = [lines[i] for i in order.tolist()]
            md = [md[i] for i in order.tolist()] if md is not None else None
        # seq1 = next_seq: entries removed from the head (deletes) leave no gap for replay.
        ref = self.chunks.write(st.labels, ts, lines, md, st.head_seq0, st.next_seq)
        st.chunks.append(ref)
        st.head_ts, st.head_lines, st.head_md, st.head_bytes = [], [], None, 0
        st.head_seq0 = st.next_seq

    # ------------------------------------------------------------------ tail

    def subscribe(self, fn: Subscriber) -> Callable[[], None]:
        """Call ``fn`` (in the pushing thread) with every push's accepted entries."""
        with self._lock:
            self._subscribers.append(fn)

        def unsubscribe() -> None:
            with self._lock:
                if fn in self._subscribers:
                    self._subscribers.remove(fn)

        return unsubscribe

    # ------------------------------------------------------------------ reading

    def _matching(self, matchers: Sequence[Matcher], start_ns: int, end_ns: int) -> list[_Stream]:
        out = []
        for sid in self._index.match(matchers):
            st = self._streams[sid]
            if st.maxt >= start_ns and st.mint < end_ns:
                out.append(st)
        out.sort(key=lambda s: s.labels)
        return out

    def select(
        self,
        matchers: Sequence[Matcher],
        start_ns: int,
        end_ns: int,
        contains: Sequence[str] = (),
        line_filters: Sequence[ast.LineFilter] = (),
        filter_memo: FilterMemo | None = None,
    ) -> Iterator[StreamChunk]:
        with self._cache_lock:
            self._active_reads += 1
        try:
            yield from self._select(matchers, start_ns, end_ns, contains, line_filters, filter_memo)
        finally:
            with self._cache_lock:
                self._active_reads -= 1

    def _select(
        self,
        matchers: Sequence[Matcher],
        start_ns: int,
        end_ns: int,
        contains: Sequence[str],
        line_filters: Sequence[ast.LineFilter],
        filter_memo: FilterMemo | None,
    ) -> Iterator[StreamChunk]:
        """Entries with ``start_ns <= ts < end_ns`` of every stream matching ``matchers``;
        each stream's pieces come in time order (LogQL's ``LogReader``). With
        ``contains``, only entries whose line holds every one of those strings (a
        pre-filter for leading ``|=`` line filters: the pipeline still applies them).
        With ``line_filters`` (a query's leading filters), chunks on disk apply the
        prefix that runs over their joined text (:mod:`.linefilter`) and say so in
        ``filtered``; ``filter_memo`` lets one query's repeated reads share results."""
        blob_filter = plan_line_filters(line_filters) if line_filters else None
        needles = [x for x in contains if x] if blob_filter is None else []
        plan: list[tuple[Labels, list[_Planned], tuple[I64, list[str], list[Labels] | None] | None]]
        plan = []
        with self._lock:
            for st in self._matching(matchers, start_ns, end_ns):
                # Copies plus open handles: retention may rewrite segments meanwhile.
                refs = [
                    (dataclasses.replace(r), self.chunks.reader(r.segment))
                    for r in st.chunks
                    if r.maxt >= start_ns and r.mint < end_ns
                ]
                head = None
                if st.head_lines:
                    ts, lines, md = st.head_columns()
                    head = (ts, list(lines), list(md) if md is not None else None)
                plan.append((st.labels, refs, head))
            deletes = self.deletes.active()
        for labels, refs, head in plan:
            pieces: list[StreamChunk] = []
            for r, fh in refs:
                if blob_filter is not None:
                    piece = self._filtered_piece(
                        labels, r, fh, blob_filter, (start_ns, end_ns), filter_memo
                    )
                    if piece is not None:
                        pieces.append(piece)
                    continue
                raw = self._read_chunk(r, fh, keep=not needles)
                if needles:
                    ts, lines, md = decode_columns_containing(raw, needles)
                else:
                    ts, lines, md = decode_columns(raw)
                piece = _slice(labels, ts, lines, md, start_ns, end_ns)
                if piece is not None:
                    pieces.append(piece)
            if head is not None:
                ts, lines, md = head
                if needles:
                    idx = [i for i, x in enumerate(lines) if all(n in x for n in needles)]
                    ts, lines = ts[idx], [lines[i] for i in idx]
                    md = [md[i] for i in idx] if md is not None else None
                if len(ts) > 1 and bool(np.any(ts[1:] < ts[:-1])):
                    order = np.argsort(ts, kind="stable")
                    ts = ts[order]
                    lines = [lines[i] for i in order.tolist()]
                    md = [md[i] for i in order.tolist()] if md is not None else None
                piece = _slice(labels, ts, lines, md, start_ns, end_ns)
                if piece is not None:
                    pieces.append(piece)
            for piece in _in_time_order(labels, pieces):
                if deletes:
                    keep = DeleteRequests.keep_mask(deletes, piece)
                    if keep is not None:
                        piece = _take(piece, np.flatnonzero(keep))
                        if not piece.lines:
                            continue
                yield piece

    def _filtered_piece(
        self,
        labels: Labels,
        ref: ChunkRef,
        fh: BinaryIO,
        f: BlobFilter,
        span: tuple[int, int],
        memo: FilterMemo | None,
    ) -> StreamChunk | None:
        """A chunk's entries in ``span`` that pass ``f``; ``memo`` (one query's) keeps
        results that kept few lines, as a log query reads a chunk once per window."""
        key = (ref.segment, ref.offset, f.key)
        hit = memo.get(key) if memo is not None else None
        if hit is None:
            raw = self._read_chunk(ref, fh, keep=False)
            found = decode_columns_filtered(raw, f)
            if found is None:  # not stored joined: the pipeline filters line by line
                ts, lines, md = decode_columns(raw)
                return _slice(labels, ts, lines, md, *span)
            ts, lines, md = found
            if memo is not None:
                memo.put(key, found, ref.raw_bytes)
        else:
            ts, lines, md = hit
        piece = _slice(labels, ts, lines, md, *span)
        if piece is not None:
            piece.filtered = len(f)
        return piece

    def _read_chunk(self, ref: ChunkRef, fh: BinaryIO, keep: bool = True) -> bytes:
        """Decompressed chunk bytes, from the cache when there. Filtered reads do not fill
        the cache: a fresh allocation per chunk costs page faults that cost more than
        decompressing again into memory malloc reuses."""
        key = (ref.segment, ref.offset)
        with self._cache_lock:
            hit = self._cache.get(key)
            if hit is not None:
                self._cache.move_to_end(key)
                return hit
        value = self.chunks.read_raw(ref, fh)
        if not keep:
            return value
        with self._cache_lock:
            self._cache[key] = value
            self._cache_bytes += len(value)
            while self._cache_bytes > self.options.query_cache_bytes and len(self._cache) > 1:
                _, old = self._cache.popitem(last=False)
                self._cache_bytes -= len(old)
        return value

    def label_names(
        self, matchers: Sequence[Matcher] = (), start_ns: int = INT64_MIN, end_ns: int = INT64_MAX
    ) -> list[str]:
        with self._lock:
            names: set[str] = set()
            for st in self._matching(matchers, start_ns, end_ns):
                names.update(k for k, _ in st.labels)
        return sorted(names)

    def label_values(
        self,
        name: str,
        matchers: Sequence[Matcher] = (),
        start_ns: int = INT64_MIN,
        end_ns: int = INT64_MAX,
    ) -> list[str]:
        with self._lock:
            values: set[str] = set()
            for st in self._matching(matchers, start_ns, end_ns):
                v = dict(st.labels).get(name)
                if v is not None:
                    values.add(v)
        return sorted(values)

    def series(
        self, matchers: Sequence[Matcher], start_ns: int = INT64_MIN, end_ns: int = INT64_MAX
    ) -> list[Labels]:
        with self._lock:
            return [st.labels for st in self._matching(matchers, start_ns, end_ns)]

    def stats(self, matchers: Sequence[Matcher], start_ns: int, end_ns: int) -> dict[str, int]:
        """``index/stats``: streams, chunks, bytes and entries overlapping the range."""
        streams = chunks = nbytes = entries = 0
        with self._lock:
            for st in self._matching(matchers, start_ns, end_ns):
                streams += 1
                for r in st.chunks:
                    if r.maxt >= start_ns and r.mint < end_ns:
                        chunks += 1
                        nbytes += r.raw_bytes
                        entries += r.entries
                if st.head_lines:
                    chunks += 1
                    nbytes += st.head_bytes
                    entries += len(st.head_lines)
        return {"streams": streams, "chunks": chunks, "bytes": nbytes, "entries": entries}

    def volume(
        self, matchers: Sequence[Matcher], start_ns: int, end_ns: int
    ) -> list[tuple[Labels, int]]:
        """Bytes per stream in the range (chunks counted whole, as Loki's index does)."""
        out: list[tuple[Labels, int]] = []
        with self._lock:
            for st in self._matching(matchers, start_ns, end_ns):
                total = sum(
                    r.raw_bytes for r in st.chunks if r.maxt >= start_ns and r.mint < end_ns
                )
                total += st.head_bytes
                if total:
                    out.append((st.labels, total))
        return out

    def disk_bytes(self) -> int:
        return sum(self.chunks.segment_size(s) for s in self.chunks.segments())

    def stream_count(self) -> int:
        return len(self._streams)

    # ------------------------------------------------------------------ maintenance

    def start_background(self) -> None:
        if self._thread is not None:
            return
        self._thread = threading.Thread(target=self._loop, name="logstore-maintenance", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        interval = self.options.wal_sync_interval_ms / 1000 or 1.0
        next_maint = time.monotonic() + MAINTAIN_INTERVAL_S
        while not self._stop.wait(interval):
            try:
                self.wal.sync()
                if self._wal_needs_checkpoint() or time.monotonic() >= next_maint:
                    self.maintain()
                    next_maint = time.monotonic() + MAINTAIN_INTERVAL_S
            except Exception:
                log.exception("log store maintenance failed")

    def _wal_needs_checkpoint(self) -> bool:
        """A checkpoint rewrites every head, so it pays only once the WAL has grown well
        past what the heads hold (most of it is then in chunks already)."""
        with self._lock:
            heads = sum(st.head_bytes for st in self._streams.values())
        return self.wal.size_bytes() > max(self.options.wal_checkpoint_bytes, 2 * heads)

    def maintain(self, now_ns: int | None = None, checkpoint: bool | None = None) -> None:
        """Cut old and idle heads, checkpoint the WAL when it has grown, apply retention,
        compact one budget's worth of chunks."""
        now = time.time_ns() if now_ns is None else now_ns
        with self._maint_lock:
            self._cut_aged(now / 1e9)
            self.chunks.sync()
            if checkpoint or (checkpoint is None and self._wal_needs_checkpoint()):
                self._checkpoint()
            self._apply_retention(now)
            self._process_deletes(now)
            # Compaction is the one heavy background job: it waits while queries read
            # (both want the CPU), but never more than a few rounds in a row.
            if self._active_reads == 0 or self._compaction_deferred >= MAX_COMPACTION_DEFERRALS:
                self._compaction_deferred = 0
                self._compact(force=False)
            else:
                self._compaction_deferred += 1

    def compact(self) -> None:
        """Cut every head, then merge and recompress every stream's chunks now (before
        measuring disk use, or a backup)."""
        self.flush()
        with self._maint_lock:
            while self._compact(force=True):
                pass

    def flush(self) -> None:
        """Cut every head into a chunk and checkpoint (shutdown, tests, benchmarks)."""
        with self._maint_lock:
            with self._lock:
                for st in self._streams.values():
                    self._cut(st)
            self.chunks.sync()
            self._checkpoint()

    # ------------------------------------------------------------------ deletes

    def _process_deletes(self, now: int) -> None:
        """Remove what due delete requests select from chunks (rewritten without those
        entries) and heads, checkpoint so the WAL cannot bring them back, then mark the
        requests processed (reads stop filtering for them)."""
        due = self.deletes.due(now // 1_000_000, self.options.delete_cancel_period_ns // 1_000_000)
        if not due:
            return
        touched: set[int] = set()
        with self._lock:
            for st in list(self._streams.values()):
                if not any(matches_all(c.matchers, st.labels) for c in due):
                    continue
                for r in list(st.chunks):
                    ts, lines, md = self.chunks.read(r)
                    piece = StreamChunk(st.labels, ts, lines, md)
                    keep = DeleteRequests.keep_mask(due, piece)
                    if keep is None or bool(keep.all()):
                        continue
                    idx = np.flatnonzero(keep)
                    r.dropped = True
                    touched.add(r.segment)
                    if len(idx):
                        kept = _take(piece, idx)
                        new = self.chunks.write(
                            st.labels, kept.ts, kept.lines, kept.metadata, r.seq0, r.seq1, [r]
                        )
                        st.chunks.append(new)
                st.chunks = sorted(
                    (r for r in st.chunks if not r.dropped), key=lambda c: (c.mint, c.seq0)
                )
                if st.head_lines:
                    ts, lines, md = st.head_columns()
                    keep = DeleteRequests.keep_mask(due, StreamChunk(st.labels, ts, lines, md))
                    if keep is not None and not bool(keep.all()):
                        il = np.flatnonzero(keep).tolist()
                        st.head_ts = [ts[il]]
                        st.head_lines = [lines[i] for i in il]
                        st.head_md = [md[i] for i in il] if md is not None else None
                        st.head_bytes = sum(map(len, st.head_lines))
                self._recompute_bounds(st)
        self.chunks.sync()
        self._checkpoint()
        self._collect_segments(touched, min_live=1.0)
        self.deletes.mark_processed({c.req.request_id for c in due})

    # ------------------------------------------------------------------ compaction

    def _compaction_groups(self, force: bool) -> list[tuple[_Stream, list[ChunkRef]]]:
        """Per stream, runs of not-yet-compacted chunks (in time order) holding about
        ``compact_target_bytes``; a shorter last run only when ``force``."""
        o = self.options
        groups: list[tuple[_Stream, list[ChunkRef]]] = []
        budget = o.compact_budget_bytes
        with self._lock:
            for st in self._streams.values():
                run: list[ChunkRef] = []
                size = 0
                for r in sorted(st.chunks, key=lambda c: c.mint):
                    if r.compacted:
                        continue
                    run.append(r)
                    size += r.raw_bytes
                    if size >= o.compact_target_bytes:
                        groups.append((st, run))
                        budget -= size
                        run, size = [], 0
                        if budget <= 0:
                            return groups
                if run and force:
                    groups.append((st, run))
                    budget -= size
                    if budget <= 0:
                        return groups
        return groups

    def _compact(self, force: bool) -> bool:
        """One round of compaction; True when it did any work."""
        groups = self._compaction_groups(force)
        if not groups:
            return False
        done: list[ChunkRef] = []
        for st, run in groups:
            parts = [self.chunks.read(r) for r in run]
            ts = np.concatenate([p[0] for p in parts])
            lines = [x for p in parts for x in p[1]]
            md: list[Labels] | None = None
            if any(p[2] is not None for p in parts):
                md = [m for p in parts for m in (p[2] or [()] * len(p[1]))]
            if len(parts) > 1:
                order = np.argsort(ts, kind="stable")
                ol = order.tolist()
                ts, lines = ts[order], [lines[i] for i in ol]
                md = [md[i] for i in ol] if md is not None else None
            seq0, seq1 = min(r.seq0 for r in run), max(r.seq1 for r in run)
            new = self.chunks.write(st.labels, ts, lines, md, seq0, seq1, replaces=run)
            with self._lock:
                live = {id(r) for r in st.chunks}
                if self._streams.get(st.sid) is not st or not all(id(r) in live for r in run):
                    new.dropped = True  # retention got there first; the copy is garbage
                    done.append(new)
                    continue
                for r in run:
                    r.dropped = True
                st.chunks = sorted(
                    [r for r in st.chunks if not r.dropped] + [new], key=lambda c: (c.mint, c.seq0)
                )
                done += run
        self.chunks.sync()
        self._collect_segments({r.segment for r in done}, min_live=0.5)
        return True

    def _collect_segments(self, touched: set[int], min_live: float) -> None:
        """Delete segments without live chunks; rewrite those below ``min_live`` of their
        size live (1.0: any garbage). Copies run outside the store lock."""
        deletes: list[int] = []
        rewrites: list[tuple[int, list[ChunkRef]]] = []
        with self._lock:
            live: dict[int, list[ChunkRef]] = {}
            for st in self._streams.values():
                for r in st.chunks:
                    live.setdefault(r.segment, []).append(r)
            for seg in sorted(touched):
                keep = sorted(live.get(seg, []), key=lambda r: r.offset)
                if not keep:
                    deletes.append(seg)
                elif sum(r.length for r in keep) < min_live * self.chunks.segment_size(seg):
                    rewrites.append((seg, keep))
                else:
                    continue
                self.chunks.seal(seg)
        for seg in deletes:
            self.chunks.delete(seg)
        for seg, keep in rewrites:
            new, offsets = self.chunks.copy_live(seg, keep)
            with self._lock:
                for r, off in zip(keep, offsets, strict=True):
                    r.segment, r.offset = new, off
            self.chunks.delete(seg)

    def _cut_aged(self, wall: float) -> None:
        o = self.options
        max_age = o.max_chunk_age_ns / 1e9
        idle = o.chunk_idle_ns / 1e9
        with self._lock:
            for st in self._streams.values():
                if not st.head_lines:
                    continue
                ts, _, _ = st.head_columns()
                span = (int(ts.max()) - int(ts.min())) / 1e9
                if (
                    span >= max_age
                    or wall - st.head_since >= max_age
                    or wall - st.last_append >= idle
                ):
                    self._cut(st)

    def _checkpoint(self) -> None:
        with self._lock:
            upto = self.wal.rotate()
            payloads = [encode_series([(st.sid, st.labels) for st in self._streams.values()])]
            for st in self._streams.values():
                if st.head_lines:
                    ts, lines, md = st.head_columns()
                    payloads.append(encode_entries(st.sid, st.head_seq0, ts, list(lines), md))
        self.wal.write_checkpoint(upto, payloads)

    def _cutoff(self, st: _Stream, now: int) -> int | None:
        o = self.options
        period = o.retention_ns
        best = None
        # As Loki: the highest priority wins; among equals, the shortest period.
        for rule in o.retention_stream:
            if not matches_all(rule.matchers, st.labels):
                continue
            if best is None or (rule.priority, -rule.period_ns) > (best.priority, -best.period_ns):
                best = rule
        if best is not None:
            period = best.period_ns
        return now - period if period > 0 else None

    def _apply_retention(self, now: int) -> None:
        dropped: list[ChunkRef] = []
        with self._lock:
            for st in list(self._streams.values()):
                cutoff = self._cutoff(st, now)
                if cutoff is not None:
                    for r in st.chunks:
                        if r.maxt < cutoff:
                            r.dropped = True
                            dropped.append(r)
            if self.options.max_bytes > 0:
                dropped += self._drop_for_size()
            if not dropped:
                return
            for st in list(self._streams.values()):
                st.chunks = [r for r in st.chunks if not r.dropped]
                self._recompute_bounds(st)
        # Dropped chunks no longer tell replay which WAL entries are flushed: checkpoint
        # before they leave the disk, so the WAL cannot bring them back.
        self._checkpoint()
        self._collect_segments({r.segment for r in dropped}, min_live=1.0)

    def _drop_for_size(self) -> list[ChunkRef]:
        total = self.disk_bytes()
        limit = self.options.max_bytes
        if total <= limit:
            return []
        refs = sorted(
            (r for st in self._streams.values() for r in st.chunks if not r.dropped),
            key=lambda r: r.maxt,
        )
        out = []
        for r in refs:
            if total <= limit:
                break
            r.dropped = True
            total -= r.length
            out.append(r)
        return out

    def _recompute_bounds(self, st: _Stream) -> None:
        st.mint, st.maxt = INT64_MAX, INT64_MIN
        for r in st.chunks:
            st.mint, st.maxt = min(st.mint, r.mint), max(st.maxt, r.maxt)
        if st.head_lines:
            ts, _, _ = st.head_columns()
            st.mint, st.maxt = min(st.mint, int(ts.min())), max(st.maxt, int(ts.max()))
        if not st.chunks and not st.head_lines:
            del self._streams[st.sid]
            del self._by_labels[st.labels]
            self._index.remove(st.sid, st.labels)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        try:
            # As Loki's ingesters on shutdown: heads become chunks, so the WAL is left
            # (nearly) empty instead of holding a copy of them.
            self.flush()
        except Exception:
            log.exception("flushing the log store on close failed; the WAL still has it")
        self.chunks.sync()
        self.wal.close()
        self.chunks.close()
        if self._lock_file is not None:
            self._lock_file.close()


def _stream_limit_message(stream: str, tenant: str) -> str:
    return (
        f"Maximum active stream limit exceeded when trying to create stream {stream}, reduce "
        "the number of active streams (reduce labels or reduce label values), or contact your "
        f"Loki administrator to see if the limit can be increased, user: '{tenant}'"
    )


def _slice(
    labels: Labels,
    ts: I64,
    lines: list[str],
    md: list[Labels] | None,
    start_ns: int,
    end_ns: int,
) -> StreamChunk | None:
    lo = int(np.searchsorted(ts, start_ns, side="left"))
    hi = int(np.searchsorted(ts, end_ns, side="left"))
    if lo >= hi:
        return None
    if lo == 0 and hi == len(ts):
        return StreamChunk(labels, ts, lines, md)
    return StreamChunk(labels, ts[lo:hi], lines[lo:hi], md[lo:hi] if md is not None else None)


def _take(c: StreamChunk, idx: Any) -> StreamChunk:
    il = idx.tolist()
    md = [c.metadata[i] for i in il] if c.metadata is not None else None
    return StreamChunk(c.labels, c.ts[idx], [c.lines[i] for i in il], md, filtered=c.filtered)


def _in_time_order(labels: Labels, pieces: list[StreamChunk]) -> list[StreamChunk]:
    """Pieces as they are when they do not overlap in time, else merged into one."""
    if len(pieces) <= 1:
        return pieces
    pieces.sort(key=lambda p: int(p.ts[0]))
    if all(int(pieces[i].ts[0]) >= int(pieces[i - 1].ts[-1]) for i in range(1, len(pieces))):
        return pieces
    ts = np.concatenate([p.ts for p in pieces])
    lines = [x for p in pieces for x in p.lines]
    md: list[Labels] | None = None
    if any(p.metadata is not None for p in pieces):
        md = [m for p in pieces for m in (p.metadata or [()] * len(p.lines))]
    order = np.argsort(ts, kind="stable")
    ol = order.tolist()
    return [
        StreamChunk(
            labels,
            ts[order],
            [lines[i] for i in ol],
            [md[i] for i in ol] if md is not None else None,
            filtered=min(p.filtered for p in pieces),
        )
    ]
