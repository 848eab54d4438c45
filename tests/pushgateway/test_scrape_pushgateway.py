"""A normal scrape job with ``honor_labels: true`` reads pushed groups into the TSDB
with the pushed job/instance labels, as it would from a real Pushgateway."""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiohttp
from aiohttp.test_utils import TestServer

from tests.pushgateway.conftest import make_app
from tidewatch.config.model import Config, PrometheusConfig, ScrapeConfig, StaticConfig
from tidewatch.ingest.manager import ScrapeManager
from tidewatch.labels import to_dict
from tidewatch.matcher import Matcher, MatchType
from tidewatch.tsdb import TSDB


async def test_scrape_with_honor_labels(tmp_path: Path) -> None:
    db = TSDB.open(str(tmp_path / "tsdb"))
    server = TestServer(make_app(tmp_path / "pushgateway"), host="127.0.0.1")
    await server.start_server()
    mgr = ScrapeManager(db)
    try:
        client_url = server.make_url("/metrics/job/backup/instance/db1")
        async with aiohttp.ClientSession() as session:
            body = b"# TYPE last_success_seconds gauge\nlast_success_seconds 1700000000\n"
            async with session.put(client_url, data=body) as resp:
                assert resp.status == 200
        sc = ScrapeConfig(
            job_name="pushgateway",
            honor_labels=True,
            metrics_path="/metrics/pushgateway",
            static_configs=[StaticConfig(targets=[f"127.0.0.1:{server.port}"])],
            scrape_interval_ms=200,
            scrape_timeout_ms=150,
        )
        await mgr.apply_config(Config(prometheus=PrometheusConfig(scrape_configs=[sc])))
        matchers = [Matcher(MatchType.EQUAL, "__name__", "last_success_seconds")]
        for _ in range(250):
            found = db.querier().select(matchers, 0, 2**62)
            if found:
                break
            await asyncio.sleep(0.02)
        (series,) = found
        assert to_dict(series.labels) == {
            "__name__": "last_success_seconds",
            "job": "backup",
            "instance": "db1",
        }
        assert series.values[-1] == 1700000000
        pushed = [Matcher(MatchType.EQUAL, "__name__", "push_time_seconds")]
        (times,) = db.querier().select(pushed, 0, 2**62)
        assert to_dict(times.labels)["job"] == "backup"
    finally:
        await mgr.stop()
        await server.close()
        db.close()
