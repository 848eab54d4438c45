"""Building remote write 2.0 ``io.prometheus.write.v2.Request`` bodies from sample columns.

Every string a queue has seen is interned once in a ``SymbolTable`` (ids are queue
wide, and each string's ``symbols`` field is encoded once); each series keeps its labels
as packed uint32 ids. A request maps the ids of all its series to request-local refs
with one pass over a table-sized mask, encodes every packed ``labels_refs`` varint at
once, lays out the samples as the 1.0 encoder does (``Sample`` has the same field
numbers in both schemas), and scatters all the pieces of every ``TimeSeries`` into one
buffer with numpy: no Python work per series or per sample.
"""

from __future__ import annotations

import itertools
import struct
from typing import Any

import numpy as np
import numpy.typing as npt

from tidewatch.labels import Labels
from tidewatch.remote.codec import snappy_encode, uvarint
from tidewatch.remote.proto import METRIC_TYPES
from tidewatch.remote.wire import encode_samples, length_delimited, varint_sizes
from tidewatch.tsdb.interface import MetricMetadata

I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]
_ID = np.dtype("<u4")  # symbol ids; the spec's refs are uint32

_CACHED = 1 << 14
_UVARINT = [uvarint(n) for n in range(_CACHED)]
_EMPTY_SYMBOL = b"\x22\x00"  # Request.symbols = 4, ""
# Suffixes a series name may add to its metric family's name.
_FAMILY_SUFFIXES = ("_total", "_bucket", "_count", "_sum", "_created", "_info", "_gcount", "_gsum")


def _uv(n: int) -> bytes:
    return _UVARINT[n] if n < _CACHED else uvarint(n)


class SymbolTable:
    """Queue-wide string interning; id 0 is always the empty string, as the spec wants
    symbol 0 of every request to be."""

    def __init__(self) -> None:
        self._ids: dict[str, int] = {"": 0}
        self.strings: list[str] = [""]
        # Each string's ``symbols`` field, encoded once: a request joins them in C.
        self._fields: list[bytes] = [_EMPTY_SYMBOL]

    def __len__(self) -> int:
        return len(self.strings)

    def intern(self, s: str) -> int:
        i = self._ids.get(s)
        if i is None:
            i = self._ids[s] = len(self.strings)
            self.strings.append(s)
            self._fields.append(length_delimited(4, s.encode()))
        return i

    def label_ids(self, lbls: Labels) -> bytes:
        """Flat ``[name, value, name, value ...]`` ids of a label set, as little-endian
        uint32 bytes (a bytes object per series is smaller than an array, and a request
        joins them in one call)."""
        intern = self.intern
        ids = np.fromiter((intern(s) for pair in lbls for s in pair), _ID, 2 * len(lbls))
        return ids.tobytes()

    def local_refs(self, ids: npt.NDArray[np.uint32]) -> tuple[list[int], npt.NDArray[np.int64]]:
        """The distinct ids of a request (its symbols, "" first) and each id's index
        among them; linear in the table's size, with no sort."""
        seen = np.zeros(len(self.strings), np.bool_)
        seen[0] = True
        seen[ids] = True
        distinct = np.flatnonzero(seen)
        local = np.empty(len(self.strings), np.int64)
        local[distinct] = np.arange(len(distinct))
        return distinct.tolist(), local[ids]

    def symbol_fields(self, ids: list[int]) -> bytes:
        """The ``symbols`` fields of the given ids, in order."""
        return b"".join(map(self._fields.__getitem__, ids))

    def labels(self, ids: bytes) -> Labels:
        s = self.strings
        flat = [s[i] for i in np.frombuffer(ids, _ID).tolist()]
        return tuple(zip(flat[::2], flat[1::2], strict=True))


def family_metadata(name: str, metadata: dict[str, MetricMetadata]) -> MetricMetadata | None:
    """The metadata of a series' metric family: its own name, else the name without a
    suffix the family adds (``_total``, ``_bucket`` ...)."""
    md = metadata.get(name)
    if md is not None:
        return md
    for suffix in _FAMILY_SUFFIXES:
        if name.endswith(suffix):
            md = metadata.get(name[: -len(suffix)])
            if md is not None:
                return md
    return None


def metadata_ids(md: MetricMetadata, table: SymbolTable) -> tuple[int, int, int]:
    """(type number, help id, unit id) of a family's metadata."""
    kind = METRIC_TYPES.index(md.type) if md.type in METRIC_TYPES else 0
    return kind, table.intern(md.help), table.intern(md.unit)


def encode_uvarints(u: I64) -> tuple[npt.NDArray[np.uint8], I64]:
    """Every (non-negative) value as a varint, back to back, and each one's size."""
    n = len(u)
    if n == 0:
        return np.zeros(0, np.uint8), np.zeros(0, np.int64)
    width = max(1, (int(u.max()).bit_length() + 6) // 7)
    sizes = np.ones(n, np.int64)
    for k in range(1, width):
        sizes += u >= (1 << (7 * k))
    if width == 1:
        return u.astype(np.uint8), sizes
    # A row of ``width`` candidate bytes per value; the mask keeps each one's own.
    rows = np.empty((n, width), np.uint8)
    for k in range(width):
        rows[:, k] = (u >> (7 * k)) & 0x7F
    used = np.arange(width)[None, :] < sizes[:, None]
    rows[:, :-1] |= used[:, 1:].view(np.uint8) << 7  # continuation bit
    return rows[used], sizes


Piece = tuple[npt.NDArray[np.uint8], I64]  # bytes of every series back to back, lengths


def _tag(byte: int, n: int) -> Piece:
    """The same one byte in each of ``n`` series."""
    return np.full(n, byte, np.uint8), np.ones(n, np.int64)


def _total_lens(pieces: list[Piece]) -> I64:
    return np.stack([p[1] for p in pieces]).sum(axis=0)


def _interleave(pieces: list[Piece]) -> npt.NDArray[np.uint8]:
    """Series 0's pieces in order, then series 1's ... laid out with numpy scatters."""
    lens = np.stack([p[1] for p in pieces], axis=1)
    flat = lens.ravel()
    flat_starts = np.zeros(len(flat), np.int64)
    np.cumsum(flat[:-1], out=flat_starts[1:])
    starts = flat_starts.reshape(lens.shape)
    out = np.empty(int(flat.sum()), np.uint8)
    for j, (data, piece_lens) in enumerate(pieces):
        if not len(data):
            continue
        # Where each byte of the piece goes: its series' slot plus its offset within it.
        src = np.zeros(len(piece_lens), np.int64)
        np.cumsum(piece_lens[:-1], out=src[1:])
        dest = np.repeat(starts[:, j] - src, piece_lens) + np.arange(len(data))
        out[dest] = data
    return out


def _metadata_piece(kind: npt.NDArray[np.uint32], help_ref: I64, unit_ref: I64) -> Piece:
    """Each series' ``metadata`` field; a request holds few distinct ones (one per
    family at most), so each is encoded once and repeated."""
    key = (kind.astype(np.int64) << 58) | (help_ref << 29) | unit_ref
    distinct, which = np.unique(key, return_inverse=True)
    variants = []
    for k in distinct.tolist():
        t, h, u = k >> 58, (k >> 29) & 0x1FFFFFFF, k & 0x1FFFFFFF
        body = (b"\x08" + _uv(t) if t else b"") + (b"\x18" + _uv(h) if h else b"")
        body += b"\x20" + _uv(u) if u else b""
        variants.append(b"\x2a" + _uv(len(body)) + body if body else b"")
    lens = np.fromiter(map(len, variants), np.int64, len(variants))[which]
    data = b"".join(map(variants.__getitem__, which.tolist()))
    return np.frombuffer(data, np.uint8), lens


def encode_v2_write_request(
    refs: I64,
    ts: I64,
    vals: F64,
    label_ids: dict[int, bytes],
    table: SymbolTable,
    metadata: dict[int, tuple[int, int, int]] | None = None,
) -> tuple[bytes, int]:
    """Snappy-compressed ``io.prometheus.write.v2.Request`` of the samples, and its
    series count.

    ``label_ids`` maps a series ref to ``table.label_ids`` of its labels; ``metadata``
    optionally maps a series ref to ``metadata_ids`` of its family's metadata.
    """
    order = np.argsort(refs, kind="stable")
    refs, ts, vals = refs[order], ts[order], vals[order]
    samples = np.frombuffer(encode_samples(ts, vals), np.uint8)
    sizes = 12 + varint_sizes(ts.view(np.uint64))
    offsets = np.concatenate(([0], np.cumsum(sizes)))
    starts = np.flatnonzero(np.concatenate(([True], refs[1:] != refs[:-1])))
    sample_lens = np.diff(offsets[np.append(starts, len(refs))])
    series_refs = refs[starts].tolist()
    n = len(series_refs)
    id_bytes = [label_ids[r] for r in series_refs]
    counts = np.fromiter(map(len, id_bytes), np.int64, n) // _ID.itemsize
    n_label_ids = int(counts.sum())

    md = np.zeros((0, 3), _ID)
    if metadata:
        found = map(metadata.get, series_refs, itertools.repeat((0, 0, 0)))
        md = np.fromiter(itertools.chain.from_iterable(found), _ID, 3 * n).reshape(n, 3)
    # Ids to map: every label, then each series' help and unit.
    all_ids = np.concatenate([np.frombuffer(b"".join(id_bytes), _ID), md[:, 1], md[:, 2]])
    distinct, local = table.local_refs(all_ids)
    symbols = table.symbol_fields(distinct)

    # labels_refs: packed varints of each series' local refs.
    packed, ref_sizes = encode_uvarints(local[:n_label_ids])
    series_of_ref = np.repeat(np.arange(n), counts)
    packed_lens = np.bincount(series_of_ref, weights=ref_sizes, minlength=n).astype(np.int64)
    pieces: list[Piece] = [
        _tag(0x0A, n),
        encode_uvarints(packed_lens),
        (packed, packed_lens),
        (samples, sample_lens),
    ]
    if len(md):
        pieces.append(
            _metadata_piece(
                md[:, 0], local[n_label_ids : n_label_ids + n], local[n_label_ids + n :]
            )
        )
    body_lens = _total_lens(pieces)
    series_bytes = _interleave([_tag(0x2A, n), encode_uvarints(body_lens), *pieces])
    return snappy_encode(symbols + series_bytes.tobytes()), n


def encode_v2_exemplar_request(
    rows: list[list[Any]], label_ids: dict[int, bytes], table: SymbolTable
) -> bytes:
    """Snappy ``io.prometheus.write.v2.Request`` of TimeSeries carrying only exemplars;
    ``rows`` are ``[series ref, label pairs, value, ts]`` (a JSON null value is NaN)."""
    local: dict[str, int] = {"": 0}
    symbols = [""]

    def ref(s: str) -> int:
        i = local.get(s)
        if i is None:
            i = local[s] = len(symbols)
            symbols.append(s)
        return i

    strings = table.strings
    out = []
    for series_ref, pairs, value, ts in rows:
        ids = np.frombuffer(label_ids[series_ref], _ID).tolist()
        series = b"".join(_uv(ref(strings[g])) for g in ids)
        ex_refs = b"".join(_uv(ref(s)) for pair in pairs for s in pair)
        ex = (length_delimited(1, ex_refs) if ex_refs else b"") + b"\x11"
        ex += struct.pack("<d", float("nan") if value is None else value)
        ex += b"\x18" + uvarint(ts & 0xFFFFFFFFFFFFFFFF)
        out.append(length_delimited(5, length_delimited(1, series) + length_delimited(4, ex)))
    head = b"".join(length_delimited(4, s.encode()) for s in symbols)
    return snappy_encode(head + b"".join(out))
