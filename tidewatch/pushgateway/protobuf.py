"""Pushes in the protobuf exposition (length-delimited ``io.prometheus.client.MetricFamily``
messages), the format client_golang's ``push`` package sends by default.

The descriptors (client_model ``metrics.proto``, classic types only) are built at
import; native-histogram fields stay unknown and are ignored.
"""

from __future__ import annotations

from typing import Any

from google.protobuf.message import DecodeError

from tidewatch.gofloat import format_float
from tidewatch.ingest.exposition import is_valid_label_name, is_valid_metric_name
from tidewatch.pushgateway.grouping import GroupingKey
from tidewatch.remote.proto import MetricFamily

CONTENT_TYPE = (
    "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited"
)
TYPE_NAMES = ["counter", "gauge", "summary", "untyped", "histogram", "gaugehistogram"]


class ProtobufPushError(ValueError):
    pass


def is_protobuf(content_type: str) -> bool:
    fields = [f.strip() for f in content_type.split(";")]
    if fields[0].lower() != "application/vnd.google.protobuf":
        return False
    params = {}
    for f in fields[1:]:
        k, _, v = f.partition("=")
        params[k.strip().lower()] = v.strip().strip('"')
    return (
        params.get("proto") == "io.prometheus.client.MetricFamily"
        and params.get("encoding") == "delimited"
    )


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= len(data) or shift > 63:
            raise ProtobufPushError("unexpected end of a length prefix")
        b = data[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, pos
        shift += 7


def decode_families(body: bytes) -> list[Any]:
    """Every length-delimited ``MetricFamily`` of a body."""
    out = []
    pos = 0
    while pos < len(body):
        size, pos = _varint(body, pos)
        if pos + size > len(body):
            raise ProtobufPushError("truncated MetricFamily message")
        fam = MetricFamily()
        try:
            fam.ParseFromString(body[pos : pos + size])
        except DecodeError as exc:
            raise ProtobufPushError(f"invalid MetricFamily message: {exc}") from None
        out.append(fam)
        pos += size
    return out


# (sample name, labels incl. grouping labels but without __name__, value)
RawSample = tuple[str, list[tuple[str, str]], float]


def family_samples(fam: Any) -> tuple[str, list[tuple[list[tuple[str, str]], list[RawSample]]]]:
    """``(type, [(metric labels, samples in exposition order)])``; checks names."""
    name = fam.name
    if not is_valid_metric_name(name):
        raise ProtobufPushError(f"invalid metric name {name!r}")
    kind = TYPE_NAMES[fam.type] if fam.type < len(TYPE_NAMES) else "untyped"
    metrics = []
    for m in fam.metric:
        labels = [(lp.name, lp.value) for lp in m.label]
        for ln, _ in labels:
            if not is_valid_label_name(ln):
                raise ProtobufPushError(f"invalid label name {ln!r} in metric {name!r}")
        samples: list[RawSample] = []
        if kind in ("histogram", "gaugehistogram") and m.HasField("histogram"):
            h = m.histogram
            count = h.sample_count_float if h.HasField("sample_count_float") else h.sample_count
            has_inf = False
            for b in h.bucket:
                bound = b.upper_bound
                has_inf = has_inf or bound == float("inf")
                c = (
                    b.cumulative_count_float
                    if b.HasField("cumulative_count_float")
                    else b.cumulative_count
                )
                samples.append((name + "_bucket", [*labels, ("le", format_float(bound))], float(c)))
            if not has_inf:
                samples.append((name + "_bucket", [*labels, ("le", "+Inf")], float(count)))
            samples.append((name + "_sum", labels, h.sample_sum))
            samples.append((name + "_count", labels, float(count)))
        elif kind == "summary" and m.HasField("summary"):
            s = m.summary
            for q in s.quantile:
                samples.append((name, [*labels, ("quantile", format_float(q.quantile))], q.value))
            samples.append((name + "_sum", labels, s.sample_sum))
            samples.append((name + "_count", labels, float(s.sample_count)))
        else:
            value = 0.0
            for field in ("counter", "gauge", "untyped"):
                if m.HasField(field):
                    value = getattr(m, field).value
            samples.append((name, labels, value))
        metrics.append((labels, samples))
    return kind, metrics


def has_timestamps(families: list[Any]) -> bool:
    return any(m.HasField("timestamp_ms") for f in families for m in f.metric)


def grouping_applied(
    labels: list[tuple[str, str]], key: GroupingKey
) -> tuple[tuple[str, str], ...]:
    d = dict(labels)
    d.update(key)
    d.setdefault("instance", "")
    return tuple(sorted(d.items()))
