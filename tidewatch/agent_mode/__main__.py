"""Run the metrics agent on its own: ``python -m tidewatch.agent_mode --config
prometheus.yml --data-dir DIR [--listen 127.0.0.1:9095]``.

Serves ``/metrics`` (the agent's self metrics), ``/-/healthy`` and ``/-/ready``;
SIGHUP reloads the config; SIGINT/SIGTERM stop it after a bounded final flush.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
from collections.abc import Iterable

from aiohttp import web
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import Metric
from prometheus_client.registry import Collector

from tidewatch.agent_mode.agent import MetricsAgent
from tidewatch.config.loader import load_config

log = logging.getLogger("tidewatch.agent_mode")


class _AgentCollector(Collector):
    def __init__(self, agent: MetricsAgent) -> None:
        self.agent = agent

    def collect(self) -> Iterable[Metric]:
        return list(self.agent.self_metrics())


async def serve(config_path: str, data_dir: str, listen: str) -> None:
    agent = MetricsAgent(load_config(config_path), data_dir)
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_AgentCollector(agent))

    async def metrics(_: web.Request) -> web.Response:
        return web.Response(body=generate_latest(registry), content_type="text/plain")

    async def ok(_: web.Request) -> web.Response:
        return web.Response(text="OK")

    app = web.Application()
    app.router.add_get("/metrics", metrics)
    app.router.add_get("/-/healthy", ok)
    app.router.add_get("/-/ready", ok)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    host, _, port = listen.rpartition(":")
    await web.TCPSite(runner, host or "0.0.0.0", int(port)).start()
    await agent.start()

    done = asyncio.Event()
    loop = asyncio.get_running_loop()

    async def reload() -> None:
        try:
            await agent.apply_config(load_config(config_path))
        except Exception as exc:  # a bad config changes nothing; say why
            log.error("reload failed: %s", exc)

    loop.add_signal_handler(signal.SIGHUP, lambda: loop.create_task(reload()))
    loop.add_signal_handler(signal.SIGTERM, done.set)
    loop.add_signal_handler(signal.SIGINT, done.set)
    await done.wait()
    await agent.stop()
    await runner.cleanup()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m tidewatch.agent_mode", description=__doc__)
    p.add_argument("--config", required=True, help="prometheus.yml or tidewatch.yml")
    p.add_argument("--data-dir", required=True, help="where the remote-write queues live")
    p.add_argument("--listen", default="127.0.0.1:9095", help="host:port of /metrics")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(message)s")
    try:
        import uvloop

        uvloop.install()
    except ImportError:  # pragma: no cover - uvloop is a dependency, but optional here
        pass
    asyncio.run(serve(args.config, args.data_dir, args.listen))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
