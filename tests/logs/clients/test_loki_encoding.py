"""Loki API details Grafana relies on: the ``categorize-labels`` encoding of log query
answers, and ``index/volume_range`` with one point per step."""

from __future__ import annotations

import time
from typing import Any

import orjson
from aiohttp.test_utils import TestClient

Client = TestClient[Any, Any]
S = 1_000_000_000
NOW = time.time_ns() // S * S
CATEGORIZE = {"X-Loki-Response-Encoding-Flags": "categorize-labels"}


async def push(client: Client, streams: list[dict[str, Any]]) -> None:
    r = await client.post(
        "/loki/api/v1/push",
        data=orjson.dumps({"streams": streams}),
        headers={"Content-Type": "application/json"},
    )
    assert r.status == 204, await r.text()


async def query(client: Client, q: str, headers: dict[str, str] | None = None) -> Any:
    params = {"query": q, "start": str(NOW - 600 * S), "end": str(NOW + S)}
    r = await client.get("/loki/api/v1/query_range", params=params, headers=headers or {})
    assert r.status == 200, await r.text()
    return (await r.json())["data"]


async def seed(client: Client) -> tuple[int, int, int]:
    t1, t2, t3 = NOW - 30 * S, NOW - 20 * S, NOW - 10 * S
    await push(
        client,
        [
            {
                "stream": {"app": "cat", "env": "prod"},
                "values": [
                    [str(t1), 'level=info msg="a b"', {"trace_id": "t-1", "env": "dev"}],
                    [str(t2), "level=error msg=x"],
                    [str(t3), "not logfmt at all", {"trace_id": "t-3"}],
                ],
            }
        ],
    )
    return t1, t2, t3


async def test_categorized_streams_split_metadata_and_parsed(loki: Client) -> None:
    t1, t2, t3 = await seed(loki)
    data = await query(loki, '{app="cat"} | logfmt', CATEGORIZE)
    assert list(data)[:2] == ["resultType", "encodingFlags"]
    assert data["encodingFlags"] == ["categorize-labels"]
    # One stream per index label set, whatever each entry's metadata or parsed labels.
    [stream] = data["result"]
    assert stream["stream"] == {"app": "cat", "env": "prod"}
    assert stream["values"] == [
        [str(t3), "not logfmt at all", {"structuredMetadata": {"trace_id": "t-3"}}],
        [str(t2), "level=error msg=x", {"parsed": {"level": "error", "msg": "x"}}],
        [
            str(t1),
            'level=info msg="a b"',
            {
                # Metadata clashing with a stream label is renamed, as Loki does.
                "structuredMetadata": {"env_extracted": "dev", "trace_id": "t-1"},
                "parsed": {"level": "info", "msg": "a b"},
            },
        ],
    ]


async def test_categorized_plain_selector_and_rewritten_labels(loki: Client) -> None:
    _, t2, _ = await seed(loki)
    data = await query(loki, '{app="cat"}', CATEGORIZE)
    [stream] = data["result"]
    assert [v[2] for v in stream["values"]] == [
        {"structuredMetadata": {"trace_id": "t-3"}},
        {},
        {"structuredMetadata": {"env_extracted": "dev", "trace_id": "t-1"}},
    ]
    # A stage that rewrites a stream label moves it out of the stream labels.
    data = await query(loki, '{app="cat"} |= "error" | label_format env="staging"', CATEGORIZE)
    [stream] = data["result"]
    assert stream["stream"] == {"app": "cat"}
    assert stream["values"] == [[str(t2), "level=error msg=x", {"parsed": {"env": "staging"}}]]


async def test_without_the_flag_labels_stay_merged(loki: Client) -> None:
    await seed(loki)
    data = await query(loki, '{app="cat"}')
    assert "encodingFlags" not in data
    assert all(len(v) == 2 for s in data["result"] for v in s["values"])
    merged = {orjson.dumps(s["stream"], option=orjson.OPT_SORT_KEYS) for s in data["result"]}
    assert len(merged) == 3  # metadata splits the answer into label sets, as Loki's does
    # Metric queries carry the flag too; their shape does not change.
    data = await query(loki, 'count_over_time({app="cat"}[1m])', CATEGORIZE)
    assert data["resultType"] == "matrix" and data["encodingFlags"] == ["categorize-labels"]


async def test_volume_range_one_point_per_step(loki: Client) -> None:
    t0 = NOW // (60 * S) * (60 * S) - 180 * S
    await push(
        loki,
        [
            {
                "stream": {"app": "a", "env": "prod"},
                "values": [
                    [str(t0 + 1 * S), "aaaa"],
                    [str(t0 + 61 * S), "aa"],
                    [str(t0 + 121 * S), "a"],
                ],
            },
            {"stream": {"app": "b", "env": "prod"}, "values": [[str(t0 + 62 * S), "b" * 10]]},
        ],
    )
    params = {"query": '{env="prod"}', "start": str(t0), "end": str(t0 + 180 * S), "step": "60s"}
    r = await loki.get("/loki/api/v1/index/volume_range", params=params)
    assert r.status == 200, await r.text()
    data = (await r.json())["data"]
    ms = t0 // 1_000_000
    first, second, last = (ms + 59_999) / 1000, (ms + 119_999) / 1000, (ms + 180_000) // 1000
    assert data == {
        "resultType": "matrix",
        "result": [
            {
                "metric": {"env": "prod"},
                "values": [[first, "4"], [second, "12"], [last, "1"]],
            }
        ],
    }
    r = await loki.get("/loki/api/v1/index/volume_range", params={**params, "targetLabels": "app"})
    result = (await r.json())["data"]["result"]
    assert result == [
        {"metric": {"app": "b"}, "values": [[second, "10"]]},
        {"metric": {"app": "a"}, "values": [[first, "4"], [second, "2"], [last, "1"]]},
    ]
    # Instant volume over the same range: one sample per series.
    r = await loki.get("/loki/api/v1/index/volume", params=params)
    vol = (await r.json())["data"]
    assert vol["resultType"] == "vector"
    assert vol["result"][0]["metric"] == {"env": "prod"}


async def test_tail_categorized(loki: Client) -> None:
    t1, t2, t3 = await seed(loki)
    async with loki.ws_connect(
        "/loki/api/v1/tail",
        params={"query": '{app="cat"} |= "l"', "start": str(NOW - 60 * S)},
        headers=CATEGORIZE,
    ) as ws:
        first = orjson.loads((await ws.receive(timeout=5)).data)
        assert first["encodingFlags"] == ["categorize-labels"]
        [stream] = first["streams"]
        assert stream["stream"] == {"app": "cat", "env": "prod"}
        assert [v[0] for v in stream["values"]] == [str(t1), str(t2), str(t3)]
        assert stream["values"][0][2] == {
            "structuredMetadata": {"env_extracted": "dev", "trace_id": "t-1"}
        }
        live = [[str(NOW), "live line", {"span_id": "s-9"}]]
        await push(loki, [{"stream": {"app": "cat", "env": "prod"}, "values": live}])
        msg = orjson.loads((await ws.receive(timeout=5)).data)
        assert msg == {
            "streams": [
                {
                    "stream": {"app": "cat", "env": "prod"},
                    "values": [[str(NOW), "live line", {"structuredMetadata": {"span_id": "s-9"}}]],
                }
            ],
            "encodingFlags": ["categorize-labels"],
        }
