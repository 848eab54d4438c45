"""Prometheus's TSDB admin API: ``/api/v1/admin/tsdb/snapshot``.

A snapshot is a consistent copy of the running store (blocks hard-linked, WAL copied
up to the snapshot instant) under ``<data dir>/snapshots/<name>``, as Prometheus
names them. ``tidewatch backup`` uses it when a server holds the data directory.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from pathlib import Path

from aiohttp import web

from tidewatch.tsdb import backup
from tidewatch.web.params import read_params
from tidewatch.web.responses import invalid_param, success
from tidewatch.web.services import Services

SNAPSHOTS_DIR = "snapshots"


def snapshot_name() -> str:
    """``20171210T211224Z-2be650b6d019eb54``, Prometheus's format."""
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()) + "-" + secrets.token_hex(8)


class AdminAPI:
    def __init__(self, services: Services) -> None:
        self.s = services

    def routes(self) -> list[web.RouteDef]:
        return [
            web.post("/api/v1/admin/tsdb/snapshot", self.snapshot),
            web.put("/api/v1/admin/tsdb/snapshot", self.snapshot),
        ]

    async def snapshot(self, request: web.Request) -> web.Response:
        params = await read_params(request)
        skip_head = params.get("skip_head", "false").lower()
        if skip_head not in ("", "true", "false", "1", "0"):
            raise invalid_param("skip_head", f'cannot parse "{skip_head}" to a boolean')
        # The head is always included: its WAL is copied as it stands at the snapshot.
        name = snapshot_name()
        dest = Path(self.s.config.storage.path) / SNAPSHOTS_DIR / name
        await asyncio.to_thread(backup, self.s.tsdb, str(dest), None)
        return success({"name": name})
