"""Reloading the metrics agent from its file (SIGHUP, ``/-/reload``) and serving the
lifecycle endpoints, as Prometheus in agent mode does.

``AgentReloader`` owns the ``MetricsAgent``: a file that later gains (or loses) its
metrics side starts (or empties) the agent, and a bad file changes nothing.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterable
from pathlib import Path

from aiohttp import web
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from tidewatch.agent_mode.agent import MetricsAgent
from tidewatch.config.errors import ConfigError
from tidewatch.config.model import Config
from tidewatch.remote.send.config import RemoteWriteConfigError

log = logging.getLogger("tidewatch.agent_mode")

# What a refused reload can raise: the file is unreadable or invalid.
RELOAD_ERRORS: tuple[type[Exception], ...] = (
    ConfigError,
    RemoteWriteConfigError,
    OSError,
    ValueError,
)


class AgentReloader:
    """``load()`` reads the file and returns its metrics side (None: nothing to
    scrape or forward). ``also_reload`` runs after a successful metrics reload (the
    log side's turn); it may raise one of ``RELOAD_ERRORS`` to report a refusal."""

    def __init__(
        self,
        load: Callable[[], Config | None],
        data_dir: str | Path,
        also_reload: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self.load = load
        self.data_dir = Path(data_dir)
        self.also_reload = also_reload
        self.agent: MetricsAgent | None = None
        self.last_reload_success = True
        self.last_reload_time = time.time()
        self._lock = asyncio.Lock()

    async def start(self, cfg: Config | None) -> None:
        if cfg is not None:
            self.agent = MetricsAgent(cfg, self.data_dir)
            await self.agent.start()

    async def reload(self) -> None:
        """Read the file again and apply it; raises (keeping the running config) when
        the file is bad."""
        async with self._lock:
            self.last_reload_time = time.time()
            try:
                cfg = await asyncio.to_thread(self.load)
                if cfg is None and self.agent is not None:
                    cfg = Config()  # the metrics side was removed: stop scraping, keep queues
                if cfg is not None:
                    if self.agent is None:
                        await self.start(cfg)
                    else:
                        await self.agent.apply_config(cfg)
                if self.also_reload is not None:
                    await self.also_reload()
            except RELOAD_ERRORS:
                self.last_reload_success = False
                raise
            self.last_reload_success = True
            log.info("configuration reloaded")

    async def reload_logged(self) -> None:
        """For SIGHUP: nobody waits for the answer, so a refusal is logged."""
        try:
            await self.reload()
        except RELOAD_ERRORS as exc:
            log.error("reload refused, keeping the running config: %s", exc)

    async def stop(self, flush_timeout: float = 5.0) -> None:
        if self.agent is not None:
            await self.agent.stop(flush_timeout)

    def self_metrics(self) -> Iterable[Metric]:
        if self.agent is not None:
            yield from self.agent.self_metrics()
        yield GaugeMetricFamily(
            "prometheus_config_last_reload_successful",
            "Whether the last configuration reload attempt was successful.",
            value=1.0 if self.last_reload_success else 0.0,
        )
        yield GaugeMetricFamily(
            "prometheus_config_last_reload_success_timestamp_seconds",
            "Timestamp of the last successful configuration reload.",
            value=self.last_reload_time if self.last_reload_success else 0.0,
        )


class _Collector(Collector):
    def __init__(self, reloader: AgentReloader) -> None:
        self.reloader = reloader

    def collect(self) -> Iterable[Metric]:
        return list(self.reloader.self_metrics())


def lifecycle_app(reloader: AgentReloader) -> web.Application:
    """``/metrics``, ``/-/healthy``, ``/-/ready`` and ``/-/reload`` (POST or PUT)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Collector(reloader))

    async def metrics(_: web.Request) -> web.Response:
        return web.Response(body=generate_latest(registry), content_type="text/plain")

    async def healthy(_: web.Request) -> web.Response:
        return web.Response(text="tidewatch Agent is Healthy.\n")

    async def ready(_: web.Request) -> web.Response:
        return web.Response(text="tidewatch Agent is Ready.\n")

    async def reload(_: web.Request) -> web.Response:
        try:
            await reloader.reload()
        except RELOAD_ERRORS as exc:
            # As the server answers: the old configuration keeps running.
            return web.Response(status=400, text=f"failed to reload config: {exc}\n")
        return web.Response(text="")

    app = web.Application()
    app.router.add_get("/metrics", metrics)
    app.router.add_get("/-/healthy", healthy)
    app.router.add_get("/-/ready", ready)
    app.router.add_post("/-/reload", reload)
    app.router.add_put("/-/reload", reload)
    return app


async def serve_lifecycle(reloader: AgentReloader, listen: str) -> web.AppRunner:
    """Start ``lifecycle_app`` on ``host:port``; the caller cleans the runner up."""
    runner = web.AppRunner(lifecycle_app(reloader), access_log=None)
    await runner.setup()
    host, _, port = listen.rpartition(":")
    await web.TCPSite(runner, host or "0.0.0.0", int(port)).start()
    return runner
