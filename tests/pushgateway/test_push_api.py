"""Every verb, grouping keys, errors, persistence and the JSON API over real HTTP."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestClient, TestServer

from tests.pushgateway.conftest import make_app
from tidewatch.pushgateway.grouping import BadGroupingKey, parse_grouping_key

Client = TestClient[Any, Any]
EXPOSITION = "/metrics/pushgateway"


async def push(client: Client, method: str, path: str, body: str = "") -> tuple[int, str]:
    resp = await client.request(method, path, data=body.encode())
    return resp.status, await resp.text()


async def pushed_lines(client: Client) -> list[str]:
    """Exposition lines except the push-time gauges (their values are wall-clock times)."""
    resp = await client.get(EXPOSITION)
    assert resp.status == 200
    assert resp.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    return [ln for ln in (await resp.text()).splitlines() if "push_" not in ln]


async def test_put_post_delete(pgw: Client) -> None:
    body = '# HELP foo Foo help.\n# TYPE foo counter\nfoo{a="1"} 3\nbar 2.5\n'
    assert (await push(pgw, "PUT", "/metrics/job/j1/instance/i1", body))[0] == 200
    assert await pushed_lines(pgw) == [
        "# TYPE bar untyped",
        'bar{instance="i1",job="j1"} 2.5',
        "# HELP foo Foo help.",
        "# TYPE foo counter",
        'foo{a="1",instance="i1",job="j1"} 3',
    ]
    # POST replaces only the families it pushes.
    assert (await push(pgw, "POST", "/metrics/job/j1/instance/i1", "bar 7\nbaz 1\n"))[0] == 200
    assert await pushed_lines(pgw) == [
        "# TYPE bar untyped",
        'bar{instance="i1",job="j1"} 7',
        "# TYPE baz untyped",
        'baz{instance="i1",job="j1"} 1',
        "# HELP foo Foo help.",
        "# TYPE foo counter",
        'foo{a="1",instance="i1",job="j1"} 3',
    ]
    # PUT replaces the whole group.
    assert (await push(pgw, "PUT", "/metrics/job/j1/instance/i1", "baz 2\n"))[0] == 200
    assert await pushed_lines(pgw) == ["# TYPE baz untyped", 'baz{instance="i1",job="j1"} 2']
    text = await (await pgw.get(EXPOSITION)).text()
    assert 'push_time_seconds{instance="i1",job="j1"} 1.' in text
    assert 'push_failure_time_seconds{instance="i1",job="j1"} 0' in text
    # DELETE drops the group and its push times; 202 even for an unknown group.
    assert (await push(pgw, "DELETE", "/metrics/job/j1/instance/i1"))[0] == 202
    assert (await push(pgw, "DELETE", "/metrics/job/nope"))[0] == 202
    assert await (await pgw.get(EXPOSITION)).text() == ""


async def test_grouping_labels_win_and_base64(pgw: Client) -> None:
    status, _ = await push(
        pgw, "PUT", "/metrics/job@base64/YmFja3Vw/path@base64/L3Zhci90bXA", 'm{job="x",k="v"} 1\n'
    )
    assert status == 200
    assert (await push(pgw, "PUT", "/metrics/job/e/lbl@base64/=", "m 2\n"))[0] == 200
    assert await pushed_lines(pgw) == [
        "# TYPE m untyped",
        'm{instance="",job="e",lbl=""} 2',
        'm{instance="",job="backup",k="v",path="/var/tmp"} 1',
    ]


def test_grouping_key_parsing() -> None:
    assert parse_grouping_key("job/a%2Fb/x/1") == (("job", "a/b"), ("x", "1"))
    assert parse_grouping_key("job@base64/Zm9vL2Jhcg") == (("job", "foo/bar"),)
    for bad in ("job", "job/a/x", "job/a/1x/v", "job/a/__x/v", "job/a/x@base64/!!", "other/a"):
        try:
            parse_grouping_key(bad)
        except BadGroupingKey:
            continue
        raise AssertionError(f"accepted {bad!r}")


async def test_bad_pushes(pgw: Client) -> None:
    assert (await push(pgw, "PUT", "/metrics/job/j1", "# TYPE foo counter\nfoo 1\n"))[0] == 200
    status, text = await push(pgw, "PUT", "/metrics/job/j2", "foo 1\n")
    assert status == 400
    assert text.startswith("pushed metrics are invalid or inconsistent with existing metrics")
    assert 'collected metric "foo" {instance="",job="j2"} is not a COUNTER' in text
    status, text = await push(pgw, "PUT", "/metrics/job/j3", "bar 1 1234\n")
    assert (status, "must not have timestamps" in text) == (400, True)
    status, text = await push(pgw, "PUT", "/metrics/job/j4", "foo{ 1\n")
    assert (status, "parsing error in line 1" in text) == (400, True)
    status, text = await push(pgw, "PUT", "/metrics/job/j5", "dup 1\ndup 2\n")
    assert (status, "collected before" in text) == (400, True)
    status, text = await push(pgw, "PUT", "/metrics/job/j1/odd", "x 1\n")
    assert (status, "odd number" in text) == (400, True)
    # Refused pushes leave the data alone and record a failure time; parse errors record none.
    assert await pushed_lines(pgw) == ["# TYPE foo counter", 'foo{instance="",job="j1"} 1']
    text = await (await pgw.get(EXPOSITION)).text()
    assert 'push_time_seconds{instance="",job="j2"} 0' in text
    assert 'push_failure_time_seconds{instance="",job="j2"} 1.' in text
    assert 'job="j4"' not in text
    doc = await (await pgw.get("/api/v1/metrics")).json()
    ok = {d["labels"]["job"]: d["last_push_successful"] for d in doc["data"]}
    assert ok == {"j1": True, "j2": False, "j3": False, "j5": False}


async def test_histogram_summary_and_json_api(pgw: Client) -> None:
    body = (
        "# TYPE lat histogram\n"
        'lat_bucket{le="0.5"} 1\nlat_bucket{le="1.0"} 2\nlat_bucket{le="+Inf"} 3\n'
        "lat_sum 2.5\nlat_count 3\n"
        "# HELP sz Sizes.\n# TYPE sz summary\n"
        'sz{quantile="0.5"} 10\nsz{quantile="0.9"} 20\nsz_sum 100\nsz_count 7\n'
    )
    assert (await push(pgw, "PUT", "/metrics/job/j", body))[0] == 200
    assert await pushed_lines(pgw) == [
        "# TYPE lat histogram",
        'lat_bucket{instance="",job="j",le="0.5"} 1',
        'lat_bucket{instance="",job="j",le="1"} 2',
        'lat_bucket{instance="",job="j",le="+Inf"} 3',
        'lat_sum{instance="",job="j"} 2.5',
        'lat_count{instance="",job="j"} 3',
        "# HELP sz Sizes.",
        "# TYPE sz summary",
        'sz{instance="",job="j",quantile="0.5"} 10',
        'sz{instance="",job="j",quantile="0.9"} 20',
        'sz_sum{instance="",job="j"} 100',
        'sz_count{instance="",job="j"} 7',
    ]
    doc = await (await pgw.get("/api/v1/metrics")).json()
    group = doc["data"][0]
    assert group["labels"] == {"job": "j"}
    assert group["last_push_successful"] is True
    assert group["lat"]["type"] == "HISTOGRAM"
    assert group["lat"]["metrics"] == [
        {
            "labels": {"instance": "", "job": "j"},
            "buckets": {"0.5": "1", "1": "2", "+Inf": "3"},
            "sum": "2.5",
            "count": "3",
        }
    ]
    assert group["sz"]["help"] == "Sizes."
    assert group["sz"]["metrics"][0]["quantiles"] == {"0.5": "10", "0.9": "20"}
    assert group["push_time_seconds"]["type"] == "GAUGE"
    assert group["push_time_seconds"]["time_stamp"].endswith("Z")


async def test_state_survives_restart(tmp_path: Path) -> None:
    directory = tmp_path / "pushgateway"
    async with TestClient(TestServer(make_app(directory), host="127.0.0.1")) as c:
        assert (await push(c, "PUT", "/metrics/job/a/x/1", "m 1\nn NaN\n"))[0] == 200
        assert (await push(c, "PUT", "/metrics/job/b", "# TYPE m gauge\nm 2\n"))[0] == 400
        before = await (await c.get(EXPOSITION)).text()
    assert (directory / "groups.json").exists()
    async with TestClient(TestServer(make_app(directory), host="127.0.0.1")) as c:
        after = await (await c.get(EXPOSITION)).text()
        assert after == before
        assert 'n{instance="",job="a",x="1"} NaN' in after
        assert 'push_failure_time_seconds{instance="",job="b"} 1.' in after
        assert (await push(c, "DELETE", "/metrics/job/a/x/1"))[0] == 202
    async with TestClient(TestServer(make_app(directory), host="127.0.0.1")) as c:
        assert 'job="a"' not in await (await c.get(EXPOSITION)).text()


async def test_inconsistent_help_latest_push_wins(pgw: Client) -> None:
    assert (await push(pgw, "PUT", "/metrics/job/a", "# HELP m First.\nm 1\n"))[0] == 200
    assert (await push(pgw, "PUT", "/metrics/job/b", "# HELP m Second.\nm 2\n"))[0] == 200
    assert (await pushed_lines(pgw))[0] == "# HELP m Second."
    assert (await push(pgw, "PUT", "/metrics/job/a", "# HELP m Third.\nm 1\n"))[0] == 200
    assert (await pushed_lines(pgw))[0] == "# HELP m Third."
