"""Building remote write 1.0 ``WriteRequest`` bodies from sample columns.

Label sets are encoded once per series and kept as bytes; the samples of a whole batch
are laid out in one numpy pass (``tidewatch.remote.wire``) and sliced per series, so
the per-series Python work is a slice and a join.
"""

from __future__ import annotations

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

# Tag and length of a TimeSeries of each small size, built once.
_CACHED = 1 << 14
_TS_HEAD = [b"\x0a" + uvarint(n) for n in range(_CACHED)]


def encode_labels(lbls: Labels) -> bytes:
    """The repeated ``labels`` field (1) of a ``prometheus.TimeSeries``."""
    parts = []
    for name, value in lbls:
        body = length_delimited(1, name.encode()) + length_delimited(2, value.encode())
        parts.append(length_delimited(1, body))
    return b"".join(parts)


def encode_write_request(
    refs: I64, ts: I64, vals: F64, label_bytes: dict[int, bytes]
) -> tuple[bytes, int]:
    """Snappy-compressed ``WriteRequest`` of the given samples and its series count.

    Samples are grouped by series (stable, so each series keeps its time order);
    ``label_bytes`` maps a series ref to ``encode_labels`` of its labels.
    """
    order = np.argsort(refs, kind="stable")
    refs, ts, vals = refs[order], ts[order], vals[order]
    sample_bytes = encode_samples(ts, vals)
    # Byte offset of every sample inside ``sample_bytes``: 12 fixed bytes + the varint.
    sizes = 12 + varint_sizes(ts.view(np.uint64))
    offsets = np.concatenate(([0], np.cumsum(sizes)))
    starts = np.flatnonzero(np.concatenate(([True], refs[1:] != refs[:-1])))
    bounds = offsets[np.append(starts, len(refs))]
    series_refs = refs[starts].tolist()
    lbls = [label_bytes[r] for r in series_refs]
    lbl_lens = np.fromiter(map(len, lbls), np.int64, len(lbls))
    body_lens = (lbl_lens + np.diff(bounds)).tolist()
    cuts = bounds.tolist()
    parts: list[bytes] = []
    add = parts.extend
    for i, lbl in enumerate(lbls):
        n = body_lens[i]
        add(
            (
                _TS_HEAD[n] if n < _CACHED else b"\x0a" + uvarint(n),
                lbl,
                sample_bytes[cuts[i] : cuts[i + 1]],
            )
        )
    return snappy_encode(b"".join(parts)), len(series_refs)


def encode_metadata_request(items: list[tuple[str, MetricMetadata]]) -> bytes:
    """Snappy-compressed ``WriteRequest`` holding only ``metadata`` (field 3)."""
    out = []
    for family, meta in items:
        kind = METRIC_TYPES.index(meta.type) if meta.type in METRIC_TYPES else 0
        body = (b"\x08" + uvarint(kind) if kind else b"") + length_delimited(2, family.encode())
        if meta.help:
            body += length_delimited(4, meta.help.encode())
        if meta.unit:
            body += length_delimited(5, meta.unit.encode())
        out.append(length_delimited(3, body))
    return snappy_encode(b"".join(out))


def encode_exemplar_request(rows: list[list[Any]], label_bytes: dict[int, bytes]) -> bytes:
    """Snappy ``WriteRequest`` of TimeSeries carrying only exemplars; ``rows`` are
    ``[series ref, label pairs, value, ts]`` (a JSON null value is NaN)."""
    out = []
    for ref, pairs, value, ts in rows:
        ex = b"".join(
            length_delimited(1, length_delimited(1, n.encode()) + length_delimited(2, v.encode()))
            for n, v in pairs
        )
        ex += b"\x11" + struct.pack("<d", float("nan") if value is None else value)
        ex += b"\x18" + uvarint(ts & 0xFFFFFFFFFFFFFFFF)
        out.append(length_delimited(1, label_bytes[ref] + length_delimited(3, ex)))
    return snappy_encode(b"".join(out))
