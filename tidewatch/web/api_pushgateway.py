"""Pushgateway-compatible endpoints for batch jobs.

- ``PUT|POST|DELETE /metrics/job/<job>{/<label>/<value>}`` (and ``job@base64``):
  PUT replaces the group, POST replaces the pushed families only, DELETE drops the
  group. 200 on a push, 202 on a delete, 400 with the reason for a bad body or URL.
  Bodies are the text format, or delimited protobuf as client_golang pushes them.
- ``GET /metrics/pushgateway``: the combined exposition, exactly as a Pushgateway's
  ``/metrics`` shows pushed groups (scrape it with ``honor_labels: true``).
- ``GET /api/v1/metrics``: the Pushgateway's JSON API.

State lives in ``<data dir>/pushgateway/`` and survives restarts.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import orjson
from aiohttp import web

from tidewatch.pushgateway.grouping import BadGroupingKey, GroupingKey, parse_grouping_key
from tidewatch.pushgateway.protobuf import is_protobuf
from tidewatch.pushgateway.render import CONTENT_TYPE, render_json, render_text
from tidewatch.pushgateway.store import BadPush, InconsistentPush, PushStore
from tidewatch.web.services import Services

SUBDIR = "pushgateway"
EXPOSITION_PATH = "/metrics/pushgateway"


def _text(status: int, message: str) -> web.Response:
    return web.Response(status=status, text=message + "\n")


def data_directory(services: Services) -> Path:
    """``<data dir>/pushgateway``: beside the TSDB's files, like ``logs/``."""
    base = services.config.storage.path or str(services.tsdb.path)
    return Path(base) / SUBDIR


class PushgatewayAPI:
    def __init__(self, services: Services, directory: Path | None = None) -> None:
        self.store = PushStore.open(directory or data_directory(services))
        # One change at a time: validation looks at every group, and the file is
        # rewritten after each change.
        self.lock = asyncio.Lock()

    def routes(self) -> list[web.RouteDef]:
        group_path = "/metrics/{kind:job(@base64)?}/{rest:.+}"
        return [
            web.put(group_path, self.put),
            web.post(group_path, self.post),
            web.delete(group_path, self.delete),
            web.get(EXPOSITION_PATH, self.exposition),
            web.get("/api/v1/metrics", self.json_metrics),
        ]

    @staticmethod
    def _key(request: web.Request) -> GroupingKey:
        raw = request.rel_url.raw_path
        return parse_grouping_key(raw[len("/metrics/") :])

    async def _save(self) -> None:
        await asyncio.to_thread(self.store.write, self.store.snapshot())

    async def _push(self, request: web.Request, replace_all: bool) -> web.Response:
        try:
            key = self._key(request)
        except BadGroupingKey as exc:
            return _text(400, str(exc))
        body = await request.read()
        content_type = request.headers.get("Content-Type", "")
        async with self.lock:
            try:
                self.store.push(key, body, replace_all, is_protobuf=is_protobuf(content_type))
            except BadPush as exc:
                return _text(400, str(exc))
            except InconsistentPush as exc:
                await self._save()
                return _text(400, str(exc))
            await self._save()
        return web.Response(status=200)

    async def put(self, request: web.Request) -> web.Response:
        return await self._push(request, replace_all=True)

    async def post(self, request: web.Request) -> web.Response:
        return await self._push(request, replace_all=False)

    async def delete(self, request: web.Request) -> web.Response:
        try:
            key = self._key(request)
        except BadGroupingKey as exc:
            return _text(400, str(exc))
        async with self.lock:
            if self.store.delete(key):
                await self._save()
        return web.Response(status=202)

    async def exposition(self, request: web.Request) -> web.Response:
        resp = web.Response(body=render_text(self.store), headers={"Content-Type": CONTENT_TYPE})
        resp.enable_compression()  # gzip when the scraper accepts it, as the Pushgateway does
        return resp

    async def json_metrics(self, request: web.Request) -> web.Response:
        return web.Response(
            body=orjson.dumps(render_json(self.store)),
            headers={"Content-Type": "application/json"},
        )
