"""Building remote write 1.0 ``WriteRequest`` bodies from sample columns.

Label sets are encoded once per series and kept as bytes; the samples of a whole batch
are laid out in one numpy pass (``tidewatch.remote.wire``) and sliced per series, so
the per-series Python work is a slice and a join.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from tidewatch.labels import Labels
from tidewatch.remote.codec import snappy_encode, uvarint
from tidewatch.remote.wire import encode_samples, length_delimited, varint_sizes

I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]


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
    bounds = np.append(starts, len(refs))
    out: list[bytes] = []
    byte_bounds = offsets[bounds].tolist()
    series_refs = refs[starts].tolist()
    for i, ref in enumerate(series_refs):
        lbl = label_bytes[ref]
        samples = sample_bytes[byte_bounds[i] : byte_bounds[i + 1]]
        out.append(b"\x0a" + uvarint(len(lbl) + len(samples)))
        out.append(lbl)
        out.append(samples)
    return snappy_encode(b"".join(out)), len(series_refs)
