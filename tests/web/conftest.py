"""An in-process tidewatch web app over a real TSDB, served on loopback."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from tidewatch.collectors.host import HostCollector
from tidewatch.collectors.self_metrics import SelfMetrics
from tidewatch.config.model import Config
from tidewatch.ingest.manager import ScrapeManager
from tidewatch.labels import from_dict
from tidewatch.promql.engine import Engine
from tidewatch.tsdb import TSDB
from tidewatch.web.app import build_app

# Data starts at a fixed point so expected values are exact.
T0 = 1_700_000_000_000


@dataclass
class FakeServices:
    tsdb: TSDB
    config: Config = field(default_factory=Config)
    flags: dict[str, str] = field(default_factory=dict)
    ready: bool = True
    start_time: float = field(default_factory=time.time)
    last_reload_success: bool = True
    last_reload_time: float = field(default_factory=time.time)
    reloads: int = 0

    def __post_init__(self) -> None:
        self.storage = self.tsdb
        self.engine = Engine(max_samples=100_000, timeout_ms=10_000)
        self.scrape_manager = ScrapeManager(self.tsdb)
        self.self_metrics = SelfMetrics()
        self.host_collector = HostCollector()

    async def reload(self) -> None:
        self.reloads += 1

    def runtime_info(self) -> dict[str, Any]:
        return {"reloadConfigSuccess": True}


SERVICES = web.AppKey("services", FakeServices)


def load_demo_data(db: TSDB) -> None:
    """Two jobs' request counters (+1/s and +2/s) and a gauge, every 15 s for 1 h."""
    app = db.appender()
    for i in range(241):
        t = T0 + i * 15_000
        for job, rate in (("api", 1.0), ("worker", 2.0)):
            lbls = from_dict({"__name__": "http_requests_total", "job": job, "code": "200"})
            app.append(0, lbls, t, rate * i * 15)
        app.append(0, from_dict({"__name__": "temperature", "room": "a"}), t, 20.0 + (i % 2))
    app.commit()


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[TestClient[Any, Any]]:
    db = TSDB.open(str(tmp_path / "data"))
    load_demo_data(db)
    services = FakeServices(tsdb=db)
    app = build_app(services)
    app[SERVICES] = services
    async with TestClient(TestServer(app, host="127.0.0.1")) as c:
        yield c
    db.close()
