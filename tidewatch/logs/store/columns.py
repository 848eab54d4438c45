"""Columnar encoding of log entries, shared by WAL records and chunks.

Layout: ``u32 n | u8 flags | i64 first ts | i64 deltas[n-1] | lines | metadata``.
Lines are one UTF-8 blob joined by ``\\n`` when no line contains a newline (the usual
case: decoding is one ``split``), else a ``u32`` byte length per line and the blob.
Delta timestamps keep sorted chunks very compressible.
"""

from __future__ import annotations

import struct

import numpy as np
import numpy.typing as npt
import orjson

from tidewatch.labels import Labels
from tidewatch.logs.store.linefilter import BlobFilter, filter_lines
from tidewatch.logs.store.memsearch import find_all

I64 = npt.NDArray[np.int64]

_HEAD = struct.Struct("<IB")
_U32 = struct.Struct("<I")
FLAG_JOINED = 1
FLAG_METADATA = 2


def join_lines(lines: list[str]) -> tuple[bytes, bool]:
    """UTF-8 blob of the lines, and whether it is the newline-joined form."""
    if not lines:
        return b"", True
    joined = "\n".join(lines)
    if joined.count("\n") == len(lines) - 1:
        return joined.encode(), True
    return b"".join(x.encode() for x in lines), False


def encode_columns(ts: I64, lines: list[str], metadata: list[Labels] | None) -> bytes:
    n = len(lines)
    blob, joined = join_lines(lines)
    flags = (FLAG_JOINED if joined else 0) | (FLAG_METADATA if metadata else 0)
    parts = [_HEAD.pack(n, flags)]
    if n:
        t = ts.astype("<i8", copy=False)
        parts.append(t[:1].tobytes())
        parts.append(np.diff(t).astype("<i8", copy=False).tobytes())
    if joined:
        parts.append(_U32.pack(len(blob)))
    else:
        lens = np.fromiter((len(x.encode()) for x in lines), np.uint32, n)
        parts.append(lens.astype("<u4", copy=False).tobytes())
    parts.append(blob)
    if metadata:
        md = orjson.dumps([list(m) for m in metadata])
        parts.append(_U32.pack(len(md)))
        parts.append(md)
    return b"".join(parts)


def decode_columns(raw: bytes | memoryview) -> tuple[I64, list[str], list[Labels] | None]:
    buf = memoryview(raw)
    n, flags = _HEAD.unpack_from(buf, 0)
    pos = _HEAD.size
    if n:
        first = np.frombuffer(buf, "<i8", 1, pos)
        deltas = np.frombuffer(buf, "<i8", n - 1, pos + 8)
        ts = np.empty(n, np.int64)
        ts[0] = first[0]
        np.cumsum(deltas, out=ts[1:])
        ts[1:] += first[0]
        pos += 8 * n
    else:
        ts = np.zeros(0, np.int64)
    lines: list[str]
    if flags & FLAG_JOINED:
        (blen,) = _U32.unpack_from(buf, pos)
        pos += 4
        text = bytes(buf[pos : pos + blen]).decode()
        pos += blen
        lines = text.split("\n") if n else []
    else:
        lens = np.frombuffer(buf, "<u4", n, pos).astype(np.int64)
        pos += 4 * n
        ends = np.cumsum(lens) + pos
        starts = ends - lens
        data = bytes(buf)
        lines = [data[a:b].decode() for a, b in zip(starts.tolist(), ends.tolist(), strict=True)]
        pos = int(ends[-1]) if n else pos
    metadata: list[Labels] | None = None
    if flags & FLAG_METADATA:
        (mlen,) = _U32.unpack_from(buf, pos)
        pos += 4
        items = orjson.loads(bytes(buf[pos : pos + mlen]))
        metadata = [tuple((k, v) for k, v in m) for m in items]
    return ts, lines, metadata


def decode_columns_containing(
    raw: bytes, needles: list[str]
) -> tuple[I64, list[str], list[Labels] | None]:
    """Like :func:`decode_columns`, but only entries whose line contains every needle.

    A literal line filter usually matches few lines: searching the newline-joined blob
    and materialising only the hit lines skips building a Python string per line.
    """
    buf = memoryview(raw)
    n, flags = _HEAD.unpack_from(buf, 0)
    if not n or not flags & FLAG_JOINED or any("\n" in x for x in needles):
        return _filter_decoded(decode_columns(raw), needles)
    pos = _HEAD.size + 8 * n
    (blen,) = _U32.unpack_from(buf, pos)
    start = pos + 4
    stop = start + blen
    # Search in place (no copy of the blob); many hits: filtering line by line is cheaper.
    found = find_all(raw, start, stop, needles[0].encode(), max(16, n // 16))
    if found is None:
        return _filter_decoded(decode_columns(raw), needles)
    if not found:
        return np.zeros(0, np.int64), [], None
    # Line number of each hit by counting newlines between hits (one partial pass).
    row_list: list[int] = []
    lines: list[str] = []
    row, prev, last = 0, start, -1
    for at in found:
        row += raw.count(b"\n", prev, at)
        prev = at
        if row == last:
            continue  # another hit in a line already looked at
        last = row
        line_start = raw.rfind(b"\n", start, at) + 1 or start
        line_end = raw.find(b"\n", at, stop)
        text = raw[line_start : stop if line_end == -1 else line_end].decode()
        if all(x in text for x in needles[1:]):
            row_list.append(row)
            lines.append(text)
    if not lines:
        return np.zeros(0, np.int64), [], None
    rows = np.asarray(row_list, dtype=np.intp)
    ts_all, _, md_all = _decode_ts_and_metadata(buf, n, flags, stop)
    md = [md_all[i] for i in rows.tolist()] if md_all is not None else None
    return ts_all[rows], lines, md


def decode_columns_filtered(
    raw: bytes, f: BlobFilter
) -> tuple[I64, list[str], list[Labels] | None] | None:
    """The entries whose line passes every filter of ``f``, found over the joined blob
    (see :mod:`.linefilter`); None when the lines are not stored joined."""
    buf = memoryview(raw)
    n, flags = _HEAD.unpack_from(buf, 0)
    if not n:
        return np.zeros(0, np.int64), [], None
    if not flags & FLAG_JOINED:
        return None
    pos = _HEAD.size + 8 * n
    (blen,) = _U32.unpack_from(buf, pos)
    start = pos + 4
    stop = start + blen
    rows, lines = filter_lines(raw, start, stop, n, f)
    if not lines:
        return np.zeros(0, np.int64), [], None
    ts_all, _, md_all = _decode_ts_and_metadata(buf, n, flags, stop)
    md = [md_all[i] for i in rows.tolist()] if md_all is not None else None
    return ts_all[rows], lines, md


def _decode_ts_and_metadata(
    buf: memoryview, n: int, flags: int, after_lines: int
) -> tuple[I64, None, list[Labels] | None]:
    pos = _HEAD.size
    first = np.frombuffer(buf, "<i8", 1, pos)
    deltas = np.frombuffer(buf, "<i8", n - 1, pos + 8)
    ts = np.empty(n, np.int64)
    ts[0] = first[0]
    np.cumsum(deltas, out=ts[1:])
    ts[1:] += first[0]
    metadata: list[Labels] | None = None
    if flags & FLAG_METADATA:
        (mlen,) = _U32.unpack_from(buf, after_lines)
        items = orjson.loads(bytes(buf[after_lines + 4 : after_lines + 4 + mlen]))
        metadata = [tuple((k, v) for k, v in m) for m in items]
    return ts, None, metadata


def _filter_decoded(
    decoded: tuple[I64, list[str], list[Labels] | None], needles: list[str]
) -> tuple[I64, list[str], list[Labels] | None]:
    ts, lines, md = decoded
    idx = [i for i, line in enumerate(lines) if all(x in line for x in needles)]
    if len(idx) == len(lines):
        return decoded
    return ts[idx], [lines[i] for i in idx], [md[i] for i in idx] if md is not None else None
