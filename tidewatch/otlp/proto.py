"""OTLP metrics messages, built from descriptors at import (no protoc step).

Field numbers follow ``opentelemetry/proto`` (common/v1, resource/v1, metrics/v1 and
collector/metrics/v1). Fields tidewatch never reads (exponential-histogram buckets,
min/max, entity refs) are left out: protobuf keeps unknown fields aside, so bodies
carrying them still parse, and the JSON parser is told to ignore them.
"""

from __future__ import annotations

from typing import Any

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

FDP = descriptor_pb2.FieldDescriptorProto
_TYPES = {
    "string": FDP.TYPE_STRING,
    "bytes": FDP.TYPE_BYTES,
    "double": FDP.TYPE_DOUBLE,
    "int64": FDP.TYPE_INT64,
    "sint32": FDP.TYPE_SINT32,
    "uint32": FDP.TYPE_UINT32,
    "fixed32": FDP.TYPE_FIXED32,
    "fixed64": FDP.TYPE_FIXED64,
    "sfixed64": FDP.TYPE_SFIXED64,
    "bool": FDP.TYPE_BOOL,
    "enum": FDP.TYPE_ENUM,
    "msg": FDP.TYPE_MESSAGE,
}

# (name, number, type, repeated, type name, oneof name or "" ; "?" prefix = proto3 optional)
Field = tuple[str, int, str, bool, str, str]


def _message(fdp: descriptor_pb2.FileDescriptorProto, name: str, fields: list[Field]) -> None:
    msg = fdp.message_type.add(name=name)
    oneofs: dict[str, int] = {}
    for fname, number, ftype, repeated, type_name, oneof in fields:
        field = msg.field.add(
            name=fname,
            number=number,
            type=_TYPES[ftype],
            label=FDP.LABEL_REPEATED if repeated else FDP.LABEL_OPTIONAL,
        )
        if type_name:
            field.type_name = type_name
        if oneof:
            synthetic = oneof == "?"
            key = "_" + fname if synthetic else oneof
            if key not in oneofs:
                oneofs[key] = len(msg.oneof_decl)
                msg.oneof_decl.add(name=key)
            field.oneof_index = oneofs[key]
            if synthetic:
                field.proto3_optional = True


def add_common_messages(f: descriptor_pb2.FileDescriptorProto, p: str) -> None:
    """common/v1 and resource/v1 messages, into ``f`` whose package prefix is ``p``."""
    _message(
        f,
        "AnyValue",
        [
            ("string_value", 1, "string", False, "", "value"),
            ("bool_value", 2, "bool", False, "", "value"),
            ("int_value", 3, "int64", False, "", "value"),
            ("double_value", 4, "double", False, "", "value"),
            ("array_value", 5, "msg", False, p + "ArrayValue", "value"),
            ("kvlist_value", 6, "msg", False, p + "KeyValueList", "value"),
            ("bytes_value", 7, "bytes", False, "", "value"),
        ],
    )
    _message(f, "ArrayValue", [("values", 1, "msg", True, p + "AnyValue", "")])
    _message(f, "KeyValueList", [("values", 1, "msg", True, p + "KeyValue", "")])
    _message(
        f,
        "KeyValue",
        [("key", 1, "string", False, "", ""), ("value", 2, "msg", False, p + "AnyValue", "")],
    )
    _message(
        f,
        "InstrumentationScope",
        [
            ("name", 1, "string", False, "", ""),
            ("version", 2, "string", False, "", ""),
            ("attributes", 3, "msg", True, p + "KeyValue", ""),
            ("dropped_attributes_count", 4, "uint32", False, "", ""),
        ],
    )
    _message(
        f,
        "Resource",
        [
            ("attributes", 1, "msg", True, p + "KeyValue", ""),
            ("dropped_attributes_count", 2, "uint32", False, "", ""),
        ],
    )


def _file() -> descriptor_pb2.FileDescriptorProto:
    f = descriptor_pb2.FileDescriptorProto(
        name="tidewatch/otlp_metrics.proto", package="opentelemetry.proto.metrics.v1"
    )
    f.syntax = "proto3"
    p = ".opentelemetry.proto.metrics.v1."
    add_common_messages(f, p)
    _message(
        f,
        "Exemplar",
        [
            ("filtered_attributes", 7, "msg", True, p + "KeyValue", ""),
            ("time_unix_nano", 2, "fixed64", False, "", ""),
            ("as_double", 3, "double", False, "", "value"),
            ("as_int", 6, "sfixed64", False, "", "value"),
            ("span_id", 4, "bytes", False, "", ""),
            ("trace_id", 5, "bytes", False, "", ""),
        ],
    )
    _message(
        f,
        "NumberDataPoint",
        [
            ("attributes", 7, "msg", True, p + "KeyValue", ""),
            ("start_time_unix_nano", 2, "fixed64", False, "", ""),
            ("time_unix_nano", 3, "fixed64", False, "", ""),
            ("as_double", 4, "double", False, "", "value"),
            ("as_int", 6, "sfixed64", False, "", "value"),
            ("exemplars", 5, "msg", True, p + "Exemplar", ""),
            ("flags", 8, "uint32", False, "", ""),
        ],
    )
    _message(
        f,
        "HistogramDataPoint",
        [
            ("attributes", 9, "msg", True, p + "KeyValue", ""),
            ("start_time_unix_nano", 2, "fixed64", False, "", ""),
            ("time_unix_nano", 3, "fixed64", False, "", ""),
            ("count", 4, "fixed64", False, "", ""),
            ("sum", 5, "double", False, "", "?"),
            ("bucket_counts", 6, "fixed64", True, "", ""),
            ("explicit_bounds", 7, "double", True, "", ""),
            ("exemplars", 8, "msg", True, p + "Exemplar", ""),
            ("flags", 10, "uint32", False, "", ""),
        ],
    )
    _message(
        f,
        "ExponentialHistogramDataPoint",
        [
            ("attributes", 1, "msg", True, p + "KeyValue", ""),
            ("start_time_unix_nano", 2, "fixed64", False, "", ""),
            ("time_unix_nano", 3, "fixed64", False, "", ""),
            ("count", 4, "fixed64", False, "", ""),
            ("flags", 10, "uint32", False, "", ""),
        ],
    )
    _message(
        f,
        "ValueAtQuantile",
        [("quantile", 1, "double", False, "", ""), ("value", 2, "double", False, "", "")],
    )
    _message(
        f,
        "SummaryDataPoint",
        [
            ("attributes", 7, "msg", True, p + "KeyValue", ""),
            ("start_time_unix_nano", 2, "fixed64", False, "", ""),
            ("time_unix_nano", 3, "fixed64", False, "", ""),
            ("count", 4, "fixed64", False, "", ""),
            ("sum", 5, "double", False, "", ""),
            ("quantile_values", 6, "msg", True, p + "ValueAtQuantile", ""),
            ("flags", 8, "uint32", False, "", ""),
        ],
    )
    temporality = ("aggregation_temporality", 2, "enum", False, p + "AggregationTemporality", "")
    _message(f, "Gauge", [("data_points", 1, "msg", True, p + "NumberDataPoint", "")])
    _message(
        f,
        "Sum",
        [
            ("data_points", 1, "msg", True, p + "NumberDataPoint", ""),
            temporality,
            ("is_monotonic", 3, "bool", False, "", ""),
        ],
    )
    _message(
        f, "Histogram", [("data_points", 1, "msg", True, p + "HistogramDataPoint", ""), temporality]
    )
    _message(
        f,
        "ExponentialHistogram",
        [("data_points", 1, "msg", True, p + "ExponentialHistogramDataPoint", ""), temporality],
    )
    _message(f, "Summary", [("data_points", 1, "msg", True, p + "SummaryDataPoint", "")])
    _message(
        f,
        "Metric",
        [
            ("name", 1, "string", False, "", ""),
            ("description", 2, "string", False, "", ""),
            ("unit", 3, "string", False, "", ""),
            ("gauge", 5, "msg", False, p + "Gauge", "data"),
            ("sum", 7, "msg", False, p + "Sum", "data"),
            ("histogram", 9, "msg", False, p + "Histogram", "data"),
            ("exponential_histogram", 10, "msg", False, p + "ExponentialHistogram", "data"),
            ("summary", 11, "msg", False, p + "Summary", "data"),
            ("metadata", 12, "msg", True, p + "KeyValue", ""),
        ],
    )
    _message(
        f,
        "ScopeMetrics",
        [
            ("scope", 1, "msg", False, p + "InstrumentationScope", ""),
            ("metrics", 2, "msg", True, p + "Metric", ""),
            ("schema_url", 3, "string", False, "", ""),
        ],
    )
    _message(
        f,
        "ResourceMetrics",
        [
            ("resource", 1, "msg", False, p + "Resource", ""),
            ("scope_metrics", 2, "msg", True, p + "ScopeMetrics", ""),
            ("schema_url", 3, "string", False, "", ""),
        ],
    )
    _message(
        f,
        "ExportMetricsServiceRequest",
        [("resource_metrics", 1, "msg", True, p + "ResourceMetrics", "")],
    )
    _message(
        f,
        "ExportMetricsPartialSuccess",
        [
            ("rejected_data_points", 1, "int64", False, "", ""),
            ("error_message", 2, "string", False, "", ""),
        ],
    )
    _message(
        f,
        "ExportMetricsServiceResponse",
        [("partial_success", 1, "msg", False, p + "ExportMetricsPartialSuccess", "")],
    )
    enum = f.enum_type.add(name="AggregationTemporality")
    for number, value_name in enumerate(
        [
            "AGGREGATION_TEMPORALITY_UNSPECIFIED",
            "AGGREGATION_TEMPORALITY_DELTA",
            "AGGREGATION_TEMPORALITY_CUMULATIVE",
        ]
    ):
        enum.value.add(name=value_name, number=number)
    return f


_pool = descriptor_pool.DescriptorPool()
_pool.Add(_file())


def _cls(name: str) -> Any:
    return message_factory.GetMessageClass(
        _pool.FindMessageTypeByName("opentelemetry.proto.metrics.v1." + name)
    )


TEMPORALITY_DELTA = 1
TEMPORALITY_CUMULATIVE = 2
# Data point flag: the point carries no value (the series went away) -> staleness marker.
FLAG_NO_RECORDED_VALUE = 1

ExportMetricsServiceRequest: Any = _cls("ExportMetricsServiceRequest")
ExportMetricsServiceResponse: Any = _cls("ExportMetricsServiceResponse")
