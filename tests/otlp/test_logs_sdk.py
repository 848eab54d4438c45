"""The OpenTelemetry Python SDK's OTLP/HTTP log exporter, fed by the stdlib logging handler,
pushes to a real ``tidewatch up`` on loopback; the lines come back through Loki's API."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.harness import TidewatchProcess, wait_log_streams
from tests.peers import require_module


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TidewatchProcess]:
    root: Path = tmp_path_factory.mktemp("otlp-logs")
    proc = TidewatchProcess(data_dir=root / "data")
    proc.start()
    yield proc
    proc.stop()


def _provider(server: TidewatchProcess, path: str, service: str, **kw: Any) -> Any:
    require_module("opentelemetry.sdk._logs")
    from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
    from opentelemetry.sdk._logs import LoggerProvider
    from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor
    from opentelemetry.sdk.resources import Resource

    provider = LoggerProvider(
        resource=Resource.create(
            {
                "service.name": service,
                "service.instance.id": "i-1",
                "deployment.environment": "test",
                "host.name": "box-1",
            }
        )
    )
    exporter = OTLPLogExporter(endpoint=server.url + path, timeout=10, **kw)
    provider.add_log_record_processor(SimpleLogRecordProcessor(exporter))
    return provider


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_sdk_logging_handler_round_trip(server: TidewatchProcess) -> None:
    from opentelemetry import trace
    from opentelemetry.sdk._logs import LoggingHandler
    from opentelemetry.sdk.trace import TracerProvider

    provider = _provider(server, "/otlp/v1/logs", "checkout")
    handler = LoggingHandler(level=logging.DEBUG, logger_provider=provider)
    logger = logging.getLogger("tidewatch.test.otlp")
    logger.propagate = False
    logger.setLevel(logging.DEBUG)
    logger.addHandler(handler)
    tracer = TracerProvider().get_tracer("t")
    try:
        logger.info("order %s placed", "A-1", extra={"order.id": "A-1"})
        logger.warning("stock low")
        with tracer.start_as_current_span("pay") as span:
            ctx = span.get_span_context()
            logger.error("payment failed")
        trace_id = trace.format_trace_id(ctx.trace_id)
        span_id = trace.format_span_id(ctx.span_id)
    finally:
        logger.removeHandler(handler)
        provider.shutdown()

    streams = wait_log_streams(server, '{service_name="checkout"}', 3)
    # One stream in the index (resource attributes Loki indexes by default) ...
    series = server.get("/loki/api/v1/series", **{"match[]": '{service_name="checkout"}'})
    assert series.json()["data"] == [
        {"deployment_environment": "test", "service_instance_id": "i-1", "service_name": "checkout"}
    ]
    # ... while each answer's labels also carry the line's structured metadata.
    entries = sorted((v[0], v[1]) for s in streams for v in s["values"])
    assert [line for _, line in entries] == ["order A-1 placed", "stock low", "payment failed"]

    # Metadata is queryable as labels: level, severity, trace context, attributes.
    errors = wait_log_streams(server, '{service_name="checkout"} | detected_level="error"', 1)
    [err] = errors
    assert err["values"][0][1] == "payment failed"
    assert err["stream"]["severity_text"] == "ERROR"
    assert err["stream"]["severity_number"] == "17"
    assert err["stream"]["trace_id"] == trace_id
    assert err["stream"]["span_id"] == span_id
    assert err["stream"]["host_name"] == "box-1"
    assert err["stream"]["scope_name"] == "tidewatch.test.otlp"
    [info] = wait_log_streams(server, '{service_name="checkout"} | order_id="A-1"', 1)
    assert info["stream"]["detected_level"] == "info"
    [warn] = wait_log_streams(server, '{service_name="checkout"} | severity_text=~"WARN.*"', 1)
    assert warn["values"][0][1] == "stock low"
    assert warn["stream"]["detected_level"] == "warn"


def test_sdk_gzip_on_prometheus_style_path(server: TidewatchProcess) -> None:
    from opentelemetry.exporter.otlp.proto.http import Compression

    provider = _provider(server, "/api/v1/otlp/v1/logs", "gzipped", compression=Compression.Gzip)
    try:
        otel_logger = provider.get_logger("direct")
        from opentelemetry._logs import LogRecord, SeverityNumber

        otel_logger.emit(
            LogRecord(
                body={"msg": "structured body", "n": 2},
                severity_number=SeverityNumber.DEBUG,
                attributes={"http": "x"},
            )
        )
    finally:
        provider.shutdown()
    [s] = wait_log_streams(server, '{service_name="gzipped"}', 1)
    assert s["values"][0][1] == '{"msg":"structured body","n":2}'
