"""Remote write receive: decode 1.0 (``prometheus.WriteRequest``) and 2.0
(``io.prometheus.write.v2.Request``) bodies, validate every series first, then append.

Validation runs over the whole request before anything is appended, so a request
with a malformed series changes nothing. Samples the storage refuses (out of order,
out of bounds, a different value for an existing timestamp) are counted; the rest of
the request is kept, and the response says how many landed.

Decoded requests are columnar: per series a cached ``SeriesEntry`` (labels and the
storage ref), per sample its series index, timestamp and value.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
from google.protobuf.message import DecodeError

from tidewatch.labels import Labels
from tidewatch.remote import proto
from tidewatch.tsdb.interface import Exemplar, MetricMetadata, Storage

PROTO_V1 = "prometheus.WriteRequest"
PROTO_V2 = "io.prometheus.write.v2.Request"
MAX_ERRORS_SHOWN = 5
MAX_CACHED_SERIES = 500_000

IntColumn = list[int] | npt.NDArray[np.int64]
FloatColumn = list[float] | npt.NDArray[np.float64]


class InvalidWrite(ValueError):
    """The request is malformed; the message names the first problem found."""


class SeriesEntry:
    """A validated label set and its ref in the storage the cache serves (0 = unknown)."""

    __slots__ = ("labels", "name", "ref")

    def __init__(self, labels: Labels) -> None:
        self.labels = labels
        self.name = next((v for k, v in labels if k == "__name__"), "")
        self.ref = 0


class SeriesCache:
    """Validated label sets keyed by how they arrived on the wire, across requests.

    A sender re-sends the same series in every request, so the raw bytes of a series'
    labels (1.0) or its resolved label strings (2.0) lead straight to its checked
    ``Labels`` and storage ref, without building label objects again. A cache must
    only be used with one storage: it keeps that storage's refs.
    """

    def __init__(self, max_entries: int = MAX_CACHED_SERIES) -> None:
        self.max_entries = max_entries
        self.entries: dict[Hashable, SeriesEntry] = {}

    def add(self, key: Hashable, lbls: Labels) -> SeriesEntry:
        if len(self.entries) >= self.max_entries:
            self.entries.clear()  # crude but bounded; refilled by the next requests
        entry = self.entries[key] = SeriesEntry(lbls)
        return entry


@dataclass
class DecodedWrite:
    """A validated request, columnar."""

    series: list[SeriesEntry] = field(default_factory=list)
    sample_series: IntColumn = field(default_factory=list)  # index into ``series``
    ts: IntColumn = field(default_factory=list)
    values: FloatColumn = field(default_factory=list)
    exemplars: list[tuple[int, Exemplar]] = field(default_factory=list)  # (series index, ...)
    metadata: list[tuple[str, MetricMetadata]] = field(default_factory=list)
    histograms: int = 0  # native histogram samples, which tidewatch does not store

    @property
    def labels(self) -> list[Labels]:
        return [e.labels for e in self.series]


@dataclass
class WriteResult:
    samples_written: int
    exemplars_written: int
    histograms_written: int
    rejected: int
    errors: list[str]


def check_labels(pairs: list[tuple[str, str]], where: str) -> Labels:
    """Sorted, unique, non-empty names, a metric name; empty values dropped."""
    prev = ""
    name_seen = False
    for i, (name, value) in enumerate(pairs):
        if not name:
            raise InvalidWrite(f"{where}: empty label name")
        if i and name <= prev:
            if name == prev:
                raise InvalidWrite(f'{where}: duplicate label name "{name}"')
            raise InvalidWrite(f'{where}: labels are not sorted by name ("{prev}" before "{name}")')
        prev = name
        if name == "__name__" and value:
            name_seen = True
    if not name_seen:
        raise InvalidWrite(f"{where}: missing metric name (__name__ label)")
    if any(not v for _, v in pairs):
        return tuple(p for p in pairs if p[1])
    return tuple(pairs)


def _exemplar_labels(pairs: list[tuple[str, str]], i: int) -> Labels:
    names = [n for n, _ in pairs]
    if len(set(names)) != len(names) or any(not n for n in names):
        inner = ", ".join(f'{n}="{v}"' for n, v in pairs[:8])
        raise InvalidWrite(f"timeseries[{i}]: invalid exemplar labels {{{inner}}}")
    return tuple(sorted(p for p in pairs if p[1]))


def _parse(cls: type, data: bytes, what: str) -> object:
    msg = cls()
    try:
        msg.ParseFromString(data)
    except DecodeError as exc:
        raise InvalidWrite(f"cannot decode {what}: {exc}") from None
    return msg


def metadata_of(type_index: int, help_text: str, unit: str) -> MetricMetadata:
    types = proto.METRIC_TYPES
    return MetricMetadata(
        types[type_index] if 0 <= type_index < len(types) else "unknown", help_text, unit
    )


def labels_from_raw(raw: Iterable[bytes], where: str) -> Labels:
    """Checked labels from raw ``prometheus.Label`` messages."""
    pairs = []
    for item in raw:
        try:
            lb = proto.Label.FromString(item)
        except DecodeError as exc:
            raise InvalidWrite(f"cannot decode {PROTO_V1}: {where}: {exc}") from None
        pairs.append((lb.name, lb.value))
    return check_labels(pairs, where)


def _add_samples(out: DecodedWrite, index: int, samples: object) -> None:
    sample_series = out.sample_series
    ts, values = out.ts, out.values
    assert isinstance(sample_series, list) and isinstance(ts, list) and isinstance(values, list)
    for s in samples:  # type: ignore[attr-defined]
        sample_series.append(index)
        ts.append(s.timestamp)
        values.append(s.value)


def decode_v1(data: bytes, cache: SeriesCache | None = None) -> DecodedWrite:
    """Any valid 1.0 body; ``tidewatch.remote.fastv1`` handles the common shape faster."""
    req = _parse(proto.WriteRequestRawLabels, data, PROTO_V1)
    cache = cache or SeriesCache()
    known = cache.entries
    out = DecodedWrite()
    for i, series in enumerate(req.timeseries):  # type: ignore[attr-defined]
        key = tuple(series.labels)
        entry = known.get(key)
        if entry is None:
            entry = cache.add(key, labels_from_raw(key, f"timeseries[{i}]"))
        out.series.append(entry)
        _add_samples(out, i, series.samples)
        for ex in series.exemplars:
            ex_pairs = [(lb.name, lb.value) for lb in ex.labels]
            out.exemplars.append(
                (i, Exemplar(_exemplar_labels(ex_pairs, i), ex.value, ex.timestamp))
            )
    for m in req.metadata:  # type: ignore[attr-defined]
        if m.metric_family_name:
            out.metadata.append((m.metric_family_name, metadata_of(m.type, m.help, m.unit)))
    return out


def decode_v2(data: bytes, cache: SeriesCache | None = None) -> DecodedWrite:
    req = _parse(proto.WriteRequestV2, data, PROTO_V2)
    symbols: list[str] = list(req.symbols)  # type: ignore[attr-defined]
    nsym = len(symbols)
    if symbols and symbols[0] != "":
        raise InvalidWrite("symbols table must start with an empty string")
    cache = cache or SeriesCache()
    known = cache.entries
    symbol = symbols.__getitem__
    out = DecodedWrite()
    # Every series may repeat its family's metadata; keep one of each.
    seen_metadata: set[tuple[str, int, int, int]] = set()

    def strings(refs: Iterable[int], where: str) -> tuple[str, ...]:
        try:
            key = tuple(map(symbol, refs))
        except IndexError:
            raise InvalidWrite(f"{where}: label reference out of range ({nsym} symbols)") from None
        if len(key) % 2:
            raise InvalidWrite(f"{where}: odd number of label references")
        return key

    for i, series in enumerate(req.timeseries):  # type: ignore[attr-defined]
        key = strings(series.labels_refs, f"timeseries[{i}]")
        entry = known.get(key)
        if entry is None:
            pairs = list(zip(key[::2], key[1::2], strict=True))
            entry = cache.add(key, check_labels(pairs, f"timeseries[{i}]"))
        samples = series.samples
        histograms = len(series.histograms)
        if histograms:
            if samples:
                raise InvalidWrite(f"timeseries[{i}]: both samples and histograms in one series")
            out.histograms += histograms
        out.series.append(entry)
        _add_samples(out, i, samples)
        for ex in series.exemplars:
            ex_key = strings(ex.labels_refs, f"timeseries[{i}] exemplar")
            ex_pairs = list(zip(ex_key[::2], ex_key[1::2], strict=True))
            out.exemplars.append(
                (i, Exemplar(_exemplar_labels(ex_pairs, i), ex.value, ex.timestamp))
            )
        if series.HasField("metadata"):
            md = series.metadata
            if md.help_ref >= nsym or md.unit_ref >= nsym:
                raise InvalidWrite(
                    f"timeseries[{i}]: metadata reference out of range ({nsym} symbols)"
                )
            if md.type or md.help_ref or md.unit_ref:
                seen_metadata.add((entry.name, md.type, md.help_ref, md.unit_ref))
    out.metadata = [
        (name, metadata_of(mtype, symbols[help_ref], symbols[unit_ref]))
        for name, mtype, help_ref, unit_ref in sorted(seen_metadata)
    ]
    return out


def _ints(column: IntColumn) -> list[int]:
    return column.tolist() if isinstance(column, np.ndarray) else column


def _floats(column: FloatColumn) -> list[float]:
    return column.tolist() if isinstance(column, np.ndarray) else column


def apply_write(storage: Storage, batch: DecodedWrite) -> WriteResult:
    """Append a validated request in one commit (blocking; run it off the event loop).

    The refs of ``batch.series`` entries must belong to ``storage`` (one cache per storage).
    """
    app = storage.appender()
    entries = batch.series
    refs = [e.ref for e in entries]
    labels = [e.labels for e in entries]
    append = app.append
    try:
        columns = (_ints(batch.sample_series), _ints(batch.ts), _floats(batch.values))
        for i, t, v in zip(*columns, strict=True):
            refs[i] = append(refs[i], labels[i], t, v)
        for idx, ex in batch.exemplars:
            app.append_exemplar(refs[idx], labels[idx], ex)
        for family, meta in batch.metadata:
            app.update_metadata(family, meta)
    except BaseException:
        app.rollback()
        raise
    stats = app.commit()
    for entry, ref in zip(entries, refs, strict=True):
        entry.ref = ref
    rejected = stats.out_of_order + stats.out_of_bounds + stats.duplicates
    return WriteResult(
        samples_written=len(batch.ts) - rejected,
        exemplars_written=len(batch.exemplars),
        histograms_written=0,
        rejected=rejected,
        errors=list(stats.errors[:MAX_ERRORS_SHOWN]),
    )
