"""The on-disk queue of one remote: numbered segment files of framed records
(the framing and record codecs of ``tidewatch.tsdb.wal``), a writer fed by commits
and a reader that tails it, with a checkpointed read position.

Every segment starts with the series records of all series known when it was opened,
so a reader can resume from any segment: it replays that segment's series records up
to the saved offset and sends the samples after it. Segments wholly sent are deleted.
"""

from __future__ import annotations

import contextlib
import math
import os
import struct
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from tidewatch.labels import Labels
from tidewatch.tsdb import wal
from tidewatch.tsdb.encoding import F64, I64

SEGMENT_BYTES = 32 << 20
READ_CHUNK = 4 << 20  # bytes read per step, bounding memory while draining a backlog
_POSITION = "position"
POSITION_SAVE_INTERVAL_S = 1.0
_U32 = struct.Struct("<I")


def _segments(directory: Path) -> list[int]:
    return sorted(int(p.name) for p in directory.iterdir() if p.name.isdigit())


def _seg_path(directory: Path, n: int) -> Path:
    return directory / f"{n:08d}"


@dataclass
class Position:
    segment: int
    offset: int

    def as_tuple(self) -> tuple[int, int]:
        return self.segment, self.offset


def load_position(directory: Path) -> Position | None:
    try:
        obj = orjson.loads((directory / _POSITION).read_bytes())
        return Position(int(obj["segment"]), int(obj["offset"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def save_position(directory: Path, pos: Position) -> None:
    tmp = directory / (_POSITION + ".tmp")
    tmp.write_bytes(orjson.dumps({"segment": pos.segment, "offset": pos.offset}))
    os.replace(tmp, directory / _POSITION)


def sample_count(record: bytes) -> int:
    """Samples in a samples record, read from its header (no decompression)."""
    return int(_U32.unpack_from(record, 1)[0])


class QueueWriter:
    """Appends series and sample records; interns label sets into queue-local refs."""

    def __init__(self, directory: Path, segment_bytes: int = SEGMENT_BYTES) -> None:
        self.dir = directory
        self.dir.mkdir(parents=True, exist_ok=True)
        self.segment_bytes = segment_bytes
        self.refs: dict[Labels, int] = {}
        self.next_ref = 1
        # Per queue ref: the last segment holding one of its samples.
        self._last_segment = np.zeros(1024, np.int64)
        self._recover_series()
        segs = _segments(self.dir)
        self.segment = (segs[-1] + 1) if segs else 1
        self._file = open(_seg_path(self.dir, self.segment), "ab", buffering=0)  # noqa: SIM115
        self._size = 0
        self._write_all_series()

    def _recover_series(self) -> None:
        """Re-learn the refs used by unsent segments, so their records stay valid."""
        for n in _segments(self.dir):
            records, _ = wal.read_records(_seg_path(self.dir, n).read_bytes())
            for rec in records:
                if rec[0] == wal.REC_SERIES:
                    for ref, lbls in wal.decode_series(rec):
                        self.refs[lbls] = ref
                        self.next_ref = max(self.next_ref, ref + 1)

    def _write_all_series(self) -> None:
        if self.refs:
            items = [(ref, lbls) for lbls, ref in self.refs.items()]
            self._write(wal.frame(wal.encode_series(items)))

    def _write(self, data: bytes) -> None:
        self._file.write(data)
        self._size += len(data)

    def ref_of(self, lbls: Labels, new: list[tuple[int, Labels]]) -> int:
        ref = self.refs.get(lbls)
        if ref is None:
            ref = self.next_ref
            self.next_ref += 1
            self.refs[lbls] = ref
            new.append((ref, lbls))
        return ref

    def append(self, new_series: list[tuple[int, Labels]], refs: I64, ts: I64, vals: F64) -> None:
        parts = []
        if new_series:
            parts.append(wal.frame(wal.encode_series(new_series)))
        if len(refs):
            parts.append(wal.frame(wal.encode_samples(refs, ts, vals)))
            if len(self._last_segment) < self.next_ref:
                grown = np.zeros(max(self.next_ref, 2 * len(self._last_segment)), np.int64)
                grown[: len(self._last_segment)] = self._last_segment
                self._last_segment = grown
            self._last_segment[refs] = self.segment
        if parts:
            self._write(b"".join(parts))

    def append_exemplars(self, new_series: list[tuple[int, Labels]], rows: list[list[Any]]) -> None:
        """Exemplars as ``[queue ref, label pairs, value, ts]`` rows (JSON: they are few)."""
        parts = []
        if new_series:
            parts.append(wal.frame(wal.encode_series(new_series)))
        if rows:
            parts.append(wal.frame(wal.encode_json(wal.REC_EXEMPLARS, rows)))
        if parts:
            self._write(b"".join(parts))

    def maybe_rotate(self) -> set[int]:
        """Start a new segment once this one is full; returns the refs forgotten."""
        if self._size < self.segment_bytes:
            return set()
        return self.rotate()

    def rotate(self) -> set[int]:
        """Close the segment and open the next, headed by the series still in use.

        Series without a sample in the closed segment are forgotten (bounding memory
        under churn); they get a new ref if they come back.
        """
        closing = self.segment
        os.fsync(self._file.fileno())
        self._file.close()
        last = self._last_segment
        live = {
            lbls: ref for lbls, ref in self.refs.items() if ref < len(last) and last[ref] == closing
        }
        forgotten = set(self.refs.values()) - set(live.values())
        self.refs = live
        self.segment += 1
        self._file = open(_seg_path(self.dir, self.segment), "ab", buffering=0)  # noqa: SIM115
        self._size = 0
        self._write_all_series()
        return forgotten

    def close(self) -> None:
        with contextlib.suppress(OSError):
            os.fsync(self._file.fileno())
        self._file.close()


@dataclass
class ReadBatch:
    """What one read step found: new series and sample columns."""

    series: list[tuple[int, Labels]] = field(default_factory=list)
    refs: list[I64] = field(default_factory=list)
    ts: list[I64] = field(default_factory=list)
    vals: list[F64] = field(default_factory=list)
    samples: int = 0
    exemplars: list[list[Any]] = field(default_factory=list)
    new_segment: bool = False  # the reader moved on to a newer segment


class QueueReader:
    """Tails the segments from a position; never reads past the last complete record."""

    def __init__(self, directory: Path, save_interval_s: float = POSITION_SAVE_INTERVAL_S) -> None:
        self.dir = directory
        self.save_interval_s = save_interval_s
        self._saved_at = -math.inf
        self._saved: Position | None = None
        saved = load_position(directory)
        segs = _segments(directory)
        if saved is None or not segs or saved.segment < segs[0]:
            saved = Position(segs[0] if segs else 1, 0)
        self.pos = Position(saved.segment, 0)  # re-read its series records
        self.committed = Position(saved.segment, saved.offset)
        self._resume_offset = saved.offset  # samples before it were already sent

    def backlog_samples(self) -> int:
        """Samples stored after the read position (headers only; used at start)."""
        total = 0
        for n in _segments(self.dir):
            if n < self.pos.segment:
                continue
            data = _seg_path(self.dir, n).read_bytes()
            start = self._resume_offset if n == self.pos.segment else 0
            records, _ = wal.read_records(data[start:])
            total += sum(sample_count(r) for r in records if r[0] == wal.REC_SAMPLES)
        return total

    def read(self, max_bytes: int = READ_CHUNK) -> ReadBatch:
        out = ReadBatch()
        rechecked = False
        while True:
            path = _seg_path(self.dir, self.pos.segment)
            try:
                with open(path, "rb") as f:
                    f.seek(self.pos.offset)
                    data = f.read(max_bytes)
            except FileNotFoundError:
                data = b""
            records, used = wal.read_records(data)
            if len(data) == max_bytes and used == 0:
                max_bytes *= 4  # one record bigger than the chunk: read it whole
                continue
            for rec in records:
                kind = rec[0]
                if kind == wal.REC_SERIES:
                    out.series.extend(wal.decode_series(rec))
                elif kind == wal.REC_SAMPLES and self.pos.offset >= self._resume_offset:
                    refs, ts, vals = wal.decode_samples(rec)
                    out.refs.append(refs)
                    out.ts.append(ts)
                    out.vals.append(vals)
                    out.samples += len(refs)
                elif kind == wal.REC_EXEMPLARS and self.pos.offset >= self._resume_offset:
                    out.exemplars.extend(wal.decode_json(rec))
                self.pos.offset += len(rec) + 8
            if records:
                return out
            # Nothing complete here. Once a newer segment exists the writer has left this
            # one for good: read it once more (a write may have just finished), then move
            # on, skipping a torn tail left by a crash.
            if not any(n > self.pos.segment for n in _segments(self.dir)):
                return out
            if not rechecked:
                rechecked = True
                continue
            newer = [n for n in _segments(self.dir) if n > self.pos.segment]
            self.pos = Position(newer[0], 0)
            self._resume_offset = 0
            rechecked = False
            out.new_segment = True

    def rewind(self) -> None:
        """Read again from the last committed position (after a failed send loop)."""
        self.pos = Position(self.committed.segment, 0)
        self._resume_offset = self.committed.offset

    def _unread_samples(self, n: int) -> int:
        data = _seg_path(self.dir, n).read_bytes()
        start = 0
        if n == self.pos.segment:
            start = max(self.pos.offset, self._resume_offset)
        records, _ = wal.read_records(data[start:])
        return sum(sample_count(r) for r in records if r[0] == wal.REC_SAMPLES)

    def drop_oldest(self, limit_bytes: int, writer_segment: int) -> int:
        """Delete the oldest segments while the log exceeds ``limit_bytes`` (never the
        one being written); returns the unsent samples lost. Samples already read
        are in memory and still go out."""
        sizes = {n: _seg_path(self.dir, n).stat().st_size for n in _segments(self.dir)}
        total = sum(sizes.values())
        lost = 0
        for n in sorted(sizes):
            if total <= limit_bytes or n >= writer_segment:
                break
            if n >= self.pos.segment:
                lost += self._unread_samples(n)
            _seg_path(self.dir, n).unlink(missing_ok=True)
            total -= sizes[n]
            if n >= self.pos.segment:
                # Later segments re-declare every live series in their header.
                self.pos = Position(n + 1, 0)
                self._resume_offset = 0
        return lost

    def commit(self, pos: Position) -> None:
        """Everything before ``pos`` was delivered (or given up on): persist and clean up.

        Within a segment the position is saved at most every ``save_interval_s``: a
        crash then re-sends at most that much, which at-least-once allows, and a busy
        queue does not rewrite the file on every batch.
        """
        self.committed = Position(pos.segment, pos.offset)
        saved = self._saved
        if (
            saved is None
            or saved.segment != pos.segment
            or time.monotonic() - self._saved_at >= self.save_interval_s
        ):
            self.save()

    def save(self) -> None:
        """Persist the committed position now; delete the segments wholly before it."""
        pos = self.committed
        if self._saved is not None and self._saved.as_tuple() == pos.as_tuple():
            return
        save_position(self.dir, pos)
        self._saved_at = time.monotonic()
        moved = self._saved is None or self._saved.segment != pos.segment
        self._saved = Position(pos.segment, pos.offset)
        if moved:
            for n in _segments(self.dir):
                if n < pos.segment:
                    _seg_path(self.dir, n).unlink(missing_ok=True)


def concat(batch: ReadBatch) -> tuple[I64, I64, F64]:
    if not batch.refs:
        empty = np.empty(0, np.int64)
        return empty, empty.copy(), np.empty(0, np.float64)
    return np.concatenate(batch.refs), np.concatenate(batch.ts), np.concatenate(batch.vals)
