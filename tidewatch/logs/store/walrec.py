"""WAL records of the log store, framed by :mod:`tidewatch.tsdb.wal`.

``REC_SERIES`` (the TSDB's encoding) names streams by id; ``REC_ENTRIES`` carries one
stream's accepted entries: ``type | u64 id | u64 first seq | lz4(columns)``. Sequence
numbers count a stream's entries, so replay skips what chunks already hold.
"""

from __future__ import annotations

import struct

import cramjam

from tidewatch.labels import Labels
from tidewatch.logs.store.columns import I64, decode_columns, encode_columns
from tidewatch.tsdb.wal import REC_SERIES, decode_series, encode_series

REC_ENTRIES = 16
_ENTRIES_HEAD = struct.Struct("<QQ")

__all__ = [
    "REC_ENTRIES",
    "REC_SERIES",
    "decode_entries",
    "decode_series",
    "encode_entries",
    "encode_series",
]


def encode_entries(
    sid: int, seq0: int, ts: I64, lines: list[str], metadata: list[Labels] | None
) -> bytes:
    # lz4: the WAL is short-lived, so speed matters more than ratio.
    body = bytes(cramjam.lz4.compress_block(encode_columns(ts, lines, metadata)))
    return bytes([REC_ENTRIES]) + _ENTRIES_HEAD.pack(sid, seq0) + body


def decode_entries(rec: bytes) -> tuple[int, int, I64, list[str], list[Labels] | None]:
    sid, seq0 = _ENTRIES_HEAD.unpack_from(rec, 1)
    raw = bytes(cramjam.lz4.decompress_block(bytes(memoryview(rec)[1 + _ENTRIES_HEAD.size :])))
    ts, lines, md = decode_columns(raw)
    return sid, seq0, ts, lines, md
