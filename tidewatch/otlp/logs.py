"""OTLP logs -> Loki push streams, as Loki's ``/otlp/v1/logs`` translates them.

- Stream labels: the resource attributes Loki indexes by default (``service.name``,
  ``k8s.pod.name``, ...), with names normalised (``service_name``). A resource without
  ``service.name`` gets ``service_name`` from the first of Loki's discovery labels it
  has (``service``, ``app``, ``job``, ...), else ``unknown_service``.
- Structured metadata, per line: the log record's attributes, ``observed_timestamp``
  (when the record has its own timestamp), ``severity_number``, ``severity_text``,
  ``dropped_attributes_count``, ``flags``, ``trace_id`` / ``span_id`` (hex), then the
  other resource attributes, then the scope's attributes, ``scope_name``,
  ``scope_version`` and ``scope_dropped_attributes_count``; map attributes flatten
  into ``parent_child`` names. ``detected_level`` is added as Loki's distributor does.
- Line: the body as text (maps and arrays as JSON); time: the record's timestamp, else
  the observed one, else now.
"""

from __future__ import annotations

import base64
import math
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import orjson

from tidewatch.gofloat import format_float
from tidewatch.labels import Labels
from tidewatch.logs.push.decode import PushStream, labels_text_from_map
from tidewatch.otlp import logs_proto
from tidewatch.otlp.decode import PROTOBUF, InvalidOTLP, parse_message
from tidewatch.otlp.logs_level import DETECTED_LEVEL, detect_level
from tidewatch.otlp.names import label_name

SERVICE_NAME_LABEL = "service_name"
UNKNOWN_SERVICE = "unknown_service"
INDEX_RESOURCE_ATTRIBUTES = frozenset(
    (
        "service.name",
        "service.namespace",
        "service.instance.id",
        "deployment.environment",
        "deployment.environment.name",
        "cloud.region",
        "cloud.availability_zone",
        "k8s.cluster.name",
        "k8s.namespace.name",
        "k8s.pod.name",
        "k8s.container.name",
        "container.name",
        "k8s.replicaset.name",
        "k8s.deployment.name",
        "k8s.statefulset.name",
        "k8s.daemonset.name",
        "k8s.cronjob.name",
        "k8s.job.name",
    )
)
DISCOVER_SERVICE_NAME = (
    "service",
    "app",
    "application",
    "app_name",
    "name",
    "app_kubernetes_io_name",
    "container",
    "container_name",
    "k8s_container_name",
    "component",
    "workload",
    "job",
    "k8s_job_name",
)


def decode_logs_request(body: bytes, media: str) -> Any:
    """An ``ExportLogsServiceRequest`` from OTLP/protobuf or OTLP/JSON; raises InvalidOTLP."""
    return parse_message(logs_proto.ExportLogsServiceRequest(), body, media)


def encode_logs_response(media: str) -> bytes:
    resp = logs_proto.ExportLogsServiceResponse()
    if media == PROTOBUF:
        return bytes(resp.SerializeToString())
    return b"{}"


# ---------------------------------------------------------------------- values


def _double_text(v: float) -> str:
    """Go's JSON rendering of a float64 (what pdata's ``AsString`` writes)."""
    if math.isnan(v) or math.isinf(v):
        return "json: unsupported value: " + format_float(v, "g")
    a = abs(v)
    if a != 0 and (a < 1e-6 or a >= 1e21):
        text = format_float(v, "e")
        mant, _, exp = text.partition("e")
        sign = exp[0]
        digits = exp[1:].lstrip("0") or "0"
        return f"{mant}e{sign}{digits}"
    return format_float(v, "f")


def value_text(value: Any) -> str:
    """An ``AnyValue`` as text: strings as they are, maps and arrays as JSON."""
    kind = value.WhichOneof("value")
    if kind == "string_value":
        return str(value.string_value)
    if kind is None:
        return ""
    if kind == "bool_value":
        return "true" if value.bool_value else "false"
    if kind == "int_value":
        return str(value.int_value)
    if kind == "double_value":
        return _double_text(value.double_value)
    if kind == "bytes_value":
        return base64.b64encode(value.bytes_value).decode()
    return orjson.dumps(_raw(value), option=orjson.OPT_SORT_KEYS).decode()


def _raw(value: Any) -> Any:
    kind = value.WhichOneof("value")
    if kind == "array_value":
        return [_raw(v) for v in value.array_value.values]
    if kind == "kvlist_value":
        return {kv.key: _raw(kv.value) for kv in value.kvlist_value.values}
    if kind == "bool_value":
        return bool(value.bool_value)
    if kind == "int_value":
        return int(value.int_value)
    if kind == "double_value":
        return float(value.double_value)
    if kind is None:
        return None
    return value_text(value)


def attribute_pairs(key: str, value: Any, prefix: str = "") -> list[tuple[str, str]]:
    """One attribute as (label name, text); a map flattens into ``prefix_key`` names."""
    name = label_name(f"{prefix}_{key}" if prefix else key)
    if value.WhichOneof("value") == "kvlist_value":
        out: list[tuple[str, str]] = []
        for kv in value.kvlist_value.values:
            out.extend(attribute_pairs(kv.key, kv.value, name))
        return out
    return [(name, value_text(value))] if name else []


def _attributes(attributes: Any) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for kv in attributes:
        out.extend(attribute_pairs(kv.key, kv.value))
    return out


# ---------------------------------------------------------------------- translation


@dataclass
class _Group:
    ts: list[int] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)
    metadata: list[Labels] = field(default_factory=list)


def _resource(attributes: Any) -> tuple[dict[str, str], list[tuple[str, str]]]:
    """(stream labels, resource structured metadata)."""
    index: dict[str, str] = {}
    metadata: list[tuple[str, str]] = []
    has_service = False
    for kv in attributes:
        pairs = attribute_pairs(kv.key, kv.value)
        if kv.key in INDEX_RESOURCE_ATTRIBUTES:
            index.update(pairs)
            if kv.key == "service.name" and value_text(kv.value):
                has_service = True
        else:
            metadata.extend(pairs)
    if not has_service:
        found = next((index[n] for n in DISCOVER_SERVICE_NAME if n in index), UNKNOWN_SERVICE)
        index[SERVICE_NAME_LABEL] = found
    return index, metadata


def _scope(scope: Any) -> list[tuple[str, str]]:
    out = _attributes(scope.attributes)
    if scope.name:
        out.append(("scope_name", scope.name))
    if scope.version:
        out.append(("scope_version", scope.version))
    if scope.dropped_attributes_count:
        out.append(("scope_dropped_attributes_count", str(scope.dropped_attributes_count)))
    return out


def _record_metadata(lr: Any) -> list[tuple[str, str]]:
    out = _attributes(lr.attributes)
    if lr.time_unix_nano and lr.observed_time_unix_nano:
        out.append(("observed_timestamp", str(lr.observed_time_unix_nano)))
    if lr.severity_number:
        out.append(("severity_number", str(lr.severity_number)))
    if lr.severity_text:
        out.append(("severity_text", lr.severity_text))
    if lr.dropped_attributes_count:
        out.append(("dropped_attributes_count", str(lr.dropped_attributes_count)))
    if lr.flags:
        out.append(("flags", str(lr.flags)))
    if lr.trace_id:
        out.append(("trace_id", lr.trace_id.hex()))
    if lr.span_id:
        out.append(("span_id", lr.span_id.hex()))
    return out


def _metadata_map(pairs: list[tuple[str, str]]) -> dict[str, str]:
    # The first of a repeated name wins: the record's own attributes over the resource's.
    out: dict[str, str] = {}
    for k, v in pairs:
        out.setdefault(k, v)
    return out


def translate_logs(
    request: Any, now_ns: int | None = None, discover_level: bool = True
) -> list[PushStream]:
    """Push streams (one per distinct stream label set) for an ExportLogsServiceRequest."""
    groups: dict[str, _Group] = {}
    now = time.time_ns() if now_ns is None else now_ns
    for rl in request.resource_logs:
        stream, resource_md = _resource(rl.resource.attributes)
        group = groups.setdefault(labels_text_from_map(stream), _Group())
        for sl in rl.scope_logs:
            shared = resource_md + _scope(sl.scope)
            for lr in sl.log_records:
                line = value_text(lr.body)
                md = _metadata_map(_record_metadata(lr) + shared)
                if discover_level:
                    level, _ = detect_level(stream, md, line)
                    md[DETECTED_LEVEL] = level
                group.ts.append(lr.time_unix_nano or lr.observed_time_unix_nano or now)
                group.lines.append(line)
                group.metadata.append(tuple(sorted(md.items())))
    try:
        return [
            PushStream(text, np.array(g.ts, dtype=np.int64), g.lines, g.metadata)
            for text, g in groups.items()
            if g.lines
        ]
    except OverflowError:
        raise InvalidOTLP("log record timestamp beyond the year 2262") from None
