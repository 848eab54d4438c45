"""``tidewatch agent --config FILE``: scrape and tail, keep only a WAL, forward everything.

Logs are pushed to a remote Loki-compatible URL (``clients[0].url``), as Promtail does;
FILE is a Promtail config as it is, or a tidewatch.yml whose ``logs:`` section has
``scrape_configs`` and ``clients``. When FILE is a tidewatch.yml whose ``prometheus:``
section has ``scrape_configs`` or ``remote_write``, metrics are scraped and forwarded
with remote write too (queues under ``--data-dir``), with no local queries or storage.

SIGHUP reloads the file, both sides (a bad file keeps the running config); SIGINT/SIGTERM
stop after delivering what was read and saving positions. With ``server.http_listen_port``
set, ``/metrics`` and ``/ready`` are served there, as by Promtail; with
``--web.listen-address``, the metrics side's ``/metrics``, ``/-/healthy``, ``/-/ready``
and ``/-/reload`` are served there, as by Prometheus in agent mode.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from tidewatch.agent_mode.lifecycle import AgentReloader, serve_lifecycle
from tidewatch.config.errors import ConfigError
from tidewatch.config.loader import load_config
from tidewatch.config.model import Config
from tidewatch.config.yamlnodes import Ctx, MapView, compose
from tidewatch.logs.agent.config import AgentConfig, decode_logs_node, decode_promtail
from tidewatch.logs.agent.runner import LogAgent
from tidewatch.logs.agent.sink import HTTPSink, LogBatch

log = logging.getLogger("tidewatch.agent")


def register(sub: Any) -> None:
    p = sub.add_parser(
        "agent",
        help="scrape and tail only, forwarding with remote write and Loki push",
        description="Tail log files as Promtail does and push them to clients[0].url.",
    )
    p.add_argument(
        "--config",
        "--config.file",
        "-config.file",
        dest="config",
        required=True,
        help="promtail config file, or a tidewatch.yml with a logs: section",
    )
    p.add_argument(
        "--client.url",
        "-client.url",
        dest="client_url",
        default="",
        help="push URL (overrides clients[0].url)",
    )
    p.add_argument(
        "--positions.file",
        "-positions.file",
        dest="positions_file",
        default="",
        help="positions file (overrides positions.filename)",
    )
    p.add_argument(
        "--dry-run",
        "-dry-run",
        dest="dry_run",
        action="store_true",
        help="print lines to stdout instead of pushing them (positions are not saved)",
    )
    p.add_argument(
        "--data-dir",
        "--storage.agent.path",
        dest="data_dir",
        default="data-agent",
        help="where the remote-write queues live (default ./data-agent)",
    )
    p.add_argument(
        "--web.listen-address",
        dest="web_listen_address",
        default="",
        help="host:port for /metrics, /-/ready and /-/reload of the metrics side (default: none)",
    )
    p.add_argument(
        "--log.level", dest="log_level", default="info", choices=["debug", "info", "warn", "error"]
    )
    p.set_defaults(func=run)


def load_agent_config(path: str) -> AgentConfig:
    """A Promtail file, or the ``logs:`` section of a tidewatch.yml (told by its keys)."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(path, 0, "", f"cannot read: {exc.strerror}") from None
    root = compose(text, path)
    top = MapView(Ctx(path), root, "", None)
    if (top.has("logs") or top.has("prometheus")) and not top.has("scrape_configs"):
        # A tidewatch.yml: the agent's part is its logs: section (maybe absent).
        base = str(Path(path).resolve().parent)
        return decode_logs_node(top.node("logs") if top.has("logs") else None, path, base)
    return decode_promtail(text, path)


def load_metrics_config(path: str) -> Config | None:
    """The tidewatch.yml's metrics side, when it has anything to scrape or forward."""
    root = compose(Path(path).read_text(encoding="utf-8"), path)
    if not MapView(Ctx(path), root, "", None).has("prometheus"):
        return None
    cfg = load_config(path)
    if cfg.prometheus.scrape_configs or cfg.prometheus.remote_write:
        return cfg
    return None


def _has_logs(cfg: AgentConfig) -> bool:
    return bool(cfg.scrape_configs or cfg.clients)


def _apply_flags(cfg: AgentConfig, args: argparse.Namespace) -> AgentConfig:
    if args.client_url:
        from tidewatch.logs.agent.config import ClientConfig

        if cfg.clients:
            cfg.clients[0].url = args.client_url
        else:
            cfg.clients = [ClientConfig(url=args.client_url)]
    if args.positions_file:
        cfg.positions.filename = args.positions_file
    if args.dry_run:
        cfg.positions.filename = ""
    return cfg


class StdoutSink:
    """``--dry-run``: each line as ``<time>\\t<labels>\\t<line>``."""

    async def push(self, batch: LogBatch) -> None:
        from tidewatch.logs.push.decode import labels_text_from_map

        out = sys.stdout
        for lbls, ts, line, _ in batch:
            out.write(f"{ts}\t{labels_text_from_map(dict(lbls))}\t{line}\n")
        out.flush()

    async def close(self) -> None:
        return None


class _AgentCollector:
    def __init__(self, agent: LogAgent) -> None:
        self.agent = agent

    def collect(self) -> Iterator[Any]:
        yield from self.agent.self_metrics()


async def _serve_metrics(agent: LogAgent, address: str, port: int) -> Any:
    from aiohttp import web
    from prometheus_client import CollectorRegistry, generate_latest

    registry = CollectorRegistry()
    registry.register(_AgentCollector(agent))

    async def metrics(_: web.Request) -> web.Response:
        return web.Response(
            body=generate_latest(registry), content_type="text/plain", charset="utf-8"
        )

    async def ready(_: web.Request) -> web.Response:
        return web.Response(text="Ready")

    app = web.Application()
    app.router.add_get("/metrics", metrics)
    app.router.add_get("/ready", ready)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, address or "0.0.0.0", port).start()
    return runner


async def run_agent(
    cfg: AgentConfig,
    stop: asyncio.Event,
    *,
    reload: asyncio.Event | None = None,
    reload_config: Any = None,
    dry_run: bool = False,
) -> None:
    """Run until ``stop`` is set; on ``reload``, ``reload_config()`` gives the new config."""
    if dry_run:
        sink: Any = StdoutSink()
        name = "stdout"
    else:
        if not cfg.clients:
            raise ConfigError(cfg.file, 0, "clients", "at least one client (url) is required")
        if len(cfg.clients) > 1:
            log.warning("only the first of %d clients is used", len(cfg.clients))
        sink = HTTPSink(cfg.clients[0])
        name = urlsplit(cfg.clients[0].url).netloc  # Promtail's "host" label
    wait_ms, size = (
        (0, 1 << 20) if dry_run else (cfg.clients[0].batch_wait_ms, cfg.clients[0].batch_size)
    )
    agent = LogAgent(cfg, sink, sink_name=name, batch_wait_ms=wait_ms, batch_size=size)
    await agent.start()
    web_runner = None
    if cfg.http_listen_port:
        web_runner = await _serve_metrics(agent, cfg.http_listen_address, cfg.http_listen_port)
    try:
        while not stop.is_set():
            waiters = [asyncio.ensure_future(stop.wait())]
            if reload is not None:
                waiters.append(asyncio.ensure_future(reload.wait()))
            await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
            for w in waiters:
                w.cancel()
            if reload is not None and reload.is_set() and not stop.is_set():
                reload.clear()
                try:
                    await agent.apply_config(reload_config())
                    log.info("configuration reloaded")
                except ConfigError as exc:
                    log.error("reload refused, keeping the running config: %s", exc)
    finally:
        await agent.stop()
        if web_runner is not None:
            await web_runner.cleanup()


def run(args: argparse.Namespace) -> int:
    logging.basicConfig(
        level=getattr(logging, args.log_level.upper().replace("WARN", "WARNING")),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        cfg = _apply_flags(load_agent_config(args.config), args)
        metrics_cfg = load_metrics_config(args.config)
        if not cfg.clients and not args.dry_run and (metrics_cfg is None or _has_logs(cfg)):
            raise ConfigError(args.config, 0, "clients", "at least one client (url) is required")
    except (ConfigError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1

    async def main() -> None:
        stop, logs_reload = asyncio.Event(), asyncio.Event()
        run_logs = _has_logs(cfg) or args.dry_run

        async def reload_logs() -> None:
            if run_logs:
                _apply_flags(load_agent_config(args.config), args)  # refuse a bad file now
                logs_reload.set()  # run_agent re-reads it

        reloader = AgentReloader(
            lambda: load_metrics_config(args.config), args.data_dir, also_reload=reload_logs
        )
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError):
                loop.add_signal_handler(sig, stop.set)
        with contextlib.suppress(NotImplementedError, AttributeError):
            loop.add_signal_handler(
                signal.SIGHUP, lambda: loop.create_task(reloader.reload_logged())
            )
        await reloader.start(metrics_cfg)
        web_runner = None
        try:
            if args.web_listen_address:
                web_runner = await serve_lifecycle(reloader, args.web_listen_address)
            if run_logs:
                await run_agent(
                    cfg,
                    stop,
                    reload=logs_reload,
                    reload_config=lambda: _apply_flags(load_agent_config(args.config), args),
                    dry_run=args.dry_run,
                )
            else:
                await stop.wait()
        finally:
            if web_runner is not None:
                await web_runner.cleanup()
            await reloader.stop()

    try:
        import uvloop

        uvloop.install()
    except ImportError:  # pragma: no cover
        pass
    try:
        asyncio.run(main())
    except OSError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        pass
    return 0
