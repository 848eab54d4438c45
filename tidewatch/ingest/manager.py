"""The scrape manager: one scrape pool per job, reconciled on every config (re)load,
plus the data behind ``/api/v1/targets``, ``/api/v1/targets/metadata`` and self metrics.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
from collections.abc import Iterable
from typing import Any

import numpy as np
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from tidewatch.config.model import Config
from tidewatch.duration import format_duration
from tidewatch.ingest.pool import ScrapePool, base_dir_of
from tidewatch.ingest.relabel import RelabelConfigError, compile_relabel
from tidewatch.ingest.scrape_loop import LoopStats, ScrapeLoop
from tidewatch.matcher import Matcher, matches_all
from tidewatch.tsdb.interface import Storage

_QUANTILES = (0.01, 0.05, 0.5, 0.9, 0.99)


def format_rfc3339_ns(time_ns: int) -> str:
    """Go's RFC3339Nano in UTC (trailing zeros trimmed); the zero time before any scrape."""
    if time_ns == 0:
        return "0001-01-01T00:00:00Z"
    secs, ns = divmod(time_ns, 1_000_000_000)
    base = dt.datetime.fromtimestamp(secs, tz=dt.UTC).strftime("%Y-%m-%dT%H:%M:%S")
    frac = f"{ns:09d}".rstrip("0")
    return f"{base}.{frac}Z" if frac else f"{base}Z"


def _seed(external_labels: dict[str, str]) -> int:
    h = hashlib.blake2b(digest_size=8)
    for k, v in sorted(external_labels.items()):
        h.update(f"{k}\xff{v}\xff".encode())
    return int.from_bytes(h.digest(), "big")


class ScrapeManager:
    def __init__(self, storage: Storage, *, external_labels: dict[str, str] | None = None) -> None:
        self.storage = storage
        self.external_labels = dict(external_labels or {})
        self.pools: dict[str, ScrapePool] = {}
        self.stats = LoopStats()
        self._lock = asyncio.Lock()  # reloads and stop must not interleave

    async def apply_config(self, cfg: Config) -> None:
        """Start, stop or update scrape pools to match ``cfg``."""
        # Validate every job before touching anything: a bad config changes nothing.
        for sc in cfg.prometheus.scrape_configs:
            try:
                compile_relabel(sc.relabel_configs)
                compile_relabel(sc.metric_relabel_configs)
            except RelabelConfigError as exc:
                raise RelabelConfigError(f"scrape job {sc.job_name!r}: {exc}") from None
        async with self._lock:
            base_dir = base_dir_of(cfg.source_path)
            wanted = {sc.job_name: sc for sc in cfg.prometheus.scrape_configs}
            for name in [n for n in self.pools if n not in wanted]:
                await self.pools.pop(name).stop(mark_stale=True)
            seed = _seed(self.external_labels or cfg.prometheus.global_.external_labels)
            for name, sc in wanted.items():
                pool = self.pools.get(name)
                if pool is None:
                    pool = ScrapePool(
                        sc, self.storage, base_dir=base_dir, offset_seed=seed, stats=self.stats
                    )
                    self.pools[name] = pool
                    pool.start()
                else:
                    pool.base_dir = base_dir
                    await pool.reload(sc)

    async def stop(self) -> None:
        """Stop every loop and mark all series of all targets stale."""
        async with self._lock:
            pools, self.pools = list(self.pools.values()), {}
            for pool in pools:
                await pool.stop(mark_stale=True)

    def scrape_pools(self) -> list[str]:
        return sorted(self.pools)

    def _loops(self, scrape_pool: str = "") -> Iterable[tuple[str, ScrapeLoop]]:
        for name in sorted(self.pools):
            if scrape_pool and name != scrape_pool:
                continue
            for loop in sorted(self.pools[name].loops.values(), key=lambda lp: lp.target.labels):
                yield name, loop

    def targets_api(self, state: str = "any", scrape_pool: str = "") -> dict[str, Any]:
        """The ``data`` object of Prometheus's ``/api/v1/targets``."""
        state = state.lower() or "any"
        active: list[dict[str, Any]] = []
        dropped: list[dict[str, Any]] = []
        if state in ("any", "active"):
            for name, loop in self._loops(scrape_pool):
                t = loop.target
                active.append(
                    {
                        "discoveredLabels": dict(sorted(t.discovered.items())),
                        "labels": dict(t.labels),
                        "scrapePool": name,
                        "scrapeUrl": t.url,
                        "globalUrl": t.url,
                        "lastError": loop.last_error,
                        "lastScrape": format_rfc3339_ns(loop.last_scrape_ns),
                        "lastScrapeDuration": loop.last_duration_s,
                        "health": loop.health,
                        "scrapeInterval": format_duration(t.interval_ms),
                        "scrapeTimeout": format_duration(t.timeout_ms),
                    }
                )
        if state in ("any", "dropped"):
            for name in sorted(self.pools):
                if scrape_pool and name != scrape_pool:
                    continue
                for disc in self.pools[name].dropped:
                    dropped.append(
                        {"discoveredLabels": dict(sorted(disc.items())), "scrapePool": name}
                    )
        counts = {
            name: len(pool.dropped)
            for name, pool in sorted(self.pools.items())
            if not scrape_pool or name == scrape_pool
        }
        return {"activeTargets": active, "droppedTargets": dropped, "droppedTargetCounts": counts}

    def targets_metadata(
        self, match_target: list[Matcher] | None, metric: str, limit: int
    ) -> list[dict[str, Any]]:
        """Entries of ``/api/v1/targets/metadata``; ``limit`` <= 0 means no limit."""
        out: list[dict[str, Any]] = []
        for _, loop in self._loops():
            if match_target and not matches_all(match_target, loop.target.labels):
                continue
            items = (
                ([(metric, loop.metadata[metric])] if metric and metric in loop.metadata else [])
                if metric
                else sorted(loop.metadata.items())
            )
            for family, meta in items:
                if 0 < limit <= len(out):
                    return out
                out.append(
                    {
                        "target": dict(loop.target.labels),
                        "metric": family,
                        "type": meta.type,
                        "help": meta.help,
                        "unit": meta.unit,
                    }
                )
        return out

    def self_metrics(self) -> Iterable[Metric]:
        """Families for tidewatch's own ``/metrics`` (not registered globally)."""
        summary = Metric(
            "prometheus_target_interval_length_seconds",
            "Actual intervals between scrapes.",
            "summary",
        )
        for interval_ms, window in sorted(self.stats.intervals.items()):
            if not window:
                continue
            arr = np.fromiter(window, dtype=np.float64, count=len(window))
            label = format_duration(interval_ms)
            for q in _QUANTILES:
                summary.add_sample(
                    summary.name,
                    {"interval": label, "quantile": str(q)},
                    float(np.quantile(arr, q)),
                )
            summary.add_sample(summary.name + "_sum", {"interval": label}, float(arr.sum()))
            summary.add_sample(summary.name + "_count", {"interval": label}, float(len(arr)))
        yield summary
        yield CounterMetricFamily(
            "prometheus_target_scrapes_exceeded_sample_limit",
            "Total number of scrapes that hit the sample limit and were rejected.",
            value=self.stats.exceeded_sample_limit,
        )
        yield CounterMetricFamily(
            "prometheus_target_scrapes_exceeded_body_size_limit",
            "Total number of scrapes that hit the body size limit.",
            value=self.stats.exceeded_body_size_limit,
        )
        discovered = GaugeMetricFamily(
            "prometheus_sd_discovered_targets",
            "Current number of discovered targets.",
            labels=["config", "name"],
        )
        pool_targets = GaugeMetricFamily(
            "prometheus_target_scrape_pool_targets",
            "Current number of targets in this scrape pool.",
            labels=["scrape_job"],
        )
        for name, pool in sorted(self.pools.items()):
            discovered.add_metric([name, "scrape"], pool.discovered_count)
            pool_targets.add_metric([name], len(pool.loops))
        yield discovered
        yield pool_targets
        yield GaugeMetricFamily(
            "prometheus_target_scrape_pools",
            "Current number of scrape pools.",
            value=len(self.pools),
        )
