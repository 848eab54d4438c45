"""PromQL endpoints: query, query_range, format_query, parse_query, query_exemplars.

Queries run in worker threads so scrapes and pushes on the event loop keep their
schedule; the engine itself enforces the timeout and the sample limit.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from typing import Any

from aiohttp import web
from multidict import MultiDict

from tidewatch.gofloat import format_float
from tidewatch.promql.engine import QueryError, QueryResult, result_to_json
from tidewatch.promql.parser import ParseError, ast_to_json, parse_expr, prettify
from tidewatch.web.api_metadata import parse_match_params
from tidewatch.web.params import (
    parse_duration_ms,
    parse_time_ms,
    read_params,
)
from tidewatch.web.responses import APIError, bad_data, invalid_param, success
from tidewatch.web.services import Services

MAX_POINTS_PER_SERIES = 11_000


def _now_ms() -> int:
    return int(time.time() * 1000)


class QueryAPI:
    def __init__(self, services: Services) -> None:
        self.s = services

    def routes(self) -> list[web.RouteDef]:
        routes: list[web.RouteDef] = []
        for path, handler in (
            ("/api/v1/query", self.query),
            ("/api/v1/query_range", self.query_range),
            ("/api/v1/format_query", self.format_query),
            ("/api/v1/parse_query", self.parse_query),
            ("/api/v1/query_exemplars", self.query_exemplars),
        ):
            routes += [web.get(path, handler), web.post(path, handler)]
        return routes

    def _options(self, params: MultiDict[str]) -> tuple[int | None, int | None]:
        timeout_ms: int | None = None
        if params.get("timeout", ""):
            timeout_ms = parse_duration_ms("timeout", params["timeout"])
            if timeout_ms <= 0:
                raise invalid_param("timeout", "timeout must be positive")
            timeout_ms = min(timeout_ms, self.s.config.server.query_timeout_ms)
        lookback_ms: int | None = None
        if params.get("lookback_delta", ""):
            lookback_ms = parse_duration_ms("lookback_delta", params["lookback_delta"])
            if lookback_ms < 0:
                raise invalid_param("lookback_delta", "lookback_delta must be non-negative")
        return timeout_ms, lookback_ms

    async def _run(self, fn: Any) -> QueryResult:
        try:
            result: QueryResult = await asyncio.to_thread(fn)
        except QueryError as exc:
            raise APIError(exc.error_type, str(exc)) from None
        return result

    async def query(self, request: web.Request) -> web.Response:
        params = await read_params(request)
        text = params.get("query", "")
        t = parse_time_ms("time", params["time"]) if params.get("time", "") else _now_ms()
        timeout_ms, lookback_ms = self._options(params)
        expr = _parse(text)

        def run() -> QueryResult:
            q = self.s.tsdb.querier()
            try:
                return self.s.engine.instant_query(
                    q,
                    expr,
                    t,
                    lookback_delta_ms=lookback_ms,
                    timeout_ms=timeout_ms,
                    query_text=text,
                )
            finally:
                q.close()

        result = await self._run(run)
        return _result_response(result, params)

    async def query_range(self, request: web.Request) -> web.Response:
        params = await read_params(request)
        start = parse_time_ms("start", params.get("start", ""))
        end = parse_time_ms("end", params.get("end", ""))
        if end < start:
            raise invalid_param("end", "end timestamp must not be before start time")
        step = parse_duration_ms("step", params.get("step", ""))
        if step <= 0:
            raise invalid_param(
                "step",
                "zero or negative query resolution step widths are not accepted. "
                "Try a positive integer",
            )
        if (end - start) / step > MAX_POINTS_PER_SERIES:
            raise bad_data(
                "exceeded maximum resolution of 11,000 points per timeseries. "
                "Try decreasing the query resolution (?step=XX)"
            )
        timeout_ms, lookback_ms = self._options(params)
        text = params.get("query", "")
        expr = _parse(text)

        def run() -> QueryResult:
            q = self.s.tsdb.querier()
            try:
                return self.s.engine.range_query(
                    q,
                    expr,
                    start,
                    end,
                    step,
                    lookback_delta_ms=lookback_ms,
                    timeout_ms=timeout_ms,
                    query_text=text,
                )
            finally:
                q.close()

        result = await self._run(run)
        return _result_response(result, params)

    async def format_query(self, request: web.Request) -> web.Response:
        params = await read_params(request)
        return success(prettify(_parse(params.get("query", ""))))

    async def parse_query(self, request: web.Request) -> web.Response:
        params = await read_params(request)
        return success(ast_to_json(_parse(params.get("query", ""))))

    async def query_exemplars(self, request: web.Request) -> web.Response:
        params = await read_params(request)
        start = parse_time_ms("start", params["start"]) if params.get("start") else 0
        end = parse_time_ms("end", params["end"]) if params.get("end") else _now_ms()
        if end < start:
            raise invalid_param("end", "end timestamp must not be before start time")
        expr = _parse(params.get("query", ""))
        selectors = _selectors_of(expr)
        sets = parse_match_params(selectors) if selectors else []
        found = await asyncio.to_thread(self.s.tsdb.query_exemplars, sets, start, end)
        data = [
            {
                "seriesLabels": dict(lbls),
                "exemplars": [
                    {
                        "labels": dict(e.labels),
                        "value": format_float(e.value, "f"),
                        "timestamp": e.ts / 1000,
                    }
                    for e in exemplars
                ],
            }
            for lbls, exemplars in found
        ]
        return success(data)


def _parse(text: str) -> Any:
    try:
        return parse_expr(text)
    except ParseError as exc:
        raise invalid_param("query", str(exc)) from None


def _selectors_of(expr: Any) -> list[str]:
    """Text of every vector selector in the expression (for exemplar lookup)."""
    from tidewatch.promql import ast

    out: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, ast.VectorSelector):
            out.append("{" + ", ".join(repr(m) for m in node.matchers) + "}")
            return
        if dataclasses.is_dataclass(node):
            for f in dataclasses.fields(node):
                walk(getattr(node, f.name))
        elif isinstance(node, list | tuple):
            for item in node:
                walk(item)

    walk(expr)
    return out


def _result_response(result: QueryResult, params: MultiDict[str]) -> web.Response:
    with_stats = params.get("stats", "") != ""
    return success(
        result_to_json(result, with_stats=with_stats),
        warnings=list(result.warnings),
        infos=list(result.infos),
    )
