"""The built-in Alertmanager as the server runs it: where its ``alertmanager.yml``
comes from, its notifier, and the hand-off of alerts from the rules engine.

The config comes from ``--alertmanager.config.file``, else the ``alertmanager:``
section of tidewatch.yml (a path relative to that file, or the alertmanager.yml
contents inline), else the default (one receiver with no integrations, so alerts
can still be listed and silenced).
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable

import aiohttp
import yaml
from prometheus_client import Metric

from tidewatch.alertmanager.alert import Alert
from tidewatch.alertmanager.config import (
    AlertmanagerConfig,
    default_config,
    load_config,
    load_config_file,
)
from tidewatch.alertmanager.notify import ReceiverNotifier
from tidewatch.alertmanager.service import Alertmanager
from tidewatch.config.errors import ConfigError
from tidewatch.config.model import Config
from tidewatch.rules.notifier import NotifyAlert


def resolve_config(cfg: Config, flag_path: str = "") -> AlertmanagerConfig:
    """The alertmanager.yml in force for this tidewatch config (see module doc)."""
    if flag_path:
        return load_config_file(flag_path)
    section = cfg.sections.get("alertmanager")
    if section is None:
        return default_config()
    base = os.path.dirname(cfg.source_path) if cfg.source_path else ""
    if isinstance(section, str):
        path = section if os.path.isabs(section) or not base else os.path.join(base, section)
        return load_config_file(path)
    if isinstance(section, dict):
        where = f"{cfg.source_path or 'tidewatch.yml'} (alertmanager section)"
        am_cfg = load_config(yaml.safe_dump(section, sort_keys=False), where)
        am_cfg.templates = [
            t if os.path.isabs(t) or not base else os.path.join(base, t) for t in am_cfg.templates
        ]
        return am_cfg
    raise ConfigError(
        cfg.source_path or "tidewatch.yml",
        0,
        "alertmanager",
        "must be a path to an alertmanager.yml or its contents as a mapping",
    )


class EmbeddedAlertmanager:
    """Owns the HTTP session the notifiers share; start, reload and stop as one."""

    def __init__(self, am_config: AlertmanagerConfig, data_dir: str, external_url: str) -> None:
        self._am_config = am_config
        self._data_dir = data_dir
        self._external_url = external_url
        self._session: aiohttp.ClientSession | None = None

    async def start(self) -> Alertmanager:
        # No connection cap, as Go's default transport: a thousand groups flushing at once
        # must not queue behind 100 connections past their notify deadline.
        self._session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))
        self.notifier = ReceiverNotifier(
            self._am_config, self._session, external_url=self._external_url
        )
        self.service = Alertmanager(self.notifier, config=self._am_config, data_dir=self._data_dir)
        await self.service.start()
        return self.service

    async def reload(self, am_config: AlertmanagerConfig) -> None:
        # Templates first: a bad template file refuses the reload before routing changes.
        self.notifier.set_config(am_config)
        await self.service.reload(am_config)

    async def receive_from_rules(self, alerts: list[NotifyAlert]) -> None:
        now = int(time.time() * 1000)
        self.service.receive(
            [
                Alert(
                    a.labels,
                    dict(a.annotations),
                    a.starts_at,
                    a.ends_at,
                    a.generator_url,
                    updated_at=now,
                )
                for a in alerts
            ]
        )

    def self_metrics(self) -> Iterable[Metric]:
        return self.notifier.self_metrics()

    async def stop(self) -> None:
        await self.service.stop()
        if self._session is not None:
            await self._session.close()
