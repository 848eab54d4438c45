"""The Grafana API and UI routes on a real aiohttp server on loopback, over a temp data dir."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from tidewatch.config.model import Config
from tidewatch.web.grafana_api import GrafanaAPI
from tidewatch.web.ui import UIRoutes


@dataclass
class UIServices:
    config: Config = field(default_factory=Config)


def services_for(data_dir: Path, dashboards: Any = None, config_path: str = "") -> UIServices:
    cfg = Config()
    cfg.storage.path = str(data_dir)
    cfg.source_path = config_path
    if dashboards is not None:
        cfg.sections["dashboards"] = dashboards
    return UIServices(cfg)


Factory = Callable[..., "AsyncIterator[TestClient[Any, Any]]"]


@pytest.fixture
async def make_client(
    tmp_path: Path,
) -> AsyncIterator[Callable[..., Any]]:
    clients: list[TestClient[Any, Any]] = []
    apis: list[GrafanaAPI] = []

    async def make(
        dashboards: Any = None, static_dir: Path | None = None, config_path: str = ""
    ) -> TestClient[Any, Any]:
        services = cast(Any, services_for(tmp_path / "data", dashboards, config_path))
        api = GrafanaAPI(services)
        apis.append(api)
        app = web.Application()
        app.add_routes(api.routes())
        app.add_routes(UIRoutes(services, static_dir=static_dir).routes())
        client: TestClient[Any, Any] = TestClient(TestServer(app, host="127.0.0.1"))
        await client.start_server()
        clients.append(client)
        return client

    yield make
    for c in clients:
        await c.close()
    for a in apis:
        a.dashboards.close()
