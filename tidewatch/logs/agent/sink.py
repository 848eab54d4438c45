"""Where the agent's lines go: ``await sink.push(batch)``.

Two sinks: :class:`InProcessSink` hands lines to a callable (the server's log store,
``LogStore.push``) in a worker thread; :class:`HTTPSink` pushes to a Loki-compatible
``/loki/api/v1/push`` (protobuf + snappy as Promtail sends, or JSON) with retries and
exponential backoff on 429 / 5xx / connection errors, as Promtail's client does.
A batch that cannot be delivered raises :class:`SinkError` (the agent counts it as
dropped and moves on, as Promtail does after its retries).
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import random
import ssl
from collections.abc import Callable
from typing import Any, Protocol

import aiohttp
import cramjam
import numpy as np
import orjson

from tidewatch.labels import Labels
from tidewatch.logs.agent.config import ClientConfig
from tidewatch.logs.agent.stages.extra import TENANT_LABEL
from tidewatch.logs.push.decode import PushStream, labels_text_from_map
from tidewatch.logs.push.proto import PushRequest

log = logging.getLogger(__name__)

# One entry: stream labels, time in ns, line, structured metadata.
LogEntry = tuple[Labels, int, str, Labels]
LogBatch = list[LogEntry]

USER_AGENT = "tidewatch-agent"


class SinkError(Exception):
    """A batch was not delivered (a permanent error, or retries exhausted)."""

    def __init__(self, message: str, status: int = 0) -> None:
        super().__init__(message)
        self.status = status


class Sink(Protocol):
    async def push(self, batch: LogBatch) -> None: ...

    async def close(self) -> None: ...


def group_streams(batch: LogBatch) -> dict[Labels, list[LogEntry]]:
    """Entries by stream, in arrival order within each stream."""
    out: dict[Labels, list[LogEntry]] = {}
    for item in batch:
        out.setdefault(item[0], []).append(item)
    return out


def split_tenants(batch: LogBatch) -> dict[str, LogBatch]:
    """Entries by the tenant a ``tenant`` stage set ("" = the client's own), label removed."""
    cache: dict[Labels, tuple[str, Labels]] = {}
    out: dict[str, LogBatch] = {}
    for lbls, ts, line, md in batch:
        hit = cache.get(lbls)
        if hit is None:
            tenant = dict(lbls).get(TENANT_LABEL, "")
            rest = tuple(p for p in lbls if p[0] != TENANT_LABEL) if tenant else lbls
            hit = cache[lbls] = (tenant, rest)
        out.setdefault(hit[0], []).append((hit[1], ts, line, md))
    return out


def to_push_streams(batch: LogBatch) -> list[PushStream]:
    """The shape the log store (and the push API decoder) produces."""
    streams: list[PushStream] = []
    batch = [it for part in split_tenants(batch).values() for it in part]  # one tenant here
    for lbls, items in group_streams(batch).items():
        ts = np.fromiter((it[1] for it in items), np.int64, len(items))
        lines = [it[2] for it in items]
        md: list[Labels] | None = None
        if any(it[3] for it in items):
            md = [it[3] for it in items]
        streams.append(PushStream(labels_text_from_map(dict(lbls)), ts, lines, md))
    return streams


def encode_json(batch: LogBatch) -> bytes:
    streams = []
    for lbls, items in group_streams(batch).items():
        values: list[list[Any]] = []
        for _, ts, line, md in items:
            values.append([str(ts), line, dict(md)] if md else [str(ts), line])
        streams.append({"stream": dict(lbls), "values": values})
    return orjson.dumps({"streams": streams})


def encode_protobuf(batch: LogBatch) -> bytes:
    """Loki's ``PushRequest``, snappy block-compressed."""
    req = PushRequest()
    for lbls, items in group_streams(batch).items():
        s = req.streams.add()
        s.labels = labels_text_from_map(dict(lbls))
        for _, ts, line, md in items:
            e = s.entries.add()
            e.timestamp.seconds, e.timestamp.nanos = divmod(ts, 1_000_000_000)
            e.line = line
            for k, v in md:
                p = e.structuredMetadata.add()
                p.name, p.value = k, v
    return bytes(cramjam.snappy.compress_raw(req.SerializeToString()))


class _Backoff:
    def __init__(self, min_ms: int, max_ms: int) -> None:
        self.cur = max(min_ms, 1) / 1000
        self.max = max(max_ms, min_ms, 1) / 1000

    def next(self) -> float:
        delay = self.cur
        self.cur = min(self.cur * 2, self.max)
        return delay * (0.5 + random.random() / 2)  # jitter so many agents don't align


def _retryable(status: int) -> bool:
    return status == 429 or status >= 500


class InProcessSink:
    """Calls ``fn(streams: list[PushStream])`` in a thread (give it ``LogStore.push``).

    A result with ``status`` 429 or 5xx (a ``PushResult``) is retried with backoff,
    another status >= 400 raises :class:`SinkError`; an async ``fn`` is awaited instead.
    """

    def __init__(
        self,
        fn: Callable[[list[PushStream]], Any],
        *,
        min_backoff_ms: int = 100,
        max_backoff_ms: int = 10_000,
        max_retries: int = 10,
    ) -> None:
        self.fn = fn
        self.min_backoff_ms = min_backoff_ms
        self.max_backoff_ms = max_backoff_ms
        self.max_retries = max_retries

    async def push(self, batch: LogBatch) -> None:
        if not batch:
            return
        streams = to_push_streams(batch)
        backoff = _Backoff(self.min_backoff_ms, self.max_backoff_ms)
        for attempt in range(self.max_retries + 1):
            if inspect.iscoroutinefunction(self.fn):
                result = await self.fn(streams)
            else:
                result = await asyncio.to_thread(self.fn, streams)
            status = int(getattr(result, "status", 204) or 204)
            if status < 400:
                return
            message = str(getattr(result, "message", ""))
            if not _retryable(status) or attempt == self.max_retries:
                raise SinkError(f"log store refused the batch ({status}): {message}", status)
            await asyncio.sleep(backoff.next())

    async def close(self) -> None:
        return None


class HTTPSink:
    """Pushes to a remote Loki-compatible URL (``clients[0]`` of a Promtail config)."""

    def __init__(self, cfg: ClientConfig) -> None:
        self.cfg = cfg
        self._session: aiohttp.ClientSession | None = None
        self.sent_bytes = 0
        self.sent_entries = 0
        self.request_count: dict[str, int] = {}

    def _headers(self) -> dict[str, str]:
        h = {"User-Agent": USER_AGENT}
        if self.cfg.format == "json":
            h["Content-Type"] = "application/json"
        else:
            h["Content-Type"] = "application/x-protobuf"
        if self.cfg.tenant_id:
            h["X-Scope-OrgID"] = self.cfg.tenant_id
        if self.cfg.bearer_token:
            h["Authorization"] = f"Bearer {self.cfg.bearer_token}"
        h.update(self.cfg.headers)
        return h

    def _ssl(self) -> ssl.SSLContext | bool:
        if self.cfg.insecure_skip_verify:
            return False
        if self.cfg.ca_file:
            return ssl.create_default_context(cafile=self.cfg.ca_file)
        return True

    def _session_get(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            auth = aiohttp.BasicAuth(*self.cfg.basic_auth) if self.cfg.basic_auth else None
            self._session = aiohttp.ClientSession(
                headers=self._headers(),
                auth=auth,
                timeout=aiohttp.ClientTimeout(total=self.cfg.timeout_ms / 1000),
                connector=aiohttp.TCPConnector(ssl=self._ssl()),
            )
        return self._session

    def _split(self, batch: LogBatch) -> list[LogBatch]:
        """Requests of at most ``batchsize`` bytes of lines (one line may exceed it)."""
        limit = self.cfg.batch_size
        if limit <= 0:
            return [batch]
        out: list[LogBatch] = []
        cur: LogBatch = []
        size = 0
        for item in batch:
            n = len(item[2])
            if cur and size + n > limit:
                out.append(cur)
                cur, size = [], 0
            cur.append(item)
            size += n
        if cur:
            out.append(cur)
        return out

    def _with_external_labels(self, batch: LogBatch) -> LogBatch:
        ext = self.cfg.external_labels
        if not ext:
            return batch
        cache: dict[Labels, Labels] = {}
        out: LogBatch = []
        for lbls, ts, line, md in batch:
            merged = cache.get(lbls)
            if merged is None:
                d = dict(ext)
                d.update(lbls)  # the stream's own labels win, as in Promtail
                merged = cache[lbls] = tuple(sorted(d.items()))
            out.append((merged, ts, line, md))
        return out

    async def push(self, batch: LogBatch) -> None:
        if not batch:
            return
        for tenant, entries in split_tenants(batch).items():
            for part in self._split(self._with_external_labels(entries)):
                await self._send(part, tenant)

    async def _send(self, batch: LogBatch, tenant: str = "") -> None:
        body = encode_json(batch) if self.cfg.format == "json" else encode_protobuf(batch)
        headers = {"X-Scope-OrgID": tenant} if tenant else None
        backoff = _Backoff(self.cfg.min_backoff_ms, self.cfg.max_backoff_ms)
        last = ""
        status = 0
        for attempt in range(self.cfg.max_retries + 1):
            try:
                async with self._session_get().post(
                    self.cfg.url, data=body, headers=headers
                ) as resp:
                    status = resp.status
                    key = str(status)
                    self.request_count[key] = self.request_count.get(key, 0) + 1
                    if status < 300:
                        self.sent_bytes += sum(len(it[2]) for it in batch)
                        self.sent_entries += len(batch)
                        return
                    last = (await resp.text())[:1024]
                    if not _retryable(status):
                        raise SinkError(f"server returned HTTP status {status}: {last}", status)
            except (TimeoutError, aiohttp.ClientError, OSError) as exc:
                status = 0
                last = str(exc) or type(exc).__name__
                self.request_count["error"] = self.request_count.get("error", 0) + 1
            if attempt < self.cfg.max_retries:
                log.warning("push to %s failed (%s), retrying", self.cfg.url, last)
                await asyncio.sleep(backoff.next())
        raise SinkError(f"push to {self.cfg.url} failed after retries: {last}", status)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
