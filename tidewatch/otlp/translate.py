"""OTLP metrics -> Prometheus samples, as Prometheus's OTLP endpoint translates them.

- gauge -> gauge; sum: monotonic cumulative -> counter (``_total``), non-monotonic
  cumulative -> gauge; delta sums and histograms are dropped with a reason (Prometheus
  refuses them too unless a delta conversion is switched on).
- histogram -> classic ``_bucket{le}`` (cumulated), ``_sum`` (when present), ``_count``.
- summary -> ``{quantile}``, ``_sum``, ``_count``.
- exponential histogram -> dropped with a reason (no native histograms in the TSDB).
- resource: ``service.namespace``/``service.name`` -> ``job``, ``service.instance.id``
  -> ``instance``; the other resource attributes go on ``target_info`` (and on every
  series only when promoted).
- a point flagged "no recorded value" becomes a staleness marker.
- exemplars keep their trace/span ids (hex) and filtered attributes as labels; on a
  histogram they go to the first bucket whose bound holds their value.
- the ``otlp:`` options (see :mod:`tidewatch.otlp.options`) promote resource
  attributes and scope metadata to labels and pick the name translation.
"""

from __future__ import annotations

import base64
import itertools
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import orjson

from tidewatch.labels import Labels
from tidewatch.otlp import names, proto
from tidewatch.otlp.options import OTLPOptions
from tidewatch.tsdb.interface import Exemplar, MetricMetadata, Storage
from tidewatch.value import STALE_NAN

SERVICE_NAME = "service.name"
SERVICE_NAMESPACE = "service.namespace"
SERVICE_INSTANCE_ID = "service.instance.id"
_IDENTIFYING = frozenset((SERVICE_NAME, SERVICE_NAMESPACE, SERVICE_INSTANCE_ID))
MAX_REASONS = 10


@dataclass
class Translated:
    """Columns of samples ready to append, with what had to be dropped and why."""

    labels: list[Labels] = field(default_factory=list)
    ts: list[int] = field(default_factory=list)
    values: list[float] = field(default_factory=list)
    metadata: dict[str, MetricMetadata] = field(default_factory=dict)
    exemplars: list[tuple[Labels, Exemplar]] = field(default_factory=list)
    dropped_points: int = 0
    reasons: list[str] = field(default_factory=list)

    def drop(self, points: int, reason: str) -> None:
        self.dropped_points += points
        if len(self.reasons) < MAX_REASONS and reason not in self.reasons:
            self.reasons.append(reason)

    def add(self, labels: Labels, t: int, v: float) -> None:
        self.labels.append(labels)
        self.ts.append(t)
        self.values.append(v)


def format_float(v: float) -> str:
    """Go's ``strconv.FormatFloat(v, 'f', -1, 64)``: shortest digits, never an exponent."""
    if v == float("inf"):
        return "+Inf"
    if v == float("-inf"):
        return "-Inf"
    if v != v:
        return "NaN"
    return str(np.format_float_positional(v, trim="-"))


def any_value_text(value: Any) -> str:
    """An attribute value as Prometheus writes it into a label."""
    kind = value.WhichOneof("value")
    if kind == "string_value" or kind is None:
        return str(value.string_value)
    if kind == "bool_value":
        return "true" if value.bool_value else "false"
    if kind == "int_value":
        return str(value.int_value)
    if kind == "double_value":
        return format_float(value.double_value)
    if kind == "bytes_value":
        return base64.b64encode(value.bytes_value).decode()
    return orjson.dumps(_any_value_json(value)).decode()


def _any_value_json(value: Any) -> Any:
    kind = value.WhichOneof("value")
    if kind == "array_value":
        return [_any_value_json(v) for v in value.array_value.values]
    if kind == "kvlist_value":
        return {kv.key: _any_value_json(kv.value) for kv in value.kvlist_value.values}
    if kind == "bool_value":
        return value.bool_value
    if kind == "int_value":
        return value.int_value
    if kind == "double_value":
        return value.double_value
    return any_value_text(value)


def _key_of(kv: Any) -> str:
    return str(kv.key)


def attribute_labels(attributes: Any, skip: frozenset[str] = frozenset()) -> dict[str, str]:
    """Attributes as label name -> value; keys that sanitize alike are joined with ``;``."""
    raw = sorted((kv for kv in attributes if kv.key not in skip), key=_key_of)
    out: dict[str, str] = {}
    for kv in raw:
        key = kv.key
        name = names.label_name(key)
        text = any_value_text(kv.value)
        if name in out:
            out[name] = out[name] + ";" + text
        else:
            out[name] = text
    return out


def resource_identity(attributes: Any) -> dict[str, str]:
    """``job`` and ``instance`` from the resource's service attributes."""
    attrs = {kv.key: any_value_text(kv.value) for kv in attributes if kv.key in _IDENTIFYING}
    out: dict[str, str] = {}
    if SERVICE_NAME in attrs:
        job = attrs[SERVICE_NAME]
        if attrs.get(SERVICE_NAMESPACE):
            job = attrs[SERVICE_NAMESPACE] + "/" + job
        out["job"] = job
    if SERVICE_INSTANCE_ID in attrs:
        out["instance"] = attrs[SERVICE_INSTANCE_ID]
    return out


def _labels(base: dict[str, str], name: str, extra: tuple[tuple[str, str], ...] = ()) -> Labels:
    d = dict(base)
    for k, v in extra:
        d[k] = v
    d["__name__"] = name
    return tuple(sorted((k, v) for k, v in d.items() if v != ""))


def _ms(nanos: int) -> int:
    return int(nanos) // 1_000_000


def _point_value(dp: Any) -> float:
    if dp.flags & proto.FLAG_NO_RECORDED_VALUE:
        return STALE_NAN
    if dp.WhichOneof("value") == "as_int":
        return float(dp.as_int)
    return float(dp.as_double)


def _exemplar(ex: Any) -> Exemplar:
    d = attribute_labels(ex.filtered_attributes)
    if ex.trace_id:
        d["trace_id"] = ex.trace_id.hex()
    if ex.span_id:
        d["span_id"] = ex.span_id.hex()
    value = float(ex.as_int) if ex.WhichOneof("value") == "as_int" else float(ex.as_double)
    return Exemplar(tuple(sorted((k, v) for k, v in d.items() if v)), value, _ms(ex.time_unix_nano))


class LabelCache:
    """Label sets of number points seen before, bounded (cleared when full).

    One per receiver; shared across requests (a dict is safe to use from the
    worker threads one request at a time, and a lost entry only costs a rebuild).
    """

    def __init__(self, max_entries: int = 200_000) -> None:
        self.max_entries = max_entries
        self._map: dict[Any, Labels] = {}
        self._contexts: dict[Any, int] = {}
        self._ids = itertools.count()

    def get_map(self) -> dict[Any, Labels]:
        if len(self._map) > self.max_entries:
            self._map = {}
            self._contexts = {}
        return self._map

    def context_id(self, context: Any) -> int:
        """A number for ``context``; never reused, so keys from before a clear stay distinct."""
        found = self._contexts.get(context)
        if found is None:
            found = self._contexts[context] = next(self._ids)
        return found


class _Metric:
    """Per-scope context: the labels every point shares, and where samples go."""

    def __init__(
        self,
        out: Translated,
        shared: dict[str, str],
        identity: dict[str, str],
        cache: LabelCache | None = None,
    ) -> None:
        self.out = out
        # Promoted resource attributes yield to point attributes; scope metadata,
        # job and instance win over both, as in Prometheus.
        self.shared = shared
        self.identity = identity
        self.cache = cache if cache is not None else LabelCache()
        # A small int stands for the shared labels in cache keys (tuples re-hash each time).
        self.context = self.cache.context_id((tuple(shared.items()), tuple(identity.items())))

    def point_labels(self, dp: Any) -> dict[str, str]:
        d = attribute_labels(dp.attributes)
        for k, v in self.shared.items():
            if k.startswith("otel_scope_"):
                d[k] = v
            else:
                d.setdefault(k, v)
        d.update(self.identity)
        return d

    def numbers(self, family: str, points: Any) -> None:
        out = self.out
        cache = self.cache.get_map()
        context = self.context
        for dp in points:
            # Serialized attributes identify the series cheaply: most pushes repeat
            # the series of the previous one, so label building is skipped for them.
            key = (context, family, tuple(kv.SerializeToString() for kv in dp.attributes))
            lbls = cache.get(key)
            if lbls is None:
                lbls = cache[key] = _labels(self.point_labels(dp), family)
            out.add(lbls, _ms(dp.time_unix_nano), _point_value(dp))
            for ex in dp.exemplars:
                out.exemplars.append((lbls, _exemplar(ex)))

    def histogram(self, family: str, points: Any) -> None:
        add = self.out.add
        for dp in points:
            base = self.point_labels(dp)
            t = _ms(dp.time_unix_nano)
            stale = bool(dp.flags & proto.FLAG_NO_RECORDED_VALUE)
            bounds = list(dp.explicit_bounds)
            counts = list(dp.bucket_counts)
            if counts and len(counts) != len(bounds) + 1:
                self.out.drop(
                    1, f"histogram {family!r}: {len(counts)} bucket counts for {len(bounds)} bounds"
                )
                continue
            cumulative = np.cumsum(np.asarray(counts, dtype=np.float64)) if counts else np.zeros(0)
            bucket_labels = []
            for bound, c in zip(bounds, cumulative, strict=False):
                lbls = _labels(base, family + "_bucket", (("le", format_float(bound)),))
                bucket_labels.append(lbls)
                add(lbls, t, STALE_NAN if stale else float(c))
            inf = _labels(base, family + "_bucket", (("le", "+Inf"),))
            add(inf, t, STALE_NAN if stale else float(dp.count))
            if dp.HasField("sum"):
                add(_labels(base, family + "_sum"), t, STALE_NAN if stale else dp.sum)
            add(_labels(base, family + "_count"), t, STALE_NAN if stale else float(dp.count))
            if dp.exemplars:
                edges = np.asarray(bounds, dtype=np.float64)
                for ex in dp.exemplars:
                    exemplar = _exemplar(ex)
                    i = int(np.searchsorted(edges, exemplar.value, side="left"))
                    target = bucket_labels[i] if i < len(bucket_labels) else inf
                    self.out.exemplars.append((target, exemplar))

    def summary(self, family: str, points: Any) -> None:
        add = self.out.add
        for dp in points:
            base = self.point_labels(dp)
            t = _ms(dp.time_unix_nano)
            stale = bool(dp.flags & proto.FLAG_NO_RECORDED_VALUE)
            for q in dp.quantile_values:
                lbls = _labels(base, family, (("quantile", format_float(q.quantile)),))
                add(lbls, t, STALE_NAN if stale else q.value)
            add(_labels(base, family + "_sum"), t, STALE_NAN if stale else dp.sum)
            add(_labels(base, family + "_count"), t, STALE_NAN if stale else float(dp.count))


def _translate_metric(out: Translated, ctx: _Metric, metric: Any, suffixes: bool) -> None:
    kind = metric.WhichOneof("data")
    if kind is None:
        out.drop(0, f"metric {metric.name!r} has no data")
        return
    data = getattr(metric, kind)
    points = data.data_points
    if kind == "exponential_histogram":
        out.drop(
            len(points),
            f"exponential histogram {metric.name!r} dropped: native histograms are not supported",
        )
        return
    temporality = getattr(data, "aggregation_temporality", proto.TEMPORALITY_CUMULATIVE)
    if kind in ("sum", "histogram") and temporality != proto.TEMPORALITY_CUMULATIVE:
        out.drop(
            len(points),
            f"invalid temporality and type combination for metric {metric.name!r}: only cumulative {kind}s are accepted",
        )
        return
    if kind == "sum":
        prom_type = names.COUNTER if data.is_monotonic else names.GAUGE
    else:
        prom_type = {"gauge": names.GAUGE, "histogram": names.HISTOGRAM, "summary": names.SUMMARY}[
            kind
        ]
    family = names.metric_name(metric.name, metric.unit, prom_type, suffixes)
    if not family:
        out.drop(
            len(points), f"normalization for metric {metric.name!r} resulted in an invalid name"
        )
        return
    out.metadata[family] = MetricMetadata(
        type=prom_type, help=metric.description, unit=names.unit_suffixes(metric.unit)[0]
    )
    if kind == "histogram":
        ctx.histogram(family, points)
    elif kind == "summary":
        ctx.summary(family, points)
    else:
        ctx.numbers(family, points)


def _scope_labels(scope: Any, schema_url: str) -> dict[str, str]:
    d = {
        names.label_name("otel_scope_" + k): v
        for k, v in attribute_labels(scope.attributes).items()
    }
    d["otel_scope_name"] = scope.name
    d["otel_scope_version"] = scope.version
    d["otel_scope_schema_url"] = schema_url
    return d


def _target_info(
    out: Translated, attrs: Any, identity: dict[str, str], first: int, options: OTLPOptions
) -> None:
    """``target_info`` with the resource's other attributes, over the resource's time span."""
    if len(out.ts) == first or not any(kv.key not in _IDENTIFYING for kv in attrs):
        return
    if not identity:
        return  # Prometheus needs job or instance to tie target_info to anything
    info = attribute_labels(attrs, frozenset() if options.keep_identifying else _IDENTIFYING)
    info.update(identity)
    lbls = _labels(info, "target_info")
    times = out.ts[first:]
    start, end = min(times), max(times)
    # A sample every half lookback keeps target_info visible between sparse pushes.
    step = max(options.lookback_ms // 2, 1)
    for t in range(start, end, step):
        out.add(lbls, t, 1.0)
    out.add(lbls, end, 1.0)
    out.metadata["target_info"] = MetricMetadata(type="gauge", help="Target metadata")


def translate(
    request: Any, options: OTLPOptions | None = None, cache: LabelCache | None = None
) -> Translated:
    """Every sample of an ``ExportMetricsServiceRequest`` message."""
    options = options or OTLPOptions()
    cache = cache if cache is not None else LabelCache()
    out = Translated()
    for rm in request.resource_metrics:
        attrs = rm.resource.attributes
        identity = resource_identity(attrs)
        promoted = [kv for kv in attrs if options.promoted(kv.key)]
        shared = attribute_labels(promoted) if promoted else {}
        first = len(out.ts)
        for sm in rm.scope_metrics:
            scoped = shared
            if options.promote_scope:
                scoped = {**shared, **_scope_labels(sm.scope, sm.schema_url)}
            ctx = _Metric(out, scoped, identity, cache)
            for metric in sm.metrics:
                _translate_metric(out, ctx, metric, options.add_suffixes)
        _target_info(out, attrs, identity, first, options)
    return out


@dataclass
class AppendResult:
    written: int
    rejected: int
    errors: list[str]


def append(storage: Storage, batch: Translated) -> AppendResult:
    """Append in one commit (blocking; run it off the event loop)."""
    app = storage.appender()
    refs: dict[Labels, int] = {}
    try:
        for lbls, t, v in zip(batch.labels, batch.ts, batch.values, strict=True):
            refs[lbls] = app.append(refs.get(lbls, 0), lbls, t, v)
        for lbls, exemplar in batch.exemplars:
            app.append_exemplar(refs.get(lbls, 0), lbls, exemplar)
        for family, meta in batch.metadata.items():
            app.update_metadata(family, meta)
    except BaseException:
        app.rollback()
        raise
    stats = app.commit()
    rejected = stats.out_of_order + stats.out_of_bounds + stats.duplicates
    return AppendResult(len(batch.ts) - rejected, rejected, list(stats.errors[:MAX_REASONS]))
