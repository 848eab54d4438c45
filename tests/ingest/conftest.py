"""A real exporter on 127.0.0.1 whose responses the tests change between scrapes."""

from __future__ import annotations

import asyncio
import gzip
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest
from aiohttp import web

from .fakes import MemoryStorage


@dataclass
class Exporter:
    port: int = 0
    body: bytes = b"up_thing 1\n"
    content_type: str = "text/plain; version=0.0.4"
    status: int = 200
    delay_s: float = 0.0
    gzip: bool = False
    requests: list[dict[str, str]] = field(default_factory=list)
    auth: str = ""  # required Authorization header value, "" = none

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    async def handle(self, request: web.Request) -> web.StreamResponse:
        self.requests.append(dict(request.headers))
        if self.auth and request.headers.get("Authorization") != self.auth:
            return web.Response(status=401, text="unauthorized")
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        if self.status != 200:
            return web.Response(status=self.status, text="boom")
        body = self.body
        headers = {"Content-Type": self.content_type}
        if self.gzip:
            body = gzip.compress(body)
            headers["Content-Encoding"] = "gzip"
        return web.Response(body=body, headers=headers)


@pytest.fixture
async def exporter() -> AsyncIterator[Exporter]:
    exp = Exporter()
    app = web.Application()
    app.router.add_route("GET", "/{tail:.*}", exp.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    exp.port = runner.addresses[0][1]
    yield exp
    await runner.cleanup()


@pytest.fixture
def storage() -> MemoryStorage:
    return MemoryStorage()
