"""Remote write receive: decode 1.0 (``prometheus.WriteRequest``) and 2.0
(``io.prometheus.write.v2.Request``) bodies, validate every series first, then append.

Validation runs over the whole request before anything is appended, so a request
with a malformed series changes nothing. Samples the storage refuses (out of order,
out of bounds, a different value for an existing timestamp) are counted; the rest of
the request is kept, and the response says how many landed.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from google.protobuf.message import DecodeError

from tidewatch.labels import Labels
from tidewatch.remote import proto
from tidewatch.tsdb.interface import Exemplar, MetricMetadata, Storage

PROTO_V1 = "prometheus.WriteRequest"
PROTO_V2 = "io.prometheus.write.v2.Request"
MAX_ERRORS_SHOWN = 5


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


def decode_v1(data: bytes) -> DecodedWrite:
    req = _parse(proto.WriteRequest, data, PROTO_V1)
    out = DecodedWrite()
    for i, series in enumerate(req.timeseries):  # type: ignore[attr-defined]
        pairs = [(lb.name, lb.value) for lb in series.labels]
        lbls = _check_labels(pairs, f"timeseries[{i}]")
        samples = series.samples
        out.labels.append(lbls)
        out.ts.append([s.timestamp for s in samples])
        out.values.append([s.value for s in samples])
        for ex in series.exemplars:
            ex_pairs = [(lb.name, lb.value) for lb in ex.labels]
            out.exemplars.append(
                (
                    len(out.labels) - 1,
                    Exemplar(_exemplar_labels(ex_pairs, i), ex.value, ex.timestamp),
                )
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


def decode_v2(data: bytes) -> DecodedWrite:
    req = _parse(proto.WriteRequestV2, data, PROTO_V2)
    symbols: list[str] = list(req.symbols)  # type: ignore[attr-defined]
    nsym = len(symbols)
    if symbols and symbols[0] != "":
        raise InvalidWrite("symbols table must start with an empty string")
    out = DecodedWrite()

    def resolve(refs: list[int], where: str) -> list[tuple[str, str]]:
        if len(refs) % 2:
            raise InvalidWrite(f"{where}: odd number of label references")
        if refs and max(refs) >= nsym:
            raise InvalidWrite(
                f"{where}: label reference {max(refs)} out of range ({nsym} symbols)"
            )
        return list(
            zip([symbols[r] for r in refs[::2]], [symbols[r] for r in refs[1::2]], strict=True)
        )

    for i, series in enumerate(req.timeseries):  # type: ignore[attr-defined]
        where = f"timeseries[{i}]"
        pairs = resolve(list(series.labels_refs), where)
        lbls = _check_labels(pairs, where)
        samples = series.samples
        if samples and series.histograms:
            raise InvalidWrite(f"{where}: both samples and histograms in one series")
        out.histograms += len(series.histograms)
        out.labels.append(lbls)
        out.ts.append([s.timestamp for s in samples])
        out.values.append([s.value for s in samples])
        idx = len(out.labels) - 1
        for ex in series.exemplars:
            ex_pairs = resolve(list(ex.labels_refs), where + " exemplar")
            out.exemplars.append(
                (idx, Exemplar(_exemplar_labels(ex_pairs, i), ex.value, ex.timestamp))
            )
        if series.HasField("metadata"):
            md = series.metadata
            if md.help_ref >= nsym or md.unit_ref >= nsym:
                raise InvalidWrite(f"{where}: metadata reference out of range ({nsym} symbols)")
            if md.type or md.help_ref or md.unit_ref:
                name = dict(lbls).get("__name__", "")
                out.metadata.append(
                    (name, _metadata(md.type, symbols[md.help_ref], symbols[md.unit_ref]))
                )
    return out


def apply_write(storage: Storage, batch: DecodedWrite) -> WriteResult:
    """Append a validated request in one commit (blocking; run it off the event loop)."""
    app = storage.appender()
    total = 0
    refs: list[int] = []
    try:
        for lbls, ts, vals in zip(batch.labels, batch.ts, batch.values, strict=True):
            ref = 0
            append = app.append
            for t, v in zip(ts, vals, strict=True):
                ref = append(ref, lbls, t, v)
            total += len(ts)
            refs.append(ref)
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
