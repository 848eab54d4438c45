"""Loki's HTTP API: push, query, query_range, labels, series, index stats and volume,
tail over a websocket, and delete requests.

Answers use Loki's JSON shapes; errors are plain text with Loki's status codes (400 for
bad input, 429 for rate limits), as Loki writes them. CPU-heavy work (decoding a push,
running a query) runs in a thread so scrapes and pushes keep their timing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import orjson
from aiohttp import WSMsgType, web
from multidict import MultiDict

from tidewatch.labels import Labels
from tidewatch.logs.logql import ast
from tidewatch.logs.logql.engine import LogQLEngine, QueryStats, StreamResult, Streams
from tidewatch.logs.logql.parser import ParseError, parse_expr
from tidewatch.logs.logql.result_json import result_to_json
from tidewatch.logs.logql.store import StreamChunk
from tidewatch.logs.logql.values import QueryError
from tidewatch.logs.push.decode import PushDecodeError, decode_push
from tidewatch.logs.store.deletes import DeleteRequestError
from tidewatch.logs.store.prefilter import reader_for
from tidewatch.matcher import Matcher, matches_all
from tidewatch.web.api_metadata import build_info
from tidewatch.web.loki_categorize import categorize
from tidewatch.web.loki_params import (
    LokiParamError,
    int_param,
    now_ns,
    parse_step_ns,
    parse_time_ns,
    time_range,
)
from tidewatch.web.loki_volume import aggregate, buckets, bytes_per_bucket, volume_matrix
from tidewatch.web.params import read_params

log = logging.getLogger(__name__)

HOUR_NS = 3600 * 1_000_000_000
LABELS_SINCE_NS = 6 * HOUR_NS
MAX_POINTS = 11_000
CATEGORIZE_LABELS = "categorize-labels"
AIOHTTP_DECODES = frozenset({"gzip", "deflate", "br", "zstd"})


def _text(status: int, message: str) -> web.Response:
    return web.Response(status=status, text=message, content_type="text/plain")


def _json(obj: Any) -> web.Response:
    return web.Response(body=orjson.dumps(obj), content_type="application/json")


def _success(data: Any) -> web.Response:
    return _json({"status": "success", "data": data})


def _selector(text: str) -> list[Matcher]:
    """A stream selector (line filters allowed, as Loki's label and series queries)."""
    try:
        expr = parse_expr(text)
    except ParseError as exc:
        raise LokiParamError(str(exc)) from None
    if not isinstance(expr, ast.LogQuery):
        raise LokiParamError("only log queries are supported here")
    return list(expr.matchers)


class _ListReader:
    """A ``LogReader`` over entries already in hand (the live part of a tail)."""

    def __init__(self, chunks: Sequence[StreamChunk]) -> None:
        self.chunks = chunks

    def series(self, matchers: Sequence[Matcher], start_ns: int, end_ns: int) -> list[Labels]:
        found = {c.labels: None for c in self.chunks if matches_all(matchers, c.labels)}
        return sorted(found)

    def select(
        self, matchers: Sequence[Matcher], start_ns: int, end_ns: int
    ) -> Iterator[StreamChunk]:
        for c in self.chunks:
            if not matches_all(matchers, c.labels):
                continue
            order = np.argsort(c.ts, kind="stable")
            ts = c.ts[order]
            lo = int(np.searchsorted(ts, start_ns, side="left"))
            hi = int(np.searchsorted(ts, end_ns, side="left"))
            if lo >= hi:
                continue
            idx = order[lo:hi].tolist()
            md = [c.metadata[i] for i in idx] if c.metadata is not None else None
            yield StreamChunk(c.labels, ts[lo:hi], [c.lines[i] for i in idx], md)


def _wants_categories(request: web.Request) -> bool:
    flags = request.headers.get("X-Loki-Response-Encoding-Flags", "")
    return CATEGORIZE_LABELS in [f.strip() for f in flags.split(",")]


def _with_flags(data: dict[str, Any]) -> dict[str, Any]:
    """``encodingFlags`` right after ``resultType``, where Loki writes it (any result type)."""
    out = {"resultType": data["resultType"], "encodingFlags": [CATEGORIZE_LABELS]}
    out.update(data)
    return out


def _streams_json(result: Streams) -> list[dict[str, Any]]:
    return [
        {"stream": dict(s.labels), "values": [[str(t), line] for t, line in s.entries]}
        for s in result.streams
    ]


def _apply_interval(result: Streams, interval_ns: int, forward: bool, limit: int) -> None:
    """``interval``: walking all streams in query order, keep an entry only when it is at
    least ``interval`` after (forward) or before (backward) the last kept one; then limit."""
    merged = [(t, k, line) for k, s in enumerate(result.streams) for t, line in s.entries]
    merged.sort(key=lambda x: x[0], reverse=not forward)
    kept: list[list[tuple[int, str]]] = [[] for _ in result.streams]
    nxt: int | None = None
    n = 0
    for t, k, line in merged:
        if nxt is not None and (t < nxt if forward else t > nxt):
            continue
        kept[k].append((t, line))
        nxt = t + interval_ns if forward else t - interval_ns
        n += 1
        if limit and n >= limit:
            break
    for s, entries in zip(result.streams, kept, strict=True):
        s.entries = sorted(entries, key=lambda e: e[0], reverse=not forward)
    result.streams = [s for s in result.streams if s.entries]


FIRST_SPLIT_NS = 5 * 60 * 1_000_000_000


def _is_log_query(text: str) -> bool:
    try:
        return isinstance(parse_expr(text), ast.LogQuery)
    except ParseError:
        return False  # the engine reports it


def _limited_log_query(
    engine: LogQLEngine, reader: Any, text: str, start: int, end: int, direction: str, limit: int
) -> Streams:
    """A log query with a limit, run over windows that grow (5 m, 10 m, 20 m, ...) away
    from the edge it reads from, stopping once ``limit`` entries are found: windows are
    disjoint and in time order, so entries further out could not make the cut. Like
    Loki's split queries, this keeps "latest 1000 lines of the last day" cheap."""
    forward = direction.lower() == "forward"
    found: dict[Labels, list[tuple[int, str]]] = {}
    total = 0
    stats = QueryStats()
    width = FIRST_SPLIT_NS
    lo, hi = (start, start) if forward else (end, end)
    while (hi < end) if forward else (lo > start):
        if forward:
            lo, hi = hi, min(end, hi + width)
        else:
            lo, hi = max(start, lo - width), lo
        width *= 2
        res = engine.query_range(reader, text, lo, hi, 0, direction, limit - total)
        _add_stats(stats, engine.stats)
        assert isinstance(res, Streams)
        for s in res.streams:
            found.setdefault(s.labels, []).extend(s.entries)
            total += len(s.entries)
        if total >= limit:
            break
    engine.stats = stats
    stats.entries_returned = total
    return Streams([StreamResult(lb, entries) for lb, entries in found.items()])


def _add_stats(into: QueryStats, s: QueryStats) -> None:
    into.lines_processed += s.lines_processed
    into.bytes_processed += s.bytes_processed
    into.exec_seconds += s.exec_seconds


def _volume_options(params: MultiDict[str]) -> tuple[list[str], bool, int]:
    """(targetLabels, aggregate by label names, limit) of a volume request."""
    target = [x for x in params.get("targetLabels", "").split(",") if x]
    return target, params.get("aggregateBy", "series") == "labels", int_param(params, "limit", 100)


def _default_step(start: int, end: int, text: str) -> int:
    """``step`` as given, else Loki's default: the range / 250, at least one second."""
    if text:
        step = parse_step_ns(text)
    else:
        step = max((end - start) // 250 // 1_000_000_000, 1) * 1_000_000_000
    if step <= 0:
        raise LokiParamError(
            "zero or negative query resolution step widths are not accepted. Try a positive integer"
        )
    return step


class LokiAPI:
    def __init__(self, services: Any) -> None:
        self.s = services

    @property
    def store(self) -> Any:
        return self.s.log_store

    def _engine(self) -> LogQLEngine:
        # One engine per query: the engine keeps per-query statistics on itself.
        limit = getattr(self.s.logql, "max_entries_limit", 5000)
        return LogQLEngine(max_entries_limit=limit)

    def routes(self) -> list[web.RouteDef]:
        both = []
        for path, handler in (
            ("/loki/api/v1/query", self.query),
            ("/loki/api/v1/query_range", self.query_range),
            ("/loki/api/v1/labels", self.labels),
            ("/loki/api/v1/label", self.labels),
            ("/loki/api/v1/label/{name}/values", self.label_values),
            ("/loki/api/v1/series", self.series),
            ("/loki/api/v1/index/stats", self.index_stats),
            ("/loki/api/v1/index/volume", self.index_volume),
            ("/loki/api/v1/index/volume_range", self.index_volume_range),
        ):
            both += [web.get(path, self._guard(handler)), web.post(path, self._guard(handler))]
        return [
            *both,
            web.post("/loki/api/v1/push", self.push),
            web.post("/api/prom/push", self.push),
            web.get("/loki/api/v1/tail", self._guard(self.tail)),
            web.post("/loki/api/v1/delete", self._guard(self.delete_create)),
            web.put("/loki/api/v1/delete", self._guard(self.delete_create)),
            web.get("/loki/api/v1/delete", self._guard(self.delete_list)),
            web.delete("/loki/api/v1/delete", self._guard(self.delete_cancel)),
            web.get("/loki/api/v1/status/buildinfo", self.buildinfo),
        ]

    @staticmethod
    def _guard(handler: Any) -> Any:
        async def wrapped(request: web.Request) -> web.StreamResponse:
            try:
                resp: web.StreamResponse = await handler(request)
                return resp
            except (LokiParamError, ParseError, QueryError, DeleteRequestError) as exc:
                return _text(400, str(exc))

        return wrapped

    # ------------------------------------------------------------------ push

    async def push(self, request: web.Request) -> web.Response:
        body = await request.read()
        ctype = request.headers.get("Content-Type", "")
        cenc = request.headers.get("Content-Encoding", "")
        if cenc.strip().lower() in AIOHTTP_DECODES:
            cenc = ""  # aiohttp already decompressed the body
        store = self.store

        def run() -> Any:
            return store.push(decode_push(body, ctype, cenc))

        try:
            result = await asyncio.to_thread(run)
        except PushDecodeError as exc:
            return _text(400, str(exc))
        if result.status == 204:
            return web.Response(status=204)
        return _text(result.status, result.message)

    # ------------------------------------------------------------------ queries

    async def query(self, request: web.Request) -> web.Response:
        params = await read_params(request)
        text = params.get("query", "")
        t = parse_time_ns(params.get("time", ""), now_ns())
        limit = int_param(params, "limit", 100)
        direction = params.get("direction", "backward")
        engine = self._engine()
        store = self.store

        def run() -> Any:
            return engine.query_instant(reader_for(store, text), text, t, direction, limit)

        self._check_limit(limit)
        result = await asyncio.to_thread(run)
        return self._query_response(request, result, engine)

    async def query_range(self, request: web.Request) -> web.Response:
        params = await read_params(request)
        text = params.get("query", "")
        start, end = time_range(params, HOUR_NS)
        if end < start:
            raise LokiParamError("end timestamp must not be before or equal to start time")
        limit = int_param(params, "limit", 100)
        self._check_limit(limit)
        direction = params.get("direction", "backward")
        if direction.lower() not in ("forward", "backward"):
            raise LokiParamError(f"invalid direction '{direction}'")
        step = _default_step(start, end, params.get("step", ""))
        if (end - start) // step > MAX_POINTS:
            raise LokiParamError(
                "exceeded maximum resolution of 11,000 points per timeseries. "
                "Try decreasing the query resolution (?step=XX)"
            )
        interval = parse_step_ns(params["interval"]) if params.get("interval") else 0
        engine = self._engine()
        store = self.store

        def run() -> Any:
            reader = reader_for(store, text)
            if interval <= 0 and limit > 0 and _is_log_query(text):
                return _limited_log_query(engine, reader, text, start, end, direction, limit)
            run_limit = 0 if interval > 0 else limit
            res = engine.query_range(reader, text, start, end, step, direction, run_limit)
            if interval > 0 and isinstance(res, Streams):
                _apply_interval(res, interval, direction.lower() == "forward", limit)
            return res

        result = await asyncio.to_thread(run)
        if _wants_categories(request) and isinstance(result, Streams):
            matchers = _selector(text)
            forward = direction.lower() == "forward"
            store = self.store
            data = result_to_json(result, engine.stats)
            data["result"] = await asyncio.to_thread(
                categorize, result, store, matchers, start, end, forward
            )
            return _success(_with_flags(data))
        return self._query_response(request, result, engine)

    def _check_limit(self, limit: int) -> None:
        max_limit = getattr(self.s.logql, "max_entries_limit", 5000)
        if limit < 0:
            raise LokiParamError("limit must be a positive value")
        if max_limit and limit > max_limit:
            raise LokiParamError(
                f"max entries limit per query exceeded, limit > max_entries_limit "
                f"({limit} > {max_limit})"
            )

    def _query_response(
        self, request: web.Request, result: Any, engine: LogQLEngine
    ) -> web.Response:
        data = result_to_json(result, engine.stats)
        if _wants_categories(request):
            data = _with_flags(data)
        return _success(data)

    # ------------------------------------------------------------------ labels and series

    async def labels(self, request: web.Request) -> web.Response:
        params = await read_params(request)
        start, end = time_range(params, LABELS_SINCE_NS)
        matchers = _selector(params["query"]) if params.get("query") else []
        names = await asyncio.to_thread(self.store.label_names, matchers, start, end)
        return _success(names)

    async def label_values(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        params = await read_params(request)
        start, end = time_range(params, LABELS_SINCE_NS)
        matchers = _selector(params["query"]) if params.get("query") else []
        values = await asyncio.to_thread(self.store.label_values, name, matchers, start, end)
        return _success(values)

    async def series(self, request: web.Request) -> web.Response:
        params = await read_params(request)
        start, end = time_range(params, LABELS_SINCE_NS)
        sets = [_selector(m) for m in params.getall("match[]", []) + params.getall("match", [])]

        def run() -> list[Labels]:
            found: dict[Labels, None] = {}
            for matchers in sets or [[]]:
                for lb in self.store.series(matchers, start, end):
                    found[lb] = None
            return sorted(found)

        series = await asyncio.to_thread(run)
        return _success([dict(lb) for lb in series])

    async def index_stats(self, request: web.Request) -> web.Response:
        params = await read_params(request)
        start, end = time_range(params, HOUR_NS)
        matchers = _selector(params["query"]) if params.get("query") else []
        stats = await asyncio.to_thread(self.store.stats, matchers, start, end)
        return _json(stats)

    def _volume(self, params: MultiDict[str], start: int, end: int) -> list[tuple[Labels, int]]:
        matchers = _selector(params.get("query", ""))
        target, by_labels, limit = _volume_options(params)
        rows = self.store.volume(matchers, start, end)
        return aggregate(rows, matchers, target, by_labels, limit)

    async def index_volume(self, request: web.Request) -> web.Response:
        params = await read_params(request)
        start, end = time_range(params, HOUR_NS)
        rows = await asyncio.to_thread(self._volume, params, start, end)
        t = end // 1_000_000_000
        return _success(
            {
                "resultType": "vector",
                "result": [{"metric": dict(lb), "value": [t, str(v)]} for lb, v in rows],
            }
        )

    async def index_volume_range(self, request: web.Request) -> web.Response:
        params = await read_params(request)
        start, end = time_range(params, HOUR_NS)
        matchers = _selector(params.get("query", ""))
        target, by_labels, limit = _volume_options(params)
        step = _default_step(start, end, params.get("step", ""))
        if (end - start) // step > MAX_POINTS:
            raise LokiParamError(
                "exceeded maximum resolution of 11,000 points per timeseries. "
                "Try decreasing the query resolution (?step=XX)"
            )
        store = self.store

        def run() -> list[dict[str, Any]]:
            lows, stamps = buckets(start, end, step)
            per_stream = bytes_per_bucket(store.select(matchers, start, end + 1), lows)
            return volume_matrix(per_stream, stamps, matchers, target, by_labels, limit)

        result = await asyncio.to_thread(run)
        return _success({"resultType": "matrix", "result": result})

    async def buildinfo(self, request: web.Request) -> web.Response:
        return _json(build_info())

    # ------------------------------------------------------------------ tail

    async def tail(self, request: web.Request) -> web.StreamResponse:
        params = await read_params(request)
        text = params.get("query", "")
        expr = parse_expr(text)
        if not isinstance(expr, ast.LogQuery):
            raise LokiParamError("only log queries are supported for tailing")
        limit = int_param(params, "limit", 100)
        start = parse_time_ns(params.get("start", ""), now_ns() - HOUR_NS)
        categories = _wants_categories(request)
        ws = web.WebSocketResponse(heartbeat=30)
        await ws.prepare(request)
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[list[StreamChunk]] = asyncio.Queue(maxsize=1000)
        dropped = 0

        def on_push(chunks: list[StreamChunk]) -> None:
            def put() -> None:
                nonlocal dropped
                try:
                    queue.put_nowait(chunks)
                except asyncio.QueueFull:
                    dropped += sum(len(c.lines) for c in chunks)

            loop.call_soon_threadsafe(put)

        unsubscribe = self.store.subscribe(on_push)
        engine = self._engine()
        store = self.store
        try:
            first_end = now_ns() + 1
            # As Loki's tailer: the newest `limit` entries since `start`, oldest first.
            initial = await asyncio.to_thread(
                engine.query_range, store, text, start, first_end, 0, "backward", limit
            )
            if isinstance(initial, Streams) and initial.streams:
                for s in initial.streams:
                    s.entries.sort(key=lambda e: e[0])
                first = await asyncio.to_thread(
                    tail_message, initial, store, expr.matchers, start, first_end, categories
                )
                await ws.send_str(orjson.dumps(first).decode())
            reader = asyncio.create_task(_drain(ws))
            while not reader.done():
                getter = asyncio.create_task(queue.get())
                done, _ = await asyncio.wait({getter, reader}, return_when=asyncio.FIRST_COMPLETED)
                if getter not in done:
                    getter.cancel()
                    break
                batch = getter.result()
                while not queue.empty():
                    batch = batch + queue.get_nowait()
                live = _ListReader(batch)
                res = await asyncio.to_thread(
                    engine.query_range, live, text, -(1 << 62), 1 << 62, 0, "forward", 0
                )
                if isinstance(res, Streams) and res.streams:
                    msg = tail_message(res, live, expr.matchers, -(1 << 62), 1 << 62, categories)
                    if dropped:
                        msg["dropped_entries"] = [{"labels": {}, "timestamp": str(now_ns())}]
                        dropped = 0
                    # Textual frames: Grafana and logcli read tail messages as text.
                    await ws.send_str(orjson.dumps(msg).decode())
        except (ConnectionResetError, asyncio.CancelledError):
            pass
        finally:
            unsubscribe()
            with contextlib.suppress(Exception):
                await ws.close()
        return ws

    # ------------------------------------------------------------------ deletes

    async def delete_create(self, request: web.Request) -> web.Response:
        params = await read_params(request)
        query = params.get("query", "")
        if not query:
            raise LokiParamError("query not set")
        if not params.get("start"):
            raise LokiParamError("start time not set")
        start = parse_time_ns(params["start"], 0) // 1_000_000
        end = parse_time_ns(params.get("end", ""), now_ns()) // 1_000_000
        if end < start:
            raise LokiParamError("start time can't be greater than end time")
        try:
            await asyncio.to_thread(self.store.deletes.add, query, start, end)
        except ParseError as exc:
            raise LokiParamError(f"invalid query expression: {exc}") from None
        return web.Response(status=204)

    async def delete_list(self, request: web.Request) -> web.Response:
        return _json([r.api_json() for r in self.store.deletes.all()])

    async def delete_cancel(self, request: web.Request) -> web.Response:
        params = await read_params(request)
        rid = params.get("request_id", "")
        if not rid:
            raise LokiParamError("request_id not set")
        if not await asyncio.to_thread(self.store.deletes.cancel, rid):
            return _text(404, "could not find delete request with given id")
        return web.Response(status=204)


def tail_message(
    result: Streams,
    reader: Any,
    matchers: Sequence[Matcher],
    start: int,
    end: int,
    categories: bool,
) -> dict[str, Any]:
    """One tail frame: ``{"streams": [...]}``, categorized (with ``encodingFlags``) when
    the client asked for ``categorize-labels``."""
    if not categories:
        return {"streams": _streams_json(result)}
    streams = categorize(result, reader, matchers, start, end, forward=True)
    return {"streams": streams, "encodingFlags": [CATEGORIZE_LABELS]}


async def _drain(ws: web.WebSocketResponse) -> None:
    """Read (and ignore) client frames until the socket closes."""
    async for msg in ws:
        if msg.type in (WSMsgType.CLOSE, WSMsgType.ERROR):
            break
