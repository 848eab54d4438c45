"""ScrapeManager end to end with real loops, real discovery files and a loopback exporter."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from aiohttp import web
from prometheus_client import CollectorRegistry, generate_latest

from tidewatch.config.model import (
    Config,
    FileSDConfig,
    HTTPSDConfig,
    PrometheusConfig,
    RelabelConfig,
    ScrapeConfig,
    StaticConfig,
)
from tidewatch.ingest import discovery
from tidewatch.ingest.manager import ScrapeManager
from tidewatch.matcher import Matcher, MatchType
from tidewatch.value import is_stale

from .conftest import Exporter
from .fakes import MemoryStorage

FAST = {"scrape_interval_ms": 200, "scrape_timeout_ms": 150}


def _config(*scs: ScrapeConfig, source_path: str = "") -> Config:
    return Config(prometheus=PrometheusConfig(scrape_configs=list(scs)), source_path=source_path)


async def _until(cond: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not cond():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not reached")
        await asyncio.sleep(0.02)


@pytest.fixture(autouse=True)
def fast_file_sd(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(discovery, "FILE_SD_POLL_SECONDS", 0.05)


async def test_targets_api_shape_and_removal_staleness(
    exporter: Exporter, storage: MemoryStorage
) -> None:
    exporter.body = b"# HELP m Some metric.\n# TYPE m gauge\nm 1\n"
    sc = ScrapeConfig(
        job_name="app",
        static_configs=[
            StaticConfig(targets=[exporter.address, "dropme:1"], labels={"env": "dev"})
        ],
        relabel_configs=[
            RelabelConfig(source_labels=["__address__"], regex="dropme.*", action="drop")
        ],
        **FAST,  # type: ignore[arg-type]
    )
    mgr = ScrapeManager(storage)
    await mgr.apply_config(_config(sc))
    try:
        await _until(lambda: bool(storage.series("m")))
        await _until(lambda: mgr.targets_api()["activeTargets"][0]["health"] == "up")
        data = mgr.targets_api()
        assert set(data) == {"activeTargets", "droppedTargets", "droppedTargetCounts"}
        (t,) = data["activeTargets"]
        assert set(t) == {
            "discoveredLabels",
            "labels",
            "scrapePool",
            "scrapeUrl",
            "globalUrl",
            "lastError",
            "lastScrape",
            "lastScrapeDuration",
            "health",
            "scrapeInterval",
            "scrapeTimeout",
        }
        assert t["labels"] == {"env": "dev", "instance": exporter.address, "job": "app"}
        assert t["discoveredLabels"]["__address__"] == exporter.address
        assert t["discoveredLabels"]["__scrape_interval__"] == "200ms"
        assert t["scrapeUrl"] == f"http://{exporter.address}/metrics"
        assert (
            t["scrapePool"] == "app"
            and t["scrapeInterval"] == "200ms"
            and t["scrapeTimeout"] == "150ms"
        )
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", t["lastScrape"])
        assert isinstance(t["lastScrapeDuration"], float)
        assert data["droppedTargets"] == [
            {"discoveredLabels": data["droppedTargets"][0]["discoveredLabels"], "scrapePool": "app"}
        ]
        assert data["droppedTargets"][0]["discoveredLabels"]["__address__"] == "dropme:1"
        assert data["droppedTargetCounts"] == {"app": 1}
        assert mgr.targets_api(state="dropped")["activeTargets"] == []
        assert mgr.targets_api(state="active")["droppedTargets"] == []
        assert mgr.scrape_pools() == ["app"]
        meta = mgr.targets_metadata([Matcher(MatchType.EQUAL, "job", "app")], "m", 0)
        assert meta == [
            {
                "target": t["labels"],
                "metric": "m",
                "type": "gauge",
                "help": "Some metric.",
                "unit": "",
            }
        ]
        assert mgr.targets_metadata([Matcher(MatchType.EQUAL, "job", "nope")], "", 0) == []
        # Self metrics render through prometheus_client without the global registry.
        reg = CollectorRegistry()

        class _C:
            def collect(self):  # type: ignore[no-untyped-def]
                return mgr.self_metrics()

        reg.register(_C())  # type: ignore[arg-type]
        text = generate_latest(reg).decode()
        assert 'prometheus_target_scrape_pool_targets{scrape_job="app"} 1.0' in text
        assert 'prometheus_sd_discovered_targets{config="app",name="scrape"} 2.0' in text
        # Removing the job marks its series stale.
        await mgr.apply_config(_config())
        assert is_stale(storage.last("m")) and is_stale(storage.last("up"))
        assert mgr.targets_api()["activeTargets"] == []
    finally:
        await mgr.stop()


async def test_reload_keeps_unchanged_targets(exporter: Exporter, storage: MemoryStorage) -> None:
    sc = ScrapeConfig(
        job_name="app", static_configs=[StaticConfig(targets=[exporter.address])], **FAST
    )  # type: ignore[arg-type]
    mgr = ScrapeManager(storage)
    await mgr.apply_config(_config(sc))
    try:
        await _until(lambda: bool(storage.series("up_thing")))
        loop_before = next(iter(mgr.pools["app"].loops.values()))
        sc2 = ScrapeConfig(
            job_name="app",
            static_configs=[StaticConfig(targets=[exporter.address])],
            sample_limit=1000,
            **FAST,  # type: ignore[arg-type]
        )
        await mgr.apply_config(_config(sc2))
        loop_after = next(iter(mgr.pools["app"].loops.values()))
        assert loop_after is loop_before and loop_after.settings.sample_limit == 1000
        assert loop_after.cache, "an unrelated config change keeps the series cache"
        assert not any(is_stale(v) for v in storage.values("up_thing"))
    finally:
        await mgr.stop()
    assert is_stale(storage.last("up_thing"))


async def test_file_sd_picks_up_changes(
    tmp_path: Path, exporter: Exporter, storage: MemoryStorage
) -> None:
    sd = tmp_path / "targets.json"
    sd.write_text(json.dumps([{"targets": [exporter.address], "labels": {"team": "a"}}]))
    sc = ScrapeConfig(
        job_name="files",
        file_sd_configs=[FileSDConfig(files=["*.json", "*.yml"], refresh_interval_ms=300_000)],
        **FAST,  # type: ignore[arg-type]
    )
    mgr = ScrapeManager(storage)
    await mgr.apply_config(_config(sc, source_path=str(tmp_path / "prometheus.yml")))
    try:
        data = mgr.targets_api()
        (t,) = data["activeTargets"]
        assert t["labels"]["team"] == "a"
        assert t["discoveredLabels"]["__meta_filepath"] == str(sd)
        # A YAML file appears with a second target; the JSON file changes its labels.
        (tmp_path / "more.yml").write_text("- targets: ['127.0.0.1:1']\n  labels: {team: b}\n")
        sd.write_text(json.dumps([{"targets": [exporter.address], "labels": {"team": "c"}}]))
        await _until(
            lambda: (
                sorted(x["labels"]["team"] for x in mgr.targets_api()["activeTargets"])
                == ["b", "c"]
            )
        )
        # A broken file keeps its last good targets.
        sd.write_text("{not json")
        await asyncio.sleep(0.3)
        assert len(mgr.targets_api()["activeTargets"]) == 2
        # Deleting a file removes its targets.
        (tmp_path / "more.yml").unlink()
        await _until(lambda: len(mgr.targets_api()["activeTargets"]) == 1)
        await _until(lambda: any(is_stale(v) for v in storage.values("up", instance="127.0.0.1:1")))
    finally:
        await mgr.stop()


async def test_http_sd(exporter: Exporter, storage: MemoryStorage) -> None:
    groups = [{"targets": [exporter.address], "labels": {"from": "http"}}]
    seen_headers: list[str] = []

    async def sd(request: web.Request) -> web.Response:
        seen_headers.append(request.headers.get("X-Prometheus-Refresh-Interval-Seconds", ""))
        return web.json_response(groups)

    app = web.Application()
    app.router.add_get("/sd", sd)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    sc = ScrapeConfig(
        job_name="h",
        http_sd_configs=[HTTPSDConfig(url=f"http://127.0.0.1:{port}/sd", refresh_interval_ms=100)],
        **FAST,  # type: ignore[arg-type]
    )
    mgr = ScrapeManager(storage)
    await mgr.apply_config(_config(sc))
    try:
        await _until(lambda: len(mgr.targets_api()["activeTargets"]) == 1)
        t = mgr.targets_api()["activeTargets"][0]
        assert t["labels"]["from"] == "http"
        assert t["discoveredLabels"]["__meta_url"] == f"http://127.0.0.1:{port}/sd"
        assert seen_headers[0] == "0.1"
        groups.clear()
        await _until(lambda: mgr.targets_api()["activeTargets"] == [])
    finally:
        await mgr.stop()
        await runner.cleanup()


async def test_target_limit_fails_every_target(exporter: Exporter, storage: MemoryStorage) -> None:
    sc = ScrapeConfig(
        job_name="lim",
        target_limit=1,
        static_configs=[StaticConfig(targets=[exporter.address, "127.0.0.1:1"])],
        **FAST,  # type: ignore[arg-type]
    )
    mgr = ScrapeManager(storage)
    await mgr.apply_config(_config(sc))
    try:
        await _until(lambda: all(t["health"] == "down" for t in mgr.targets_api()["activeTargets"]))
        errors = {t["lastError"] for t in mgr.targets_api()["activeTargets"]}
        assert errors == {"target_limit exceeded (number of targets: 2, limit: 1)"}
        assert exporter.requests == []
    finally:
        await mgr.stop()


async def test_bad_relabel_config_changes_nothing(
    exporter: Exporter, storage: MemoryStorage
) -> None:
    good = ScrapeConfig(
        job_name="a", static_configs=[StaticConfig(targets=[exporter.address])], **FAST
    )  # type: ignore[arg-type]
    bad = ScrapeConfig(job_name="b", relabel_configs=[RelabelConfig(action="bogus")], **FAST)  # type: ignore[arg-type]
    mgr = ScrapeManager(storage)
    await mgr.apply_config(_config(good))
    try:
        with pytest.raises(ValueError, match="scrape job 'b'"):
            await mgr.apply_config(_config(bad))
        assert mgr.scrape_pools() == ["a"]
    finally:
        await mgr.stop()
