"""An outage of the remote with real processes: ``tidewatch agent`` scrapes a target and
remote-writes to Debian's ``prometheus --web.enable-remote-write-receiver``; the
receiver is stopped for the outage and started again, and the sender is killed with
SIGKILL halfway through the outage and restarted on the same data directory.

Afterwards the receiver holds every scraped value, in order, with no gap: the only
value allowed to be missing is the one scrape the killed sender had in hand but not
yet queued. (Prometheus drops a same-time same-value duplicate silently, so what the
at-least-once resend repeats cannot be seen here; the in-process tests count it.)

The default suite runs a short outage; ``-m slow`` runs exactly ten minutes
(``TIDEWATCH_REAL_OUTAGE_SECONDS`` overrides that length).
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from tests.peers import require_binary
from tests.remote.send.receiver import free_port
from tests.remote.send.test_real_receivers import start_process, stop_process

REPO = Path(__file__).resolve().parents[3]
SCRAPE_INTERVAL_S = 1.0


@dataclass
class CountingTarget:
    """Serves ``outage_seq N`` with N one higher at every scrape; remembers each N."""

    port: int = field(default_factory=free_port)
    served: list[int] = field(default_factory=list)

    async def metrics(self, _: web.Request) -> web.Response:
        self.served.append(len(self.served) + 1)
        text = f"# TYPE outage_seq gauge\noutage_seq {self.served[-1]}\n"
        return web.Response(text=text, content_type="text/plain")


@pytest.fixture
async def counting_target() -> AsyncIterator[CountingTarget]:
    target = CountingTarget()
    app = web.Application()
    app.router.add_get("/metrics", target.metrics)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", target.port).start()
    yield target
    await runner.cleanup()


class Receiver:
    """Prometheus as a remote-write receiver, stoppable and restartable in place."""

    def __init__(self, workdir: Path) -> None:
        self.exe = require_binary("prometheus")
        self.dir = workdir
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        (workdir / "receiver.yml").write_text("global:\n  scrape_interval: 1m\n")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        self.proc = await start_process(
            [
                self.exe,
                f"--config.file={self.dir / 'receiver.yml'}",
                f"--storage.tsdb.path={self.dir / 'receiver-data'}",
                f"--web.listen-address=127.0.0.1:{self.port}",
                "--web.enable-remote-write-receiver",
                "--log.level=warn",
            ],
            f"{self.url}/-/ready",
            self.dir / "receiver.log",
        )

    def stop(self) -> None:
        if self.proc is not None:
            stop_process(self.proc)
            self.proc = None

    async def series(self, query: str) -> list[list[float]]:
        params = {"query": query, "time": f"{time.time():.3f}"}
        async with (
            aiohttp.ClientSession() as s,
            s.get(f"{self.url}/api/v1/query", params=params) as resp,
        ):
            body = await resp.json()
        result = body["data"]["result"]
        assert len(result) <= 1, result
        return [[float(t), float(v)] for t, v in result[0]["values"]] if result else []

    async def metric(self, name: str) -> float:
        return await metric_value(f"{self.url}/metrics", name)


async def metric_value(url: str, name: str) -> float:
    """The sum of a metric's samples on a /metrics page (0 when absent)."""
    async with aiohttp.ClientSession() as s, s.get(url) as resp:
        text = await resp.text()
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name + " ") or line.startswith(name + "{"):
            total += float(line.rsplit(" ", 1)[1])
    return total


class Sender:
    """``tidewatch agent`` forwarding the target to the receiver; its queue lives in
    ``data`` and survives a SIGKILL."""

    def __init__(self, workdir: Path, target_port: int, receiver_url: str) -> None:
        self.dir = workdir
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0
        self.config = workdir / "agent.yml"
        self.config.write_text(
            "prometheus:\n"
            f"  global:\n    scrape_interval: {int(SCRAPE_INTERVAL_S * 1000)}ms\n"
            "  scrape_configs:\n    - job_name: outage\n      static_configs:\n"
            f"        - targets: ['127.0.0.1:{target_port}']\n"
            "  remote_write:\n"
            f"    - url: {receiver_url}/api/v1/write\n"
            "      queue_config:\n"
            "        batch_send_deadline: 200ms\n"
            "        min_backoff: 100ms\n"
            "        max_backoff: 1s\n"
        )

    @property
    def metrics_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/metrics"

    async def start(self) -> None:
        self.starts += 1
        env = dict(os.environ, PYTHONPATH=str(REPO))
        args = [sys.executable, "-m", "tidewatch", "agent", "--config", str(self.config)]
        args += ["--data-dir", str(self.dir / "agent-data")]
        args += ["--web.listen-address", f"127.0.0.1:{self.port}"]
        with open(self.dir / f"agent-{self.starts}.log", "wb") as log:
            self.proc = subprocess.Popen(args, env=env, stdout=log, stderr=subprocess.STDOUT)
        await wait_until(lambda: self.ready(), 60, "the agent to start")

    async def ready(self) -> bool:
        assert self.proc is not None and self.proc.poll() is None, "the agent exited"
        try:
            async with (
                aiohttp.ClientSession() as s,
                s.get(f"http://127.0.0.1:{self.port}/-/ready") as resp,
            ):
                return resp.status == 200
        except aiohttp.ClientError:
            return False

    async def pending(self) -> float:
        return await metric_value(self.metrics_url, "prometheus_remote_storage_samples_pending")

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def stop(self) -> int:
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode


async def wait_until(
    check: Callable[[], Awaitable[bool]],
    timeout: float,
    what: str,
    context: Callable[[], str] = str,
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await check():
            return
        await asyncio.sleep(0.25)
    raise AssertionError(f"timed out waiting for {what}\n{context()}")


async def run_outage(target: CountingTarget, workdir: Path, outage_s: float) -> None:
    receiver = Receiver(workdir)
    await receiver.start()
    sender = Sender(workdir, target.port, receiver.url)
    try:
        await sender.start()
        await wait_until(lambda: _has_values(receiver, 3), 30, "the first samples")

        receiver.stop()
        outage_started = time.monotonic()
        await asyncio.sleep(outage_s / 2)
        assert await sender.pending() > 0  # the queue holds what the remote missed
        served_before_kill = len(target.served)
        sender.kill()
        served_at_kill = len(target.served)
        await sender.start()
        # The WAL-backed queue resumes with the backlog of the killed process.
        assert await sender.pending() > 0
        await asyncio.sleep(max(0.0, outage_s - (time.monotonic() - outage_started)))

        await receiver.start()
        log = workdir / f"agent-{sender.starts}.log"
        await wait_until(
            lambda: _drained(sender),
            60 + outage_s / 5,
            "the backlog to drain",
            lambda: log.read_text(errors="replace")[-3000:],
        )
        last = len(target.served)
        await wait_until(lambda: _has_value(receiver, last), 30, f"value {last}")
        got = await receiver.series("outage_seq[2h]")
        failed = await metric_value(
            sender.metrics_url, "prometheus_remote_storage_samples_failed_total"
        )
        out_of_order = await receiver.metric("prometheus_tsdb_out_of_order_samples_total")
        assert sender.stop() == 0
    finally:
        if sender.proc is not None and sender.proc.poll() is None:
            sender.proc.kill()
            sender.proc.wait()
        receiver.stop()

    assert failed == 0 and out_of_order == 0
    times = [t for t, _ in got]
    assert times == sorted(times) and len(set(times)) == len(times)
    values = [int(v) for _, v in got if v <= last]
    # The scrape the killed sender was handling may be lost: it was never queued.
    may_miss = set(range(served_before_kill, served_at_kill + 1))
    required = [v for v in range(1, last + 1) if v not in may_miss]
    assert values == sorted(set(values)), "out of order or duplicated"
    missing = sorted(set(required) - set(values))
    assert not missing, f"lost {len(missing)} of {last} values: {missing[:20]}"
    assert len(values) >= last - 1
    assert last >= outage_s / SCRAPE_INTERVAL_S * 0.7  # scraping went on all along


async def _has_values(receiver: Receiver, n: int) -> bool:
    return len(await receiver.series("outage_seq[2h]")) >= n


async def _has_value(receiver: Receiver, value: int) -> bool:
    got = await receiver.series("outage_seq[2h]")
    return any(v >= value for _, v in got)


async def _drained(sender: Sender) -> bool:
    return await sender.pending() == 0


async def test_short_outage_with_sender_kill(
    counting_target: CountingTarget, tmp_path: Path
) -> None:
    await run_outage(counting_target, tmp_path, outage_s=12.0)


@pytest.mark.slow
async def test_ten_minute_outage_with_sender_kill(
    counting_target: CountingTarget, tmp_path: Path
) -> None:
    outage_s = float(os.environ.get("TIDEWATCH_REAL_OUTAGE_SECONDS", "600"))
    await run_outage(counting_target, tmp_path, outage_s=outage_s)
