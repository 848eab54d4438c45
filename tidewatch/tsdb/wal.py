"""Write-ahead log: numbered segment files of framed records, plus checkpoints.

Frame: ``u32 length | u32 crc32(payload) | payload``; payload starts with a type byte.
Records are written straight to the OS (unbuffered), so a killed process loses
nothing it committed; ``sync()`` (fsync) bounds what a power cut can lose.

A checkpoint ``checkpoint.N`` holds everything the head still needs from segments
``<= N`` (live series and their samples); replay reads it, then segments ``> N``.
A torn or corrupt record ends replay of its segment and, in the newest segment,
is truncated away.
"""

from __future__ import annotations

import contextlib
import os
import struct
import threading
import time
import zlib
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import zstandard

from tidewatch.labels import Labels
from tidewatch.tsdb.encoding import F64, I64

REC_SERIES = 1
REC_SAMPLES = 2
REC_EXEMPLARS = 3
REC_METADATA = 4

_FRAME = struct.Struct("<II")
_U32 = struct.Struct("<I")
_SERIES_HEAD = struct.Struct("<QH")
_U16 = struct.Struct("<H")
DEFAULT_SEGMENT_BYTES = 128 << 20
_PROGRESS_STEP = 4 << 20  # report replay progress every 4 MB


def encode_series(items: Iterable[tuple[int, Labels]]) -> bytes:
    out = bytearray([REC_SERIES])
    for ref, lbls in items:
        out += _SERIES_HEAD.pack(ref, len(lbls))
        for name, value in lbls:
            nb, vb = name.encode(), value.encode()
            out += _U16.pack(len(nb)) + nb + _U32.pack(len(vb)) + vb
    return bytes(out)


def decode_series(body: bytes) -> list[tuple[int, Labels]]:
    out: list[tuple[int, Labels]] = []
    pos, end = 1, len(body)
    while pos < end:
        ref, n = _SERIES_HEAD.unpack_from(body, pos)
        pos += _SERIES_HEAD.size
        pairs = []
        for _ in range(n):
            (ln,) = _U16.unpack_from(body, pos)
            name = body[pos + 2 : pos + 2 + ln].decode()
            pos += 2 + ln
            (lv,) = _U32.unpack_from(body, pos)
            value = body[pos + 4 : pos + 4 + lv].decode()
            pos += 4 + lv
            pairs.append((name, value))
        out.append((ref, tuple(pairs)))
    return out


def encode_samples(refs: I64, ts: I64, vals: F64) -> bytes:
    raw = (
        refs.astype("<i8", copy=False).tobytes()
        + ts.astype("<i8", copy=False).tobytes()
        + vals.astype("<f8", copy=False).tobytes()
    )
    return bytes([REC_SAMPLES]) + _U32.pack(len(refs)) + zstandard.ZstdCompressor(1).compress(raw)


def decode_samples(body: bytes) -> tuple[I64, I64, F64]:
    (n,) = _U32.unpack_from(body, 1)
    raw = zstandard.ZstdDecompressor().decompress(body[5:], max_output_size=24 * n)
    refs = np.frombuffer(raw, "<i8", n, 0).astype(np.int64)
    ts = np.frombuffer(raw, "<i8", n, 8 * n).astype(np.int64)
    vals = np.frombuffer(raw, "<f8", n, 16 * n).astype(np.float64)
    return refs, ts, vals


def encode_json(rtype: int, obj: Any) -> bytes:
    return bytes([rtype]) + orjson.dumps(obj)


def decode_json(body: bytes) -> Any:
    return orjson.loads(body[1:])


def frame(payload: bytes) -> bytes:
    return _FRAME.pack(len(payload), zlib.crc32(payload)) + payload


def read_records(data: bytes) -> tuple[list[bytes], int]:
    """Complete, intact records in ``data`` and the byte length they cover."""
    records: list[bytes] = []
    pos, end = 0, len(data)
    while pos + _FRAME.size <= end:
        length, crc = _FRAME.unpack_from(data, pos)
        start = pos + _FRAME.size
        if length == 0 or start + length > end:
            break
        payload = data[start : start + length]
        if zlib.crc32(payload) != crc:
            break
        records.append(payload)
        pos = start + length
    return records, pos


def _segment_number(name: str) -> int | None:
    return int(name) if name.isdigit() else None


class WAL:
    def __init__(self, directory: str | Path, segment_bytes: int = DEFAULT_SEGMENT_BYTES) -> None:
        self.dir = Path(directory)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.segment_bytes = segment_bytes
        self._lock = threading.Lock()
        self._file: Any = None
        self._current = 0
        self._size = 0
        self._dirty = False
        self.fsync_count = 0
        self.fsync_sum = 0.0

    # -- layout --------------------------------------------------------------------
    def segments(self) -> list[int]:
        return sorted(n for p in self.dir.iterdir() if (n := _segment_number(p.name)) is not None)

    def checkpoint(self) -> tuple[int, Path] | None:
        found = []
        for p in self.dir.iterdir():
            if p.name.startswith("checkpoint.") and p.name[11:].isdigit():
                found.append((int(p.name[11:]), p))
        return max(found) if found else None

    def size_bytes(self) -> int:
        return sum(p.stat().st_size for p in self.dir.iterdir() if p.is_file())

    def segment_path(self, n: int) -> Path:
        return self.dir / f"{n:08d}"

    # -- replay --------------------------------------------------------------------
    def replay(self, progress: Callable[[float], None] | None = None) -> Iterator[bytes]:
        """Yield every intact record: checkpoint first, then newer segments."""
        cp = self.checkpoint()
        first = cp[0] + 1 if cp else 0
        files: list[tuple[Path, bool]] = []
        if cp:
            files.append((cp[1], False))
        segs = [n for n in self.segments() if n >= first]
        files += [(self.segment_path(n), n == segs[-1]) for n in segs]
        total = sum(p.stat().st_size for p, _ in files) or 1
        done = 0
        for path, newest in files:
            data = path.read_bytes()
            records, good = read_records(data)
            if good < len(data) and newest:
                # A torn last record from a crash: drop it so new writes follow intact data.
                with open(path, "r+b") as f:
                    f.truncate(good)
            reported = done
            for rec in records:
                yield rec
                done += len(rec) + _FRAME.size
                if progress and done - reported >= _PROGRESS_STEP:
                    reported = done
                    progress(min(done / total, 1.0))
            done += len(data) - good
            if progress:
                progress(min(done / total, 1.0))

    # -- writing -------------------------------------------------------------------
    def open_for_append(self) -> None:
        """Start a fresh segment after the newest one (never append to a maybe-torn file)."""
        segs = self.segments()
        cp = self.checkpoint()
        last = max(segs[-1] if segs else -1, cp[0] if cp else -1)
        self._open_segment(last + 1)

    def _open_segment(self, n: int) -> None:
        self._current = n
        self._file = open(self.segment_path(n), "ab", buffering=0)  # noqa: SIM115
        self._size = self._file.tell()
        _fsync_dir(self.dir)

    @property
    def current_segment(self) -> int:
        return self._current

    def log(self, *payloads: bytes) -> None:
        if not payloads:
            return
        data = b"".join(frame(p) for p in payloads)
        with self._lock:
            if self._size + len(data) > self.segment_bytes and self._size > 0:
                self._rotate_locked()
            self._file.write(data)
            self._size += len(data)
            self._dirty = True

    def sync(self) -> None:
        with self._lock:
            if not self._dirty or self._file is None:
                return
            start = time.perf_counter()
            os.fsync(self._file.fileno())
            elapsed = time.perf_counter() - start
            self._dirty = False
            self.fsync_count += 1
            self.fsync_sum += elapsed

    def _rotate_locked(self) -> int:
        closed = self._current
        os.fsync(self._file.fileno())
        self._file.close()
        self._open_segment(closed + 1)
        return closed

    def rotate(self) -> int:
        """Close the current segment; returns its number."""
        with self._lock:
            return self._rotate_locked()

    def write_checkpoint(self, upto: int, payloads: Iterable[bytes]) -> None:
        """Write ``checkpoint.upto`` atomically, then delete what it replaces."""
        final = self.dir / f"checkpoint.{upto:08d}"
        tmp = self.dir / f"checkpoint.{upto:08d}.tmp"
        with open(tmp, "wb") as f:
            for p in payloads:
                f.write(frame(p))
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, final)
        _fsync_dir(self.dir)
        for n in self.segments():
            if n <= upto:
                self.segment_path(n).unlink(missing_ok=True)
        for old in self.dir.iterdir():
            if old.name.startswith("checkpoint.") and old != final:
                old.unlink(missing_ok=True)

    def close(self) -> None:
        with self._lock:
            if self._file is not None:
                with contextlib.suppress(OSError):
                    os.fsync(self._file.fileno())
                self._file.close()
                self._file = None


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
