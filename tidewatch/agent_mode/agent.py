"""``MetricsAgent``: scrape manager + series-only storage + remote write queues."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from prometheus_client.core import GaugeMetricFamily, Metric

from tidewatch.agent_mode.storage import SeriesOnlyStorage
from tidewatch.config.model import Config
from tidewatch.ingest.manager import ScrapeManager
from tidewatch.remote.send.config import decode_configs
from tidewatch.remote.send.manager import RemoteWriteManager, TeeStorage


class MetricsAgent:
    """Scrapes the configured targets and forwards every sample to ``remote_write``.

    The queues' logs under ``<data_dir>/remote_write/`` are the only thing on disk;
    a restart resumes sending from them.
    """

    def __init__(self, cfg: Config, data_dir: str | Path) -> None:
        self.cfg = cfg
        self.data_dir = Path(data_dir)
        self.series = SeriesOnlyStorage()
        ext = cfg.prometheus.global_.external_labels
        self.remote = RemoteWriteManager(cfg.prometheus.remote_write, ext, self.data_dir)
        self.storage = TeeStorage(self.series, self.remote)
        self.scrape = ScrapeManager(self.storage)

    async def start(self) -> None:
        await self.remote.start()
        await self.scrape.apply_config(self.cfg)

    async def apply_config(self, cfg: Config) -> None:
        """Reload; an invalid remote_write section raises before anything changes."""
        decode_configs(cfg.prometheus.remote_write)
        await self.remote.apply_config(
            cfg.prometheus.remote_write, cfg.prometheus.global_.external_labels
        )
        await self.scrape.apply_config(cfg)
        self.cfg = cfg

    async def stop(self, flush_timeout: float = 5.0) -> None:
        # Scrapes stop first: their staleness markers still go out with the final flush.
        await self.scrape.stop()
        await self.remote.stop(flush_timeout)

    def self_metrics(self) -> Iterable[Metric]:
        yield from self.scrape.self_metrics()
        yield from self.remote.self_metrics()
        yield GaugeMetricFamily(
            "prometheus_agent_active_series",
            "Number of active series being tracked by the WAL storage",
            value=self.series.num_series,
        )
