"""LokiAPI mounted in an aiohttp app on loopback over a real log store."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from tidewatch.logs.logql.engine import LogQLEngine
from tidewatch.logs.store import LogStore, LogStoreOptions
from tidewatch.web.api_loki import LokiAPI


@dataclass
class FakeServices:
    log_store: LogStore
    logql: LogQLEngine = field(default_factory=LogQLEngine)


@pytest.fixture
def store(tmp_path: Path) -> Any:
    s = LogStore.open(tmp_path / "logs", LogStoreOptions(ingestion_rate_mb=0))
    yield s
    s.close()


@pytest.fixture
async def client(store: LogStore) -> AsyncIterator[TestClient[Any, Any]]:
    app = web.Application(client_max_size=64 << 20)
    app.add_routes(LokiAPI(FakeServices(store)).routes())
    async with TestClient(TestServer(app, host="127.0.0.1")) as c:
        yield c
