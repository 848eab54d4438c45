"""Columnar decoding of Loki protobuf push entries, without one Python object per field.

upb parses a whole ``PushRequest`` in ~50 ns a line, but touching each entry through
Python wrappers (entry, timestamp, line) costs ~3 µs a line. Here ``StreamAdapter``'s
``entries`` are read as raw bytes (see ``RawPushRequest``) and the entry headers of a
whole request are parsed at once with numpy. Only the plain layout Promtail, Alloy and
the Go client write is handled — ``timestamp`` (field 1) then a non-empty ``line``
(field 2) and nothing else; anything else (structured metadata, reordered or unknown
fields, invalid UTF-8) returns ``None`` and the caller decodes with the full messages,
which also produce the exact errors.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

I64 = npt.NDArray[np.int64]

TAG_TIMESTAMP = 0x0A  # field 1, length-delimited
TAG_LINE = 0x12  # field 2, length-delimited
TAG_SECONDS = 0x08  # Timestamp field 1, varint
TAG_NANOS = 0x10  # Timestamp field 2, varint
MAX_VARINT_BYTES = 10
# Zero bytes after the buffer, so headers of a truncated entry can be read before the
# checks reject it: up to 127 timestamp bytes plus a tag and a 3-byte length.
_PADDING = bytes(136)


def decode_entries(entries: list[bytes]) -> tuple[I64, list[str]] | None:
    """(timestamps in ns, lines) of serialized ``EntryAdapter`` messages, or ``None``
    when any entry is not in the plain layout."""
    n = len(entries)
    if n == 0:
        return np.zeros(0, np.int64), []
    buf = b"".join([*entries, _PADDING])
    arr = np.frombuffer(buf, np.uint8)
    lens = np.fromiter(map(len, entries), np.int64, n)
    end = np.cumsum(lens)
    start = end - lens
    if not (lens >= 5).all() or not (arr[start] == TAG_TIMESTAMP).all():
        return None
    ts_len = arr[start + 1].astype(np.int64)
    if not (ts_len < 0x80).all():
        return None
    line_tag = start + 2 + ts_len
    if not ((line_tag + 2 <= end) & (arr[line_tag] == TAG_LINE)).all():
        return None
    found = _line_lengths(arr, line_tag + 1)
    if found is None:
        return None
    line_start, line_len = found
    if not ((line_start + line_len == end).all() and line_len.all()):
        return None
    ts = _timestamps(arr, start + 2, ts_len, n)
    if ts is None:
        return None
    lines = _lines(buf, line_start.tolist(), end.tolist())
    return None if lines is None else (ts, lines)


def _lines(buf: bytes, starts: list[int], ends: list[int]) -> list[str] | None:
    """The lines as str: one latin-1 decode of the whole buffer and a slice per line
    (byte offsets are character offsets then); lines with non-ASCII bytes are decoded
    again as UTF-8. ``None`` on invalid UTF-8."""
    text = buf.decode("latin-1")
    lines = [text[a:b] for a, b in zip(starts, ends, strict=True)]  # faster than map(slice)
    if not all(map(str.isascii, lines)):
        try:
            for i, line in enumerate(lines):
                if not line.isascii():
                    lines[i] = buf[starts[i] : ends[i]].decode("utf-8")
        except UnicodeDecodeError:
            return None
    return lines


def _line_lengths(arr: npt.NDArray[np.uint8], at: I64) -> tuple[I64, I64] | None:
    """Varint line lengths of up to 3 bytes (lines under 2 MiB) at ``at``: (line start, length)."""
    b0 = arr[at].astype(np.int64)
    b1 = arr[at + 1].astype(np.int64)
    b2 = arr[at + 2].astype(np.int64)
    one = b0 < 0x80
    two = ~one & (b1 < 0x80)
    three = ~one & ~two & (b2 < 0x80)
    if not (one | two | three).all():
        return None
    low = b0 & 0x7F
    length = np.where(
        one, b0, np.where(two, low | (b1 << 7), low | ((b1 & 0x7F) << 7) | (b2 << 14))
    )
    width = np.where(one, 1, np.where(two, 2, 3))
    return at + width, length


def _timestamps(arr: npt.NDArray[np.uint8], at: I64, size: I64, n: int) -> I64 | None:
    """Parse every ``Timestamp`` message at once: its bytes are varints that alternate
    tag and value (fields 1 and 2 are both varints)."""
    secs = np.zeros(n, np.int64)
    nanos = np.zeros(n, np.int64)
    total = int(size.sum())
    if total:
        nonempty = size > 0
        if not (arr[(at + size - 1)[nonempty]] < 0x80).all():
            return None  # a varint runs past its message
        region_at = np.cumsum(size) - size
        idx = np.arange(total, dtype=np.int64) - np.repeat(region_at - at, size)
        raw = arr[idx]
        last = raw < 0x80
        v_end = np.flatnonzero(last)
        v_start = np.empty_like(v_end)
        v_start[0] = 0
        v_start[1:] = v_end[:-1] + 1
        varint_of: I64 = np.cumsum(last, dtype=np.int64) - last
        pos = np.arange(total, dtype=np.int64) - v_start[varint_of]
        if len(v_end) % 2 or int((v_end - v_start).max()) >= MAX_VARINT_BYTES:
            return None
        shifted = (raw & 0x7F).astype(np.uint64) << (pos * 7).astype(np.uint64)
        values = np.add.reduceat(shifted, v_start)
        entry = np.repeat(np.arange(n, dtype=np.int64), size)[v_start]
        tags, vals, owner = values[0::2], values[1::2], entry[0::2]
        if not (owner == entry[1::2]).all():
            return None  # a tag without its value
        is_secs = tags == TAG_SECONDS
        is_nanos = tags == TAG_NANOS
        if not (is_secs | is_nanos).all():
            return None
        # Go's int64 and int32 from a varint: two's complement of the low 64 / 32 bits.
        secs[owner[is_secs]] = vals[is_secs].view(np.int64)
        nanos[owner[is_nanos]] = vals[is_nanos].astype(np.uint32).view(np.int32)
    return secs * 1_000_000_000 + nanos
