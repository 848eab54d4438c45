"""One target's scrape loop: schedule, fetch, parse, relabel, append, staleness, report.

Per-sample cost is kept to a dict lookup: ``cache`` maps the raw series text of the
exposition to the final labels and the storage ref, so labels are parsed, merged with
the target labels and metric-relabeled once per new series, not once per scrape.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from dataclasses import dataclass, field

import aiohttp
import numpy as np

from tidewatch.config.model import HTTPClientConfig, RelabelConfig, ScrapeConfig
from tidewatch.ingest import scraper
from tidewatch.ingest.exposition import (
    ExpositionError,
    ParsedExposition,
    parse_exposition,
    parse_series,
)
from tidewatch.ingest.layout import Layout, build_layout
from tidewatch.ingest.relabel import CompiledRelabel, compile_relabel, relabel
from tidewatch.ingest.target import Target
from tidewatch.labels import METRIC_NAME, Labels, from_dict
from tidewatch.tsdb.interface import Appender, Exemplar, MetricMetadata, Storage, StorageError
from tidewatch.value import STALE_NAN

log = logging.getLogger(__name__)

REPORT_NAMES = (
    "up",
    "scrape_duration_seconds",
    "scrape_samples_scraped",
    "scrape_samples_post_metric_relabeling",
    "scrape_series_added",
)
# A scrape that starts within this of its scheduled time is stamped with the scheduled
# time, so timestamps stay regular (better compression, cleaner rate()).
_TIMESTAMP_TOLERANCE_MS = 25


class _Entry:
    """A cached series: final labels and storage ref."""

    __slots__ = ("labels", "ref")

    def __init__(self, labels: Labels) -> None:
        self.labels = labels
        self.ref = 0


_DROPPED = _Entry(())  # relabeling dropped this series text


class ScrapeFailed(Exception):
    pass


@dataclass
class ScrapeSettings:
    """What a loop needs from its ScrapeConfig, precompiled."""

    honor_labels: bool
    honor_timestamps: bool
    track_timestamps_staleness: bool
    sample_limit: int
    label_limit: int
    label_name_length_limit: int
    label_value_length_limit: int
    body_size_limit: int
    enable_compression: bool
    accept: str
    http: HTTPClientConfig
    metric_relabel: list[CompiledRelabel] = field(default_factory=list)
    metric_relabel_configs: list[RelabelConfig] = field(default_factory=list)

    def cache_key(self) -> tuple[object, ...]:
        """What cached series labels depend on; a change invalidates the series cache."""
        return (
            self.metric_relabel_configs,
            self.honor_labels,
            self.label_limit,
            self.label_name_length_limit,
            self.label_value_length_limit,
        )

    @classmethod
    def from_config(cls, cfg: ScrapeConfig) -> ScrapeSettings:
        return cls(
            honor_labels=cfg.honor_labels,
            honor_timestamps=cfg.honor_timestamps,
            track_timestamps_staleness=cfg.track_timestamps_staleness,
            sample_limit=cfg.sample_limit,
            label_limit=cfg.label_limit,
            label_name_length_limit=cfg.label_name_length_limit,
            label_value_length_limit=cfg.label_value_length_limit,
            body_size_limit=cfg.body_size_limit,
            enable_compression=cfg.enable_compression,
            accept=scraper.accept_header(cfg.scrape_protocols),
            http=cfg.http,
            metric_relabel=compile_relabel(cfg.metric_relabel_configs),
            metric_relabel_configs=list(cfg.metric_relabel_configs),
        )


@dataclass
class LoopStats:
    """Shared counters a pool exposes as self metrics."""

    exceeded_sample_limit: int = 0
    exceeded_body_size_limit: int = 0
    intervals: dict[int, deque[float]] = field(default_factory=dict)  # interval ms -> seconds

    def observe_interval(self, interval_ms: int, seconds: float) -> None:
        d = self.intervals.get(interval_ms)
        if d is None:
            d = self.intervals[interval_ms] = deque(maxlen=1024)
        d.append(seconds)


@dataclass
class ScrapeResult:
    scraped: int = 0
    added: int = 0
    series_added: int = 0


def _merge_target_labels(scraped: dict[str, str], target: Labels, honor: bool) -> dict[str, str]:
    """Attach target labels; on conflict keep scraped values (honor) or rename them ``exported_``."""
    if honor:
        for name, value in target:
            if not scraped.get(name):
                scraped[name] = value
        return scraped
    conflicts: list[tuple[str, str]] = []
    for name, value in target:
        existing = scraped.get(name, "")
        if existing:
            conflicts.append((name, existing))
        scraped[name] = value
    for name, value in conflicts:
        new = "exported_" + name
        while scraped.get(new):
            new = "exported_" + new
        scraped[new] = value
    return scraped


class ScrapeLoop:
    def __init__(
        self,
        target: Target,
        settings: ScrapeSettings,
        storage: Storage,
        session: aiohttp.ClientSession,
        stats: LoopStats,
        offset_seed: int = 0,
    ) -> None:
        self.target = target
        self.settings = settings
        self.storage = storage
        self.session = session
        self.stats = stats
        self.offset_seed = offset_seed
        self.cache: dict[bytes, _Entry] = {}
        self.prev_seen: dict[bytes, _Entry] = {}
        self.report_refs: dict[str, int] = {}
        self.metadata: dict[str, MetricMetadata] = {}
        self.health = "unknown"
        # Set by the pool (e.g. target_limit exceeded): scrapes fail with this error.
        self.forced_error = ""
        self.last_error = ""
        self.last_scrape_ns = 0
        self.last_duration_s = 0.0
        self.last_start_s = 0.0
        self._task: asyncio.Task[None] | None = None
        # Same lines as the last scrape: values parsed and appended as whole arrays.
        self._layout: Layout | None = None
        self._report_labels = {
            n: from_dict({**dict(target.labels), METRIC_NAME: n}) for n in REPORT_NAMES
        }

    # --- lifecycle -------------------------------------------------------------------

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name=f"scrape {self.target.url}")

    def detach_task(self) -> asyncio.Task[None] | None:
        task, self._task = self._task, None
        return task

    def update_settings(self, settings: ScrapeSettings) -> None:
        """New config for the same target: keep state; drop the cache, whose labels depend on it."""
        if settings.cache_key() != self.settings.cache_key():
            self.cache.clear()
        self.settings = settings
        self._layout = None

    async def stop(self, mark_stale: bool = True) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if mark_stale:
            self.write_end_staleness(int(time.time() * 1000))

    def write_end_staleness(self, ts_ms: int) -> None:
        """The target is gone: mark every series it produced, report series included, stale."""
        app = self.storage.appender()
        try:
            for e in self.prev_seen.values():
                self._append_safe(app, e, ts_ms, STALE_NAN)
            for name, ref in self.report_refs.items():
                with contextlib.suppress(StorageError):
                    app.append(ref, self._report_labels[name], ts_ms, STALE_NAN)
            app.commit()
        except Exception:
            app.rollback()
            raise
        self.prev_seen = {}
        self._layout = None

    async def _run(self) -> None:
        interval_s = self.target.interval_ms / 1000.0
        await asyncio.sleep(self.target.offset_s(self.offset_seed))
        scheduled = time.time()
        while True:
            start = time.time()
            ts_ms = int(start * 1000)
            sched_ms = int(scheduled * 1000)
            if abs(ts_ms - sched_ms) <= _TIMESTAMP_TOLERANCE_MS:
                ts_ms = sched_ms
            if self.last_start_s:
                self.stats.observe_interval(self.target.interval_ms, start - self.last_start_s)
            self.last_start_s = start
            try:
                await self.scrape_once(ts_ms)
            except Exception:  # a bug must not kill the loop; it shows on the targets page
                log.exception("scrape of %s failed unexpectedly", self.target.url)
            scheduled += interval_s
            now = time.time()
            while scheduled < now:
                scheduled += interval_s
            await asyncio.sleep(scheduled - now)

    # --- one scrape ------------------------------------------------------------------

    async def scrape_once(self, ts_ms: int | None = None) -> None:
        if ts_ms is None:
            ts_ms = int(time.time() * 1000)
        t0 = time.perf_counter()
        self.last_scrape_ns = time.time_ns()
        s = self.settings
        err = ""
        result = ScrapeResult()
        # Samples and the report series go to storage in one commit.
        app = self.storage.appender()
        try:
            if self.forced_error:
                raise ScrapeFailed(self.forced_error)
            fetched = await scraper.fetch(
                self.session,
                self.target.url,
                http=s.http,
                timeout_s=self.target.timeout_ms / 1000.0,
                accept=s.accept,
                body_size_limit=s.body_size_limit,
                enable_compression=s.enable_compression,
            )
            result = self.ingest(
                fetched.body, scraper.is_openmetrics(fetched.content_type), ts_ms, app
            )
        except scraper.ScrapeError as exc:
            err = str(exc)
            if err.startswith("body size limit exceeded"):
                self.stats.exceeded_body_size_limit += 1
        except (ExpositionError, ScrapeFailed) as exc:
            err = str(exc)
        duration = time.perf_counter() - t0
        if err:
            self.mark_all_stale(ts_ms)
        self.report(ts_ms, duration, result, err, app)

    def mark_all_stale(self, ts_ms: int) -> None:
        """A failed scrape: every series of the previous scrape ends here."""
        if not self.prev_seen:
            return
        app = self.storage.appender()
        for e in self.prev_seen.values():
            self._append_safe(app, e, ts_ms, STALE_NAN)
        app.commit()
        self.prev_seen = {}
        self._layout = None

    def report(
        self,
        ts_ms: int,
        duration_s: float,
        r: ScrapeResult,
        err: str,
        app: Appender | None = None,
    ) -> None:
        """Append the report series and commit (``app`` may hold the scrape's samples)."""
        self.last_duration_s = duration_s
        self.last_error = err
        self.health = "down" if err else "up"
        values = (
            0.0 if err else 1.0,
            duration_s,
            float(r.scraped),
            float(r.added),
            float(r.series_added),
        )
        if app is None:
            app = self.storage.appender()
        refs = self.report_refs
        for name, v in zip(REPORT_NAMES, values, strict=True):
            with contextlib.suppress(StorageError):
                refs[name] = app.append(refs.get(name, 0), self._report_labels[name], ts_ms, v)
        app.commit()

    @staticmethod
    def _append_safe(app: Appender, e: _Entry, ts: int, v: float) -> None:
        with contextlib.suppress(StorageError):
            e.ref = app.append(e.ref, e.labels, ts, v)

    def _new_entry(self, key: bytes, parsed: ParsedExposition) -> _Entry:
        """First sight of a series text: parse, attach target labels, relabel, check limits."""
        try:
            scraped = parse_series(key, parsed.openmetrics)
        except (ValueError, UnicodeDecodeError) as exc:
            raise parsed.error_for_key(key, str(exc)) from None
        s = self.settings
        lb = _merge_target_labels(scraped, self.target.labels, s.honor_labels)
        if s.metric_relabel:
            res = relabel(lb, s.metric_relabel)
            if res is None or not res.get(METRIC_NAME):
                return _DROPPED
            lb = res
        elif "" in lb.values():
            lb = {k: v for k, v in lb.items() if v != ""}
        # Names need no re-check: the parser and target building validated them, and
        # UTF-8 names (quoted in the exposition) are allowed, as in Prometheus 3.
        if s.label_limit or s.label_name_length_limit or s.label_value_length_limit:
            self._check_label_limits(lb)
        return _Entry(tuple(sorted(lb.items())))

    def _check_label_limits(self, lb: dict[str, str]) -> None:
        s = self.settings
        name = lb.get(METRIC_NAME, "")
        if s.label_limit and len(lb) > s.label_limit:
            raise ScrapeFailed(
                f"label_limit exceeded (metric: {name}, number of labels: {len(lb)}, limit: {s.label_limit})"
            )
        for k, v in lb.items():
            if s.label_name_length_limit and len(k) > s.label_name_length_limit:
                raise ScrapeFailed(
                    f"label_name_length_limit exceeded (metric: {name}, label name: {k}, "
                    f"length: {len(k)}, limit: {s.label_name_length_limit})"
                )
            if s.label_value_length_limit and len(v) > s.label_value_length_limit:
                raise ScrapeFailed(
                    f"label_value_length_limit exceeded (metric: {name}, label name: {k}, value: "
                    f'"{v}", length: {len(v)}, limit: {s.label_value_length_limit})'
                )

    def ingest(
        self, body: bytes, openmetrics: bool, ts_ms: int, app: Appender | None = None
    ) -> ScrapeResult:
        """Parse and append one exposition. Raises on a failed scrape (nothing committed).

        With ``app`` the samples are left in it for the caller to commit.
        """
        layout = self._layout
        if layout is not None:
            vals = layout.values(body, openmetrics)
            if vals is not None:
                with contextlib.suppress(StorageError):  # the full path skips just that sample
                    return self._ingest_same_layout(layout, vals, ts_ms, app)
            self._layout = None
        cache = self.cache
        parsed = parse_exposition(body, openmetrics, cache)
        s = self.settings
        get = cache.get
        honor_ts = s.honor_timestamps
        track_explicit = s.track_timestamps_staleness
        seen: dict[bytes, _Entry] = {}
        added = 0
        series_added = 0
        own_app = app is None
        if app is None:
            app = self.storage.appender()
        append = app.append
        try:
            for key, v, t in zip(parsed.keys, parsed.values, parsed.timestamps, strict=True):
                e = get(key)
                if e is None:
                    e = cache[key] = self._new_entry(key, parsed)
                    if e is not _DROPPED:
                        series_added += 1
                if e is _DROPPED:
                    continue
                if t is None:
                    t = ts_ms
                    seen[key] = e
                else:
                    if not honor_ts:
                        t = ts_ms
                    if track_explicit or not honor_ts:
                        seen[key] = e
                try:  # noqa: SIM105 - plain try is cheaper than a context manager per sample
                    e.ref = append(e.ref, e.labels, t, v)
                except StorageError:
                    pass
                added += 1
            if s.sample_limit and added > s.sample_limit:
                self.stats.exceeded_sample_limit += 1
                raise ScrapeFailed("sample limit exceeded")
            self._append_exemplars(app, parsed, ts_ms)
            self._update_metadata(app, parsed.metadata)
            # Series of the previous scrape missing from this one get a staleness marker.
            for key in self.prev_seen.keys() - seen.keys():
                self._append_safe(app, self.prev_seen[key], ts_ms, STALE_NAN)
        except BaseException:
            app.rollback()
            raise
        if own_app:
            app.commit()
        self.prev_seen = seen
        if len(cache) > 2 * len(parsed.keys) + 1000:
            # Forget series texts that no longer appear (Prometheus evicts after a scrape or two).
            keep = set(parsed.keys)
            self.cache = {k: v for k, v in cache.items() if k in keep}
        if not parsed.exemplars and len(seen) == added:
            self._layout = self._make_layout(parsed)
        return ScrapeResult(scraped=len(parsed.keys), added=added, series_added=series_added)

    def _make_layout(self, parsed: ParsedExposition) -> Layout | None:
        """Layout of a scrape that was just ingested without explicit timestamps."""
        if parsed.timestamps.count(None) != len(parsed.timestamps):
            return None
        entries = [self.cache[k] for k in parsed.keys]
        kept = [e is not _DROPPED for e in entries]
        live = [e for e in entries if e is not _DROPPED]
        return build_layout(
            parsed.body,
            parsed.openmetrics,
            parsed.keys,
            kept,
            [e.ref for e in live],
            [e.labels for e in live],
        )

    def _ingest_same_layout(
        self, layout: Layout, vals: np.ndarray, ts_ms: int, app: Appender | None
    ) -> ScrapeResult:
        """A scrape with the last scrape's lines: the same series, so no staleness,
        limits or metadata to check again; one batch to the storage."""
        refs = layout.refs
        own_app = app is None
        if app is None:
            app = self.storage.appender()
        append_batch = getattr(app, "append_batch", None)
        try:
            if append_batch is not None:
                append_batch(refs, layout.labels, np.full(len(refs), ts_ms, np.int64), vals)
            else:  # an appender without the batch call (a wrapper): one call per sample
                append = app.append
                layout.refs = np.array(
                    [
                        append(r, lb, ts_ms, v)
                        for r, lb, v in zip(
                            refs.tolist(), layout.labels, vals.tolist(), strict=True
                        )
                    ],
                    np.int64,
                )
        except BaseException:
            app.rollback()
            raise
        if own_app:
            app.commit()
        return ScrapeResult(scraped=layout.n_samples, added=len(refs))

    def _append_exemplars(self, app: Appender, parsed: ParsedExposition, ts_ms: int) -> None:
        for idx, ex in parsed.exemplars.items():
            e = self.cache.get(parsed.keys[idx])
            if e is None or e is _DROPPED:
                continue
            if ex.ts == 0:
                ex = Exemplar(labels=ex.labels, value=ex.value, ts=ts_ms)
            with contextlib.suppress(StorageError):
                app.append_exemplar(e.ref, e.labels, ex)

    def _update_metadata(self, app: Appender, meta: dict[str, MetricMetadata]) -> None:
        if meta == self.metadata:
            return
        for family, m in meta.items():
            if self.metadata.get(family) != m:
                app.update_metadata(family, m)
        self.metadata = meta
