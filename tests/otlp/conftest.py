"""A tidewatch web app with the OTLP endpoint mounted, over a real TSDB on loopback."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from tests.web.conftest import FakeServices
from tidewatch.tsdb import TSDB
from tidewatch.web.api_otlp import OTLPAPI
from tidewatch.web.app import build_app


@pytest.fixture
async def otlp_client(tmp_path: Path) -> AsyncIterator[TestClient[Any, Any]]:
    db = TSDB.open(str(tmp_path / "data"))
    services = FakeServices(tsdb=db)
    app = build_app(services)  # type: ignore[arg-type]
    app.add_routes(OTLPAPI(services).routes())  # type: ignore[arg-type]
    async with TestClient(TestServer(app, host="127.0.0.1")) as c:
        yield c
    db.close()
