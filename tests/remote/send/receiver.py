"""A small remote-write receiver on loopback that records what arrives, and can be
stopped, restarted on the same port, or made to answer with a chosen status."""

from __future__ import annotations

import socket
import ssl
from collections import defaultdict

from aiohttp import web

from tidewatch.labels import Labels
from tidewatch.remote.codec import snappy_decode
from tidewatch.remote.write import decode_v1
from tidewatch.tsdb.interface import Exemplar, MetricMetadata


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Receiver:
    def __init__(self, port: int | None = None, ssl_context: ssl.SSLContext | None = None) -> None:
        self.port = port or free_port()
        self.ssl_context = ssl_context
        self.samples: dict[Labels, list[tuple[int, float]]] = defaultdict(list)
        self.requests = 0
        self.headers: list[dict[str, str]] = []
        self.metadata: dict[str, MetricMetadata] = {}
        self.exemplars: dict[Labels, list[Exemplar]] = defaultdict(list)
        self.status = 204  # what to answer
        self._runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        scheme = "https" if self.ssl_context else "http"
        return f"{scheme}://127.0.0.1:{self.port}/api/v1/write"

    async def _write(self, request: web.Request) -> web.Response:
        self.requests += 1
        self.headers.append(dict(request.headers))
        body = await request.read()
        if self.status // 100 != 2:
            return web.Response(status=self.status, text="refused by test")
        decoded = decode_v1(snappy_decode(body, 64 << 20))
        self.metadata.update(decoded.metadata)
        for i, ex in decoded.exemplars:
            self.exemplars[decoded.series[i].labels].append(ex)
        for i, t, v in zip(decoded.sample_series, decoded.ts, decoded.values, strict=True):
            self.samples[decoded.series[i].labels].append((t, v))
        return web.Response(status=self.status)

    async def start(self) -> None:
        app = web.Application(client_max_size=64 << 20)
        app.router.add_post("/api/v1/write", self._write)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", self.port, ssl_context=self.ssl_context)
        await site.start()

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def total(self) -> int:
        return sum(len(v) for v in self.samples.values())
