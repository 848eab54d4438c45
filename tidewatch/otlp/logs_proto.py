"""OTLP logs messages (``ExportLogsServiceRequest`` and its parts), built from descriptors
at import like :mod:`tidewatch.otlp.proto`.

Field numbers follow ``opentelemetry/proto`` common/v1, resource/v1, logs/v1 and
collector/logs/v1. The file lives in its own pool so the metrics messages stay as
they are.
"""

from __future__ import annotations

from typing import Any

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

from tidewatch.otlp.proto import _message, add_common_messages

PACKAGE = "opentelemetry.proto.logs.v1"

# SeverityNumber values, as the OpenTelemetry logs data model numbers them.
SEVERITY_NAMES = [
    "UNSPECIFIED",
    *(
        f"{level}{n}"
        for level in ("TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL")
        for n in ("", "2", "3", "4")
    ),
]


def _file() -> descriptor_pb2.FileDescriptorProto:
    f = descriptor_pb2.FileDescriptorProto(name="tidewatch/otlp_logs.proto", package=PACKAGE)
    f.syntax = "proto3"
    p = "." + PACKAGE + "."
    add_common_messages(f, p)
    _message(
        f,
        "LogRecord",
        [
            ("time_unix_nano", 1, "fixed64", False, "", ""),
            ("observed_time_unix_nano", 11, "fixed64", False, "", ""),
            ("severity_number", 2, "enum", False, p + "SeverityNumber", ""),
            ("severity_text", 3, "string", False, "", ""),
            ("body", 5, "msg", False, p + "AnyValue", ""),
            ("attributes", 6, "msg", True, p + "KeyValue", ""),
            ("dropped_attributes_count", 7, "uint32", False, "", ""),
            ("flags", 8, "fixed32", False, "", ""),
            ("trace_id", 9, "bytes", False, "", ""),
            ("span_id", 10, "bytes", False, "", ""),
            ("event_name", 12, "string", False, "", ""),
        ],
    )
    _message(
        f,
        "ScopeLogs",
        [
            ("scope", 1, "msg", False, p + "InstrumentationScope", ""),
            ("log_records", 2, "msg", True, p + "LogRecord", ""),
            ("schema_url", 3, "string", False, "", ""),
        ],
    )
    _message(
        f,
        "ResourceLogs",
        [
            ("resource", 1, "msg", False, p + "Resource", ""),
            ("scope_logs", 2, "msg", True, p + "ScopeLogs", ""),
            ("schema_url", 3, "string", False, "", ""),
        ],
    )
    _message(
        f, "ExportLogsServiceRequest", [("resource_logs", 1, "msg", True, p + "ResourceLogs", "")]
    )
    _message(
        f,
        "ExportLogsPartialSuccess",
        [
            ("rejected_log_records", 1, "int64", False, "", ""),
            ("error_message", 2, "string", False, "", ""),
        ],
    )
    _message(
        f,
        "ExportLogsServiceResponse",
        [("partial_success", 1, "msg", False, p + "ExportLogsPartialSuccess", "")],
    )
    enum = f.enum_type.add(name="SeverityNumber")
    for number, name in enumerate(SEVERITY_NAMES):
        enum.value.add(name="SEVERITY_NUMBER_" + name, number=number)
    return f


_pool = descriptor_pool.DescriptorPool()
_pool.Add(_file())


def _cls(name: str) -> Any:
    return message_factory.GetMessageClass(_pool.FindMessageTypeByName(f"{PACKAGE}.{name}"))


ExportLogsServiceRequest: Any = _cls("ExportLogsServiceRequest")
ExportLogsServiceResponse: Any = _cls("ExportLogsServiceResponse")
ResourceLogs: Any = _cls("ResourceLogs")
LogRecord: Any = _cls("LogRecord")
AnyValue: Any = _cls("AnyValue")
