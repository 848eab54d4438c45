"""Loki's ``limits_config`` (and the ingester's chunk settings) to :class:`LogStoreOptions`.

Reads the YAML mapping as Loki documents it, so a copied ``loki.yaml`` section works;
unknown keys are ignored (Loki has many that a single process does not need).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tidewatch.duration import DurationError, parse_duration
from tidewatch.logs.logql import ast
from tidewatch.logs.logql.parser import ParseError, parse_expr
from tidewatch.logs.logql.units import parse_bytes
from tidewatch.logs.store.options import LogStoreOptions, StreamRetention

NS_PER_MS = 1_000_000


class LimitsConfigError(ValueError):
    """Names the offending key, e.g. ``limits_config.max_line_size: ...``."""


def _duration_ns(key: str, value: Any) -> int:
    try:
        return parse_duration(str(value)) * NS_PER_MS
    except DurationError as exc:
        raise LimitsConfigError(f"limits_config.{key}: {exc}") from None


def _bytes(key: str, value: Any) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    try:
        return int(parse_bytes(str(value)))
    except ValueError as exc:
        raise LimitsConfigError(f"limits_config.{key}: {exc}") from None


def _int(key: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise LimitsConfigError(f"limits_config.{key}: expected an integer, got {value!r}")
    return value


def _bool(key: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise LimitsConfigError(f"limits_config.{key}: expected true or false, got {value!r}")
    return value


def _float(key: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise LimitsConfigError(f"limits_config.{key}: expected a number, got {value!r}")
    return float(value)


def _stream_rules(value: Any) -> list[StreamRetention]:
    if not isinstance(value, list):
        raise LimitsConfigError("limits_config.retention_stream: expected a list")
    rules = []
    for i, item in enumerate(value):
        where = f"limits_config.retention_stream[{i}]"
        if not isinstance(item, Mapping) or "selector" not in item or "period" not in item:
            raise LimitsConfigError(f"{where}: needs selector and period")
        try:
            expr = parse_expr(str(item["selector"]))
        except ParseError as exc:
            raise LimitsConfigError(f"{where}.selector: {exc}") from None
        if not isinstance(expr, ast.LogQuery) or expr.stages:
            raise LimitsConfigError(f"{where}.selector: must be a stream selector")
        period = _duration_ns("retention_stream.period", item["period"])
        rules.append(StreamRetention(list(expr.matchers), period, int(item.get("priority", 0))))
    return rules


# limits_config key -> (LogStoreOptions attribute, converter)
_FIELDS: dict[str, tuple[str, Any]] = {
    "ingestion_rate_mb": ("ingestion_rate_mb", _float),
    "ingestion_burst_size_mb": ("ingestion_burst_size_mb", _float),
    "max_line_size": ("max_line_size", _bytes),
    "max_line_size_truncate": ("max_line_size_truncate", _bool),
    "max_label_names_per_series": ("max_label_names_per_series", _int),
    "max_label_name_length": ("max_label_name_length", _int),
    "max_label_value_length": ("max_label_value_length", _int),
    "max_structured_metadata_size": ("max_structured_metadata_size", _bytes),
    "max_structured_metadata_entries_count": ("max_structured_metadata_entries_count", _int),
    "reject_old_samples": ("reject_old_samples", _bool),
    "reject_old_samples_max_age": ("reject_old_samples_max_age_ns", _duration_ns),
    "creation_grace_period": ("creation_grace_period_ns", _duration_ns),
    "max_streams_per_user": ("max_streams", _int),
    "max_global_streams_per_user": ("max_streams", _int),
    "retention_period": ("retention_ns", _duration_ns),
    "max_chunk_age": ("max_chunk_age_ns", _duration_ns),
    "chunk_idle_period": ("chunk_idle_ns", _duration_ns),
}


def options_from_limits(
    limits: Mapping[str, Any], base: LogStoreOptions | None = None
) -> LogStoreOptions:
    """Apply a ``limits_config`` mapping (plus ``max_chunk_age``/``chunk_idle_period``)."""
    o = base or LogStoreOptions()
    for key, value in limits.items():
        if value is None:
            continue
        if key == "retention_stream":
            o.retention_stream = _stream_rules(value)
        elif key in _FIELDS:
            attr, convert = _FIELDS[key]
            setattr(o, attr, convert(key, value))
    return o
