"""Remote write receive over real HTTP: 1.0 and 2.0 bodies, and every kind of bad input."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from tests.remote.conftest import Client
from tests.remote.helpers import V1_TYPE, V2_TYPE, V2Builder, snappy, v1_body
from tidewatch.config.model import Config
from tidewatch.labels import from_dict
from tidewatch.matcher import Matcher, MatchType
from tidewatch.remote import proto
from tidewatch.tsdb import TSDB
from tidewatch.value import STALE_NAN, stale_mask

T0 = 1_700_000_000_000
HEADERS_V1 = {"Content-Type": V1_TYPE, "Content-Encoding": "snappy"}
HEADERS_V2 = {"Content-Type": V2_TYPE, "Content-Encoding": "snappy"}


def stored(db: TSDB, name: str) -> dict[tuple[tuple[str, str], ...], list[tuple[int, float]]]:
    q = db.querier()
    try:
        found = q.select([Matcher(MatchType.EQUAL, "__name__", name)], 0, 2**62)
    finally:
        q.close()
    return {s.labels: list(zip(s.ts.tolist(), s.values.tolist(), strict=True)) for s in found}


async def post(client: Client, body: bytes, headers: dict[str, str]) -> tuple[int, str, Any]:
    skip = [] if "Content-Type" in headers else ["Content-Type"]
    resp = await client.post("/api/v1/write", data=body, headers=headers, skip_auto_headers=skip)
    return resp.status, await resp.text(), resp.headers


async def test_v1_write_lands_samples_and_metadata(client: Client, db: TSDB) -> None:
    series = [
        ([("__name__", "req_total"), ("job", f"j{i}")], [(T0, float(i)), (T0 + 15_000, i + 1.0)])
        for i in range(50)
    ]
    body = v1_body(series, metadata=[("req_total", 1, "Requests.")])
    status, text, headers = await post(client, snappy(body), HEADERS_V1)
    assert status == 204, text
    got = stored(db, "req_total")
    assert len(got) == 50
    assert got[from_dict({"__name__": "req_total", "job": "j7"})] == [(T0, 7.0), (T0 + 15_000, 8.0)]
    meta = db.metadata()["req_total"][0]
    assert (meta.type, meta.help) == ("counter", "Requests.")
    # 1.0 responses carry no written-count headers.
    assert "X-Prometheus-Remote-Write-Samples-Written" not in headers


async def test_v1_content_type_without_proto_and_empty_header(client: Client, db: TSDB) -> None:
    body = snappy(v1_body([([("__name__", "a")], [(T0, 1.0)])]))
    for headers in (
        {"Content-Encoding": "snappy"},
        {"Content-Type": f"{V1_TYPE};proto=prometheus.WriteRequest"},
    ):
        status, text, _ = await post(client, body, headers)
        assert status == 204, text
    assert stored(db, "a") == {from_dict({"__name__": "a"}): [(T0, 1.0)]}


async def test_nan_values_and_staleness_markers_kept(client: Client, db: TSDB) -> None:
    body = snappy(v1_body([([("__name__", "g")], [(T0, math.nan), (T0 + 1, STALE_NAN)])]))
    status, text, _ = await post(client, body, HEADERS_V1)
    assert status == 204, text
    (samples,) = stored(db, "g").values()
    vals = np.array([v for _, v in samples])
    assert math.isnan(vals[0]) and not stale_mask(vals[:1])[0]
    assert stale_mask(vals[1:])[0]


async def test_v2_write_symbols_exemplars_metadata_and_headers(client: Client, db: TSDB) -> None:
    b = V2Builder()
    b.series(
        [("__name__", "lat_seconds_count"), ("job", "api")],
        [(T0, 3.0), (T0 + 1000, 4.0)],
        exemplar=([("trace_id", "abc")], 0.25, T0 + 1000),
        metadata=(1, "Latency observations.", "seconds"),
    )
    b.series([("__name__", "up"), ("instance", "x:1"), ("job", "api")], [(T0, 1.0)])
    status, text, headers = await post(client, snappy(b.body()), HEADERS_V2)
    assert status == 204, text
    assert headers["X-Prometheus-Remote-Write-Samples-Written"] == "3"
    assert headers["X-Prometheus-Remote-Write-Exemplars-Written"] == "1"
    assert headers["X-Prometheus-Remote-Write-Histograms-Written"] == "0"
    assert stored(db, "up") == {
        from_dict({"__name__": "up", "instance": "x:1", "job": "api"}): [(T0, 1.0)]
    }
    meta = db.metadata()["lat_seconds_count"][0]
    assert (meta.type, meta.help, meta.unit) == ("counter", "Latency observations.", "seconds")
    ((_, exemplars),) = db.query_exemplars([[Matcher(MatchType.EQUAL, "job", "api")]], 0, 2**62)
    assert exemplars[0].labels == (("trace_id", "abc"),) and exemplars[0].value == 0.25


async def test_out_of_order_is_400_keeps_the_rest(client: Client, db: TSDB) -> None:
    body = snappy(v1_body([([("__name__", "c")], [(T0 + 60_000, 1.0)])]))
    assert (await post(client, body, HEADERS_V1))[0] == 204
    b = V2Builder()
    b.series([("__name__", "c")], [(T0, 5.0)])  # older than what is stored: out of order
    b.series([("__name__", "d")], [(T0 + 60_000, 2.0)])
    status, text, headers = await post(client, snappy(b.body()), HEADERS_V2)
    assert status == 400
    assert "out of order" in text
    assert headers["X-Prometheus-Remote-Write-Samples-Written"] == "1"
    assert stored(db, "d") == {from_dict({"__name__": "d"}): [(T0 + 60_000, 2.0)]}
    # A resend of what was already accepted (same values) is not an error.
    body = snappy(v1_body([([("__name__", "c")], [(T0 + 60_000, 1.0)])]))
    assert (await post(client, body, HEADERS_V1))[0] == 204


async def test_out_of_order_window_from_storage_config(tmp_path: Any, make_client: Any) -> None:
    from tidewatch.tsdb.options import TSDBOptions

    db = TSDB.open(str(tmp_path / "ooo"), TSDBOptions(out_of_order_window_ms=3_600_000))
    try:
        from aiohttp.test_utils import TestClient, TestServer

        from tests.remote.conftest import build_remote_app
        from tests.web.conftest import FakeServices

        services = FakeServices(tsdb=db, config=Config())
        async with TestClient(TestServer(build_remote_app(services), host="127.0.0.1")) as c:
            for t in (T0 + 60_000, T0):
                body = snappy(v1_body([([("__name__", "o")], [(t, 1.0)])]))
                status, text, _ = await post(c, body, HEADERS_V1)
                assert status == 204, text
        assert [t for t, _ in stored(db, "o")[from_dict({"__name__": "o"})]] == [T0, T0 + 60_000]
    finally:
        db.close()


GOOD = ([("__name__", "good")], [(T0, 1.0)])


async def _bad_v1(client: Client, db: TSDB, pairs: list[tuple[str, str]], expect: str) -> None:
    body = snappy(v1_body([GOOD, (pairs, [(T0, 1.0)])]))
    status, text, _ = await post(client, body, HEADERS_V1)
    assert status == 400, text
    assert expect in text
    assert stored(db, "good") == {}  # nothing of the request was applied


async def test_unsorted_labels(client: Client, db: TSDB) -> None:
    await _bad_v1(client, db, [("__name__", "x"), ("job", "a"), ("env", "b")], "not sorted")


async def test_duplicate_labels(client: Client, db: TSDB) -> None:
    await _bad_v1(
        client, db, [("__name__", "x"), ("job", "a"), ("job", "b")], 'duplicate label name "job"'
    )


async def test_missing_metric_name_and_empty_label_name(client: Client, db: TSDB) -> None:
    await _bad_v1(client, db, [("job", "a")], "missing metric name")
    await _bad_v1(client, db, [("", "v"), ("__name__", "x")], "empty label name")


async def test_corrupt_snappy(client: Client, db: TSDB) -> None:
    status, text, _ = await post(client, b"\x20not snappy at all" * 3, HEADERS_V1)
    assert status == 400 and "snappy" in text


async def test_truncated_protobuf(client: Client, db: TSDB) -> None:
    body = v1_body([GOOD, ([("__name__", "other")], [(T0, 2.0)])])
    status, text, _ = await post(client, snappy(body[:-7]), HEADERS_V1)
    assert status == 400 and "cannot decode prometheus.WriteRequest" in text
    assert stored(db, "good") == {}


async def test_v2_bad_symbol_reference(client: Client, db: TSDB) -> None:
    b = V2Builder()
    b.series(*GOOD)
    ts = b.series([("__name__", "y")], [(T0, 1.0)])
    ts.labels_refs.append(999)
    ts.labels_refs.append(1)
    status, text, headers = await post(client, snappy(b.body()), HEADERS_V2)
    assert status == 400 and "out of range" in text
    assert headers["X-Prometheus-Remote-Write-Samples-Written"] == "0"
    assert stored(db, "good") == {}


async def test_v2_native_histograms_reported_not_written(client: Client, db: TSDB) -> None:
    b = V2Builder()
    b.series(*GOOD)
    ts = b.series([("__name__", "h")], [])
    ts.histograms.add(timestamp=T0)
    status, text, headers = await post(client, snappy(b.body()), HEADERS_V2)
    assert status == 400 and "native histogram" in text
    assert headers["X-Prometheus-Remote-Write-Samples-Written"] == "1"
    assert headers["X-Prometheus-Remote-Write-Histograms-Written"] == "0"


async def test_v1_body_sent_as_v2_is_rejected(client: Client, db: TSDB) -> None:
    # 2.0 reserves 1.0's field numbers: a mislabelled 1.0 body decodes as an empty request.
    body = snappy(v1_body([GOOD]))
    status, _, headers = await post(client, body, HEADERS_V2)
    assert status == 204
    assert headers["X-Prometheus-Remote-Write-Samples-Written"] == "0"
    assert stored(db, "good") == {}


async def test_unknown_content_type_and_encoding_are_415(client: Client) -> None:
    body = snappy(v1_body([GOOD]))
    for headers in (
        {"Content-Type": "application/json", "Content-Encoding": "snappy"},
        {"Content-Type": f"{V1_TYPE};proto=io.prometheus.write.v3.Request"},
        {"Content-Type": V1_TYPE, "Content-Encoding": "gzip"},
    ):
        status, text, _ = await post(client, body, headers)
        assert status == 415, (headers, text)


async def test_oversized_body_and_decompression_bomb_are_413(make_client: Any) -> None:
    config = Config()
    config.server.max_request_bytes = 64 * 1024
    client, _ = await make_client(config)
    status, _, _ = await post(client, b"\x00" * (128 * 1024), HEADERS_V1)
    assert status == 413
    # Tiny body whose snappy header claims 1 GiB.
    from tidewatch.remote.codec import uvarint

    status, text, _ = await post(client, uvarint(1 << 30) + b"\x00\x01", HEADERS_V1)
    assert status == 413 and "exceeds" in text


async def test_empty_request_is_fine(client: Client) -> None:
    status, _, _ = await post(client, snappy(b""), HEADERS_V1)
    assert status == 204


def test_schema_numbers_of_v2_request() -> None:
    # symbols=4, timeseries=5 (1..3 reserved so a 1.0 body never parses as series).
    fields = {f.name: f.number for f in proto.WriteRequestV2.DESCRIPTOR.fields}
    assert fields == {"symbols": 4, "timeseries": 5}
