"""OTLP logs over HTTP (protobuf, JSON, gzip) into the log store, translated as Loki does."""

from __future__ import annotations

import gzip
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from tidewatch.logs.logql.engine import LogQLEngine
from tidewatch.logs.store import LogStore, LogStoreOptions
from tidewatch.otlp import logs_proto
from tidewatch.otlp.logs import translate_logs, value_text
from tidewatch.otlp.logs_level import level_from_line
from tidewatch.web.api_loki import LokiAPI
from tidewatch.web.api_otlp import OTLPAPI

Client = TestClient[Any, Any]
S = 1_000_000_000
NOW = time.time_ns() // S * S


@dataclass
class Services:
    log_store: LogStore
    logql: LogQLEngine = field(default_factory=LogQLEngine)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[LogStore]:
    s = LogStore.open(tmp_path / "logs", LogStoreOptions(ingestion_rate_mb=0))
    yield s
    s.close()


@pytest.fixture
async def client(store: LogStore) -> AsyncIterator[Client]:
    app = web.Application()
    services = Services(store)
    app.add_routes(OTLPAPI(services).routes())  # type: ignore[arg-type]
    app.add_routes(LokiAPI(services).routes())
    async with TestClient(TestServer(app, host="127.0.0.1")) as c:
        yield c


def kv(key: str, value: Any) -> dict[str, Any]:
    if isinstance(value, dict):
        return {
            "key": key,
            "value": {"kvlistValue": {"values": [kv(k, v) for k, v in value.items()]}},
        }
    if isinstance(value, int):
        return {"key": key, "value": {"intValue": str(value)}}
    return {"key": key, "value": {"stringValue": value}}


def request_json(resource: dict[str, Any], records: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "resourceLogs": [
            {
                "resource": {"attributes": [kv(k, v) for k, v in resource.items()]},
                "scopeLogs": [
                    {
                        "scope": {
                            "name": "my.lib",
                            "version": "1.2",
                            "attributes": [kv("team", "x")],
                        },
                        "logRecords": records,
                    }
                ],
            }
        ]
    }


async def streams(client: Client, q: str) -> list[dict[str, Any]]:
    params = {
        "query": q,
        "start": str(NOW - 600 * S),
        "end": str(NOW + 60 * S),
        "direction": "forward",
    }
    r = await client.get("/loki/api/v1/query_range", params=params)
    assert r.status == 200, await r.text()
    result: list[dict[str, Any]] = (await r.json())["data"]["result"]
    return result


async def test_json_request_translated_like_loki(client: Client) -> None:
    body = request_json(
        {
            "service.name": "api",
            "k8s.pod.name": "api-7f",
            "host.name": "n1",
            "process": {"pid": 42},
        },
        [
            {
                "timeUnixNano": str(NOW - 5 * S),
                "observedTimeUnixNano": str(NOW - 4 * S),
                "severityNumber": 13,
                "severityText": "Warning",
                "body": {"stringValue": "disk almost full"},
                "attributes": [kv("disk.path", "/var"), kv("free", 3)],
                "traceId": "5b8efff798038103d269b633813fc60c",
                "spanId": "eee19b7ec3c1b174",
                "flags": 1,
            },
            {
                # No timestamp: the observed one is used, and not repeated as metadata.
                "observedTimeUnixNano": str(NOW - 3 * S),
                "severityText": "SEVERE",
                "body": {"kvlistValue": {"values": [kv("b", "2"), kv("a", 1)]}},
            },
        ],
    )
    r = await client.post(
        "/otlp/v1/logs", data=orjson.dumps(body), headers={"Content-Type": "application/json"}
    )
    assert r.status == 204, await r.text()
    r = await client.get("/loki/api/v1/series", params={"match[]": '{service_name="api"}'})
    assert (await r.json())["data"] == [{"k8s_pod_name": "api-7f", "service_name": "api"}]
    first, second = await streams(client, '{service_name="api"}')
    assert first["values"] == [[str(NOW - 5 * S), "disk almost full"]]
    assert first["stream"] == {
        "service_name": "api",
        "k8s_pod_name": "api-7f",
        "host_name": "n1",
        "process_pid": "42",
        "scope_name": "my.lib",
        "scope_version": "1.2",
        "team": "x",
        "disk_path": "/var",
        "free": "3",
        "observed_timestamp": str(NOW - 4 * S),
        "severity_number": "13",
        "severity_text": "Warning",
        "flags": "1",
        "trace_id": "5b8efff798038103d269b633813fc60c",
        "span_id": "eee19b7ec3c1b174",
        "detected_level": "warn",
    }
    assert second["values"] == [[str(NOW - 3 * S), '{"a":1,"b":"2"}']]
    assert second["stream"]["severity_text"] == "SEVERE"
    assert "observed_timestamp" not in second["stream"]
    assert second["stream"]["detected_level"] == "unknown"


async def test_protobuf_gzip_and_service_name_discovery(client: Client) -> None:
    req = logs_proto.ExportLogsServiceRequest()
    for attrs in ({"app": "billing"}, {"service.namespace": "shop"}):
        rl = req.resource_logs.add()
        for k, v in attrs.items():
            rl.resource.attributes.add(key=k).value.string_value = v
        lr = rl.scope_logs.add().log_records.add(time_unix_nano=NOW - S)
        lr.body.string_value = '{"level":"debug","msg":"hi"}'
    # `app` is not indexed by default, so it cannot name the service: unknown_service.
    r = await client.post(
        "/api/v1/otlp/v1/logs",
        data=gzip.compress(req.SerializeToString()),
        headers={"Content-Type": "application/x-protobuf", "Content-Encoding": "gzip"},
    )
    assert r.status == 204, await r.text()
    got = await streams(client, '{service_name="unknown_service"}')
    assert {s["stream"].get("service_namespace") for s in got} == {None, "shop"}
    assert {s["stream"]["detected_level"] for s in got} == {"debug"}
    assert any(s["stream"].get("app") == "billing" for s in got)


def test_discovery_from_indexed_labels() -> None:
    req = logs_proto.ExportLogsServiceRequest()
    rl = req.resource_logs.add()
    rl.resource.attributes.add(key="k8s.container.name").value.string_value = "web"
    rl.scope_logs.add().log_records.add(time_unix_nano=NOW).body.string_value = "x"
    [ps] = translate_logs(req)
    assert ps.labels_text == '{k8s_container_name="web", service_name="web"}'
    assert ps.metadata == [(("detected_level", "unknown"),)]


def test_body_values_as_text() -> None:
    v = logs_proto.AnyValue()
    v.double_value = 1.5
    assert value_text(v) == "1.5"
    v.double_value = 1e21
    assert value_text(v) == "1e+21"
    v.bool_value = True
    assert value_text(v) == "true"
    v.bytes_value = b"\x00\x01"
    assert value_text(v) == "AAE="
    v.array_value.values.add().int_value = 7
    assert value_text(v) == "[7]"


def test_level_from_line() -> None:
    assert level_from_line('{"nested":{"level":"WARNING"}}') == "warn"
    assert level_from_line("ts=1 lvl=err msg=boom") == "error"
    assert level_from_line("a Fatal problem") == "fatal"
    assert level_from_line("information superhighway") == "unknown"


async def test_bad_requests(client: Client) -> None:
    r = await client.post(
        "/otlp/v1/logs", data=b"\xff\xff", headers={"Content-Type": "application/x-protobuf"}
    )
    assert r.status == 400
    assert (await r.text()).startswith("unmarshal OTLP protobuf")
    r = await client.post(
        "/otlp/v1/logs", data=b"[1]", headers={"Content-Type": "application/json"}
    )
    assert r.status == 400
    r = await client.post("/otlp/v1/logs", data=b"x", headers={"Content-Type": "text/plain"})
    assert r.status == 400
    assert "content type: text/plain is not supported" in await r.text()
    # The store's validation applies: a line too old is refused with Loki's message.
    body = request_json(
        {"service.name": "old"},
        [{"timeUnixNano": str(NOW - 90 * 86400 * S), "body": {"stringValue": "x"}}],
    )
    r = await client.post(
        "/otlp/v1/logs", data=orjson.dumps(body), headers={"Content-Type": "application/json"}
    )
    assert r.status == 400
    assert "timestamp too old" in await r.text()
