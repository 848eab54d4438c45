"""A push that got 204 survives ``kill -9`` of the serving process (WAL replay)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import aiohttp
import orjson

from tidewatch.logs.store import LogStore, LogStoreOptions
from tidewatch.matcher import Matcher, MatchType

SERVER = """
import asyncio, sys
from aiohttp import web
from tidewatch.logs.logql.engine import LogQLEngine
from tidewatch.logs.store import LogStore, LogStoreOptions
from tidewatch.web.api_loki import LokiAPI

class Services:
    def __init__(self, store):
        self.log_store = store
        self.logql = LogQLEngine()

async def main():
    store = LogStore.open(sys.argv[1], LogStoreOptions(ingestion_rate_mb=0, chunk_target_bytes=2000))
    store.start_background()
    app = web.Application()
    app.add_routes(LokiAPI(Services(store)).routes())
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    print(site._server.sockets[0].getsockname()[1], flush=True)
    await asyncio.Event().wait()

asyncio.run(main())
"""


async def test_kill_9_after_204_keeps_the_push(tmp_path: Path) -> None:
    repo = Path(__file__).resolve().parents[3]
    proc = subprocess.Popen(
        [sys.executable, "-c", SERVER, str(tmp_path / "logs")],
        stdout=subprocess.PIPE,
        cwd=repo,
        env={**os.environ, "PYTHONPATH": str(repo)},
    )
    try:
        assert proc.stdout is not None
        port = int(proc.stdout.readline())
        now = time.time_ns()
        lines = [f"entry {i} " + "p" * 50 for i in range(300)]
        async with aiohttp.ClientSession() as session:
            for k in range(3):
                values = [[str(now + k * 1000 + i * 10_000), line] for i, line in enumerate(lines)]
                body = orjson.dumps({"streams": [{"stream": {"job": f"j{k}"}, "values": values}]})
                async with session.post(
                    f"http://127.0.0.1:{port}/loki/api/v1/push",
                    data=body,
                    headers={"Content-Type": "application/json"},
                ) as r:
                    assert r.status == 204
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    store = LogStore.open(tmp_path / "logs", LogStoreOptions())
    try:
        for k in range(3):
            m = [Matcher(MatchType.EQUAL, "job", f"j{k}")]
            got = [x for c in store.select(m, 0, now + 10**12) for x in c.lines]
            assert got == lines
    finally:
        store.close()
