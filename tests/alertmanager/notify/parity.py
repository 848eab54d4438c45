"""Running the real Alertmanager and tidewatch's side by side for parity tests."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from tests.peers import require_binary
from tidewatch.alertmanager.config import load_config
from tidewatch.alertmanager.notify import ReceiverNotifier
from tidewatch.alertmanager.service import Alertmanager
from tidewatch.web.api_alertmanager import AlertmanagerAPI


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def binary(name: str) -> str:
    return require_binary(name)


@contextlib.asynccontextmanager
async def real_alertmanager(tmp_path: Path, cfg_text: str, external_url: str) -> AsyncIterator[str]:
    """Debian's prometheus-alertmanager on a loopback port; stopped by pid afterwards."""
    exe = binary("prometheus-alertmanager")
    (tmp_path / "am.yml").write_text(cfg_text)
    port = free_port()
    proc = subprocess.Popen(
        [
            exe,
            f"--config.file={tmp_path / 'am.yml'}",
            f"--storage.path={tmp_path / 'am-data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            f"--web.external-url={external_url}",
            "--cluster.listen-address=",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        async with aiohttp.ClientSession() as http:
            for _ in range(100):
                with contextlib.suppress(aiohttp.ClientError):
                    async with http.get(f"{base}/-/ready") as r:
                        if r.status == 200:
                            break
                await asyncio.sleep(0.1)
            else:
                pytest.fail("alertmanager did not become ready")
        # Ready answers before the inhibitor has subscribed to alerts; give it a moment.
        await asyncio.sleep(0.5)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@contextlib.asynccontextmanager
async def tidewatch_alertmanager(
    cfg_text: str, external_url: str
) -> AsyncIterator[tuple[str, Alertmanager, ReceiverNotifier]]:
    """tidewatch's Alertmanager in-process, its API v2 on a loopback port."""
    cfg = load_config(cfg_text)
    async with aiohttp.ClientSession() as session:
        notifier = ReceiverNotifier(cfg, session, external_url=external_url)
        am = Alertmanager(notifier, config=cfg)
        await am.start()
        app = web.Application()
        app.add_routes(AlertmanagerAPI(SimpleNamespace(alertmanager=am)).routes())
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        port = free_port()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        try:
            yield f"http://127.0.0.1:{port}", am, notifier
        finally:
            await runner.cleanup()
            await am.stop()


async def post(base: str, path: str, body: Any) -> Any:
    async with aiohttp.ClientSession() as http, http.post(f"{base}{path}", json=body) as r:
        assert r.status == 200, await r.text()
        text = await r.text()
        return None if not text else await r.json(content_type=None)
