"""A real scrape target on loopback for the agent tests."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiohttp import web

from tests.remote.send.receiver import free_port

EXPOSITION = '# TYPE demo_requests_total counter\ndemo_requests_total{path="/"} 7\ndemo_temp 21.5\n'


@pytest.fixture
async def target() -> AsyncIterator[str]:
    async def metrics(_: web.Request) -> web.Response:
        return web.Response(text=EXPOSITION, content_type="text/plain")

    app = web.Application()
    app.router.add_get("/metrics", metrics)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    yield f"127.0.0.1:{port}"
    await runner.cleanup()
