"""The PromQL endpoints over real HTTP: Prometheus's JSON shapes, errors and limits."""

from __future__ import annotations

import time
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from tests.web.conftest import SERVICES, T0
from tidewatch.labels import from_dict
from tidewatch.promql.engine import Engine
from tidewatch.tsdb.interface import Exemplar

Client = TestClient[Any, Any]
T_END = (T0 + 3600_000) / 1000


async def get_json(client: Client, path: str, **params: str) -> tuple[int, Any]:
    resp = await client.get(path, params=params)
    return resp.status, await resp.json()


async def test_instant_query_shape(client: Client) -> None:
    status, body = await get_json(
        client,
        "/api/v1/query",
        query="sum by (job) (rate(http_requests_total[5m]))",
        time=str(T_END),
    )
    assert status == 200
    assert body["status"] == "success"
    assert body["data"]["resultType"] == "vector"
    got = {r["metric"]["job"]: r["value"] for r in body["data"]["result"]}
    assert {job: v[0] for job, v in got.items()} == {"api": T_END, "worker": T_END}
    assert float(got["api"][1]) == pytest.approx(1.0)
    assert float(got["worker"][1]) == pytest.approx(2.0)


async def test_post_form_and_range_query(client: Client) -> None:
    resp = await client.post(
        "/api/v1/query_range",
        data={
            "query": "temperature",
            "start": str(T0 / 1000),
            "end": str(T0 / 1000 + 60),
            "step": "30s",
        },
    )
    assert resp.status == 200
    body = await resp.json()
    assert body["data"]["resultType"] == "matrix"
    (series,) = body["data"]["result"]
    assert series["metric"] == {"__name__": "temperature", "room": "a"}
    assert series["values"] == [
        [T0 / 1000, "20"],
        [T0 / 1000 + 30, "20"],
        [T0 / 1000 + 60, "20"],
    ]


async def test_scalar_and_string_results(client: Client) -> None:
    _, body = await get_json(client, "/api/v1/query", query="1+1", time="4")
    assert body == {"status": "success", "data": {"resultType": "scalar", "result": [4, "2"]}}
    _, body = await get_json(client, "/api/v1/query", query='"hello"', time="4.5")
    assert body["data"] == {"resultType": "string", "result": [4.5, "hello"]}
    _, body = await get_json(client, "/api/v1/query", query="1/0", time="1")
    assert body["data"]["result"] == [1, "+Inf"]


async def test_stats_all(client: Client) -> None:
    _, body = await get_json(
        client, "/api/v1/query", query="temperature", time=str(T_END), stats="all"
    )
    stats = body["data"]["stats"]
    assert {"timings", "samples"} <= set(stats)
    assert stats["samples"]["totalQueryableSamples"] >= 1


async def test_errors_have_type_status_and_position(client: Client) -> None:
    status, body = await get_json(client, "/api/v1/query", query="sum(rate(foo[5m])")
    assert status == 400
    assert body["errorType"] == "bad_data"
    assert body["error"].startswith('invalid parameter "query": 1:')

    status, body = await get_json(client, "/api/v1/query", query="nosuchfunc(foo)")
    assert status == 400 and "unknown function" in body["error"]

    status, body = await get_json(client, "/api/v1/query", query="rate(foo)")
    assert status == 400 and "range vector" in body["error"]

    status, body = await get_json(client, "/api/v1/query", query="up", time="not-a-time")
    assert status == 400
    assert (
        body["error"] == 'invalid parameter "time": cannot parse "not-a-time" to a valid timestamp'
    )

    # Many-to-many matching is an execution error (422), as in Prometheus.
    status, body = await get_json(
        client,
        "/api/v1/query",
        query="http_requests_total + on(code) http_requests_total",
        time=str(T_END),
    )
    assert status == 422 and body["errorType"] == "execution"


async def test_range_limits(client: Client) -> None:
    status, body = await get_json(
        client, "/api/v1/query_range", query="up", start="0", end="20000", step="1"
    )
    assert status == 400
    assert "11,000 points" in body["error"]
    status, body = await get_json(
        client, "/api/v1/query_range", query="up", start="10", end="0", step="1"
    )
    assert status == 400 and "end timestamp must not be before start time" in body["error"]
    status, body = await get_json(
        client, "/api/v1/query_range", query="up", start="0", end="10", step="0"
    )
    assert status == 400 and "zero or negative" in body["error"]


async def test_max_samples_limit(client: Client) -> None:
    client.app[SERVICES].engine = Engine(max_samples=100)
    # 2 series x 240 samples in the hour: over the limit of 100.
    status, body = await get_json(
        client, "/api/v1/query", query="http_requests_total[1h]", time=str(T_END)
    )
    assert status == 422
    assert body == {
        "status": "error",
        "errorType": "execution",
        "error": "query processing would load too many samples into memory in query execution",
    }
    status, _ = await get_json(client, "/api/v1/query", query="temperature", time=str(T_END))
    assert status == 200


async def test_range_query_of_range_vector_is_bad_data(client: Client) -> None:
    status, body = await get_json(
        client, "/api/v1/query_range", query="temperature[5m]", start="0", end="60", step="15"
    )
    assert status == 400 and body["errorType"] == "bad_data"


async def test_format_and_parse_query(client: Client) -> None:
    _, body = await get_json(
        client, "/api/v1/format_query", query="sum(rate(foo{a='b'}[5m]))by(job)"
    )
    assert body == {"status": "success", "data": 'sum by (job) (rate(foo{a="b"}[5m]))'}
    _, body = await get_json(client, "/api/v1/parse_query", query="up == 1")
    assert body["status"] == "success" and body["data"]["type"] == "binaryExpr"


async def test_series_labels_values(client: Client) -> None:
    _, body = await get_json(client, "/api/v1/series", **{"match[]": "http_requests_total"})
    assert body["data"] == [
        {"__name__": "http_requests_total", "code": "200", "job": "api"},
        {"__name__": "http_requests_total", "code": "200", "job": "worker"},
    ]
    _, body = await get_json(client, "/api/v1/labels", **{"match[]": "temperature"})
    assert body["data"] == ["__name__", "room"]
    _, body = await get_json(client, "/api/v1/label/job/values")
    assert body["data"] == ["api", "worker"]
    status, body = await get_json(client, "/api/v1/series", **{"match[]": '{job=~".*"}'})
    assert status == 400 and "non-empty matcher" in body["error"]
    status, body = await get_json(client, "/api/v1/series", **{"match[]": "up{"})
    assert status == 400 and body["error"].startswith('invalid parameter "match[]"')
    # Time-bounded: nothing before the data started.
    _, body = await get_json(
        client, "/api/v1/series", **{"match[]": "temperature"}, start="0", end="100"
    )
    assert body["data"] == []


async def test_tsdb_status_and_lifecycle(client: Client) -> None:
    _, body = await get_json(client, "/api/v1/status/tsdb")
    data = body["data"]
    assert data["headStats"]["numSeries"] == 3
    assert data["seriesCountByMetricName"][0] == {"name": "http_requests_total", "value": 2}
    resp = await client.post("/-/reload")
    assert resp.status == 200
    assert client.app[SERVICES].reloads == 1
    resp = await client.get("/-/ready")
    assert resp.status == 200
    resp = await client.get("/collectors/node/metrics")
    assert resp.status == 200 and b"node_cpu_seconds_total" in await resp.read()


async def test_oversized_request_rejected(client: Client) -> None:
    big = "x" * (33 * 1024 * 1024)
    resp = await client.post("/api/v1/query", data={"query": big})
    assert resp.status == 413


async def test_query_exemplars(client: Client) -> None:
    db = client.app[SERVICES].tsdb
    app = db.appender()
    lbls = from_dict({"__name__": "http_requests_total", "job": "api", "code": "200"})
    ref = app.append(0, lbls, T0 + 3_600_000, 3600.0)
    app.append_exemplar(
        ref, lbls, Exemplar(from_dict({"trace_id": "abc123"}), 0.25, T0 + 3_600_000)
    )
    app.commit()
    status, body = await get_json(
        client,
        "/api/v1/query_exemplars",
        query='rate(http_requests_total{job="api"}[5m])',
        start=str(T0 / 1000),
        end=str(T_END + 1),
    )
    assert status == 200
    assert body["data"] == [
        {
            "seriesLabels": {"__name__": "http_requests_total", "code": "200", "job": "api"},
            "exemplars": [{"labels": {"trace_id": "abc123"}, "value": "0.25", "timestamp": T_END}],
        }
    ]


async def test_bad_and_malicious_regexes(client: Client) -> None:
    status, body = await get_json(client, "/api/v1/query", query='up{job=~"("}')
    assert status == 400 and body["errorType"] == "bad_data"
    assert "error parsing regexp" in body["error"]
    # Catastrophic for a backtracking engine, linear for RE2.
    started = time.perf_counter()
    status, _ = await get_json(
        client, "/api/v1/query", query='http_requests_total{job=~"(a+)+$"}', time=str(T_END)
    )
    assert status == 200 and time.perf_counter() - started < 5


async def test_query_timeout_is_503(client: Client) -> None:
    status, body = await get_json(
        client,
        "/api/v1/query_range",
        query="sum_over_time(http_requests_total[1h:1s])",
        start=str(T0 / 1000),
        end=str(T_END),
        step="1",
        timeout="1ms",
    )
    assert status == 503 and body["errorType"] == "timeout"
