"""A scrape pool: one scrape config, its discoverers, and one loop per distinct target.

Targets are identified by the hash of their final labels and URL, so a discovery
update or a config reload that yields the same target keeps its loop, cache and
staleness state; a target that disappears gets its series marked stale.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time

import aiohttp

from tidewatch.config.model import ScrapeConfig
from tidewatch.ingest import scraper
from tidewatch.ingest.discovery import (
    Discoverer,
    Emit,
    FileDiscoverer,
    HTTPDiscoverer,
    StaticDiscoverer,
    TargetGroup,
)
from tidewatch.ingest.relabel import CompiledRelabel, compile_relabel
from tidewatch.ingest.scrape_loop import LoopStats, ScrapeLoop, ScrapeSettings
from tidewatch.ingest.target import Target, TargetError, populate
from tidewatch.tsdb.interface import Storage

log = logging.getLogger(__name__)


def _discoverers(cfg: ScrapeConfig, base_dir: str) -> dict[str, Discoverer]:
    out: dict[str, Discoverer] = {}
    if cfg.static_configs:
        out["static"] = StaticDiscoverer(cfg.static_configs)
    for i, fc in enumerate(cfg.file_sd_configs):
        out[f"file/{i}/{','.join(fc.files)}"] = FileDiscoverer(fc, base_dir)
    for i, hc in enumerate(cfg.http_sd_configs):
        http = hc.http
        out[f"http/{i}/{hc.url}"] = HTTPDiscoverer(hc, lambda http=http: scraper.make_session(http))  # type: ignore[misc]
    return out


class ScrapePool:
    def __init__(
        self,
        cfg: ScrapeConfig,
        storage: Storage,
        *,
        base_dir: str = "",
        offset_seed: int = 0,
        stats: LoopStats | None = None,
    ) -> None:
        self.name = cfg.job_name
        self.storage = storage
        self.base_dir = base_dir
        self.offset_seed = offset_seed
        self.stats = stats if stats is not None else LoopStats()
        self.cfg = cfg
        self.settings = ScrapeSettings.from_config(cfg)
        self.rules: list[CompiledRelabel] = compile_relabel(cfg.relabel_configs)
        self.session: aiohttp.ClientSession | None = None
        self.loops: dict[int, ScrapeLoop] = {}
        self.dropped: list[dict[str, str]] = []
        self.discovered_count = 0
        self._groups: dict[str, list[TargetGroup]] = {}
        self._discoverers: dict[str, Discoverer] = {}
        self._sd_tasks: list[asyncio.Task[None]] = []
        self._dying: set[asyncio.Task[None]] = set()

    # --- lifecycle -------------------------------------------------------------------

    def start(self) -> None:
        self.session = scraper.make_session(self.cfg.http)
        self._start_discovery()

    async def reload(self, cfg: ScrapeConfig) -> None:
        """Apply a changed scrape config; targets that stay the same keep their loops."""
        if cfg == self.cfg:
            return
        old_http = self.cfg.http
        self.cfg = cfg
        self.settings = ScrapeSettings.from_config(cfg)
        self.rules = compile_relabel(cfg.relabel_configs)
        await self._stop_discovery()
        if cfg.http != old_http:
            old_session = self.session
            self.session = scraper.make_session(cfg.http)
            for loop in self.loops.values():
                loop.session = self.session
            if old_session is not None:
                await old_session.close()
        for loop in self.loops.values():
            loop.update_settings(self.settings)
        self._start_discovery()

    async def stop(self, mark_stale: bool = True) -> None:
        await self._stop_discovery()
        loops = list(self.loops.values())
        self.loops = {}
        for loop in loops:
            await loop.stop(mark_stale=mark_stale)
        await self._reap()
        if self.session is not None:
            await self.session.close()
            self.session = None

    def _start_discovery(self) -> None:
        self._discoverers = _discoverers(self.cfg, self.base_dir)
        # Keep the last groups of discoverers that still exist, so a reload does not
        # briefly see zero targets and churn every loop.
        self._groups = {k: v for k, v in self._groups.items() if k in self._discoverers}
        for key, d in self._discoverers.items():
            if isinstance(d, StaticDiscoverer):
                self._groups[key] = d.groups
            elif isinstance(d, FileDiscoverer):
                self._groups[key] = d.load()
        self.sync()
        for key, d in self._discoverers.items():
            self._sd_tasks.append(
                asyncio.create_task(d.run(self._emitter(key)), name=f"sd {self.name} {key}")
            )

    async def _stop_discovery(self) -> None:
        tasks, self._sd_tasks = self._sd_tasks, []
        for t in tasks:
            t.cancel()
        for t in tasks:
            try:
                await t
            except asyncio.CancelledError:
                pass
            except Exception:
                log.exception("discovery task of %s failed", self.name)

    def _emitter(self, key: str) -> Emit:
        def emit(groups: list[TargetGroup]) -> None:
            if self._groups.get(key) != groups:
                self._groups[key] = groups
                self.sync()

        return emit

    async def _reap(self) -> None:
        dying, self._dying = self._dying, set()
        for t in dying:
            with contextlib.suppress(asyncio.CancelledError):
                await t

    # --- targets ---------------------------------------------------------------------

    def compute_targets(self) -> tuple[dict[int, Target], list[dict[str, str]], int]:
        targets: dict[int, Target] = {}
        dropped: list[dict[str, str]] = []
        count = 0
        for key in sorted(self._groups):
            for group in self._groups[key]:
                for tlabels in group.targets:
                    count += 1
                    lb = dict(group.labels)
                    lb.update(tlabels)
                    try:
                        target, disc = populate(lb, self.cfg, self.rules)
                    except TargetError as exc:
                        log.warning("scrape pool %s: dropping target %s: %s", self.name, lb, exc)
                        continue
                    if target is None:
                        dropped.append(disc)
                    else:
                        targets.setdefault(target.hash, target)
        return targets, dropped, count

    def sync(self) -> None:
        """Reconcile running loops with the current discovered targets."""
        targets, dropped, count = self.compute_targets()
        self.dropped = dropped
        self.discovered_count = count
        for h in list(self.loops):
            if h not in targets:
                self._retire(self.loops.pop(h))
        for h, target in targets.items():
            existing = self.loops.get(h)
            if existing is None:
                assert self.session is not None, "pool not started"
                loop = ScrapeLoop(
                    target, self.settings, self.storage, self.session, self.stats, self.offset_seed
                )
                self.loops[h] = loop
                loop.start()
            elif (existing.target.interval_ms, existing.target.timeout_ms) != (
                target.interval_ms,
                target.timeout_ms,
            ):
                existing.target = target
                self._restart(existing)
            else:
                existing.target = target
        limit = self.cfg.target_limit
        error = ""
        if limit and len(targets) > limit:
            error = f"target_limit exceeded (number of targets: {len(targets)}, limit: {limit})"
        for loop in self.loops.values():
            loop.forced_error = error

    def _cancel(self, loop: ScrapeLoop) -> None:
        task = loop.detach_task()
        if task is not None:
            task.cancel()
            self._dying.add(task)
            task.add_done_callback(self._dying.discard)

    def _retire(self, loop: ScrapeLoop) -> None:
        self._cancel(loop)
        loop.write_end_staleness(_now_ms())

    def _restart(self, loop: ScrapeLoop) -> None:
        self._cancel(loop)
        loop.start()

    def health_counts(self) -> int:
        return len(self.loops)


def _now_ms() -> int:
    return int(time.time() * 1000)


def base_dir_of(source_path: str) -> str:
    return os.path.dirname(os.path.abspath(source_path)) if source_path else ""
