"""Many streams per push, protobuf and JSON, over real HTTP: every line comes back intact."""

from __future__ import annotations

import time
from typing import Any

import cramjam
import orjson
from aiohttp.test_utils import TestClient

from tidewatch.logs.push.proto import PushRequest

S = 1_000_000_000
NOW = time.time_ns() // S * S
STREAMS = 30
PER_STREAM = 20
Client = TestClient[Any, Any]


def _line(fmt: str, k: int, i: int) -> str:
    return f'{{"fmt":"{fmt}","stream":{k},"i":{i},"msg":"ünïcödé ✓ {"x" * (i * 7)}"}}'


def _ts(k: int, i: int) -> int:
    return NOW - 600 * S + i * S + k * 1000 + 7


def _protobuf_body() -> bytes:
    req = PushRequest()
    for k in range(STREAMS):
        s = req.streams.add(labels=f'{{fmt="pb", pod="p{k:02d}"}}')
        for i in range(PER_STREAM):
            e = s.entries.add(line=_line("pb", k, i))
            e.timestamp.seconds, e.timestamp.nanos = divmod(_ts(k, i), S)
    return bytes(cramjam.snappy.compress_raw(req.SerializeToString()))


def _json_body() -> bytes:
    streams = [
        {
            "stream": {"fmt": "json", "pod": f"p{k:02d}"},
            "values": [[str(_ts(k, i)), _line("json", k, i)] for i in range(PER_STREAM)],
        }
        for k in range(STREAMS)
    ]
    return orjson.dumps({"streams": streams})


async def _read_back(client: Client, fmt: str) -> dict[str, list[list[str]]]:
    params = {
        "query": f'{{fmt="{fmt}"}}',
        "start": str(NOW - 3600 * S),
        "end": str(NOW + S),
        "limit": "5000",
        "direction": "forward",
    }
    r = await client.get("/loki/api/v1/query_range", params=params)
    assert r.status == 200, await r.text()
    data = (await r.json())["data"]
    return {s["stream"]["pod"]: s["values"] for s in data["result"]}


async def test_many_streams_round_trip(client: Client) -> None:
    for fmt, body, ctype in (
        ("pb", _protobuf_body(), "application/x-protobuf"),
        ("json", _json_body(), "application/json"),
    ):
        r = await client.post("/loki/api/v1/push", data=body, headers={"Content-Type": ctype})
        assert r.status == 204, await r.text()
        got = await _read_back(client, fmt)
        assert sorted(got) == [f"p{k:02d}" for k in range(STREAMS)]
        for k in range(STREAMS):
            want = [[str(_ts(k, i)), _line(fmt, k, i)] for i in range(PER_STREAM)]
            assert got[f"p{k:02d}"] == want


async def test_bad_stream_in_a_big_json_push_is_named(client: Client) -> None:
    doc = orjson.loads(_json_body())
    doc["streams"][5]["values"][3][0] = "17x"
    r = await client.post(
        "/loki/api/v1/push", data=orjson.dumps(doc), headers={"Content-Type": "application/json"}
    )
    assert r.status == 400
    assert 'strconv.ParseInt: parsing "17x": invalid syntax' in await r.text()
