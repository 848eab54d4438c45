"""Protobuf messages of the remote protocols, built from descriptors at import.

No protoc step: the schemas are declared here field by field (numbers as in
Prometheus's ``prompb`` and ``io/prometheus/write/v2``, and client_model's
``metrics.proto`` for federation). Native-histogram fields are left out on purpose:
protobuf keeps unknown fields aside, so bodies carrying them still parse.
"""

from __future__ import annotations

from typing import Any

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

FDP = descriptor_pb2.FieldDescriptorProto
_OPT, _REP = FDP.LABEL_OPTIONAL, FDP.LABEL_REPEATED
_TYPES = {
    "string": FDP.TYPE_STRING,
    "bytes": FDP.TYPE_BYTES,
    "double": FDP.TYPE_DOUBLE,
    "int64": FDP.TYPE_INT64,
    "uint32": FDP.TYPE_UINT32,
    "uint64": FDP.TYPE_UINT64,
    "bool": FDP.TYPE_BOOL,
    "enum": FDP.TYPE_ENUM,
    "msg": FDP.TYPE_MESSAGE,
}

# (name, number, type, repeated, type_name for messages and enums)
Field = tuple[str, int, str, bool, str]


def _message(
    fdp: descriptor_pb2.FileDescriptorProto,
    name: str,
    fields: list[Field],
    enums: dict[str, list[str]] | None = None,
) -> None:
    msg = fdp.message_type.add(name=name)
    for enum_name, values in (enums or {}).items():
        enum = msg.enum_type.add(name=enum_name)
        for number, value_name in enumerate(values):
            enum.value.add(name=value_name, number=number)
    for fname, number, ftype, repeated, type_name in fields:
        field = msg.field.add(
            name=fname, number=number, type=_TYPES[ftype], label=_REP if repeated else _OPT
        )
        if type_name:
            field.type_name = type_name


def _prompb() -> descriptor_pb2.FileDescriptorProto:
    """``prometheus`` package: remote write 1.0 and remote read."""
    f = descriptor_pb2.FileDescriptorProto(name="tidewatch/prompb.proto", package="prometheus")
    f.syntax = "proto3"
    p = ".prometheus."
    _message(
        f,
        "MetricMetadata",
        [
            ("type", 1, "enum", False, p + "MetricMetadata.MetricType"),
            ("metric_family_name", 2, "string", False, ""),
            ("help", 4, "string", False, ""),
            ("unit", 5, "string", False, ""),
        ],
        enums={
            "MetricType": [
                "UNKNOWN",
                "COUNTER",
                "GAUGE",
                "HISTOGRAM",
                "GAUGEHISTOGRAM",
                "SUMMARY",
                "INFO",
                "STATESET",
            ]
        },
    )
    _message(f, "Sample", [("value", 1, "double", False, ""), ("timestamp", 2, "int64", False, "")])
    _message(f, "Label", [("name", 1, "string", False, ""), ("value", 2, "string", False, "")])
    _message(
        f,
        "Exemplar",
        [
            ("labels", 1, "msg", True, p + "Label"),
            ("value", 2, "double", False, ""),
            ("timestamp", 3, "int64", False, ""),
        ],
    )
    _message(
        f,
        "TimeSeries",
        [
            ("labels", 1, "msg", True, p + "Label"),
            ("samples", 2, "msg", True, p + "Sample"),
            ("exemplars", 3, "msg", True, p + "Exemplar"),
        ],
    )
    _message(
        f,
        "WriteRequest",
        [
            ("timeseries", 1, "msg", True, p + "TimeSeries"),
            ("metadata", 3, "msg", True, p + "MetricMetadata"),
        ],
    )
    # The same wire data as TimeSeries/WriteRequest, with each Label kept as raw bytes:
    # the receiver keys a cache on them and skips building Label objects for known series.
    _message(
        f,
        "TimeSeriesRawLabels",
        [
            ("labels", 1, "bytes", True, ""),
            ("samples", 2, "msg", True, p + "Sample"),
            ("exemplars", 3, "msg", True, p + "Exemplar"),
        ],
    )
    _message(
        f,
        "WriteRequestRawLabels",
        [
            ("timeseries", 1, "msg", True, p + "TimeSeriesRawLabels"),
            ("metadata", 3, "msg", True, p + "MetricMetadata"),
        ],
    )
    _message(
        f,
        "LabelMatcher",
        [
            ("type", 1, "enum", False, p + "LabelMatcher.Type"),
            ("name", 2, "string", False, ""),
            ("value", 3, "string", False, ""),
        ],
        enums={"Type": ["EQ", "NEQ", "RE", "NRE"]},
    )
    _message(
        f,
        "ReadHints",
        [
            ("step_ms", 1, "int64", False, ""),
            ("func", 2, "string", False, ""),
            ("start_ms", 3, "int64", False, ""),
            ("end_ms", 4, "int64", False, ""),
            ("grouping", 5, "string", True, ""),
            ("by", 6, "bool", False, ""),
            ("range_ms", 7, "int64", False, ""),
        ],
    )
    _message(
        f,
        "Query",
        [
            ("start_timestamp_ms", 1, "int64", False, ""),
            ("end_timestamp_ms", 2, "int64", False, ""),
            ("matchers", 3, "msg", True, p + "LabelMatcher"),
            ("hints", 4, "msg", False, p + "ReadHints"),
        ],
    )
    _message(
        f,
        "ReadRequest",
        [
            ("queries", 1, "msg", True, p + "Query"),
            ("accepted_response_types", 2, "enum", True, p + "ReadRequest.ResponseType"),
        ],
        enums={"ResponseType": ["SAMPLES", "STREAMED_XOR_CHUNKS"]},
    )
    _message(f, "QueryResult", [("timeseries", 1, "msg", True, p + "TimeSeries")])
    _message(f, "ReadResponse", [("results", 1, "msg", True, p + "QueryResult")])
    _message(
        f,
        "Chunk",
        [
            ("min_time_ms", 1, "int64", False, ""),
            ("max_time_ms", 2, "int64", False, ""),
            ("type", 3, "enum", False, p + "Chunk.Encoding"),
            ("data", 4, "bytes", False, ""),
        ],
        enums={"Encoding": ["UNKNOWN", "XOR", "HISTOGRAM", "FLOAT_HISTOGRAM"]},
    )
    _message(
        f,
        "ChunkedSeries",
        [("labels", 1, "msg", True, p + "Label"), ("chunks", 2, "msg", True, p + "Chunk")],
    )
    _message(
        f,
        "ChunkedReadResponse",
        [
            ("chunked_series", 1, "msg", True, p + "ChunkedSeries"),
            ("query_index", 2, "int64", False, ""),
        ],
    )
    return f


def _write_v2() -> descriptor_pb2.FileDescriptorProto:
    """``io.prometheus.write.v2`` package: remote write 2.0."""
    f = descriptor_pb2.FileDescriptorProto(
        name="tidewatch/write_v2.proto", package="io.prometheus.write.v2"
    )
    f.syntax = "proto3"
    p = ".io.prometheus.write.v2."
    _message(f, "Sample", [("value", 1, "double", False, ""), ("timestamp", 2, "int64", False, "")])
    _message(
        f,
        "Exemplar",
        [
            ("labels_refs", 1, "uint32", True, ""),
            ("value", 2, "double", False, ""),
            ("timestamp", 3, "int64", False, ""),
        ],
    )
    _message(
        f,
        "Metadata",
        [
            ("type", 1, "enum", False, p + "Metadata.MetricType"),
            ("help_ref", 3, "uint32", False, ""),
            ("unit_ref", 4, "uint32", False, ""),
        ],
        enums={
            "MetricType": [
                "METRIC_TYPE_UNSPECIFIED",
                "METRIC_TYPE_COUNTER",
                "METRIC_TYPE_GAUGE",
                "METRIC_TYPE_HISTOGRAM",
                "METRIC_TYPE_GAUGEHISTOGRAM",
                "METRIC_TYPE_SUMMARY",
                "METRIC_TYPE_INFO",
                "METRIC_TYPE_STATESET",
            ]
        },
    )
    # Only the timestamp of a native histogram is read (to count and report it).
    _message(f, "Histogram", [("timestamp", 15, "int64", False, "")])
    _message(
        f,
        "TimeSeries",
        [
            ("labels_refs", 1, "uint32", True, ""),
            ("samples", 2, "msg", True, p + "Sample"),
            ("histograms", 3, "msg", True, p + "Histogram"),
            ("exemplars", 4, "msg", True, p + "Exemplar"),
            ("metadata", 5, "msg", False, p + "Metadata"),
            ("created_timestamp", 6, "int64", False, ""),
        ],
    )
    _message(
        f,
        "Request",
        [("symbols", 4, "string", True, ""), ("timeseries", 5, "msg", True, p + "TimeSeries")],
    )
    # The same wire data with each series left as raw bytes, for the columnar decoder.
    _message(
        f,
        "RequestRawSeries",
        [("symbols", 4, "string", True, ""), ("timeseries", 5, "bytes", True, "")],
    )
    return f


def _client_model() -> descriptor_pb2.FileDescriptorProto:
    """``io.prometheus.client`` (proto2): the protobuf exposition, for ``/federate`` and
    Pushgateway pushes."""
    f = descriptor_pb2.FileDescriptorProto(
        name="tidewatch/client_model.proto", package="io.prometheus.client"
    )
    f.syntax = "proto2"
    p = ".io.prometheus.client."
    _message(f, "LabelPair", [("name", 1, "string", False, ""), ("value", 2, "string", False, "")])
    _message(f, "Gauge", [("value", 1, "double", False, "")])
    _message(f, "Counter", [("value", 1, "double", False, "")])
    _message(f, "Untyped", [("value", 1, "double", False, "")])
    _message(
        f, "Quantile", [("quantile", 1, "double", False, ""), ("value", 2, "double", False, "")]
    )
    _message(
        f,
        "Summary",
        [
            ("sample_count", 1, "uint64", False, ""),
            ("sample_sum", 2, "double", False, ""),
            ("quantile", 3, "msg", True, p + "Quantile"),
        ],
    )
    _message(
        f,
        "Bucket",
        [
            ("cumulative_count", 1, "uint64", False, ""),
            ("upper_bound", 2, "double", False, ""),
            ("cumulative_count_float", 4, "double", False, ""),
        ],
    )
    _message(
        f,
        "Histogram",
        [
            ("sample_count", 1, "uint64", False, ""),
            ("sample_sum", 2, "double", False, ""),
            ("bucket", 3, "msg", True, p + "Bucket"),
            ("sample_count_float", 4, "double", False, ""),
        ],
    )
    _message(
        f,
        "Metric",
        [
            ("label", 1, "msg", True, p + "LabelPair"),
            ("gauge", 2, "msg", False, p + "Gauge"),
            ("counter", 3, "msg", False, p + "Counter"),
            ("summary", 4, "msg", False, p + "Summary"),
            ("untyped", 5, "msg", False, p + "Untyped"),
            ("timestamp_ms", 6, "int64", False, ""),
            ("histogram", 7, "msg", False, p + "Histogram"),
        ],
    )
    _message(
        f,
        "MetricFamily",
        [
            ("name", 1, "string", False, ""),
            ("help", 2, "string", False, ""),
            ("type", 3, "enum", False, p + "MetricType"),
            ("metric", 4, "msg", True, p + "Metric"),
            ("unit", 5, "string", False, ""),
        ],
    )
    enum = f.enum_type.add(name="MetricType")
    for number, name in enumerate(
        ["COUNTER", "GAUGE", "SUMMARY", "UNTYPED", "HISTOGRAM", "GAUGE_HISTOGRAM"]
    ):
        enum.value.add(name=name, number=number)
    return f


_POOL = descriptor_pool.DescriptorPool()
for _fdp in (_prompb(), _write_v2(), _client_model()):
    _POOL.Add(_fdp)


def _cls(full_name: str) -> Any:
    return message_factory.GetMessageClass(_POOL.FindMessageTypeByName(full_name))


WriteRequest = _cls("prometheus.WriteRequest")
WriteRequestRawLabels = _cls("prometheus.WriteRequestRawLabels")
Label = _cls("prometheus.Label")
WriteRequestV2 = _cls("io.prometheus.write.v2.Request")
WriteRequestV2RawSeries = _cls("io.prometheus.write.v2.RequestRawSeries")
TimeSeries = _cls("prometheus.TimeSeries")
ReadRequest = _cls("prometheus.ReadRequest")
ReadResponse = _cls("prometheus.ReadResponse")
ChunkedReadResponse = _cls("prometheus.ChunkedReadResponse")
MetricFamily = _cls("io.prometheus.client.MetricFamily")

# Enum numbers used by the handlers.
RESPONSE_SAMPLES = 0
RESPONSE_STREAMED_XOR_CHUNKS = 1
CHUNK_XOR = 1
MATCH_EQ, MATCH_NEQ, MATCH_RE, MATCH_NRE = 0, 1, 2, 3
# Both schemas number metric types alike; index -> the name the metadata API uses.
METRIC_TYPES = [
    "unknown",
    "counter",
    "gauge",
    "histogram",
    "gaugehistogram",
    "summary",
    "info",
    "stateset",
]
FAMILY_UNTYPED = 3
