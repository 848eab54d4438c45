"""Scrape a real loopback exporter into the real TSDB and read it back."""

from __future__ import annotations

import asyncio
from pathlib import Path

import numpy as np

from tidewatch.config.model import Config, PrometheusConfig, ScrapeConfig, StaticConfig
from tidewatch.ingest.manager import ScrapeManager
from tidewatch.matcher import Matcher, MatchType
from tidewatch.tsdb import TSDB
from tidewatch.tsdb.interface import Series
from tidewatch.value import stale_mask

from .conftest import Exporter


def _select(db: TSDB, name: str) -> list[Series]:
    q = db.querier()
    try:
        return q.select([Matcher(MatchType.EQUAL, "__name__", name)], 0, 1 << 62)
    finally:
        q.close()


async def _until_samples(db: TSDB, name: str, n: int, timeout: float = 10.0) -> list[Series]:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        got = _select(db, name)
        if got and len(got[0].ts) >= n:
            return got
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"{name}: fewer than {n} samples: {got}")
        await asyncio.sleep(0.05)


async def test_scrape_into_tsdb_with_staleness(tmp_path: Path, exporter: Exporter) -> None:
    exporter.body = b'# TYPE reqs counter\nreqs{code="200"} 1\ngoes_away 5\n'
    db = TSDB.open(str(tmp_path / "data"))
    mgr = ScrapeManager(db)
    cfg = Config(
        prometheus=PrometheusConfig(
            scrape_configs=[
                ScrapeConfig(
                    job_name="e2e",
                    scrape_interval_ms=200,
                    scrape_timeout_ms=150,
                    static_configs=[StaticConfig(targets=[exporter.address])],
                )
            ]
        )
    )
    try:
        await mgr.apply_config(cfg)
        await _until_samples(db, "goes_away", 2)
        exporter.body = b'# TYPE reqs counter\nreqs{code="200"} 2\n'
        away = await _until_samples(db, "goes_away", 3)
        (s,) = away
        assert dict(s.labels) == {
            "__name__": "goes_away",
            "instance": exporter.address,
            "job": "e2e",
        }
        assert stale_mask(s.values)[-1] and not stale_mask(s.values)[:-1].any()
        assert np.all(np.diff(s.ts) > 0)
        (up,) = await _until_samples(db, "up", 3)
        assert set(up.values.tolist()) == {1.0}
        (reqs,) = _select(db, "reqs")
        assert reqs.values[-1] == 2.0
        assert db.metadata()["reqs"][0].type == "counter"
    finally:
        await mgr.stop()
    (reqs,) = _select(db, "reqs")
    assert stale_mask(reqs.values)[-1]
    db.close()
