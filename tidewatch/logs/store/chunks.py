"""Compressed chunks of one stream's entries, appended to numbered segment files.

Record: ``u32 length | u32 crc32 | payload`` (the WAL's framing); payload is
``u32 header length | JSON header | zstd(columns)``. The header (labels, time bounds,
counts, WAL sequence range) is all that opening the store reads; bodies are read on
demand and checked by zstd's frame checksum as they decompress. Segments are append-only; retention rewrites a segment without
its dropped chunks into a new number and deletes the old file.
"""

from __future__ import annotations

import os
import struct
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import orjson
import zstandard

from tidewatch.labels import Labels
from tidewatch.logs.store.columns import I64, decode_columns, encode_columns
from tidewatch.tsdb.wal import frame

_FRAME = struct.Struct("<II")
_U32 = struct.Struct("<I")
SUFFIX = ".chunks"


class ChunkCorrupt(Exception):
    pass


@dataclass
class ChunkRef:
    labels: Labels
    segment: int
    offset: int  # of the frame
    length: int  # frame + payload
    mint: int
    maxt: int
    entries: int
    raw_bytes: int  # uncompressed line bytes
    seq0: int  # WAL sequence numbers of the stream's entries it holds: [seq0, seq1)
    seq1: int
    dropped: bool = False
    compacted: bool = False  # rewritten by compaction (merged, stronger compression)


class _Lane:
    """The segment a kind of chunk is being appended to."""

    def __init__(self) -> None:
        self.current = -1
        self.file: BinaryIO | None = None
        self.size = 0
        self.dirty = False

    def close(self) -> None:
        if self.file is not None:
            os.fsync(self.file.fileno())
            self.file.close()
            self.file = None


class ChunkSegments:
    def __init__(self, directory: Path, segment_bytes: int, level: int, compact_level: int) -> None:
        self.dir = directory
        self.dir.mkdir(parents=True, exist_ok=True)
        self.segment_bytes = segment_bytes
        # zstd's own frame checksum (xxh64, checked while decompressing) guards bodies on
        # every read; the record CRC is for scans and segment copies.
        self._cctx = zstandard.ZstdCompressor(level=level, write_checksum=True)
        self._cctx_compact = zstandard.ZstdCompressor(level=compact_level, write_checksum=True)
        self._lock = threading.Lock()
        # Head cuts and compaction results go to different segments: a head segment
        # dies whole once compaction has rewritten its chunks (deleted, never copied),
        # and compacted segments stay dense.
        self._lanes = (_Lane(), _Lane())
        self._readers: dict[int, BinaryIO] = {}
        self._local = threading.local()
        # Segment numbers are never reused, so a (segment, offset) names one chunk forever.
        segs = self.segments()
        self._next_seg = (segs[-1] if segs else 0) + 1

    def path(self, seg: int) -> Path:
        return self.dir / f"{seg:08d}{SUFFIX}"

    def segments(self) -> list[int]:
        out = []
        for p in self.dir.iterdir():
            if p.name.endswith(SUFFIX) and p.name[: -len(SUFFIX)].isdigit():
                out.append(int(p.name[: -len(SUFFIX)]))
        return sorted(out)

    def segment_size(self, seg: int) -> int:
        try:
            return self.path(seg).stat().st_size
        except FileNotFoundError:
            return 0

    # -- opening -------------------------------------------------------------------
    def scan(self) -> list[ChunkRef]:
        """Headers of every intact chunk; a torn tail (crash mid-write) is cut off."""
        refs: list[ChunkRef] = []
        replaced: set[tuple[int, int]] = set()
        for seg in self.segments():
            refs.extend(self._scan_segment(seg, replaced))
        return [r for r in refs if (r.segment, r.offset) not in replaced]

    def _scan_segment(self, seg: int, replaced: set[tuple[int, int]]) -> list[ChunkRef]:
        path = self.path(seg)
        data = path.read_bytes()
        refs: list[ChunkRef] = []
        pos, end = 0, len(data)
        while pos + _FRAME.size + 4 <= end:
            length, _crc = _FRAME.unpack_from(data, pos)
            start = pos + _FRAME.size
            if length < 4 or start + length > end:
                break
            (hlen,) = _U32.unpack_from(data, start)
            try:
                h = orjson.loads(data[start + 4 : start + 4 + hlen])
            except orjson.JSONDecodeError:
                break
            refs.append(_ref_from_header(h, seg, pos, _FRAME.size + length))
            replaced.update((int(a), int(b)) for a, b in h.get("replaces", ()))
            pos = start + length
        if pos < end:
            with open(path, "r+b") as f:
                f.truncate(pos)
        return refs

    # -- writing -------------------------------------------------------------------
    def write(
        self,
        labels: Labels,
        ts: I64,
        lines: list[str],
        metadata: list[Labels] | None,
        seq0: int,
        seq1: int | None = None,
        replaces: list[ChunkRef] | None = None,
    ) -> ChunkRef:
        """Append one chunk (``ts`` sorted). With ``replaces`` it is a compaction result:
        compressed harder, and its header names the chunks it supersedes so that a
        restart skips them even before their segment is rewritten."""
        raw = encode_columns(ts, lines, metadata)
        body = (self._cctx_compact if replaces else self._cctx).compress(raw)
        raw_bytes = sum(map(len, lines))
        header: dict[str, Any] = {
            "labels": labels,
            "mint": int(ts[0]),
            "maxt": int(ts[-1]),
            "n": len(lines),
            "raw": raw_bytes,
            "seq0": seq0,
            "seq1": seq0 + len(lines) if seq1 is None else seq1,
        }
        if replaces:
            header["c"] = 1
            header["replaces"] = [[r.segment, r.offset] for r in replaces]
        hb = orjson.dumps(header)
        payload = _U32.pack(len(hb)) + hb + body
        rec = frame(payload)
        with self._lock:
            lane = self._lanes[1 if replaces else 0]
            if lane.file is None or (lane.size > 0 and lane.size + len(rec) > self.segment_bytes):
                self._open_next_locked(lane)
            assert lane.file is not None
            offset = lane.size
            lane.file.write(rec)
            lane.size += len(rec)
            lane.dirty = True
            seg = lane.current
        return _ref_from_header(header, seg, offset, len(rec))

    def _open_next_locked(self, lane: _Lane) -> None:
        lane.close()
        lane.current = self._next_seg
        self._next_seg += 1
        lane.file = open(self.path(lane.current), "ab", buffering=0)  # noqa: SIM115
        lane.size = 0
        lane.dirty = False

    def sync(self) -> None:
        with self._lock:
            for lane in self._lanes:
                if lane.file is not None and lane.dirty:
                    os.fsync(lane.file.fileno())
                    lane.dirty = False

    # -- reading -------------------------------------------------------------------
    def reader(self, seg: int) -> BinaryIO:
        """An open handle; it stays valid after the segment is rewritten or deleted."""
        with self._lock:
            f = self._readers.get(seg)
            if f is None:
                f = open(self.path(seg), "rb")  # noqa: SIM115
                self._readers[seg] = f
            return f

    def read(self, ref: ChunkRef) -> tuple[I64, list[str], list[Labels] | None]:
        return decode_columns(self.read_raw(ref))

    def read_raw(self, ref: ChunkRef, fh: BinaryIO | None = None) -> bytes:
        """The chunk's decompressed, checked column bytes (``fh``: a handle taken earlier)."""
        fh = fh if fh is not None else self.reader(ref.segment)
        data = os.pread(fh.fileno(), ref.length, ref.offset)
        if len(data) != ref.length:
            raise ChunkCorrupt(f"chunk at {ref.segment}:{ref.offset} is truncated")
        payload = memoryview(data)[_FRAME.size :]
        (hlen,) = _U32.unpack_from(payload, 0)
        dctx = getattr(self._local, "dctx", None)
        if dctx is None:
            # Decompression contexts are not thread-safe; one per reading thread.
            dctx = self._local.dctx = zstandard.ZstdDecompressor()
        try:
            raw: bytes = dctx.decompress(payload[4 + hlen :])
        except zstandard.ZstdError as exc:
            raise ChunkCorrupt(f"chunk at {ref.segment}:{ref.offset} is corrupt: {exc}") from None
        return raw

    # -- retention -----------------------------------------------------------------
    def seal(self, seg: int) -> None:
        """Stop appending to ``seg``: the next chunk opens a new segment."""
        with self._lock:
            for lane in self._lanes:
                if seg == lane.current:
                    lane.close()

    def copy_live(self, seg: int, keep: list[ChunkRef]) -> tuple[int, list[int]]:
        """Copy ``keep`` (chunks of the sealed segment ``seg``) into a new segment, without
        blocking appends; returns its number and each chunk's new offset."""
        src = self.reader(seg)
        with self._lock:
            new = self._next_seg
            self._next_seg += 1
        tmp = self.dir / f"{new:08d}{SUFFIX}.tmp"
        offsets: list[int] = []
        pos = 0
        with open(tmp, "wb") as out:
            for ref in keep:
                out.write(os.pread(src.fileno(), ref.length, ref.offset))
                offsets.append(pos)
                pos += ref.length
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, self.path(new))
        _fsync_dir(self.dir)
        return new, offsets

    def delete(self, seg: int) -> None:
        with self._lock:
            for lane in self._lanes:
                if seg == lane.current:
                    lane.close()
            self._readers.pop(seg, None)
            segs = self.segments()
            if segs and seg == segs[-1]:
                # Keep the newest number taken (as an empty file): compaction headers name
                # chunks by (segment, offset), so a number must never come back after a restart.
                with open(self.path(seg), "r+b") as f:
                    f.truncate(0)
                for other in segs[:-1]:
                    if self.segment_size(other) == 0:
                        self.path(other).unlink(missing_ok=True)
            else:
                self.path(seg).unlink(missing_ok=True)

    def close(self) -> None:
        with self._lock:
            for lane in self._lanes:
                lane.close()
            for f in self._readers.values():
                f.close()
            self._readers.clear()


def _ref_from_header(h: dict[str, Any], seg: int, offset: int, length: int) -> ChunkRef:
    labels: Labels = tuple((str(k), str(v)) for k, v in h["labels"])
    return ChunkRef(
        labels,
        seg,
        offset,
        length,
        h["mint"],
        h["maxt"],
        h["n"],
        h["raw"],
        h["seq0"],
        h["seq1"],
        compacted=bool(h.get("c")),
    )


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
