"""The running tidewatch server: owns the stages and wires them together.

Start-up order follows the data flow: open the store (replaying its WAL), start
the HTTP server (ready=false until replay is done), then start scraping. Reload
swaps the configuration only when the new one loads cleanly.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web

from tidewatch.alertmanager.embedded import EmbeddedAlertmanager
from tidewatch.alertmanager.embedded import resolve_config as resolve_alertmanager_config
from tidewatch.collectors.host import HostCollector
from tidewatch.collectors.self_metrics import SelfMetrics
from tidewatch.config.errors import ConfigError, ReloadRefused
from tidewatch.config.loader import load_config
from tidewatch.config.model import Config
from tidewatch.ingest.manager import ScrapeManager
from tidewatch.logs.agent import (
    AgentConfig,
    InProcessSink,
    LogAgent,
    logs_section_from_file,
    logs_section_from_raw,
)
from tidewatch.logs.agent.positions import PositionsError
from tidewatch.logs.forward import LogForwarder
from tidewatch.logs.logql import LogQLEngine
from tidewatch.logs.store.limits_config import options_from_limits
from tidewatch.logs.store.options import LogStoreOptions
from tidewatch.logs.store.store import LogStore
from tidewatch.progress import ProgressPrinter
from tidewatch.promql.engine import Engine
from tidewatch.remote.send import (
    RemoteWriteConfigError,
    RemoteWriteManager,
    TeeStorage,
)
from tidewatch.remote.send import decode_configs as decode_remote_write
from tidewatch.rules.logrules import logql_query_func
from tidewatch.rules.manager import RuleManager
from tidewatch.rules.rulefile import RuleFileError
from tidewatch.templating import TemplateError
from tidewatch.tsdb import TSDB, TSDBOptions
from tidewatch.tsdb.interface import Storage
from tidewatch.web.app import build_app
from tidewatch.web.auth_setup import prepare_auth

log = logging.getLogger("tidewatch")


def split_listen(addr: str) -> tuple[str, int]:
    """``host:port`` (or ``:port``, or ``[::1]:port``) → (host, port)."""
    host, sep, port = addr.rpartition(":")
    if not sep or not port.isdigit():
        raise ValueError(f"listen address {addr!r} must be host:port, e.g. 127.0.0.1:9090")
    host = host.strip("[]") or "0.0.0.0"
    return host, int(port)


def tsdb_options(cfg: Config) -> TSDBOptions:
    st = cfg.storage
    return TSDBOptions(
        retention_ms=st.retention_time_ms,
        retention_bytes=st.retention_size_bytes,
        wal_sync_interval_ms=st.wal_sync_interval_ms,
        block_duration_ms=st.block_duration_ms,
        out_of_order_window_ms=st.out_of_order_time_window_ms,
    )


def log_store_options(cfg: Config) -> LogStoreOptions:
    """Loki's ``limits_config`` from the ``logs:`` section, the WAL policy from storage."""
    section = cfg.sections.get("logs") or {}
    limits = section.get("limits_config") or {} if isinstance(section, dict) else {}
    options = options_from_limits(limits)
    options.wal_sync_interval_ms = cfg.storage.wal_sync_interval_ms
    return options


@dataclass
class Tidewatch:
    """The whole server. ``config_path`` is re-read on reload ("" = built-in default)."""

    config: Config
    config_path: str
    flags: dict[str, str] = field(default_factory=dict)
    alertmanager_config_path: str = ""
    web_config_file: str = ""
    ready: bool = False
    start_time: float = field(default_factory=time.time)
    last_reload_success: bool = True
    last_reload_time: float = field(default_factory=time.time)

    def __post_init__(self) -> None:
        self.self_metrics = SelfMetrics()
        self.host_collector = HostCollector()
        srv = self.config.server
        self.engine = Engine(
            lookback_delta_ms=srv.lookback_delta_ms,
            max_samples=srv.query_max_samples,
            timeout_ms=srv.query_timeout_ms,
        )
        self._runner: web.AppRunner | None = None
        self._stopped = asyncio.Event()
        self._reload_lock = asyncio.Lock()

    async def start(self) -> None:
        os.makedirs(self.config.storage.path, exist_ok=True)
        log.info("opening storage in %s", self.config.storage.path)
        self.tsdb = await asyncio.to_thread(
            TSDB.open, self.config.storage.path, tsdb_options(self.config), ProgressPrinter()
        )
        self.tsdb.start_background()
        try:
            self.remote_write = RemoteWriteManager(
                self.config.prometheus.remote_write,
                self.config.prometheus.global_.external_labels,
                self.config.storage.path,
            )
        except RemoteWriteConfigError as exc:
            raise ReloadRefused(str(exc)) from exc
        await self.remote_write.start()
        # Everything appended (scrapes, rules, pushes) is also forwarded by remote_write.
        self.storage: Storage = TeeStorage(self.tsdb, self.remote_write)
        self.log_store = await asyncio.to_thread(
            LogStore.open,
            os.path.join(self.config.storage.path, "logs"),
            log_store_options(self.config),
            ProgressPrinter(),
        )
        self.log_store.start_background()
        self.logql = LogQLEngine()
        try:
            agent_config = self._log_agent_config(self.config)
        except ConfigError as exc:
            raise ReloadRefused(str(exc)) from exc
        self.log_agent = LogAgent(
            agent_config,
            InProcessSink(self.log_store.push),
            data_dir=Path(self.config.storage.path) / "logs" / "agent",
        )
        self._log_agent_clients = agent_config.clients
        self.log_forwarder = LogForwarder(self.log_store.subscribe)
        self.scrape_manager = ScrapeManager(
            self.storage, external_labels=self.config.prometheus.global_.external_labels
        )
        try:
            am_config = resolve_alertmanager_config(self.config, self.alertmanager_config_path)
        except ConfigError as exc:
            raise ReloadRefused(str(exc)) from exc
        self._embedded_am = EmbeddedAlertmanager(
            am_config, self.config.storage.path, self.config.server.external_url
        )
        self.alertmanager = await self._embedded_am.start()
        self.rule_manager = RuleManager(
            self.storage,
            self.engine,
            external_labels=self.config.prometheus.global_.external_labels,
            external_url=self.config.server.external_url,
            notify=self._embedded_am.receive_from_rules,
            log_query=logql_query_func(self.log_store, self.logql.max_entries_limit),
        )
        for source in (
            self.tsdb,
            self.scrape_manager,
            self.rule_manager,
            self._embedded_am,
            self.log_agent,
            self.log_forwarder,
            self.remote_write,
        ):
            self.self_metrics.add_source(source)

        try:
            self.auth = prepare_auth(self.config, self.config.storage.path, self.web_config_file)
        except ConfigError as exc:
            raise ReloadRefused(str(exc)) from exc
        self.auth.protect_self_scrapes(self.config)
        # Forwarding starts before the port opens and the agent tails, so no line misses it.
        await self.log_forwarder.apply(self._log_agent_clients)
        app = build_app(self)
        self.auth.apply(app)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        host, port = split_listen(self.config.server.listen)
        ssl_context = self.auth.ssl_context
        site = web.TCPSite(self._runner, host, port, reuse_address=True, ssl_context=ssl_context)
        await site.start()
        scheme = "https" if ssl_context is not None else "http"
        log.info("listening on %s://%s", scheme, self.config.server.listen)

        try:
            await self.rule_manager.apply_config(self.config)
            await self.scrape_manager.apply_config(self.config)
            await self.log_agent.start()
        except (ConfigError, RuleFileError, PositionsError, ValueError) as exc:
            raise ReloadRefused(str(exc)) from exc
        self.ready = True

    async def reload(self) -> None:
        """Load the config file again; on error the running config stays."""
        async with self._reload_lock:
            self.last_reload_time = time.time()
            if not self.config_path:
                self.last_reload_success = True
                return
            try:
                new = await asyncio.to_thread(load_config, self.config_path)
                # Storage and listen address are fixed for the life of the process.
                new.storage = self.config.storage
                new.server.listen = self.config.server.listen
                self.auth.protect_self_scrapes(new)
                decode_remote_write(new.prometheus.remote_write)
                new_am = resolve_alertmanager_config(new, self.alertmanager_config_path)
                new_agent = self._log_agent_config(new)
                # Rules and alertmanager.yml first: a bad file refuses the reload before
                # scraping changes.
                await self.rule_manager.apply_config(new)
                await self._embedded_am.reload(new_am)
                await self.scrape_manager.apply_config(new)
                await self.log_agent.apply_config(new_agent)
                await self.log_forwarder.apply(new_agent.clients)
                await self.remote_write.apply_config(
                    new.prometheus.remote_write, new.prometheus.global_.external_labels
                )
            except (
                ConfigError,
                RuleFileError,
                TemplateError,
                RemoteWriteConfigError,
                ValueError,
            ) as exc:
                self.last_reload_success = False
                raise ReloadRefused(str(exc)) from exc
            self.config = new
            self.last_reload_success = True
            log.info("configuration reloaded from %s", self.config_path)

    async def _reload_from_signal(self) -> None:
        try:
            await self.reload()
        except Exception as exc:
            log.error("reload refused, keeping the running configuration: %s", exc)

    def _log_agent_config(self, cfg: Config) -> AgentConfig:
        """The ``logs:`` section's tailing part, read from the file for exact error lines."""
        if self.config_path and cfg.source_path:
            return logs_section_from_file(cfg.source_path)
        return logs_section_from_raw(cfg.sections.get("logs"))

    def runtime_info(self) -> dict[str, Any]:
        return {
            "startTime": _rfc3339(self.start_time),
            "CWD": os.getcwd(),
            "reloadConfigSuccess": self.last_reload_success,
            "lastConfigTime": _rfc3339(self.last_reload_time),
            "corruptionCount": 0,
            "goroutineCount": len(asyncio.all_tasks()),
            "GOMAXPROCS": os.cpu_count() or 1,
            "GOMEMLIMIT": 0,
            "GOGC": "",
            "GODEBUG": "",
            "storageRetention": _retention_text(self.config),
        }

    async def stop(self) -> None:
        self.ready = False
        if hasattr(self, "scrape_manager"):
            await self.scrape_manager.stop()
        if hasattr(self, "rule_manager"):
            await self.rule_manager.stop()
        if hasattr(self, "_embedded_am"):
            await self._embedded_am.stop()
        if self._runner is not None:
            await self._runner.cleanup()
        if hasattr(self, "auth"):
            self.auth.close()
        if hasattr(self, "remote_write"):
            await self.remote_write.stop()
        if hasattr(self, "log_agent"):
            await self.log_agent.stop()
        if hasattr(self, "log_forwarder"):
            await self.log_forwarder.stop()
        if hasattr(self, "log_store"):
            await asyncio.to_thread(self.log_store.close)
        if hasattr(self, "tsdb"):
            await asyncio.to_thread(self.tsdb.close)

    async def run_forever(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, self._stopped.set)
        loop.add_signal_handler(
            signal.SIGHUP, lambda: asyncio.ensure_future(self._reload_from_signal())
        )
        try:
            await self.start()
            await self._stopped.wait()
        finally:
            log.info("shutting down")
            await self.stop()


def _rfc3339(ts: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))


def _retention_text(cfg: Config) -> str:
    from tidewatch.duration import format_duration

    parts = []
    if cfg.storage.retention_time_ms:
        parts.append(format_duration(cfg.storage.retention_time_ms))
    if cfg.storage.retention_size_bytes:
        parts.append(f"{cfg.storage.retention_size_bytes}B")
    return " or ".join(parts)
