"""Health, readiness, reload and the metrics endpoints (self and host)."""

from __future__ import annotations

import asyncio

from aiohttp import web

from tidewatch.collectors.host import render_host_metrics
from tidewatch.config.errors import ReloadRefused
from tidewatch.web.services import Services

TEXT_FORMAT = "text/plain; version=0.0.4; charset=utf-8"


class LifecycleAPI:
    def __init__(self, services: Services) -> None:
        self.s = services

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get("/-/healthy", self.healthy),
            web.get("/-/ready", self.ready),
            web.post("/-/reload", self.reload),
            web.put("/-/reload", self.reload),
            web.get("/metrics", self.metrics),
            web.get("/collectors/node/metrics", self.host_metrics),
        ]

    async def healthy(self, request: web.Request) -> web.Response:
        return web.Response(text="tidewatch Server is Healthy.\n")

    async def ready(self, request: web.Request) -> web.Response:
        if not self.s.ready:
            return web.Response(status=503, text="Service Unavailable")
        return web.Response(text="tidewatch Server is Ready.\n")

    async def reload(self, request: web.Request) -> web.Response:
        try:
            await self.s.reload()
        except ReloadRefused as exc:
            # The old configuration keeps running; say why the new one was refused.
            return web.Response(status=400, text=f"failed to reload config: {exc}\n")
        return web.Response(text="")

    async def metrics(self, request: web.Request) -> web.Response:
        body = await asyncio.to_thread(self.s.self_metrics.render)
        return web.Response(body=body, headers={"Content-Type": TEXT_FORMAT})

    async def host_metrics(self, request: web.Request) -> web.Response:
        body = await asyncio.to_thread(render_host_metrics, self.s.host_collector)
        return web.Response(body=body, headers={"Content-Type": TEXT_FORMAT})
