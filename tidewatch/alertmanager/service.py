"""One Alertmanager inside tidewatch: the configuration, the silences and the
notification log under ``<data dir>/alertmanager/``, and the dispatcher. The web
layer (API v2) and the rules engine talk to this object."""

from __future__ import annotations

from pathlib import Path

from tidewatch.alertmanager.alert import Alert, Clock, wall_clock_ms
from tidewatch.alertmanager.config import AlertmanagerConfig, default_config
from tidewatch.alertmanager.dispatch import Dispatcher, Notifier
from tidewatch.alertmanager.nflog import NotificationLog
from tidewatch.alertmanager.silence import Silences
from tidewatch.alertmanager.sqlite import db_path


class Alertmanager:
    def __init__(
        self,
        notifier: Notifier,
        *,
        config: AlertmanagerConfig | None = None,
        data_dir: str | Path | None = None,
        clock: Clock = wall_clock_ms,
    ) -> None:
        """``data_dir`` None keeps state in memory only (tests, ``--no-data``)."""
        path: str | Path = db_path(data_dir) if data_dir is not None else ":memory:"
        self.silences = Silences(path, clock=clock)
        self.nflog = NotificationLog(path)
        self.dispatcher = Dispatcher(
            config or default_config(),
            notifier,
            silences=self.silences,
            nflog=self.nflog,
            clock=clock,
        )

    @property
    def config(self) -> AlertmanagerConfig:
        return self.dispatcher.config

    async def start(self) -> None:
        await self.dispatcher.start()

    async def stop(self) -> None:
        await self.dispatcher.stop()
        self.silences.close()
        self.nflog.close()

    async def reload(self, config: AlertmanagerConfig) -> None:
        await self.dispatcher.reload(config)

    def receive(self, alerts: list[Alert]) -> None:
        """Alerts posted by Prometheus or a client (already validated by the API)."""
        self.dispatcher.receive(alerts)
