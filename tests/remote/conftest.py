"""A tidewatch app (query API + remote API) over a real TSDB, on loopback."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any, cast

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from tests.web.conftest import FakeServices
from tidewatch.config.model import Config
from tidewatch.tsdb import TSDB
from tidewatch.web.api_remote import RemoteAPI
from tidewatch.web.app import build_app

Client = TestClient[Any, Any]


def build_remote_app(services: FakeServices) -> web.Application:
    app = build_app(cast(Any, services))
    mounted = {getattr(r.resource, "canonical", "") for r in app.router.routes()}
    if "/api/v1/write" not in mounted:  # until the server mounts RemoteAPI itself
        app.add_routes(RemoteAPI(cast(Any, services)).routes())
    return app


@pytest.fixture
def db(tmp_path: Path) -> Iterator[TSDB]:
    d = TSDB.open(str(tmp_path / "data"))
    yield d
    d.close()


@pytest.fixture
async def make_client(db: TSDB) -> AsyncIterator[Callable[..., Any]]:
    """``await make_client(config)``: a client of an app over ``db`` with that config."""
    clients: list[Client] = []

    async def make(config: Config | None = None) -> tuple[Client, FakeServices]:
        services = FakeServices(tsdb=db, config=config or Config())
        client: Client = TestClient(TestServer(build_remote_app(services), host="127.0.0.1"))
        await client.start_server()
        clients.append(client)
        return client, services

    yield make
    for c in clients:
        await c.close()


@pytest.fixture
async def client(make_client: Any) -> Client:
    c, _ = await make_client()
    return c
