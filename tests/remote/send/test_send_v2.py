"""Sending remote write 2.0 (``protobuf_message: io.prometheus.write.v2.Request``):
headers, metadata inside series, the ``*-Written`` response headers, 415 and 1.0-only
receivers; and end to end into a real ``tidewatch up`` process and into Debian's
Prometheus 2.42 (which only speaks 1.0: the sender must say so clearly)."""

from __future__ import annotations

import asyncio
import logging
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from tests.remote.send.receiver import free_port
from tests.remote.send.test_queue import rw_config, wait_for
from tests.remote.send.test_real_receivers import poll, prometheus, stop_process
from tidewatch.agent_mode.storage import SeriesOnlyStorage
from tidewatch.labels import Labels
from tidewatch.remote.codec import snappy_decode
from tidewatch.remote.send import RemoteWriteConfigError, RemoteWriteManager, TeeStorage
from tidewatch.remote.send.config import decode_config
from tidewatch.remote.send.queue import RemoteQueue
from tidewatch.remote.write import PROTO_V1, PROTO_V2, decode_v2
from tidewatch.tsdb.interface import Exemplar, MetricMetadata

__all__ = ["prometheus"]  # a fixture, used below

REPO = Path(__file__).resolve().parents[3]
V2_CONTENT_TYPE = f"application/x-protobuf;proto={PROTO_V2}"
COUNTER = MetricMetadata("counter", "Requests handled.", "")
GAUGE = MetricMetadata("gauge", "Temperature of the room.", "celsius")


def v2_config(url: str, **queue: Any) -> dict[str, Any]:
    cfg = rw_config(url, **queue)
    cfg["protobuf_message"] = PROTO_V2
    return cfg


def labels_of(i: int) -> Labels:
    name = "v2_requests_total" if i % 2 else "v2_room_temp"
    return (("__name__", name), ("instance", f"host{i}"), ("job", "v2"))


def write(storage: TeeStorage, n_series: int, n_batches: int, base: int) -> None:
    """One sample per series per commit, 1 s apart, with each family's metadata."""
    refs = [0] * n_series
    for b in range(n_batches):
        app = storage.appender()
        for i in range(n_series):
            refs[i] = app.append(refs[i], labels_of(i), base + b * 1000, float(b * 100 + i))
        app.update_metadata("v2_requests", COUNTER)
        app.update_metadata("v2_room_temp", GAUGE)
        app.commit()


class V2Receiver:
    """Decodes 2.0 bodies with the receive side's decoder; answers as told."""

    def __init__(self) -> None:
        self.port = free_port()
        self.headers: list[dict[str, str]] = []
        self.samples: dict[Labels, list[tuple[int, float]]] = {}
        self.metadata: dict[str, MetricMetadata] = {}
        self.exemplars: list[tuple[Labels, Exemplar]] = []
        self.status = 204
        self.written: str | None = "all"  # "all", None (no headers) or a number
        self._runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/v1/write"

    async def _write(self, request: web.Request) -> web.Response:
        self.headers.append(dict(request.headers))
        decoded = decode_v2(snappy_decode(await request.read(), 64 << 20))
        for i, t, v in zip(decoded.sample_series, decoded.ts, decoded.values, strict=True):
            self.samples.setdefault(decoded.series[i].labels, []).append((t, v))
        self.metadata.update(decoded.metadata)
        self.exemplars += [(decoded.series[i].labels, ex) for i, ex in decoded.exemplars]
        headers = {}
        if self.written is not None:
            n = len(decoded.ts) if self.written == "all" else int(self.written)
            headers["X-Prometheus-Remote-Write-Samples-Written"] = str(n)
            headers["X-Prometheus-Remote-Write-Exemplars-Written"] = str(len(decoded.exemplars))
        return web.Response(
            status=self.status, headers=headers, text="" if self.status == 204 else "no"
        )

    async def start(self) -> None:
        app = web.Application(client_max_size=64 << 20)
        app.router.add_post("/api/v1/write", self._write)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def total(self) -> int:
        return sum(map(len, self.samples.values()))


@pytest.fixture
async def rx() -> AsyncIterator[V2Receiver]:
    r = V2Receiver()
    await r.start()
    yield r
    await r.stop()


def queue_of(mgr: RemoteWriteManager) -> RemoteQueue:
    return next(iter(mgr.queues.values()))


def test_config_accepts_both_messages_and_names_a_bad_one() -> None:
    assert decode_config({"url": "http://x/w"}, 0).protobuf_message == PROTO_V1
    cfg = decode_config({"url": "http://x/w", "protobuf_message": PROTO_V2}, 0)
    assert cfg.protobuf_message == PROTO_V2
    with pytest.raises(RemoteWriteConfigError, match=r"remote_write\[0\]\.protobuf_message"):
        decode_config({"url": "http://x/w", "protobuf_message": "v2"}, 0)


async def test_v2_headers_samples_and_metadata_in_series(rx: V2Receiver, tmp_path: Path) -> None:
    cfg = v2_config(rx.url)
    cfg["send_exemplars"] = True
    mgr = RemoteWriteManager([cfg], {"cluster": "c1"}, tmp_path)
    await mgr.start()
    storage = TeeStorage(SeriesOnlyStorage(), mgr)
    write(storage, 20, 15, 1_700_000_000_000)
    app = storage.appender()
    ref = app.append(0, labels_of(1), 1_700_000_100_000, 7.0)
    app.append_exemplar(ref, labels_of(1), Exemplar((("trace_id", "t1"),), 7.0, 1_700_000_100_000))
    app.commit()
    q = queue_of(mgr)
    await wait_for(lambda: q.stats.samples_delivered == 301 and rx.exemplars)
    await mgr.stop()
    h = rx.headers[0]
    assert h["Content-Type"] == V2_CONTENT_TYPE
    assert h["X-Prometheus-Remote-Write-Version"] == "2.0.0"
    assert h["Content-Encoding"] == "snappy"
    assert h["User-Agent"].startswith("tidewatch/")
    assert rx.total() == 301 and q.stats.samples_failed == 0
    for i in range(20):
        lbls = tuple(sorted((*labels_of(i), ("cluster", "c1"))))
        got = rx.samples[lbls]
        expect = [(1_700_000_000_000 + b * 1000, float(b * 100 + i)) for b in range(15)]
        assert got[:15] == expect, lbls
    assert rx.metadata == {"v2_requests_total": COUNTER, "v2_room_temp": GAUGE}
    assert rx.exemplars[0][1].labels == (("trace_id", "t1"),)


async def test_2xx_without_written_headers_is_a_1_0_receiver(
    rx: V2Receiver, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    rx.written = None
    mgr = RemoteWriteManager([v2_config(rx.url)], {}, tmp_path)
    await mgr.start()
    write(TeeStorage(SeriesOnlyStorage(), mgr), 4, 5, 1_700_000_000_000)
    q = queue_of(mgr)
    with caplog.at_level(logging.ERROR, "tidewatch.remote.send"):
        await wait_for(lambda: q.stats.samples_failed == 20)
    await mgr.stop()
    assert q.stats.samples_delivered == 0 and q.stats.samples_pending == 0
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert errors and "protobuf_message: prometheus.WriteRequest" in errors[0]
    assert "Written" in errors[0]


async def test_fewer_samples_written_than_sent_count_as_failed(
    rx: V2Receiver, tmp_path: Path
) -> None:
    rx.written = "3"
    mgr = RemoteWriteManager([v2_config(rx.url, max_samples_per_send=10)], {}, tmp_path)
    await mgr.start()
    write(TeeStorage(SeriesOnlyStorage(), mgr), 10, 1, 1_700_000_000_000)
    q = queue_of(mgr)
    await wait_for(lambda: q.stats.samples_pending == 0 and q.stats.samples_failed > 0)
    await mgr.stop()
    assert q.stats.samples_delivered == 3 and q.stats.samples_failed == 7


async def test_415_is_reported_and_not_retried(
    rx: V2Receiver, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    rx.status = 415
    rx.written = None
    mgr = RemoteWriteManager([v2_config(rx.url)], {}, tmp_path)
    await mgr.start()
    write(TeeStorage(SeriesOnlyStorage(), mgr), 3, 2, 1_700_000_000_000)
    q = queue_of(mgr)
    with caplog.at_level(logging.ERROR, "tidewatch.remote.send"):
        await wait_for(lambda: q.stats.samples_failed == 6)
    await mgr.stop()
    assert q.stats.samples_retried == 0
    assert any("415" in r.getMessage() and PROTO_V2 in r.getMessage() for r in caplog.records)


async def test_reload_switches_protocol_keeping_series(rx: V2Receiver, tmp_path: Path) -> None:
    """A queue started on 1.0 and reloaded to 2.0 re-keys its known series."""
    cfg = rw_config(rx.url)
    mgr = RemoteWriteManager([cfg], {}, tmp_path)
    await mgr.start()
    storage = TeeStorage(SeriesOnlyStorage(), mgr)
    q = queue_of(mgr)
    rx.status = 503  # hold the 1.0 batch until the reload
    write(storage, 3, 1, 1_700_000_000_000)
    await wait_for(lambda: q.stats.samples_retried > 0)
    await mgr.apply_config([v2_config(rx.url)], {})
    rx.headers.clear()
    write(storage, 3, 1, 1_700_000_010_000)
    rx.status = 204
    # The held 1.0 request is retried as it was; the later batch goes out as 2.0.
    await wait_for(lambda: q.stats.samples_delivered == 6)
    await mgr.stop()
    assert rx.headers[-1]["Content-Type"] == V2_CONTENT_TYPE


# -- real processes --------------------------------------------------------------------


@pytest.fixture
async def tidewatch_server(tmp_path: Path) -> AsyncIterator[str]:
    port = free_port()
    cfg = tmp_path / "tidewatch.yml"
    cfg.write_text("prometheus:\n  global:\n    scrape_interval: 1m\n")
    env = dict(os.environ, PYTHONPATH=str(REPO))
    log = tmp_path / "server.log"
    args = [sys.executable, "-m", "tidewatch", "up", "--config", str(cfg)]
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [*args, "--data-dir", str(tmp_path / "server-data"), "--listen", f"127.0.0.1:{port}"],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        async with aiohttp.ClientSession() as s:
            while True:
                assert proc.poll() is None, log.read_text()[-2000:]
                try:
                    async with s.get(url + "/-/ready") as resp:
                        if resp.status == 200:
                            break
                except aiohttp.ClientError:
                    pass
                assert time.monotonic() < deadline, "tidewatch up did not start"
                await asyncio.sleep(0.2)
        yield url
    finally:
        stop_process(proc)


async def test_real_tidewatch_server_lands_every_sample_and_metadata(
    tidewatch_server: str, tmp_path: Path
) -> None:
    now_s = int(time.time())
    base = (now_s - 300) * 1000 + 123  # off round seconds
    n_series, n_batches = 40, 25
    mgr = RemoteWriteManager(
        [v2_config(tidewatch_server + "/api/v1/write")], {"cluster": "c1"}, tmp_path / "sender"
    )
    await mgr.start()
    write(TeeStorage(SeriesOnlyStorage(), mgr), n_series, n_batches, base)
    q = queue_of(mgr)
    await wait_for(lambda: q.stats.samples_delivered == n_series * n_batches, 30)
    await mgr.stop()
    assert q.stats.samples_failed == 0

    async with aiohttp.ClientSession() as s:

        async def get(path: str, **params: str) -> Any:
            async with s.get(tidewatch_server + path, params=params) as resp:
                assert resp.status == 200, await resp.text()
                return (await resp.json())["data"]

        data = await get("/api/v1/query", query='{job="v2"}[10m]', time=str(now_s))
        result = data["result"]
        assert len(result) == n_series
        for r in result:
            m = r["metric"]
            assert m["cluster"] == "c1"
            i = int(m["instance"].removeprefix("host"))
            assert m["__name__"] == labels_of(i)[0][1]
            assert [round(float(t) * 1000) for t, _ in r["values"]] == [
                base + b * 1000 for b in range(n_batches)
            ]
            assert [float(v) for _, v in r["values"]] == [
                float(b * 100 + i) for b in range(n_batches)
            ]
        md = await poll(lambda: get("/api/v1/metadata"))
        assert md["v2_requests_total"][0] == {"type": "counter", "help": COUNTER.help, "unit": ""}
        assert md["v2_room_temp"][0] == {"type": "gauge", "help": GAUGE.help, "unit": "celsius"}


async def test_prometheus_2_42_gets_v2_and_sender_reports_it(
    prometheus: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Prometheus 2.42 predates 2.0: it reads the body as an empty 1.0 message and answers
    204 without Written headers, which the spec says to treat as 415."""
    base = (int(time.time()) - 120) * 1000
    mgr = RemoteWriteManager([v2_config(prometheus + "/api/v1/write")], {}, tmp_path / "s")
    await mgr.start()
    storage = TeeStorage(SeriesOnlyStorage(), mgr)
    write(storage, 5, 4, base)
    q = queue_of(mgr)
    with caplog.at_level(logging.ERROR, "tidewatch.remote.send"):
        await wait_for(lambda: q.stats.samples_failed == 20, 20)
        # The queue keeps working: later commits are reported the same way.
        write(storage, 5, 1, base + 60_000)
        await wait_for(lambda: q.stats.samples_failed == 25, 20)
    await mgr.stop()
    assert q.stats.samples_delivered == 0 and q.stats.samples_pending == 0
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert errors, "no error logged"
    assert all("set protobuf_message: prometheus.WriteRequest" in e for e in errors)
    async with (
        aiohttp.ClientSession() as s,
        s.get(prometheus + "/api/v1/query", params={"query": '{job="v2"}'}) as resp,
    ):
        assert (await resp.json())["data"]["result"] == []


async def test_agent_process_forwards_v2_to_server_process(
    tidewatch_server: str, tmp_path: Path
) -> None:
    """``tidewatch agent`` scrapes the server's own /metrics and forwards it with 2.0."""
    port = free_port()
    target = tidewatch_server.removeprefix("http://")
    cfg = tmp_path / "agent.yml"
    cfg.write_text(
        "prometheus:\n  global:\n    scrape_interval: 500ms\n"
        "  scrape_configs:\n    - job_name: fwd\n      static_configs:\n"
        f"        - targets: ['{target}']\n"
        "  remote_write:\n"
        f"    - url: {tidewatch_server}/api/v1/write\n"
        f"      protobuf_message: {PROTO_V2}\n"
        "      queue_config: {batch_send_deadline: 200ms}\n"
    )
    args = [sys.executable, "-m", "tidewatch", "agent", "--config", str(cfg)]
    args += [
        "--data-dir",
        str(tmp_path / "agent-data"),
        "--web.listen-address",
        f"127.0.0.1:{port}",
    ]
    log = tmp_path / "agent.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            args, stdout=out, stderr=subprocess.STDOUT, env=dict(os.environ, PYTHONPATH=str(REPO))
        )
    try:
        async with aiohttp.ClientSession() as s:

            async def landed() -> Any:
                assert proc.poll() is None, log.read_text()[-2000:]
                params = {"query": 'up{job="fwd"}'}
                async with s.get(tidewatch_server + "/api/v1/query", params=params) as resp:
                    up = (await resp.json())["data"]["result"]
                async with s.get(tidewatch_server + "/api/v1/metadata") as resp:
                    md = (await resp.json())["data"]
                return (up, md) if up and md else None

            up, md = await poll(landed, 40)
    finally:
        stop_process(proc)
    assert up[0]["value"][1] == "1"
    assert up[0]["metric"]["instance"] == target
    # The families of the scraped page arrived with their types inside the 2.0 series: 1.0
    # would only send metadata after metadata_config.send_interval (1m, beyond the poll).
    assert any(m[0]["type"] == "counter" for m in md.values()), md
    text = log.read_text(errors="replace")
    assert "refused" not in text and "Traceback" not in text, text[-2000:]
