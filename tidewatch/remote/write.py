"""Remote write receive: decode 1.0 (``prometheus.WriteRequest``) and 2.0
(``io.prometheus.write.v2.Request``) bodies, validate every series first, then append.

Validation runs over the whole request before anything is appended, so a request
with a malformed series changes nothing. Samples the storage refuses (out of order,
out of bounds, a different value for an existing timestamp) are counted; the rest of
the request is kept, and the response says how many landed.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from google.protobuf.message import DecodeError

from tidewatch.labels import Labels
from tidewatch.remote import proto
from tidewatch.tsdb.interface import Exemplar, MetricMetadata, Storage

PROTO_V1 = "prometheus.WriteRequest"
PROTO_V2 = "io.prometheus.write.v2.Request"
MAX_ERRORS_SHOWN = 5
MAX_CACHED_SERIES = 500_000


class InvalidWrite(ValueError):
    """The request is malformed; the message names the first problem found."""


@dataclass
class DecodedWrite:
    """A validated request: per series its labels and sample columns."""

    labels: list[Labels] = field(default_factory=list)
    ts: list[list[int]] = field(default_factory=list)
    values: list[list[float]] = field(default_factory=list)
    # (series index, exemplar)
    exemplars: list[tuple[int, Exemplar]] = field(default_factory=list)
    metadata: list[tuple[str, MetricMetadata]] = field(default_factory=list)
    histograms: int = 0  # native histogram samples, which tidewatch does not store

    @property
    def sample_count(self) -> int:
        return sum(map(len, self.ts))


@dataclass
class WriteResult:
    samples_written: int
    exemplars_written: int
    histograms_written: int
    rejected: int
    errors: list[str]


def _check_labels(pairs: list[tuple[str, str]], where: str) -> Labels:
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


def _describe(pairs: list[tuple[str, str]]) -> str:
    inner = ", ".join(f'{n}="{v}"' for n, v in pairs[:8])
    return "series {" + inner + ("…" if len(pairs) > 8 else "") + "}"


def _parse(cls: type, data: bytes, what: str) -> object:
    msg = cls()
    try:
        msg.ParseFromString(data)
    except DecodeError as exc:
        raise InvalidWrite(f"cannot decode {what}: {exc}") from None
    return msg


def _metadata(type_index: int, help_text: str, unit: str) -> MetricMetadata:
    types = proto.METRIC_TYPES
    return MetricMetadata(
        types[type_index] if 0 <= type_index < len(types) else "unknown", help_text, unit
    )


class SeriesCache:
    """Remembers validated label sets and their storage refs across requests.

    A sender re-sends the same series in every request, so the raw bytes of a
    series' labels map straight to its checked ``Labels`` (and its ref in the one
    storage this cache serves) without building label objects again.
    """

    def __init__(self, max_entries: int = MAX_CACHED_SERIES) -> None:
        self.max_entries = max_entries
        self.labels: dict[tuple[bytes, ...], Labels] = {}  # 1.0: raw Label messages
        self.strings: dict[tuple[str, ...], Labels] = {}  # 2.0: resolved symbols
        self.refs: dict[Labels, int] = {}

    def remember(self, key: tuple[bytes, ...], lbls: Labels) -> None:
        if len(self.labels) >= self.max_entries:
            self.labels.clear()  # crude but bounded; refilled by the next requests
        self.labels[key] = lbls

    def remember_strings(self, key: tuple[str, ...], lbls: Labels) -> None:
        if len(self.strings) >= self.max_entries:
            self.strings.clear()
        self.strings[key] = lbls

    def remember_ref(self, lbls: Labels, ref: int) -> None:
        if len(self.refs) >= self.max_entries:
            self.refs.clear()
        self.refs[lbls] = ref


def _labels_from_raw(raw: tuple[bytes, ...], where: str) -> Labels:
    pairs = []
    for item in raw:
        try:
            lb = proto.Label.FromString(item)
        except DecodeError as exc:
            raise InvalidWrite(f"cannot decode {PROTO_V1}: {where}: {exc}") from None
        pairs.append((lb.name, lb.value))
    return _check_labels(pairs, where)


def decode_v1(data: bytes, cache: SeriesCache | None = None) -> DecodedWrite:
    req = _parse(proto.WriteRequestRawLabels, data, PROTO_V1)
    cache = cache or SeriesCache()
    known = cache.labels
    out = DecodedWrite()
    labels_out, ts_out, values_out = out.labels, out.ts, out.values
    for i, series in enumerate(req.timeseries):  # type: ignore[attr-defined]
        key = tuple(series.labels)
        lbls = known.get(key)
        if lbls is None:
            lbls = _labels_from_raw(key, f"timeseries[{i}]")
            cache.remember(key, lbls)
        samples = series.samples
        labels_out.append(lbls)
        if len(samples) == 1:  # the usual case: one sample per series and request
            s = samples[0]
            ts_out.append([s.timestamp])
            values_out.append([s.value])
        else:
            ts_out.append([s.timestamp for s in samples])
            values_out.append([s.value for s in samples])
        for ex in series.exemplars:
            ex_pairs = [(lb.name, lb.value) for lb in ex.labels]
            out.exemplars.append(
                (i, Exemplar(_exemplar_labels(ex_pairs, i), ex.value, ex.timestamp))
            )
    for m in req.metadata:  # type: ignore[attr-defined]
        if m.metric_family_name:
            out.metadata.append((m.metric_family_name, _metadata(m.type, m.help, m.unit)))
    return out


def _exemplar_labels(pairs: list[tuple[str, str]], i: int) -> Labels:
    names = [n for n, _ in pairs]
    if len(set(names)) != len(names) or any(not n for n in names):
        raise InvalidWrite(f"timeseries[{i}]: invalid exemplar labels {_describe(pairs)}")
    return tuple(sorted(p for p in pairs if p[1]))


def decode_v2(data: bytes, cache: SeriesCache | None = None) -> DecodedWrite:
    req = _parse(proto.WriteRequestV2, data, PROTO_V2)
    symbols: list[str] = list(req.symbols)  # type: ignore[attr-defined]
    nsym = len(symbols)
    if symbols and symbols[0] != "":
        raise InvalidWrite("symbols table must start with an empty string")
    cache = cache or SeriesCache()
    known = cache.strings
    symbol = symbols.__getitem__
    out = DecodedWrite()

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
        lbls = known.get(key)
        if lbls is None:
            lbls = _check_labels(list(zip(key[::2], key[1::2], strict=True)), f"timeseries[{i}]")
            cache.remember_strings(key, lbls)
        samples = series.samples
        histograms = len(series.histograms)
        if histograms:
            if samples:
                raise InvalidWrite(f"timeseries[{i}]: both samples and histograms in one series")
            out.histograms += histograms
        out.labels.append(lbls)
        if len(samples) == 1:
            s = samples[0]
            out.ts.append([s.timestamp])
            out.values.append([s.value])
        else:
            out.ts.append([s.timestamp for s in samples])
            out.values.append([s.value for s in samples])
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
                out.metadata.append(
                    (
                        dict(lbls).get("__name__", ""),
                        _metadata(md.type, symbols[md.help_ref], symbols[md.unit_ref]),
                    )
                )
    return out


def apply_write(
    storage: Storage, batch: DecodedWrite, cache: SeriesCache | None = None
) -> WriteResult:
    """Append a validated request in one commit (blocking; run it off the event loop).

    ``cache`` must only ever be used with this one ``storage``: it keeps its refs.
    """
    app = storage.appender()
    known_refs = cache.refs if cache is not None else {}
    total = 0
    refs: list[int] = []
    append = app.append
    try:
        for lbls, ts, vals in zip(batch.labels, batch.ts, batch.values, strict=True):
            known = ref = known_refs.get(lbls, 0)
            for t, v in zip(ts, vals, strict=True):
                ref = append(ref, lbls, t, v)
            total += len(ts)
            refs.append(ref)
            if cache is not None and ref != known:
                cache.remember_ref(lbls, ref)
        for idx, ex in batch.exemplars:
            app.append_exemplar(refs[idx], batch.labels[idx], ex)
        for family, meta in batch.metadata:
            app.update_metadata(family, meta)
    except BaseException:
        app.rollback()
        raise
    stats = app.commit()
    rejected = stats.out_of_order + stats.out_of_bounds + stats.duplicates
    return WriteResult(
        samples_written=total - rejected,
        exemplars_written=len(batch.exemplars),
        histograms_written=0,
        rejected=rejected,
        errors=list(stats.errors[:MAX_ERRORS_SHOWN]),
    )
