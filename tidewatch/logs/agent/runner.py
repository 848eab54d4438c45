"""The log agent: tails the configured files, runs each job's pipeline, hands batches
to a sink, and records positions once a batch was accepted.

One cycle reads every file (in a worker thread, so a large backlog never stalls the
event loop), pushes all resulting lines as one batch, then commits their offsets. An
offset never passes a line that was not accepted: a stop loses and repeats nothing, a
crash repeats at most what was sent since the last positions save (``sync_period``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from tidewatch.labels import Labels
from tidewatch.logs.agent.config import AgentConfig, AgentScrapeConfig
from tidewatch.logs.agent.positions import Positions
from tidewatch.logs.agent.sink import LogBatch, Sink, SinkError
from tidewatch.logs.agent.stages import Entry, Pipeline, PipelineStats, custom_metrics_of
from tidewatch.logs.agent.stages.extra import TENANT_LABEL
from tidewatch.logs.agent.stages.filters import LimitStage
from tidewatch.logs.agent.tailer import FileTailer, ReadResult
from tidewatch.logs.agent.targets import TargetResolver

log = logging.getLogger(__name__)

FILE_BUDGET = 1 << 20  # bytes read from one file per cycle
CYCLE_BUDGET = 8 << 20  # bytes read from all files per cycle


@dataclass
class _Job:
    cfg: AgentScrapeConfig
    resolver: TargetResolver
    pipeline: Pipeline
    tailers: dict[str, FileTailer] = field(default_factory=dict)


@dataclass
class _Commit:
    path: str
    offset: int | None  # None: forget the path (deleted)


@dataclass
class _Cycle:
    batch: LogBatch = field(default_factory=list)
    commits: list[_Commit] = field(default_factory=list)
    more: bool = False  # some file still has unread bytes


def _stream_labels(e: Entry) -> Labels:
    # Internal "__" labels go, except the tenant, which the sink turns into a header.
    return tuple(
        sorted(
            (k, v)
            for k, v in e.labels.items()
            if v and (not k.startswith("__") or k == TENANT_LABEL)
        )
    )


class LogAgent:
    """``LogAgent(config, sink)``; ``await start()``, ``await apply_config(cfg)``, ``await stop()``.

    ``data_dir`` gives the default positions file (``<data_dir>/positions.yaml``) when
    the config names none; with neither, positions live in memory only.
    """

    def __init__(
        self,
        config: AgentConfig,
        sink: Sink,
        *,
        data_dir: str | Path | None = None,
        sink_name: str = "local",
        batch_wait_ms: int = 0,
        batch_size: int = 1 << 20,
    ) -> None:
        self.config = config
        # Lines are held up to batch_wait_ms (or batch_size bytes) to send fewer, larger
        # requests to a remote Loki, as Promtail's batchwait/batchsize; 0 = every cycle.
        self.batch_wait_s = batch_wait_ms / 1000
        self.batch_size = batch_size
        self._pending = _Cycle()
        self._pending_bytes = 0
        self._pending_since = 0.0
        self.sink = sink
        self.data_dir = Path(data_dir) if data_dir is not None else None
        self.sink_name = sink_name
        self.positions = self._make_positions(config)
        self._jobs: list[_Job] = []
        self._task: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()
        self._stopping = False
        self._wake = asyncio.Event()
        self._in_flight = False  # a batch is being pushed and its offsets not yet saved
        self._last_sync = 0.0
        self._last_save = 0.0
        self._cycles = 0
        # Identity (inode, device) -> bytes read, of files renamed away while tailed.
        self._rotated: dict[tuple[int, int], int] = {}
        self._readline_limit: LimitStage | None = None
        self._limit_stats = PipelineStats()
        # Self metrics, by Promtail's names.
        self.read_bytes: Counter[str] = Counter()
        self.read_lines: Counter[str] = Counter()
        self.file_bytes: dict[str, int] = {}
        self.sent_entries = 0
        self.sent_bytes = 0
        self.dropped_entries: Counter[str] = Counter()
        self.batches_sent = 0

    # ------------------------------------------------------------------ lifecycle

    def _make_positions(self, cfg: AgentConfig) -> Positions:
        path: Path | None = Path(cfg.positions.filename) if cfg.positions.filename else None
        if path is None and self.data_dir is not None:
            path = self.data_dir / "positions.yaml"
        return Positions(path, cfg.positions.ignore_invalid_yaml)

    def _build_jobs(self, cfg: AgentConfig) -> list[_Job]:
        return [_Job(sc, TargetResolver(sc), sc.make_pipeline()) for sc in cfg.scrape_configs]

    async def start(self) -> None:
        self.positions.load()
        self._jobs = self._build_jobs(self.config)
        self._stopping = False
        self._wake.clear()
        await self.run_once()  # first files picked up before start() returns
        self._task = asyncio.create_task(self._loop(), name="log-agent")

    async def apply_config(self, config: AgentConfig) -> None:
        """Switch to ``config``: pending lines are delivered and positions kept, then
        the files are reopened under the new jobs."""
        async with self._lock:
            await self._drain_and_close()
            new_positions = self._make_positions(config)
            if new_positions.path != self.positions.path:
                new_positions.load()
                for path, off in self.positions.snapshot().items():
                    if not new_positions.has(path):
                        new_positions.put(path, off)
                self.positions = new_positions
            self.config = config
            self._jobs = self._build_jobs(config)
            self._last_sync = 0.0

    async def stop(self, timeout_s: float = 30.0) -> None:
        """Finish the cycle under way (up to ``timeout_s``: a remote that keeps failing
        is given up on), send what was written since, save positions."""
        self._stopping = True
        self._wake.set()
        if self._task is not None:
            try:
                await asyncio.wait_for(asyncio.shield(self._task), timeout_s)
            except TimeoutError:
                self._task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._task
            self._task = None
        async with self._lock:
            if self._in_flight:
                # A batch was abandoned mid-push: the saved offsets stay before it, so
                # the next run sends it again rather than losing it.
                self.positions.save(force=True)
                for job in self._jobs:
                    for t in job.tailers.values():
                        t.close()
            else:
                # Lines written just before the stop still go out with this run.
                await self._deliver(await asyncio.to_thread(self._read_cycle))
                await self._drain_and_close()
        await self.sink.close()

    async def _drain_and_close(self) -> None:
        """Deliver what the pipelines still hold (multiline blocks), save positions."""
        cycle = _Cycle()
        for job in self._jobs:
            self._add_entries(cycle, job.pipeline.flush(time.time_ns(), force=True))
        await self._deliver(cycle)
        for job in self._jobs:
            for t in job.tailers.values():
                t.close()
            job.tailers.clear()
        self.positions.save(force=True)

    async def _loop(self) -> None:
        while not self._stopping:
            try:
                more = await self.run_once()
            except Exception:
                log.exception("log agent cycle failed")
                more = False
            delay = self.backpressure_delay
            if self._stopping:
                break
            if delay > 0 or not more:
                # Sleep until the next poll, or until stop() wakes us.
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(
                        self._wake.wait(), delay if delay > 0 else self.config.poll_ms / 1000
                    )

    @property
    def backpressure_delay(self) -> float:
        """Back-pressure asked for by non-dropping ``limit`` stages."""
        delay = self._limit_stats.delay_s
        self._limit_stats.delay_s = 0.0
        for job in self._jobs:
            delay = max(delay, job.pipeline.stats.delay_s)
            job.pipeline.stats.delay_s = 0.0
        return delay

    # ------------------------------------------------------------------ one cycle

    async def run_once(self) -> bool:
        """One read-process-push-commit cycle; True when files have more to read."""
        if not self._jobs:
            return False  # no scrape_configs: nothing to do, not even a thread hop
        async with self._lock:
            now = time.monotonic()
            if now - self._last_sync >= self.config.target_sync_ms / 1000:
                self._last_sync = now
                await asyncio.to_thread(self._sync_targets)
            cycle = await asyncio.to_thread(self._read_cycle)
            await self._deliver(cycle, hold=True)
            if now - self._last_save >= self.config.positions.sync_period_ms / 1000:
                self._last_save = now
                await asyncio.to_thread(self.positions.save)
            return cycle.more

    def _sync_targets(self) -> None:
        """Open new files matching the globs; forget ones no longer matched."""
        for job in self._jobs:
            found = job.resolver.resolve()
            tailed = {t.ident for t in job.tailers.values() if t.is_open}
            for path, target in found.items():
                t = job.tailers.get(path)
                if t is not None and (t.is_open or not t.finished):
                    continue
                t = FileTailer(path, target.labels, self.positions.get(path), job.cfg.encoding)
                if t.open():
                    if t.ident in tailed:
                        # The file we tail under its old name, just renamed (app.log ->
                        # app.log.1): once its tailer sees the rename, it is taken over here.
                        t.close()
                        continue
                    done = self._rotated.pop(t.ident, None)
                    if done is not None and not self.positions.has(path):
                        # A rotated file that the glob also matches (app.log.1): it was
                        # read under its old name already; go on from there.
                        t.reposition(done)
                    job.tailers[path] = t
            for path in [p for p, t in job.tailers.items() if p not in found and not t.is_open]:
                del job.tailers[path]

    def _read_cycle(self) -> _Cycle:
        cycle = _Cycle()
        budget = CYCLE_BUDGET
        self._cycles += 1
        for job in self._jobs:
            order = list(job.tailers.items())
            if order:  # start at another file each cycle, so a busy one cannot starve the rest
                k = self._cycles % len(order)
                order = order[k:] + order[:k]
            for path, t in order:
                if budget <= 0:
                    cycle.more = True
                    break
                if not t.is_open:
                    continue
                res = t.poll(min(FILE_BUDGET, budget))
                budget -= res.nbytes
                self.file_bytes[path] = t.size
                if res.nbytes >= FILE_BUDGET // 2:
                    cycle.more = True
                self._add_read(cycle, job, t, res)
                if res.finished:
                    self._reopen_after(job, t, res, cycle)
            self._add_entries(cycle, job.pipeline.flush(time.time_ns()))
        self._apply_limits(cycle)
        return cycle

    def _apply_limits(self, cycle: _Cycle) -> None:
        """``limits_config``: line size, then the global read-line rate."""
        lim = self.config.limits
        if lim.max_line_size:
            cap = lim.max_line_size
            kept: LogBatch = []
            for item in cycle.batch:
                line = item[2]
                if len(line) > cap // 4 and len(line.encode()) > cap:  # cheap check first
                    if not lim.max_line_size_truncate:
                        self.dropped_entries["line_too_long"] += 1
                        continue
                    line = line.encode()[:cap].decode("utf-8", "ignore")
                    item = (item[0], item[1], line, item[3])
                kept.append(item)
            cycle.batch = kept
        if lim.readline_rate_enabled and cycle.batch:
            stage = self._readline_limit
            if stage is None or stage.rate != lim.readline_rate:
                stage = self._readline_limit = LimitStage(
                    lim.readline_rate,
                    lim.readline_burst,
                    lim.readline_rate_drop,
                    "",
                    1,
                    self._limit_stats,
                )
            n = stage.admit(len(cycle.batch))
            if n < len(cycle.batch):
                self.dropped_entries["rate_limited"] += len(cycle.batch) - n
                cycle.batch = cycle.batch[:n]

    def _reopen_after(self, job: _Job, t: FileTailer, res: ReadResult, cycle: _Cycle) -> None:
        if res.finished == "deleted":
            cycle.commits.append(_Commit(t.path, None))
            del job.tailers[t.path]
            self.file_bytes.pop(t.path, None)
            return
        # Rotated: the path names a new file now; it is read from its start.
        cycle.commits.append(_Commit(t.path, 0))
        if len(self._rotated) >= 1024:
            self._rotated.clear()
        self._rotated[t.ident] = t.offset
        nt = FileTailer(t.path, t.labels, 0, t.encoding)
        if nt.open():
            job.tailers[t.path] = nt
            cycle.more = True
        else:
            del job.tailers[t.path]

    def _add_read(self, cycle: _Cycle, job: _Job, t: FileTailer, res: ReadResult) -> None:
        if res.lines or res.truncated or res.nbytes:
            cycle.commits.append(_Commit(t.path, res.offset))
        if not res.lines:
            return
        self.read_bytes[t.path] += res.nbytes
        self.read_lines[t.path] += len(res.lines)
        n = len(res.lines)
        base = max(time.time_ns(), t.last_ts + 1)  # strictly increasing: equal lines stay distinct
        t.last_ts = base + n - 1
        if not job.pipeline.stages:
            lbls = tuple(sorted(t.labels.items()))
            cycle.batch.extend((lbls, base + i, line, ()) for i, line in enumerate(res.lines))
            return
        entries = [Entry(dict(t.labels), base + i, line) for i, line in enumerate(res.lines)]
        self._add_entries(cycle, job.pipeline.process(entries))

    @staticmethod
    def _add_entries(cycle: _Cycle, entries: list[Entry]) -> None:
        # Most lines of a batch share a few label sets: sort and filter each set once.
        cache: dict[tuple[tuple[str, str], ...], Labels] = {}
        append = cycle.batch.append
        for e in entries:
            key = tuple(e.labels.items())
            lbls = cache.get(key)
            if lbls is None:
                lbls = cache[key] = _stream_labels(e)
            md: Labels = tuple(sorted(e.metadata.items())) if e.metadata else ()
            append((lbls, e.ts, e.line, md))

    async def _deliver(self, cycle: _Cycle, hold: bool = False) -> None:
        """Push ``cycle`` (with whatever is held back) and commit its offsets; with
        ``hold``, keep it back instead while the batch is young and small."""
        p = self._pending
        if cycle.batch or cycle.commits:
            if not p.batch:
                self._pending_since = time.monotonic()
            p.batch.extend(cycle.batch)
            p.commits.extend(cycle.commits)
            self._pending_bytes += sum(len(it[2]) for it in cycle.batch)
        if (
            hold
            and p.batch
            and self._pending_bytes < self.batch_size
            and time.monotonic() - self._pending_since < self.batch_wait_s
        ):
            return
        self._pending, self._pending_bytes = _Cycle(), 0
        await self._push_and_commit(p)

    async def _push_and_commit(self, cycle: _Cycle) -> None:
        self._in_flight = True
        if cycle.batch:
            try:
                await self.sink.push(cycle.batch)
                self.sent_entries += len(cycle.batch)
                self.sent_bytes += sum(len(it[2]) for it in cycle.batch)
                self.batches_sent += 1
            except Exception as exc:
                # As Promtail: after its retries a batch is dropped, and reading goes on.
                log.error("dropping %d log lines: %s", len(cycle.batch), exc)
                status = exc.status if isinstance(exc, SinkError) else 0
                reason = "rate_limited" if status == 429 else "error"
                self.dropped_entries[reason] += len(cycle.batch)
        for c in cycle.commits:
            if c.offset is None:
                self.positions.remove(c.path)
            else:
                self.positions.put(c.path, c.offset)
        self._in_flight = False

    # ------------------------------------------------------------------ metrics

    # Metrics may be read from another thread while a cycle runs: iterate over copies
    # (list() of a dict view is taken while holding the GIL).

    def active_files(self) -> list[str]:
        return sorted(
            t.path for job in list(self._jobs) for t in list(job.tailers.values()) if t.is_open
        )

    def self_metrics(self) -> Iterable[Metric]:
        read = CounterMetricFamily("promtail_read_bytes", "Number of bytes read.", labels=["path"])
        lines = CounterMetricFamily("promtail_read_lines", "Number of lines read.", labels=["path"])
        for path, n in sorted(dict(self.read_bytes).items()):
            read.add_metric([path], n)
            lines.add_metric([path], self.read_lines[path])
        size = GaugeMetricFamily(
            "promtail_file_bytes_total", "Number of bytes total.", labels=["path"]
        )
        for path, n in sorted(dict(self.file_bytes).items()):
            size.add_metric([path], n)
        active = GaugeMetricFamily(
            "promtail_files_active_total", "Number of active files.", value=len(self.active_files())
        )
        targets = GaugeMetricFamily(
            "promtail_targets_active_total",
            "Number of active total.",
            value=sum(len(j.tailers) for j in list(self._jobs)),
        )
        sent = CounterMetricFamily(
            "promtail_sent_entries", "Number of log entries sent to the ingester.", labels=["host"]
        )
        sent.add_metric([self.sink_name], self.sent_entries)
        sent_bytes = CounterMetricFamily(
            "promtail_sent_bytes", "Number of bytes sent.", labels=["host"]
        )
        sent_bytes.add_metric([self.sink_name], self.sent_bytes)
        dropped = CounterMetricFamily(
            "promtail_dropped_entries",
            "Number of log entries dropped because failed to be sent to the ingester after all retries.",
            labels=["host", "reason"],
        )
        reasons_sent = {"error": 0, "rate_limited": 0, **dict(self.dropped_entries)}
        for reason, n in sorted(reasons_sent.items()):
            dropped.add_metric([self.sink_name, reason], n)
        stage_drops = CounterMetricFamily(
            "logentry_dropped_lines",
            "A count of all log lines dropped as a result of a pipeline stage",
            labels=["reason"],
        )
        reasons: Counter[str] = Counter()
        for job in list(self._jobs):
            reasons.update(dict(job.pipeline.stats.dropped))
        for reason, n in sorted(reasons.items()):
            stage_drops.add_metric([reason], n)
        custom: list[Metric] = []
        for job in list(self._jobs):
            custom.extend(custom_metrics_of(job.pipeline.stages))
        return [read, lines, size, active, targets, sent, sent_bytes, dropped, stage_drops, *custom]
