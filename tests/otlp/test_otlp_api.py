"""The OTLP endpoint over real HTTP: the OpenTelemetry SDK's exporter, OTLP/JSON, errors."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import orjson
import pytest
from aiohttp.test_utils import TestClient

from tests.peers import require_module
from tidewatch.otlp import proto

Client = TestClient[Any, Any]
NOW_NS = time.time_ns()
NOW_S = NOW_NS / 1e9


async def query(client: Client, expr: str, at: float) -> dict[str, float]:
    """``{series text: value}`` of an instant query."""
    resp = await client.get("/api/v1/query", params={"query": expr, "time": str(at)})
    body = await resp.json()
    assert resp.status == 200, body
    out = {}
    for r in body["data"]["result"]:
        m = r["metric"]
        key = ",".join(f"{k}={v}" for k, v in sorted(m.items()))
        out[key] = float(r["value"][1])
    return out


@pytest.mark.parametrize("gzip", [False, True])
async def test_sdk_exporter_roundtrip(otlp_client: Client, gzip: bool) -> None:
    # Test extra: opentelemetry-sdk + opentelemetry-exporter-otlp-proto-http.
    require_module("opentelemetry.exporter.otlp.proto.http")
    from opentelemetry.exporter.otlp.proto.http import Compression
    from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader, MetricExportResult
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.version import __version__ as sdk_version

    resource = Resource.create(
        {
            "service.name": "checkout",
            "service.namespace": "shop",
            "service.instance.id": "pod-1",
            "deployment.environment": "prod",
        }
    )
    reader = InMemoryMetricReader()
    provider = MeterProvider(resource=resource, metric_readers=[reader])
    meter = provider.get_meter("test")
    requests = meter.create_counter("http.requests", unit="{request}", description="Requests.")
    requests.add(3, {"http.method": "GET"})
    requests.add(2, {"http.method": "POST"})
    duration = meter.create_histogram("http.server.duration", unit="s")
    for v in (0.003, 0.2, 7.0):
        duration.record(v, {"route": "/pay"})
    queue = meter.create_up_down_counter("queue.size")
    queue.add(5)
    queue.add(-2)
    data = reader.get_metrics_data()
    assert data is not None
    url = str(otlp_client.make_url("/api/v1/otlp/v1/metrics"))
    compression = Compression.Gzip if gzip else Compression.NoCompression
    exporter = OTLPMetricExporter(endpoint=url, compression=compression)
    result = await asyncio.to_thread(exporter.export, data)
    assert result == MetricExportResult.SUCCESS
    provider.shutdown()

    at = time.time() + 1
    ident = "instance=pod-1,job=shop/checkout"
    got = await query(otlp_client, "http_requests_total", at)
    assert got == {
        f"__name__=http_requests_total,http_method=GET,{ident}": 3.0,
        f"__name__=http_requests_total,http_method=POST,{ident}": 2.0,
    }
    got = await query(otlp_client, "http_server_duration_seconds_bucket", at)
    buckets = {k.split("le=")[1].split(",")[0]: v for k, v in got.items()}
    # SDK default boundaries start 0, 5, 10, 25 ... (in the instrument's unit).
    assert buckets["0"] == 0 and buckets["5"] == 2 and buckets["10"] == 3 and buckets["+Inf"] == 3
    assert all("route=/pay" in k and ident in k for k in got)
    got = await query(otlp_client, "http_server_duration_seconds_sum", at)
    assert list(got.values()) == [pytest.approx(7.203)]
    assert await query(otlp_client, "http_server_duration_seconds_count", at) == {
        f"__name__=http_server_duration_seconds_count,{ident},route=/pay": 3.0
    }
    assert await query(otlp_client, "queue_size", at) == {f"__name__=queue_size,{ident}": 3.0}
    info = await query(otlp_client, "target_info", at)
    # Resource.create adds the SDK's own attributes; they land on target_info too.
    assert list(info) == [
        f"__name__=target_info,deployment_environment=prod,{ident},telemetry_sdk_language=python,"
        f"telemetry_sdk_name=opentelemetry,telemetry_sdk_version={sdk_version}"
    ]
    resp = await otlp_client.get("/api/v1/metadata", params={"metric": "http_requests_total"})
    meta = (await resp.json())["data"]
    assert meta["http_requests_total"][0]["type"] == "counter"
    assert meta["http_requests_total"][0]["help"] == "Requests."


def _json_request() -> dict[str, Any]:
    t = str(NOW_NS)
    return {
        "resourceMetrics": [
            {
                "resource": {
                    "attributes": [{"key": "service.name", "value": {"stringValue": "batch"}}]
                },
                "scopeMetrics": [
                    {
                        "scope": {"name": "manual"},
                        "metrics": [
                            {
                                "name": "jobs.done",
                                "sum": {
                                    "aggregationTemporality": 2,
                                    "isMonotonic": True,
                                    "dataPoints": [
                                        {
                                            "timeUnixNano": t,
                                            "asInt": "42",
                                            "attributes": [
                                                {"key": "ok", "value": {"boolValue": True}},
                                                {"key": "a.b", "value": {"intValue": "1"}},
                                                {"key": "a_b", "value": {"stringValue": "x"}},
                                            ],
                                            "exemplars": [
                                                {
                                                    "timeUnixNano": t,
                                                    "asDouble": 1.0,
                                                    "traceId": "5b8efff798038103d269b633813fc60c",
                                                    "spanId": "eee19b7ec3c1b174",
                                                }
                                            ],
                                        }
                                    ],
                                },
                            },
                            {
                                "name": "load",
                                "unit": "1",
                                "gauge": {"dataPoints": [{"timeUnixNano": t, "asDouble": 0.25}]},
                            },
                            {
                                "name": "rpc.latency",
                                "unit": "ms",
                                "summary": {
                                    "dataPoints": [
                                        {
                                            "timeUnixNano": t,
                                            "count": "10",
                                            "sum": 55.5,
                                            "quantileValues": [
                                                {"quantile": 0.5, "value": 4.0},
                                                {"quantile": 0.99, "value": 9.5},
                                            ],
                                        }
                                    ]
                                },
                            },
                            {
                                "name": "delta.things",
                                "sum": {
                                    "aggregationTemporality": 1,
                                    "isMonotonic": True,
                                    "dataPoints": [{"timeUnixNano": t, "asInt": "1"}],
                                },
                            },
                            {
                                "name": "exp.hist",
                                "exponentialHistogram": {
                                    "aggregationTemporality": 2,
                                    "dataPoints": [{"timeUnixNano": t, "count": "1", "scale": 3}],
                                },
                            },
                        ],
                    }
                ],
            }
        ]
    }


async def test_json_request_with_partial_success(otlp_client: Client) -> None:
    resp = await otlp_client.post(
        "/api/v1/otlp/v1/metrics",
        data=orjson.dumps(_json_request()),
        headers={"Content-Type": "application/json"},
    )
    assert resp.status == 200
    assert resp.headers["Content-Type"].startswith("application/json")
    body = await resp.json()
    partial = body["partialSuccess"]
    assert partial["rejectedDataPoints"] == "2"
    assert "delta.things" in partial["errorMessage"]
    assert "exp.hist" in partial["errorMessage"]
    at = NOW_S + 1
    # Attribute keys that sanitize alike are joined with ';' in key order.
    assert await query(otlp_client, "jobs_done_total", at) == {
        "__name__=jobs_done_total,a_b=1;x,job=batch,ok=true": 42.0
    }
    assert await query(otlp_client, "load_ratio", at) == {"__name__=load_ratio,job=batch": 0.25}
    assert await query(otlp_client, "rpc_latency_milliseconds", at) == {
        "__name__=rpc_latency_milliseconds,job=batch,quantile=0.5": 4.0,
        "__name__=rpc_latency_milliseconds,job=batch,quantile=0.99": 9.5,
    }
    assert await query(otlp_client, "rpc_latency_milliseconds_count", at) == {
        "__name__=rpc_latency_milliseconds_count,job=batch": 10.0
    }
    assert await query(otlp_client, "delta_things_total", at) == {}
    # Only identifying resource attributes: no target_info.
    assert await query(otlp_client, "target_info", at) == {}


async def test_protobuf_response_and_no_recorded_value(otlp_client: Client) -> None:
    req = proto.ExportMetricsServiceRequest()
    metric = req.resource_metrics.add().scope_metrics.add().metrics.add(name="temp", unit="Cel")
    dp = metric.gauge.data_points.add(time_unix_nano=NOW_NS - 10**9, as_double=21.5)
    dp = metric.gauge.data_points.add(time_unix_nano=NOW_NS, flags=proto.FLAG_NO_RECORDED_VALUE)
    assert dp.flags == 1
    resp = await otlp_client.post(
        "/api/v1/otlp/v1/metrics",
        data=req.SerializeToString(),
        headers={"Content-Type": "application/x-protobuf"},
    )
    assert resp.status == 200
    out = proto.ExportMetricsServiceResponse.FromString(await resp.read())
    assert not out.HasField("partial_success")
    # The staleness marker ends the series right away.
    assert await query(otlp_client, "temp_celsius", NOW_S - 0.5) == {"__name__=temp_celsius": 21.5}
    assert await query(otlp_client, "temp_celsius", NOW_S + 1) == {}


@pytest.mark.parametrize(
    ("content_type", "body", "status", "needle"),
    [
        ("application/x-protobuf", b"\xff\xff\xff", 400, "unmarshal OTLP protobuf"),
        ("application/json", b"{not json", 400, "unmarshal OTLP JSON"),
        ("application/json", b'{"resourceMetrics": 5}', 400, "unmarshal OTLP JSON"),
        ("text/plain", b"x", 415, "unsupported Content-Type"),
    ],
)
async def test_bad_requests(
    otlp_client: Client, content_type: str, body: bytes, status: int, needle: str
) -> None:
    resp = await otlp_client.post(
        "/api/v1/otlp/v1/metrics", data=body, headers={"Content-Type": content_type}
    )
    assert resp.status == status
    assert needle in await resp.text()
