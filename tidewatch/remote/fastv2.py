"""A columnar decoder for the usual shape of a remote write 2.0 body.

The symbol table and the raw bytes of each series come from protobuf in two C
calls; then every series is read in lockstep with numpy (see ``fastv1``): the packed
label references, the samples, the metadata and the created timestamp. Label
references of all series are decoded in one pass. Anything else (exemplars,
histograms, unusual order, bad references) returns None, and the caller uses the
general decoder, which also names the problem of a malformed body.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from google.protobuf.message import DecodeError

from tidewatch.remote import proto
from tidewatch.remote.fastv1 import lockstep_samples, varints
from tidewatch.remote.write import DecodedWrite, SeriesCache, check_labels, metadata_of

I64 = npt.NDArray[np.int64]


def _length_prefixed(
    buf: npt.NDArray[np.uint8], pos: I64, end: I64, tag: int
) -> tuple[npt.NDArray[np.bool_], I64, I64] | None:
    """Where field ``tag`` is next: (present, payload start, payload end)."""
    last = len(buf) - 1
    present = (pos < end) & (buf[np.minimum(pos, last)] == tag)
    b1 = buf[np.minimum(pos + 1, last)].astype(np.int64)
    b2 = buf[np.minimum(pos + 2, last)].astype(np.int64)
    long = b1 >= 0x80
    if (present & long & (b2 >= 0x80)).any():
        return None
    start = pos + 2 + long
    stop = start + np.where(long, (b1 & 0x7F) | (b2 << 7), b1)
    start = np.where(present, start, pos)
    stop = np.where(present, stop, pos)
    if (stop > end).any():
        return None
    return present, start, stop


def _packed_varints(buf: npt.NDArray[np.uint8], start: I64, stop: I64) -> tuple[I64, I64] | None:
    """All packed uint32 varints in the ranges, and each range's first index into them."""
    counts = stop - start
    total = int(counts.sum())
    if total == 0:
        return np.zeros(0, np.int64), np.zeros(len(start) + 1, np.int64)
    offsets = np.zeros(len(start) + 1, np.int64)
    np.cumsum(counts, out=offsets[1:])
    idx = np.repeat(start - offsets[:-1], counts) + np.arange(total)
    raw = buf[idx]
    terminal = raw < 0x80
    nonempty = counts > 0
    if not terminal[offsets[1:][nonempty] - 1].all():
        return None  # a varint runs past its field
    ends = np.flatnonzero(terminal)
    firsts = np.empty(len(ends), np.int64)
    firsts[0] = 0
    firsts[1:] = ends[:-1] + 1
    within = np.arange(total) - np.repeat(firsts, ends - firsts + 1)
    if within.max() > 4:
        return None
    parts = (raw & 0x7F).astype(np.int64) << (7 * within)
    values = np.add.reduceat(parts, firsts)
    # Index of each range's first value: terminals counted before the range.
    before = np.concatenate([[0], np.cumsum(terminal)])
    return values, before[offsets]


def decode_v2_fast(data: bytes, cache: SeriesCache) -> DecodedWrite | None:
    try:
        req = proto.WriteRequestV2RawSeries.FromString(data)
    except DecodeError:
        return None
    symbols: list[str] = list(req.symbols)
    raws: list[bytes] = list(req.timeseries)
    if not raws or (symbols and symbols[0] != ""):
        return None
    lens = np.fromiter(map(len, raws), np.int64, len(raws))
    body = b"".join(raws)
    buf = np.frombuffer(body, np.uint8)
    if not len(buf):
        return None
    end = np.cumsum(lens)
    pos = end - lens

    found = _length_prefixed(buf, pos, end, 0x0A)  # labels_refs, packed
    if found is None:
        return None
    has_labels, ref_start, ref_stop = found
    if not has_labels.all():
        return None
    packed = _packed_varints(buf, ref_start, ref_stop)
    if packed is None:
        return None
    refs, first_ref = packed
    if len(refs) and int(refs.max()) >= len(symbols):
        return None
    samples = lockstep_samples(buf, ref_stop, end)
    if samples is None:
        return None
    pos = samples.pos

    found = _length_prefixed(buf, pos, end, 0x2A)  # metadata
    if found is None:
        return None
    has_md, md_start, md_stop = found
    md_fields = []
    cur = md_start
    for tag in (0x08, 0x18, 0x20):  # type, help_ref, unit_ref
        here = (cur < md_stop) & (buf[np.minimum(cur, len(buf) - 1)] == tag)
        decoded = varints(buf, cur + 1, here)
        if decoded is None:
            return None
        value, after = decoded
        md_fields.append(np.where(here, value, 0))
        cur = np.where(here, after, cur)
    if (cur != md_stop).any():
        return None
    pos = np.where(has_md, md_stop, pos)
    last = len(buf) - 1
    has_ct = (pos < end) & (buf[np.minimum(pos, last)] == 0x30)  # created_timestamp: unused
    decoded = varints(buf, pos + 1, has_ct)
    if decoded is None:
        return None
    pos = np.where(has_ct, decoded[1], pos)
    if (pos != end).any():
        return None  # exemplars, histograms or an unusual field order

    out = DecodedWrite()
    known = cache.entries
    symbol = symbols.__getitem__
    ref_list = refs.tolist()
    bounds = first_ref.tolist()
    for i in range(len(raws)):
        key = tuple(map(symbol, ref_list[bounds[i] : bounds[i + 1]]))
        entry = known.get(key)
        if entry is None:
            if len(key) % 2:
                return None
            pairs = list(zip(key[::2], key[1::2], strict=True))
            entry = cache.add(key, check_labels(pairs, f"timeseries[{i}]"))
        out.series.append(entry)
    out.sample_series, out.ts, out.values = samples.series, samples.ts, samples.values

    if has_md.any():
        mtype, help_ref, unit_ref = md_fields
        if int(max(help_ref.max(), unit_ref.max())) >= len(symbols):
            return None
        rows = np.flatnonzero(has_md & ((mtype | help_ref | unit_ref) != 0))
        seen: set[tuple[str, int, int, int]] = set()
        for i, t, h, u in zip(
            rows.tolist(),
            mtype[rows].tolist(),
            help_ref[rows].tolist(),
            unit_ref[rows].tolist(),
            strict=True,
        ):
            seen.add((out.series[i].name, t, h, u))
        out.metadata = [
            (name, metadata_of(t, symbols[h], symbols[u])) for name, t, h, u in sorted(seen)
        ]
    return out
