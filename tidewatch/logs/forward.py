"""Forwarding of every stored log line to remote Loki-compatible URLs.

In server mode, ``logs.clients`` (Promtail's ``clients`` list) names where lines go on
to: everything the store accepts, whether pushed over HTTP or tailed by the built-in
agent, is sent on with the agent's :class:`HTTPSink` (retries, backoff, tenants).
Each client has its own bounded in-memory queue: a slow or absent remote never slows
pushes down; when a queue is full its oldest lines are dropped and counted.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Callable, Iterable

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.metrics_core import Metric

from tidewatch.logs.agent.config import ClientConfig
from tidewatch.logs.agent.sink import HTTPSink, LogBatch, LogEntry, SinkError
from tidewatch.logs.logql.store import StreamChunk

log = logging.getLogger(__name__)

DEFAULT_MAX_PENDING = 200_000  # lines per client


class _ClientQueue:
    def __init__(self, cfg: ClientConfig, max_pending: int) -> None:
        self.cfg = cfg
        self.sink = HTTPSink(cfg)
        self.pending: deque[LogEntry] = deque()
        self.max_pending = max_pending
        self.wakeup = asyncio.Event()
        self.dropped = 0
        self.failed = 0
        self.task: asyncio.Task[None] | None = None

    def add(self, batch: LogBatch) -> None:
        self.pending.extend(batch)
        over = len(self.pending) - self.max_pending
        if over > 0:
            for _ in range(over):
                self.pending.popleft()
            self.dropped += over
        self.wakeup.set()

    async def run(self) -> None:
        while True:
            await self.wakeup.wait()
            # Promtail's batch_wait: gather lines for a moment, then send them together.
            await asyncio.sleep(self.cfg.batch_wait_ms / 1000)
            self.wakeup.clear()
            batch = list(self.pending)
            self.pending.clear()
            try:
                await self.sink.push(batch)
            except SinkError as exc:
                self.failed += len(batch)
                log.error("forwarding %d log lines to %s failed: %s", len(batch), self.cfg.url, exc)

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task
        await self.sink.close()


class LogForwarder:
    """Subscribes to a log store and sends what it accepts to each configured client."""

    def __init__(
        self,
        subscribe: Callable[[Callable[[list[StreamChunk]], None]], Callable[[], None]],
        max_pending: int = DEFAULT_MAX_PENDING,
    ) -> None:
        self._subscribe = subscribe
        self._unsubscribe: Callable[[], None] | None = None
        self._max_pending = max_pending
        self._queues: list[_ClientQueue] = []
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def clients(self) -> list[ClientConfig]:
        return [q.cfg for q in self._queues]

    def self_metrics(self) -> Iterable[Metric]:
        prefix = "tidewatch_log_forward_"
        sent = CounterMetricFamily(
            prefix + "sent_entries", "Log lines delivered to the client.", labels=["url"]
        )
        failed = CounterMetricFamily(
            prefix + "failed_entries", "Log lines given up on after retries.", labels=["url"]
        )
        dropped = CounterMetricFamily(
            prefix + "dropped_entries", "Log lines dropped from a full queue.", labels=["url"]
        )
        pending = GaugeMetricFamily(
            prefix + "pending_entries", "Log lines waiting to be sent.", labels=["url"]
        )
        for q in list(self._queues):
            sent.add_metric([q.cfg.url], q.sink.sent_entries)
            failed.add_metric([q.cfg.url], q.failed)
            dropped.add_metric([q.cfg.url], q.dropped)
            pending.add_metric([q.cfg.url], len(q.pending))
        return [sent, failed, dropped, pending]

    async def apply(self, clients: list[ClientConfig]) -> None:
        """Start forwarding to ``clients`` (replacing the previous list)."""
        self._loop = asyncio.get_running_loop()
        if clients == self.clients:
            return
        await self._stop_queues()
        self._queues = [_ClientQueue(c, self._max_pending) for c in clients]
        for q in self._queues:
            q.task = asyncio.create_task(q.run(), name=f"log-forward {q.cfg.url}")
        if self._queues and self._unsubscribe is None:
            self._unsubscribe = self._subscribe(self._on_push)
        elif not self._queues and self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        if clients:
            log.info("forwarding logs to %s", ", ".join(c.url for c in clients))

    async def stop(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        await self._stop_queues()

    async def _stop_queues(self) -> None:
        queues, self._queues = self._queues, []
        for q in queues:
            await q.stop()

    def _on_push(self, chunks: list[StreamChunk]) -> None:
        # Called in the pushing thread; the queues live on the event loop.
        batch: LogBatch = []
        for c in chunks:
            md = c.metadata
            stamps = c.ts.tolist()
            if md is None:
                batch.extend(
                    (c.labels, t, line, ()) for t, line in zip(stamps, c.lines, strict=True)
                )
            else:
                batch.extend(zip([c.labels] * len(stamps), stamps, c.lines, md, strict=True))
        if batch and self._loop is not None:
            self._loop.call_soon_threadsafe(self._enqueue, batch)

    def _enqueue(self, batch: LogBatch) -> None:
        for q in self._queues:
            q.add(batch)
