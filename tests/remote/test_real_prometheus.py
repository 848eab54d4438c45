"""Against the real Prometheus binary: it remote-writes to tidewatch, federates from it
and remote-reads from it; afterwards both answer queries alike."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from tests.peers import require_binary
from tests.remote.conftest import build_remote_app
from tests.web.conftest import FakeServices
from tidewatch.config.model import Config
from tidewatch.labels import from_dict
from tidewatch.matcher import Matcher, MatchType
from tidewatch.tsdb import TSDB


@pytest.fixture(scope="module")
def prometheus_bin() -> str:
    return require_binary("prometheus")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def serve(app: web.Application) -> tuple[web.AppRunner, int]:
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    return runner, port


def start_prometheus(
    binary: str, tmp: Path, config: str, extra: list[str]
) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    (tmp / "prometheus.yml").write_text(config)
    proc = subprocess.Popen(
        [
            binary,
            f"--config.file={tmp / 'prometheus.yml'}",
            f"--storage.tsdb.path={tmp / 'prom-data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            *extra,
        ],
        stdout=subprocess.DEVNULL,
        stderr=open(tmp / "prometheus.log", "wb"),  # noqa: SIM115 - closed with the process
    )
    return proc, port


@pytest.fixture
def db(tmp_path: Path) -> Iterator[TSDB]:
    d = TSDB.open(str(tmp_path / "tw-data"))
    yield d
    d.close()


async def wait_for(check: Any, timeout: float, what: str, log: Path | None = None) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = await check()
        if result:
            return result
        await asyncio.sleep(0.25)
    detail = log.read_text()[-3000:] if log and log.exists() else ""
    raise AssertionError(f"timed out waiting for {what}\n{detail}")


async def get_json(session: aiohttp.ClientSession, url: str, **params: str) -> Any:
    async with session.get(url, params=params) as resp:
        body = await resp.json()
        assert resp.status == 200, body
        return body["data"]


class Env:
    def __init__(self, tmp: Path, db: TSDB, binary: str) -> None:
        self.tmp, self.db, self.binary = tmp, db, binary
        self.runners: list[web.AppRunner] = []
        self.proc: subprocess.Popen[bytes] | None = None
        self.session = aiohttp.ClientSession()

    async def tidewatch(self, config: Config | None = None) -> int:
        services = FakeServices(tsdb=self.db, config=config or Config())
        runner, port = await serve(build_remote_app(services))
        self.runners.append(runner)
        return port

    async def prometheus(self, config: str, extra: list[str] | None = None) -> str:
        self.proc, port = start_prometheus(self.binary, self.tmp, config, extra or [])
        url = f"http://127.0.0.1:{port}"

        async def ready() -> bool:
            try:
                async with self.session.get(url + "/-/ready") as resp:
                    return resp.status == 200
            except aiohttp.ClientError:
                return False

        await wait_for(ready, 30, "prometheus to start", self.tmp / "prometheus.log")
        return url

    async def close(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        for r in self.runners:
            await r.cleanup()
        await self.session.close()


@pytest.fixture
async def env(tmp_path: Path, db: TSDB, prometheus_bin: str) -> AsyncIterator[Env]:
    e = Env(tmp_path, db, prometheus_bin)
    yield e
    await e.close()


def _target_app() -> web.Application:
    count = {"n": 0}

    async def metrics(request: web.Request) -> web.Response:
        count["n"] += 1
        n = count["n"]
        body = (
            "# HELP demo_requests_total Requests served.\n"
            "# TYPE demo_requests_total counter\n"
            f'demo_requests_total{{code="200"}} {n * 3}\n'
            f'demo_requests_total{{code="500"}} {n // 2}\n'
            "# TYPE demo_temperature gauge\n"
            f"demo_temperature {20 + (n % 5) * 0.25}\n"
        )
        return web.Response(text=body, content_type="text/plain")

    app = web.Application()
    app.router.add_get("/metrics", metrics)
    return app


def _tw_samples(db: TSDB, name: str) -> int:
    q = db.querier()
    try:
        return sum(
            len(s.ts) for s in q.select([Matcher(MatchType.EQUAL, "__name__", name)], 0, 2**62)
        )
    finally:
        q.close()


async def test_prometheus_remote_writes_every_sample(env: Env) -> None:
    target_runner, target_port = await serve(_target_app())
    env.runners.append(target_runner)
    tw_port = await env.tidewatch()
    tw = f"http://127.0.0.1:{tw_port}"
    prom = await env.prometheus(
        f"""
global: {{scrape_interval: 1s}}
scrape_configs:
  - job_name: target
    static_configs: [{{targets: ['127.0.0.1:{target_port}']}}]
remote_write:
  - url: {tw}/api/v1/write
    queue_config: {{batch_send_deadline: 200ms, min_backoff: 50ms, max_backoff: 500ms}}
    metadata_config: {{send_interval: 1s}}
"""
    )

    async def enough() -> bool:
        return _tw_samples(env.db, "demo_temperature") >= 5

    await wait_for(enough, 40, "remote-written samples", env.tmp / "prometheus.log")
    # Query both at the newest sample tidewatch holds: raw samples of every series of the job.
    q = env.db.querier()
    try:
        (temp,) = q.select([Matcher(MatchType.EQUAL, "__name__", "demo_temperature")], 0, 2**62)
    finally:
        q.close()
    t = str(int(temp.ts[-1]) / 1000)
    query = '{job="target"}[10m]'
    ours = await get_json(env.session, tw + "/api/v1/query", query=query, time=t)
    theirs = await get_json(env.session, prom + "/api/v1/query", query=query, time=t)

    def by_labels(data: Any) -> dict[Any, Any]:
        return {tuple(sorted(r["metric"].items())): r["values"] for r in data["result"]}

    got, want = by_labels(ours), by_labels(theirs)
    assert set(want) >= {
        (
            ("__name__", "demo_requests_total"),
            ("code", "200"),
            ("instance", f"127.0.0.1:{target_port}"),
            ("job", "target"),
        ),
        (("__name__", "up"), ("instance", f"127.0.0.1:{target_port}"), ("job", "target")),
    }
    assert got == want
    assert sum(len(v) for v in want.values()) >= 5 * len(want)

    async def metadata_arrived() -> bool:
        metas = env.db.metadata().get("demo_requests_total") or []
        return bool(metas) and metas[0].type == "counter" and metas[0].help == "Requests served."

    await wait_for(metadata_arrived, 15, "metadata via remote write", env.tmp / "prometheus.log")
    # Same instant query on both once more, through PromQL.
    rate_q = "sum by (code) (demo_requests_total)"
    ours = await get_json(env.session, tw + "/api/v1/query", query=rate_q, time=t)
    theirs = await get_json(env.session, prom + "/api/v1/query", query=rate_q, time=t)
    assert sorted(map(str, ours["result"])) == sorted(map(str, theirs["result"]))


# With native histograms on, Prometheus 2.42 scrapes in the protobuf format.
@pytest.mark.parametrize("features", [[], ["--enable-feature=native-histograms"]])
async def test_prometheus_federates_and_remote_reads(env: Env, features: list[str]) -> None:
    now = int(time.time() * 1000)
    app = env.db.appender()
    live = from_dict({"__name__": "fed_metric", "job": "app", "instance": "i1"})
    app.append(0, live, now - 2_000, 41.5)
    # Older history only tidewatch holds, reachable through remote read.
    archive = from_dict({"__name__": "archive_metric", "job": "old", "source": "archive"})
    t_old = now - 2 * 3600 * 1000
    for i in range(240):
        app.append(0, archive, t_old + i * 15_000, float(i))
    app.commit()
    config = Config()
    config.prometheus.global_.external_labels = {"site": "edge"}
    tw = f"http://127.0.0.1:{await env.tidewatch(config)}"
    prom = await env.prometheus(
        f"""
global: {{scrape_interval: 1s}}
scrape_configs:
  - job_name: federate
    honor_labels: true
    metrics_path: /federate
    params: {{'match[]': ['{{job="app"}}']}}
    static_configs: [{{targets: ['{tw.removeprefix("http://")}']}}]
remote_read:
  - url: {tw}/api/v1/read
    read_recent: true
    required_matchers: {{source: archive}}
""",
        features,
    )

    async def federated() -> Any:
        data = await get_json(env.session, prom + "/api/v1/query", query="fed_metric")
        return data["result"]

    (row,) = await wait_for(federated, 40, "a federated sample", env.tmp / "prometheus.log")
    # honor_labels kept tidewatch's job/instance; the external label came along.
    assert row["metric"] == {
        "__name__": "fed_metric",
        "job": "app",
        "instance": "i1",
        "site": "edge",
    }
    assert row["value"][1] == "41.5"
    up = await get_json(env.session, prom + "/api/v1/query", query='up{job="federate"}')
    assert [r["value"][1] for r in up["result"]] == ["1"]

    # Remote read: Prometheus answers from tidewatch's history (it never scraped it).
    data = await get_json(
        env.session,
        prom + "/api/v1/query_range",
        query='archive_metric{source="archive"}',
        start=str((t_old + 60_000) / 1000),
        end=str((t_old + 600_000) / 1000),
        step="15",
    )
    (series,) = data["result"]
    assert series["metric"] == {
        "__name__": "archive_metric",
        "job": "old",
        "source": "archive",
        "site": "edge",
    }
    assert [float(v) for _, v in series["values"]] == [float(i) for i in range(4, 41)]
