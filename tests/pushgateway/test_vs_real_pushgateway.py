"""Same pushes to the real Pushgateway (Debian ``prometheus-pushgateway``) and to
tidewatch: same status codes, same exposition of the pushed groups."""

from __future__ import annotations

import asyncio
import socket
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import re2
from aiohttp.test_utils import TestClient
from google.protobuf.internal.encoder import _VarintBytes

from tests.peers import require_binary
from tidewatch.pushgateway.protobuf import CONTENT_TYPE as PROTO_TYPE
from tidewatch.pushgateway.protobuf import MetricFamily

HISTO = (
    "# HELP lat Latency with a \\\\ backslash\\nand a newline.\n# TYPE lat histogram\n"
    'lat_bucket{route="/a",le="1.0"} 2\nlat_bucket{route="/a",le="0.005"} 1\n'
    'lat_bucket{route="/a",le="+Inf"} 3\nlat_sum{route="/a"} 2.5\nlat_count{route="/a"} 3\n'
)
SUMMARY = (
    '# TYPE sz summary\nsz{quantile="0.5"} 10\nsz{quantile="0.99"} 20\nsz_sum 100\nsz_count 7\n'
)
OPS = [
    (
        "PUT",
        "/metrics/job/j1/instance/i1",
        "# HELP foo Foo help.\n# TYPE foo counter\n"
        'foo{a="x\\"y\\\\z\\n"} 3\nfoo{a="b",c="d"} 4\nbar 2.5\n' + HISTO + SUMMARY,
    ),
    ("POST", "/metrics/job/j1/instance/i1", "bar 7\nnew 1\n# TYPE g gauge\ng -0.25\n"),
    (
        "PUT",
        "/metrics/job@base64/YmFja3Vw/path@base64/L3Zhci90bXA",
        'm{job="x",k="v"} 1e6\nsmall 1e-7\nbig 123456789012\n',
    ),
    ("PUT", "/metrics/job/j2", "foo 1\n"),
    ("PUT", "/metrics/job/j3", "bar 1 1234\n"),
    ("PUT", "/metrics/job/j4", "foo{ 1\n"),
    ("PUT", "/metrics/job/j5", "dup 1\ndup 2\n"),
    ("DELETE", "/metrics/job/j2", ""),
    ("PUT", "/metrics/job/e/lbl@base64/=", "m 2\n"),
    ("PUT", "/metrics/job/empty", ""),
    ("POST", "/metrics/job/j6/a/1/b/2", "# TYPE g gauge\ng 1\n"),
    ("PUT", "/metrics/job/own", 'push_time_seconds 5\npush_failure_time_seconds{x="1"} 5\n'),
    ("PUT", "/metrics/job/c", "# TYPE retyped gauge\nretyped 1\n"),
    ("PUT", "/metrics/job/c", "# TYPE retyped counter\nretyped 2\n"),
    ("POST", "/metrics/job/d", ""),
    ("PUT", "/metrics/job/e/__a/b", "x 1\n"),
    ("PUT", "/metrics/job/e/a-b/b", "x 1\n"),
]


def _delimited(*families: dict[str, Any]) -> bytes:
    out = b""
    for doc in families:
        data = MetricFamily(**doc).SerializeToString()
        out += _VarintBytes(len(data)) + data
    return out


PROTO_BODY = _delimited(
    {
        "name": "pb_requests_total",
        "help": "Requests.",
        "type": 0,
        "metric": [
            {"label": [{"name": "code", "value": "200"}], "counter": {"value": 12}},
            {"label": [{"name": "code", "value": "500"}], "counter": {"value": 1}},
        ],
    },
    {
        "name": "pb_latency_seconds",
        "type": 4,
        "metric": [
            {
                "histogram": {
                    "sample_count": 5,
                    "sample_sum": 1.25,
                    "bucket": [
                        {"upper_bound": 0.1, "cumulative_count": 2},
                        {"upper_bound": 1, "cumulative_count": 4},
                    ],
                }
            }
        ],
    },
    {
        "name": "pb_size",
        "type": 2,
        "metric": [
            {
                "summary": {
                    "sample_count": 3,
                    "sample_sum": 9,
                    "quantile": [{"quantile": 0.5, "value": 2}, {"quantile": 0.9, "value": 4}],
                }
            }
        ],
    },
    {"name": "pb_temp", "type": 1, "metric": [{"gauge": {"value": -3.5}}]},
)
PROTO_OPS = [
    ("PUT", "/metrics/job/gopush/instance/x", PROTO_BODY),
    (
        "PUT",
        "/metrics/job/gopush2",
        _delimited({"name": "pb_temp", "type": 0, "metric": [{"counter": {"value": 1}}]}),
    ),
    (
        "PUT",
        "/metrics/job/gopush3",
        _delimited({"name": "pb_t", "metric": [{"untyped": {"value": 1}, "timestamp_ms": 5}]}),
    ),
    ("PUT", "/metrics/job/gopush4", b"\x05\x0a"),
]
_OWN = ("go_", "process_", "pushgateway_", "promhttp_")
_TIME_VALUE = re2.compile(r"^(push(_failure)?_time_seconds\{.*\}) [0-9.e+]+$")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def normalize(text: str) -> list[str]:
    """Pushed families only; non-zero push times (wall clock) masked."""
    out = []
    for line in text.splitlines():
        words = line.split(" ")
        name = words[2] if line.startswith("#") else line
        if name.startswith(_OWN):
            continue
        m = _TIME_VALUE.match(line)
        if m and not line.endswith(" 0"):
            line = m.group(1) + " T"
        out.append(line)
    return out


@pytest.fixture
async def real(tmp_path: Path) -> AsyncIterator[str]:
    binary = require_binary("prometheus-pushgateway")
    port = _free_port()
    proc = subprocess.Popen(
        [
            binary,
            f"--web.listen-address=127.0.0.1:{port}",
            f"--persistence.file={tmp_path / 'real.db'}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        async with aiohttp.ClientSession() as session:
            for _ in range(100):
                try:
                    async with session.get(base + "/-/ready") as resp:
                        if resp.status == 200:
                            break
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.05)
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=10)


async def test_same_as_real_pushgateway(real: str, pgw: TestClient[Any, Any]) -> None:
    async with aiohttp.ClientSession() as session:
        for method, path, body in OPS:
            async with session.request(method, real + path, data=body.encode()) as resp:
                want, want_text = resp.status, await resp.text()
            ours = await pgw.request(method, path, data=body.encode())
            assert ours.status == want, (method, path, await ours.text())
            if "improper label name" in want_text:
                assert await ours.text() == want_text
        for method, path, data in PROTO_OPS:
            headers = {"Content-Type": PROTO_TYPE}
            async with session.request(method, real + path, data=data, headers=headers) as resp:
                want = resp.status
            ours = await pgw.request(method, path, data=data, headers=headers)
            assert ours.status == want, (method, path, await ours.text())
        async with session.get(real + "/metrics") as resp:
            want_text = await resp.text()
    got_text = await (await pgw.get("/metrics/pushgateway")).text()
    assert normalize(got_text) == normalize(want_text)
