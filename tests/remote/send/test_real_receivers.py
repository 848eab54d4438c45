"""Sending to the real receivers: Debian's Prometheus (remote-write receiver) and
Debian's VictoriaMetrics. With ``CI`` set a missing binary fails the test."""

from __future__ import annotations

import asyncio
import subprocess
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest

from tests.peers import require_binary
from tests.remote.send.receiver import free_port
from tests.remote.send.test_queue import rw_config, wait_for, write_batches
from tidewatch.agent_mode.storage import SeriesOnlyStorage
from tidewatch.remote.send import RemoteWriteManager, TeeStorage


def binary(name: str) -> str:
    return require_binary(name)


async def start_process(args: list[str], ready_url: str, log: Path) -> subprocess.Popen[bytes]:
    with open(log, "wb") as out:
        proc = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 30
    async with aiohttp.ClientSession() as s:
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                break
            try:
                async with s.get(ready_url) as resp:
                    if resp.status == 200:
                        return proc
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.2)
    proc.kill()
    proc.wait()
    raise AssertionError(f"{args[0]} did not start:\n{log.read_text()[-2000:]}")


def stop_process(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@pytest.fixture
async def prometheus(tmp_path: Path) -> AsyncIterator[str]:
    exe = binary("prometheus")
    port = free_port()
    (tmp_path / "prometheus.yml").write_text("global:\n  scrape_interval: 1m\n")
    proc = await start_process(
        [
            exe,
            f"--config.file={tmp_path / 'prometheus.yml'}",
            f"--storage.tsdb.path={tmp_path / 'prom'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--web.enable-remote-write-receiver",
        ],
        f"http://127.0.0.1:{port}/-/ready",
        tmp_path / "prometheus.log",
    )
    yield f"http://127.0.0.1:{port}"
    stop_process(proc)


@pytest.fixture
async def victoria(tmp_path: Path) -> AsyncIterator[str]:
    exe = binary("victoria-metrics")
    port = free_port()
    proc = await start_process(
        [
            exe,
            f"-storageDataPath={tmp_path / 'vm'}",
            f"-httpListenAddr=127.0.0.1:{port}",
            "-retentionPeriod=1y",
        ],
        f"http://127.0.0.1:{port}/health",
        tmp_path / "vm.log",
    )
    yield f"http://127.0.0.1:{port}"
    stop_process(proc)


async def send(url: str, tmp_path: Path, base: int, n_series: int, n_batches: int) -> None:
    cfg = rw_config(url)
    cfg["write_relabel_configs"] = [
        {"source_labels": ["instance"], "regex": "host0", "action": "drop"}
    ]
    mgr = RemoteWriteManager([cfg], {"cluster": "c1"}, tmp_path / "sender")
    await mgr.start()
    write_batches(TeeStorage(SeriesOnlyStorage(), mgr), n_series, n_batches, base=base)
    q = next(iter(mgr.queues.values()))
    expected = (n_series - 1) * n_batches
    await wait_for(lambda: q.stats.samples_delivered == expected, 20)
    await mgr.stop()
    assert q.stats.samples_failed == 0


async def poll(check: Callable[[], Awaitable[Any]], timeout: float = 20) -> Any:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = await check()
        if last:
            return last
        await asyncio.sleep(0.3)
    raise AssertionError(f"not reached; last answer {last!r}")


async def test_prometheus_receives_and_answers_queries(prometheus: str, tmp_path: Path) -> None:
    now_s = int(time.time())
    base = (now_s - 600) * 1000
    await send(prometheus + "/api/v1/write", tmp_path, base, 6, 30)
    async with aiohttp.ClientSession() as s:

        async def query() -> Any:
            params = {"query": "test_metric[15m]", "time": str(now_s)}
            async with s.get(prometheus + "/api/v1/query", params=params) as resp:
                body = await resp.json()
            result = body["data"]["result"]
            return result if len(result) == 5 else None

        result = await poll(query)
    by_instance = {r["metric"]["instance"]: r for r in result}
    assert sorted(by_instance) == [f"host{i}" for i in range(1, 6)]
    for i in range(1, 6):
        r = by_instance[f"host{i}"]
        assert r["metric"]["cluster"] == "c1"
        assert [int(float(t) * 1000) for t, _ in r["values"]] == [
            base + b * 1000 for b in range(30)
        ]
        assert [float(v) for _, v in r["values"]] == [float(b * 10 + i) for b in range(30)]


async def test_victoria_metrics_receives(victoria: str, tmp_path: Path) -> None:
    base = (int(time.time()) - 600) * 1000
    await send(victoria + "/api/v1/write", tmp_path, base, 4, 25)
    async with aiohttp.ClientSession() as s:

        async def export() -> Any:
            async with s.get(victoria + "/internal/force_flush") as resp:
                await resp.read()
            params = {"match[]": '{__name__="test_metric"}'}
            async with s.get(victoria + "/api/v1/export", params=params) as resp:
                text = await resp.text()
            rows = [orjson.loads(line) for line in text.splitlines() if line.strip()]
            return rows if sum(len(r["timestamps"]) for r in rows) == 75 else None

        rows = await poll(export)
    got = {r["metric"]["instance"]: r for r in rows}
    assert sorted(got) == ["host1", "host2", "host3"]  # host0 dropped by write relabeling
    for i in (1, 2, 3):
        r = got[f"host{i}"]
        assert r["metric"]["cluster"] == "c1" and r["metric"]["job"] == "send"
        assert r["timestamps"] == [base + b * 1000 for b in range(25)]
        assert r["values"] == [float(b * 10 + i) for b in range(25)]
