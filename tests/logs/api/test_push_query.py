"""Push in every encoding, then query through Loki's HTTP API and check its JSON shapes."""

from __future__ import annotations

import gzip
import time
from typing import Any

import cramjam
import orjson
from aiohttp.test_utils import TestClient

from tidewatch.logs.push.proto import PushRequest

S = 1_000_000_000
NOW = time.time_ns() // S * S
Client = TestClient[Any, Any]


def json_body(app: str, lines: list[str], t0: int = NOW - 10 * S) -> bytes:
    values = [[str(t0 + i * S), line] for i, line in enumerate(lines)]
    return orjson.dumps({"streams": [{"stream": {"app": app, "env": "prod"}, "values": values}]})


async def push_json(client: Client, app: str, lines: list[str], **kw: Any) -> None:
    r = await client.post(
        "/loki/api/v1/push",
        data=json_body(app, lines, **kw),
        headers={"Content-Type": "application/json"},
    )
    assert r.status == 204, await r.text()


async def query_range(client: Client, **params: Any) -> dict[str, Any]:
    params.setdefault("start", str(NOW - 3600 * S))
    params.setdefault("end", str(NOW + S))
    r = await client.get("/loki/api/v1/query_range", params=params)
    assert r.status == 200, await r.text()
    body: dict[str, Any] = await r.json()
    assert body["status"] == "success"
    return body["data"]


async def test_push_json_gzip_protobuf(client: Client) -> None:
    await push_json(client, "json", ["one", "two"])
    r = await client.post(
        "/loki/api/v1/push",
        data=gzip.compress(json_body("gz", ["zipped"])),
        headers={"Content-Type": "application/json", "Content-Encoding": "gzip"},
    )
    assert r.status == 204, await r.text()
    req = PushRequest()
    s = req.streams.add(labels='{app="proto", env="prod"}')
    e = s.entries.add(line="from promtail")
    e.timestamp.seconds, e.timestamp.nanos = (NOW - 5 * S) // S, 123
    md = e.structuredMetadata.add(name="trace_id", value="abc")
    assert md.value == "abc"
    r = await client.post(
        "/loki/api/v1/push",
        data=bytes(cramjam.snappy.compress_raw(req.SerializeToString())),
        headers={"Content-Type": "application/x-protobuf"},
    )
    assert r.status == 204, await r.text()

    data = await query_range(client, query='{env="prod"}', direction="forward")
    assert data["resultType"] == "streams"
    got = {s["stream"]["app"]: s["values"] for s in data["result"]}
    assert [v[1] for v in got["json"]] == ["one", "two"]
    assert got["json"][0][0] == str(NOW - 10 * S)
    assert [v[1] for v in got["gz"]] == ["zipped"]
    assert got["proto"] == [[str(NOW - 5 * S + 123), "from promtail"]]
    summary = data["stats"]["summary"]
    assert summary["totalLinesProcessed"] == 4


async def test_query_range_direction_limit_and_metric(client: Client) -> None:
    await push_json(client, "api", [f"line {i}" for i in range(10)])
    data = await query_range(client, query='{app="api"}', limit="3")
    (stream,) = data["result"]
    assert [v[1] for v in stream["values"]] == ["line 9", "line 8", "line 7"]
    data = await query_range(client, query='{app="api"} |= "line 1"', direction="forward")
    assert [v[1] for v in data["result"][0]["values"]] == ["line 1"]
    data = await query_range(client, query='{app="api"}', direction="forward", interval="3s")
    assert [v[1] for v in data["result"][0]["values"]] == ["line 0", "line 3", "line 6", "line 9"]
    data = await query_range(
        client,
        query='sum by (app) (count_over_time({app="api"}[1m]))',
        start=str(NOW),
        end=str(NOW),
        step="60",
    )
    assert data["resultType"] == "matrix"
    assert data["result"][0]["metric"] == {"app": "api"}
    assert data["result"][0]["values"] == [[NOW // S, "10"]]


async def test_instant_health_check_and_errors(client: Client) -> None:
    r = await client.get(
        "/loki/api/v1/query", params={"query": "vector(1)+vector(1)", "time": str(NOW)}
    )
    assert r.status == 200
    body = await r.json()
    assert body["data"]["resultType"] == "vector"
    assert body["data"]["result"][0]["value"] == [NOW // S, "2"]
    r = await client.get("/loki/api/v1/query_range", params={"query": '{app="x"'})
    assert r.status == 400
    assert (await r.text()).startswith("parse error at line 1, col")
    r = await client.get("/loki/api/v1/query", params={"query": '{app="x"}'})
    assert r.status == 400
    assert "log queries are not supported as an instant query type" in await r.text()
    r = await client.get("/loki/api/v1/query_range", params={"query": '{app="x"}', "limit": "6000"})
    assert r.status == 400
    assert "max entries limit per query exceeded" in await r.text()


async def test_categorize_labels_flag(client: Client) -> None:
    await push_json(client, "api", ["x"])
    r = await client.get(
        "/loki/api/v1/query_range",
        params={"query": '{app="api"}', "start": str(NOW - 3600 * S), "end": str(NOW)},
        headers={"X-Loki-Response-Encoding-Flags": "categorize-labels"},
    )
    data = (await r.json())["data"]
    assert data["encodingFlags"] == ["categorize-labels"]
    assert data["result"][0]["values"][0][1] == "x"


async def test_bad_push_bodies(client: Client) -> None:
    r = await client.post(
        "/loki/api/v1/push", data=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert r.status == 400
    r = await client.post(
        "/loki/api/v1/push",
        data=b"\xff\x00garbage",
        headers={"Content-Type": "application/x-protobuf"},
    )
    assert r.status == 400
    body = orjson.dumps(
        {
            "streams": [
                {"stream": {"app": "ok"}, "values": [[str(NOW), "kept"]]},
                {"stream": {"app": "old"}, "values": [[str(NOW - 30 * 24 * 3600 * S), "x"]]},
            ]
        }
    )
    r = await client.post(
        "/loki/api/v1/push", data=body, headers={"Content-Type": "application/json"}
    )
    assert r.status == 400
    text = await r.text()
    assert text.startswith("entry for stream '{app=\"old\"}' has timestamp too old: ")
    data = await query_range(client, query='{app="ok"}')
    assert data["result"][0]["values"][0][1] == "kept"


async def test_labels_series_stats_volume(client: Client) -> None:
    await push_json(client, "api", ["a", "bb"])
    await push_json(client, "db", ["cccc"])
    rng = {"start": str(NOW - 3600 * S), "end": str(NOW)}
    r = await client.get("/loki/api/v1/labels", params=rng)
    assert await r.json() == {"status": "success", "data": ["app", "env"]}
    r = await client.get("/loki/api/v1/label/app/values", params=rng)
    assert (await r.json())["data"] == ["api", "db"]
    r = await client.get("/loki/api/v1/label/app/values", params={**rng, "query": '{app="db"}'})
    assert (await r.json())["data"] == ["db"]
    r = await client.get("/loki/api/v1/series", params={**rng, "match[]": '{env="prod"}'})
    assert (await r.json())["data"] == [{"app": "api", "env": "prod"}, {"app": "db", "env": "prod"}]
    r = await client.get("/loki/api/v1/index/stats", params={**rng, "query": '{app="api"}'})
    assert await r.json() == {"streams": 1, "chunks": 1, "bytes": 3, "entries": 2}
    r = await client.get("/loki/api/v1/index/volume", params={**rng, "query": '{env="prod"}'})
    vol = (await r.json())["data"]
    assert vol["resultType"] == "vector"
    assert vol["result"] == [{"metric": {"env": "prod"}, "value": [NOW // S, "7"]}]
    r = await client.get(
        "/loki/api/v1/index/volume", params={**rng, "query": '{env="prod"}', "targetLabels": "app"}
    )
    assert [x["metric"] for x in (await r.json())["data"]["result"]] == [
        {"app": "db"},
        {"app": "api"},
    ]


async def test_delete_api(client: Client) -> None:
    await push_json(client, "api", ["keep", "drop me"])
    r = await client.post(
        "/loki/api/v1/delete",
        params={
            "query": '{app="api"} |= "drop"',
            "start": str(NOW // S - 3600),
            "end": str(NOW // S),
        },
    )
    assert r.status == 204, await r.text()
    r = await client.get("/loki/api/v1/delete")
    (req,) = await r.json()
    assert req["query"] == '{app="api"} |= "drop"' and req["start_time"] == NOW // S - 3600
    data = await query_range(client, query='{app="api"}')
    assert [v[1] for v in data["result"][0]["values"]] == ["keep"]
    r = await client.delete("/loki/api/v1/delete", params={"request_id": req["request_id"]})
    assert r.status == 204
    r = await client.post("/loki/api/v1/delete", params={"query": '{app="api"}'})
    assert r.status == 400 and await r.text() == "start time not set"


async def test_tail_websocket(client: Client) -> None:
    await push_json(client, "api", ["old", "before 1", "before 2"])
    async with client.ws_connect(
        "/loki/api/v1/tail",
        params={"query": '{app="api"} != "noise"', "start": str(NOW - 60 * S), "limit": "2"},
    ) as ws:
        first = orjson.loads((await ws.receive(timeout=5)).data)
        assert [v[1] for v in first["streams"][0]["values"]] == ["before 1", "before 2"]
        await push_json(client, "api", ["noise", "live"], t0=NOW)
        msg = orjson.loads((await ws.receive(timeout=5)).data)
        assert msg["streams"] == [
            {"stream": {"app": "api", "env": "prod"}, "values": [[str(NOW + S), "live"]]}
        ]


async def test_limited_log_query_over_a_long_range(client: Client) -> None:
    t0 = NOW - 3 * 3600 * S
    values = [[str(t0 + i * 60 * S), f"m{i}"] for i in range(180)]
    body = orjson.dumps({"streams": [{"stream": {"app": "long"}, "values": values}]})
    r = await client.post(
        "/loki/api/v1/push", data=body, headers={"Content-Type": "application/json"}
    )
    assert r.status == 204, await r.text()
    rng = {"start": str(t0), "end": str(NOW)}
    data = await query_range(client, query='{app="long"}', limit="7", **rng)
    assert [v[1] for v in data["result"][0]["values"]] == [f"m{i}" for i in range(179, 172, -1)]
    data = await query_range(client, query='{app="long"}', limit="7", direction="forward", **rng)
    assert [v[1] for v in data["result"][0]["values"]] == [f"m{i}" for i in range(7)]
    data = await query_range(client, query='{app="long"} |= "m1"', limit="200", **rng)
    assert len(data["result"][0]["values"]) == 1 + 10 + 80  # m1, m10..m19, m100..m179
    assert data["stats"]["summary"]["totalEntriesReturned"] == 91
