"""LokiAPI (with the OTLP logs route) on loopback over a real log store."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
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
class LogServices:
    log_store: LogStore
    logql: LogQLEngine = field(default_factory=LogQLEngine)


@pytest.fixture
def log_store(tmp_path: Path) -> Iterator[LogStore]:
    s = LogStore.open(tmp_path / "logs", LogStoreOptions(ingestion_rate_mb=0))
    yield s
    s.close()


@pytest.fixture
async def loki(log_store: LogStore) -> AsyncIterator[TestClient[Any, Any]]:
    app = web.Application()
    app.add_routes(LokiAPI(LogServices(log_store)).routes())
    async with TestClient(TestServer(app, host="127.0.0.1")) as c:
        yield c
