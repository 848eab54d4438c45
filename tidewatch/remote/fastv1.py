"""A columnar decoder for the usual shape of a remote write 1.0 body.

Senders such as Prometheus write each ``TimeSeries`` as its labels, then its
samples, and nothing else. For such bodies the series boundaries are found with
one short Python walk, then every series' labels and samples are stepped through
*in lockstep* with numpy: one array operation per label position and per sample
position instead of per-sample Python work. Each series' raw label bytes are the
cache key for its validated labels.

Anything else (metadata, exemplars, unusual field order, long varints) makes
``decode_v1_fast`` return None, and the caller uses the general protobuf decoder,
which also produces the error message for a malformed body.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from tidewatch.remote.write import DecodedWrite, SeriesCache, labels_from_raw

I64 = npt.NDArray[np.int64]
_MAX_LABELS = 256
_MAX_SAMPLE_ROUNDS = 4096


def _series_bounds(data: bytes) -> tuple[list[int], list[int]] | None:
    """Start/end offsets of each top-level field 1; None if the body has other fields."""
    starts: list[int] = []
    ends: list[int] = []
    pos, n = 0, len(data)
    while pos < n:
        if data[pos] != 0x0A:
            return None
        pos += 1
        length = shift = 0
        while True:
            if pos >= n or shift > 35:
                return None
            b = data[pos]
            pos += 1
            length |= (b & 0x7F) << shift
            shift += 7
            if b < 0x80:
                break
        end = pos + length
        if end > n:
            return None
        starts.append(pos)
        ends.append(end)
        pos = end
    return starts, ends


def varints(
    buf: npt.NDArray[np.uint8], pos: I64, live: npt.NDArray[np.bool_]
) -> tuple[I64, I64] | None:
    """Decode one varint at each ``pos`` where ``live``; returns (values, new positions)."""
    last = len(buf) - 1
    value = np.zeros(len(pos), np.uint64)
    pos = pos.copy()
    live = live.copy()
    for j in range(10):
        idx = np.flatnonzero(live)
        if not len(idx):
            return value.view(np.int64), pos
        b = buf[np.minimum(pos[idx], last)].astype(np.uint64)
        value[idx] |= (b & np.uint64(0x7F)) << np.uint64(7 * j)
        pos[idx] += 1
        live[idx] = b >= 0x80
    return None if live.any() else (value.view(np.int64), pos)


@dataclass
class Samples:
    pos: I64  # per series: the offset after its samples
    series: I64  # per sample: series index
    ts: I64
    values: npt.NDArray[np.float64]


def lockstep_samples(buf: npt.NDArray[np.uint8], pos: I64, end: I64) -> Samples | None:
    """Read the repeated ``Sample`` field (tag 0x12) at ``pos`` of every series at once.

    Each sample is "0x09 <double>" then "0x10 <varint>", both optional (proto3 leaves
    out zeros); 1.0 and 2.0 share this layout. Round r reads the r-th sample of every
    series that has one.
    """
    last = len(buf) - 1
    pos = pos.copy()
    series_parts: list[I64] = []
    ts_parts: list[I64] = []
    value_parts: list[npt.NDArray[np.float64]] = []
    for _ in range(_MAX_SAMPLE_ROUNDS):
        active = (pos < end) & (buf[np.minimum(pos, last)] == 0x12)
        idx = np.flatnonzero(active)
        if not len(idx):
            break
        p = pos[idx]
        size = buf[np.minimum(p + 1, last)].astype(np.int64)
        if (size >= 0x80).any():
            return None
        q = p + 2
        msg_end = q + size
        has_value = (size > 0) & (buf[np.minimum(q, last)] == 0x09)
        values = np.zeros(len(idx), np.float64)
        if has_value.any():
            at = q[has_value] + 1
            if (at + 8 > len(buf)).any():
                return None
            raw = buf[at[:, None] + np.arange(8)]
            values[has_value] = np.ascontiguousarray(raw).view("<f8").ravel()
        q = q + 9 * has_value
        has_ts = (q < msg_end) & (buf[np.minimum(q, last)] == 0x10)
        decoded = varints(buf, q + 1, has_ts)
        if decoded is None:
            return None
        ts, after = decoded
        q = np.where(has_ts, after, q)
        if (q != msg_end).any() or (msg_end > end[idx]).any():
            return None
        series_parts.append(idx)
        ts_parts.append(np.where(has_ts, ts, 0))
        value_parts.append(values)
        pos[idx] = msg_end
    else:
        return None
    if not series_parts:
        empty = np.zeros(0, np.int64)
        return Samples(pos, empty, empty, np.zeros(0, np.float64))
    # A stable sort by series puts each series' samples back together, in order.
    series = np.concatenate(series_parts)
    order = np.argsort(series, kind="stable")
    return Samples(
        pos, series[order], np.concatenate(ts_parts)[order], np.concatenate(value_parts)[order]
    )


def decode_v1_fast(data: bytes, cache: SeriesCache) -> DecodedWrite | None:
    bounds = _series_bounds(data)
    if bounds is None or not bounds[0]:
        return None
    buf = np.frombuffer(data, np.uint8)
    last = len(buf) - 1
    start = np.array(bounds[0], np.int64)
    end = np.array(bounds[1], np.int64)
    pos = start.copy()

    # Labels: field 1 (tag 0x0a) with a one- or two-byte length, every series at once.
    for _ in range(_MAX_LABELS):
        active = (pos < end) & (buf[np.minimum(pos, last)] == 0x0A)
        if not active.any():
            break
        idx = np.flatnonzero(active)
        b1 = buf[np.minimum(pos[idx] + 1, last)].astype(np.int64)
        b2 = buf[np.minimum(pos[idx] + 2, last)].astype(np.int64)
        long = b1 >= 0x80
        if (long & (b2 >= 0x80)).any():
            return None
        length = np.where(long, (b1 & 0x7F) | (b2 << 7), b1)
        pos[idx] += 2 + long + length
    else:
        return None
    if (pos > end).any():
        return None
    label_end = pos.copy()

    samples = lockstep_samples(buf, pos, end)
    if samples is None or (samples.pos != end).any():
        return None  # exemplars, histograms or fields out of the usual order

    out = DecodedWrite()
    known = cache.entries
    for i, (lo, hi) in enumerate(zip(bounds[0], label_end.tolist(), strict=True)):
        key = data[lo:hi]
        entry = known.get(key)
        if entry is None:
            raw = _split_labels(key)
            entry = cache.add(key, labels_from_raw(raw, f"timeseries[{i}]"))
        out.series.append(entry)
    out.sample_series, out.ts, out.values = samples.series, samples.ts, samples.values
    return out


def _split_labels(raw: bytes) -> list[bytes]:
    """The individual Label messages of a series' label fields (already bounds-checked)."""
    items = []
    pos = 0
    while pos < len(raw):
        b1 = raw[pos + 1]
        if b1 >= 0x80:
            length, head = (b1 & 0x7F) | (raw[pos + 2] << 7), 3
        else:
            length, head = b1, 2
        items.append(raw[pos + head : pos + head + length])
        pos += head + length
    return items
