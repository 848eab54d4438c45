"""Remote read (SAMPLES and STREAMED_XOR_CHUNKS) and /federate over real HTTP."""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from tests.remote.conftest import Client
from tests.remote.helpers import snappy
from tidewatch.config.model import Config
from tidewatch.labels import from_dict
from tidewatch.remote import proto
from tidewatch.remote.codec import crc32c, snappy_decode
from tidewatch.remote.xorchunk import decode_xor_chunk
from tidewatch.tsdb import TSDB
from tidewatch.value import STALE_NAN

T0 = 1_700_000_000_000


def load(db: TSDB, n: int = 300) -> None:
    app = db.appender()
    for i in range(n):
        for job in ("api", "worker"):
            app.append(
                0, from_dict({"__name__": "reqs_total", "job": job}), T0 + i * 15_000, float(i)
            )
    app.commit()


def read_request(
    start: int, end: int, matchers: list[tuple[int, str, str]], types: list[int]
) -> bytes:
    req = proto.ReadRequest()
    q = req.queries.add(start_timestamp_ms=start, end_timestamp_ms=end)
    for mtype, name, value in matchers:
        q.matchers.add(type=mtype, name=name, value=value)
    req.accepted_response_types.extend(types)
    return snappy(req.SerializeToString())


def parse_frames(body: bytes) -> list[Any]:
    """Decode CRC-checked uvarint-framed ChunkedReadResponse messages."""
    out = []
    pos = 0
    while pos < len(body):
        size = shift = 0
        while True:
            b = body[pos]
            pos += 1
            size |= (b & 0x7F) << shift
            shift += 7
            if b < 0x80:
                break
        crc = int.from_bytes(body[pos : pos + 4], "big")
        data = body[pos + 4 : pos + 4 + size]
        pos += 4 + size
        assert crc32c(data) == crc
        msg = proto.ChunkedReadResponse()
        msg.ParseFromString(data)
        out.append(msg)
    return out


async def test_read_samples_with_external_labels(make_client: Any, db: TSDB) -> None:
    load(db)
    config = Config()
    config.prometheus.global_.external_labels = {"cluster": "eu", "job": "ignored"}
    client, _ = await make_client(config)
    body = read_request(
        T0,
        T0 + 60_000,
        [(proto.MATCH_EQ, "__name__", "reqs_total"), (proto.MATCH_EQ, "cluster", "eu")],
        [],
    )
    resp = await client.post("/api/v1/read", data=body)
    assert resp.status == 200
    assert resp.headers["Content-Encoding"] == "snappy"
    msg = proto.ReadResponse()
    msg.ParseFromString(snappy_decode(await resp.read(), 1 << 26))
    (result,) = msg.results
    got = {
        tuple((lb.name, lb.value) for lb in ts.labels): [(s.timestamp, s.value) for s in ts.samples]
        for ts in result.timeseries
    }
    # The series' own job wins over the external one; cluster is added.
    assert list(got) == [
        (("__name__", "reqs_total"), ("cluster", "eu"), ("job", "api")),
        (("__name__", "reqs_total"), ("cluster", "eu"), ("job", "worker")),
    ]
    assert got[next(iter(got))] == [(T0 + i * 15_000, float(i)) for i in range(5)]


async def test_read_streamed_xor_chunks(client: Client, db: TSDB) -> None:
    load(db)
    app = db.appender()
    app.append(0, from_dict({"__name__": "reqs_total", "job": "api"}), T0 + 300 * 15_000, STALE_NAN)
    app.commit()
    body = read_request(
        0, 2**62, [(proto.MATCH_RE, "job", "api|worker")], [proto.RESPONSE_STREAMED_XOR_CHUNKS]
    )
    resp = await client.post("/api/v1/read", data=body)
    assert resp.status == 200
    assert resp.headers["Content-Type"].startswith("application/x-streamed-protobuf")
    frames = parse_frames(await resp.read())
    per_series: dict[tuple[tuple[str, str], ...], list[Any]] = {}
    for f in frames:
        assert f.query_index == 0
        (cs,) = f.chunked_series
        per_series.setdefault(tuple((lb.name, lb.value) for lb in cs.labels), []).extend(cs.chunks)
    assert len(per_series) == 2
    chunks = per_series[(("__name__", "reqs_total"), ("job", "api"))]
    assert [c.type for c in chunks] == [proto.CHUNK_XOR] * 3  # 301 samples: 120 + 120 + 61
    ts_parts, val_parts = zip(*(decode_xor_chunk(c.data) for c in chunks), strict=True)
    ts = np.concatenate(ts_parts)
    vals = np.concatenate(val_parts)
    assert ts.tolist() == [T0 + i * 15_000 for i in range(301)]
    assert vals[:300].tolist() == [float(i) for i in range(300)]
    assert vals.view(np.uint64)[300] == np.array([STALE_NAN]).view(np.uint64)[0]
    assert (chunks[0].min_time_ms, chunks[0].max_time_ms) == (T0, T0 + 119 * 15_000)


async def test_read_bad_inputs(client: Client) -> None:
    resp = await client.post("/api/v1/read", data=b"\x30garbage")
    assert resp.status == 400 and "snappy" in await resp.text()
    resp = await client.post("/api/v1/read", data=snappy(b"\x0a\x05\x1a\x03\x08"))
    assert resp.status == 400 and "ReadRequest" in await resp.text()
    body = read_request(0, 1, [(proto.MATCH_RE, "job", "(")], [])
    resp = await client.post("/api/v1/read", data=body)
    assert resp.status == 400 and "regexp" in await resp.text()
    body = read_request(0, 1, [(proto.MATCH_EQ, "job", "a")], [7])
    resp = await client.post("/api/v1/read", data=body)
    assert resp.status == 400 and "response types" in await resp.text()


def _now_data(db: TSDB) -> int:
    now = int(time.time() * 1000)
    app = db.appender()
    for job, v in (("api", 1.5), ("worker", 1234567.0)):
        lbls = from_dict({"__name__": "up_time", "job": job, "env": "prod"})
        app.append(0, lbls, now - 20_000, 0.0)
        app.append(0, lbls, now - 10_000, v)
    app.append(0, from_dict({"__name__": "gone", "job": "api"}), now - 20_000, 1.0)
    app.append(0, from_dict({"__name__": "gone", "job": "api"}), now - 10_000, STALE_NAN)
    app.append(0, from_dict({"__name__": "old", "job": "api"}), now - 3_600_000, 1.0)
    app.commit()
    return now


async def test_federate_text(make_client: Any, db: TSDB) -> None:
    now = _now_data(db)
    config = Config()
    config.prometheus.global_.external_labels = {"zone": "z1", "env": "ext"}
    client, _ = await make_client(config)
    resp = await client.get(
        "/federate", params=[("match[]", '{job="api"}'), ("match[]", "up_time")]
    )
    assert resp.status == 200
    assert resp.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    text = await resp.text()
    t = now - 10_000
    assert text == (
        "# TYPE up_time untyped\n"
        f'up_time{{env="prod",job="api",zone="z1"}} 1.5 {t}\n'
        f'up_time{{env="prod",job="worker",zone="z1"}} 1.234567e+06 {t}\n'
    )


async def test_federate_protobuf(client: Client, db: TSDB) -> None:
    now = _now_data(db)
    accept = (
        "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;"
        "encoding=delimited;q=0.7,text/plain;version=0.0.4;q=0.3"
    )
    resp = await client.get("/federate", params={"match[]": "up_time"}, headers={"Accept": accept})
    assert resp.status == 200
    assert "encoding=delimited" in resp.headers["Content-Type"]
    body = await resp.read()
    size = body[0]  # one small family: a one-byte length prefix
    fam = proto.MetricFamily()
    fam.ParseFromString(body[1 : 1 + size])
    assert len(body) == 1 + size
    assert fam.name == "up_time" and fam.type == proto.FAMILY_UNTYPED
    assert [m.untyped.value for m in fam.metric] == [1.5, 1234567.0]
    assert {m.timestamp_ms for m in fam.metric} == {now - 10_000}
    assert [(lb.name, lb.value) for lb in fam.metric[0].label] == [("env", "prod"), ("job", "api")]


async def test_federate_errors_and_empty(client: Client) -> None:
    resp = await client.get("/federate", params={"match[]": "up{"})
    assert resp.status == 400
    resp = await client.get("/federate", params={"match[]": '{job=~".*"}'})
    assert resp.status == 400 and "non-empty matcher" in await resp.text()
    resp = await client.get("/federate")
    assert resp.status == 200 and await resp.text() == ""


async def test_read_sample_limit(db: TSDB) -> None:
    from typing import cast

    from aiohttp import web
    from aiohttp.test_utils import TestClient, TestServer

    from tests.web.conftest import FakeServices
    from tidewatch.web.api_remote import RemoteAPI

    load(db, n=10)
    api = RemoteAPI(cast(Any, FakeServices(tsdb=db)))
    api.read_sample_limit = 15  # two series of 10 samples exceed it
    app = web.Application()
    app.add_routes(api.routes())
    async with TestClient(TestServer(app, host="127.0.0.1")) as c:
        body = read_request(0, 2**62, [(proto.MATCH_EQ, "__name__", "reqs_total")], [])
        resp = await c.post("/api/v1/read", data=body)
        assert resp.status == 400 and "exceeded sample limit (15)" in await resp.text()
        api.read_sample_limit = 20
        resp = await c.post("/api/v1/read", data=body)
        assert resp.status == 200
