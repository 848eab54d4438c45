"""Scrapes of a real loopback exporter through ScrapeLoop, one scrape at a time."""

from __future__ import annotations

import math
from collections.abc import AsyncIterator, Callable

import pytest

from tidewatch.config.model import Authorization, BasicAuth, RelabelConfig, ScrapeConfig, Secret
from tidewatch.ingest import scraper
from tidewatch.ingest.scrape_loop import LoopStats, ScrapeLoop, ScrapeSettings
from tidewatch.ingest.target import populate
from tidewatch.value import is_stale

from .conftest import Exporter
from .fakes import MemoryStorage

MakeLoop = Callable[..., ScrapeLoop]


@pytest.fixture
async def make_loop(exporter: Exporter, storage: MemoryStorage) -> AsyncIterator[MakeLoop]:
    sessions = []

    def make(**cfg_kw: object) -> ScrapeLoop:
        extra_labels = cfg_kw.pop("target_labels", {})
        cfg = ScrapeConfig(job_name="app", scrape_interval_ms=1000, scrape_timeout_ms=500, **cfg_kw)  # type: ignore[arg-type]
        target, _ = populate({"__address__": exporter.address, **extra_labels}, cfg, [])  # type: ignore[dict-item]
        assert target is not None
        session = scraper.make_session(cfg.http)
        sessions.append(session)
        return ScrapeLoop(target, ScrapeSettings.from_config(cfg), storage, session, LoopStats())

    yield make
    for s in sessions:
        await s.close()


async def test_ok_scrape_report_series_and_headers(
    exporter: Exporter, storage: MemoryStorage, make_loop: MakeLoop
) -> None:
    exporter.body = (
        b'# TYPE reqs counter\n# HELP reqs Requests.\nreqs{code="200"} 5\nreqs{code="500"} 1\n'
    )
    loop = make_loop()
    await loop.scrape_once(1000)
    assert storage.series("reqs", code="200", job="app", instance=exporter.address) == [(1000, 5.0)]
    assert storage.last("up", job="app") == 1.0
    assert storage.last("scrape_samples_scraped") == 2.0
    assert storage.last("scrape_samples_post_metric_relabeling") == 2.0
    assert storage.last("scrape_series_added") == 2.0
    assert storage.last("scrape_duration_seconds") > 0
    assert storage.metadata["reqs"].type == "counter"
    assert loop.health == "up" and loop.last_error == ""
    hdr = exporter.requests[-1]
    assert hdr["Accept"].startswith("application/openmetrics-text;version=1.0.0")
    assert "text/plain;version=0.0.4" in hdr["Accept"]
    assert hdr["User-Agent"].startswith("tidewatch/")
    assert hdr["X-Prometheus-Scrape-Timeout-Seconds"] == "0.5"
    assert "gzip" in hdr["Accept-Encoding"]
    # Second scrape: cached series, nothing new added.
    exporter.body = b'reqs{code="200"} 6\nreqs{code="500"} 1\n'
    await loop.scrape_once(2000)
    assert storage.values("reqs", code="200") == [5.0, 6.0]
    assert storage.last("scrape_series_added") == 0.0


async def test_vanished_series_get_staleness_marker(
    exporter: Exporter, storage: MemoryStorage, make_loop: MakeLoop
) -> None:
    exporter.body = b'a 1\nb 2\nc{x="1"} 3 123\n'
    loop = make_loop()
    await loop.scrape_once(1000)
    exporter.body = b"a 1\n"
    await loop.scrape_once(2000)
    b = storage.series("b")
    assert b[0] == (1000, 2.0) and b[1][0] == 2000 and is_stale(b[1][1])
    # Explicit timestamps are not staleness-tracked (Prometheus's default).
    assert len(storage.series("c")) == 1
    assert not any(is_stale(v) for v in storage.values("a"))


async def test_failed_scrape_marks_all_stale_and_reports_down(
    exporter: Exporter, storage: MemoryStorage, make_loop: MakeLoop
) -> None:
    exporter.body = b"a 1\n"
    loop = make_loop()
    await loop.scrape_once(1000)
    exporter.status = 500
    await loop.scrape_once(2000)
    assert loop.health == "down"
    assert loop.last_error == "server returned HTTP status 500 Internal Server Error"
    assert storage.last("up") == 0.0
    assert is_stale(storage.last("a"))
    assert storage.last("scrape_samples_scraped") == 0.0


@pytest.mark.parametrize(
    ("setup", "cfg", "error"),
    [
        (lambda e: setattr(e, "delay_s", 1.5), {}, "context deadline exceeded"),
        (
            lambda e: setattr(e, "body", b"x 1\n" * 5000),
            {"body_size_limit": 1000},
            "body size limit exceeded",
        ),
        (lambda e: setattr(e, "body", b"ok 1\nbroken{ 1\n"), {}, "line 2"),
        (
            lambda e: setattr(e, "body", b"a 1\nb 2\nc 3\n"),
            {"sample_limit": 2},
            "sample limit exceeded",
        ),
        (
            lambda e: setattr(e, "body", b'a{x="1",y="2",z="3"} 1\n'),
            {"label_limit": 3},
            "label_limit exceeded",
        ),
        (
            lambda e: setattr(e, "body", b'a{x="long"} 1\n'),
            {"label_value_length_limit": 3},
            "label_value_length_limit",
        ),
        (
            lambda e: setattr(e, "body", b'a{xyzw="1"} 1\n'),
            {"label_name_length_limit": 3},
            "label_name_length_limit",
        ),
    ],
)
async def test_bad_scrapes_fail_only_that_scrape(
    exporter: Exporter,
    storage: MemoryStorage,
    make_loop: MakeLoop,
    setup: Callable[[Exporter], None],
    cfg: dict[str, object],
    error: str,
) -> None:
    setup(exporter)
    loop = make_loop(**cfg)
    await loop.scrape_once(1000)
    assert loop.health == "down"
    assert error in loop.last_error
    assert storage.last("up") == 0.0
    # Nothing of the failed exposition was stored.
    names = {dict(lb)["__name__"] for lb in storage.samples}
    assert names <= {
        "up",
        "scrape_duration_seconds",
        "scrape_samples_scraped",
        "scrape_samples_post_metric_relabeling",
        "scrape_series_added",
    }


async def test_unreachable_target(storage: MemoryStorage) -> None:
    cfg = ScrapeConfig(job_name="dead", scrape_interval_ms=1000, scrape_timeout_ms=500)
    target, _ = populate({"__address__": "127.0.0.1:1"}, cfg, [])
    assert target is not None
    session = scraper.make_session(cfg.http)
    try:
        loop = ScrapeLoop(target, ScrapeSettings.from_config(cfg), storage, session, LoopStats())
        await loop.scrape_once(1000)
    finally:
        await session.close()
    assert loop.health == "down"
    assert "connection refused" in loop.last_error
    assert storage.last("up", job="dead") == 0.0


async def test_gzip_and_openmetrics(
    exporter: Exporter, storage: MemoryStorage, make_loop: MakeLoop
) -> None:
    exporter.gzip = True
    exporter.content_type = "application/openmetrics-text; version=1.0.0; charset=utf-8"
    exporter.body = (
        b"# TYPE h histogram\n"
        b'h_bucket{le="1"} 2 # {trace_id="t1"} 0.5 1.5\n'
        b'h_bucket{le="+Inf"} 3\nh_count 3\nh_sum 1.5\n'
        b"ts_metric 7 12.5\n# EOF\n"
    )
    loop = make_loop()
    await loop.scrape_once(1000)
    assert loop.health == "up", loop.last_error
    assert storage.values("h_bucket", le="+Inf") == [3.0]
    assert storage.series("ts_metric") == [(12500, 7.0)]
    ((lbls, ex),) = storage.exemplars
    assert dict(lbls)["le"] == "1" and ex.ts == 1500 and dict(ex.labels) == {"trace_id": "t1"}


async def test_honor_timestamps_false(
    exporter: Exporter, storage: MemoryStorage, make_loop: MakeLoop
) -> None:
    exporter.body = b"m 1 5\n"
    loop = make_loop(honor_timestamps=False)
    await loop.scrape_once(1000)
    assert storage.series("m") == [(1000, 1.0)]


async def test_basic_auth_and_bearer(
    exporter: Exporter, storage: MemoryStorage, make_loop: MakeLoop
) -> None:
    exporter.auth = "Basic dXNlcjpwYXNz"  # user:pass
    loop = make_loop()
    await loop.scrape_once(1000)
    assert "401" in loop.last_error
    http = ScrapeConfig(job_name="x").http
    http.basic_auth = BasicAuth(username="user", password=Secret("pass"))
    loop = make_loop(http=http)
    await loop.scrape_once(2000)
    assert loop.health == "up", loop.last_error
    exporter.auth = "Bearer s3cret"
    http2 = ScrapeConfig(job_name="x").http
    http2.authorization = Authorization(credentials=Secret("s3cret"))
    loop = make_loop(http=http2)
    await loop.scrape_once(3000)
    assert loop.health == "up", loop.last_error


async def test_honor_labels_conflicts(
    exporter: Exporter, storage: MemoryStorage, make_loop: MakeLoop
) -> None:
    exporter.body = b'm{job="scraped",instance="i",exported_job="pre",other="o"} 1\n'
    loop = make_loop()
    await loop.scrape_once(1000)
    (lbls,) = [dict(lb) for lb in storage.samples if dict(lb)["__name__"] == "m"]
    assert lbls["job"] == "app" and lbls["instance"] == exporter.address
    assert lbls["exported_instance"] == "i"
    assert lbls["exported_exported_job"] == "scraped" and lbls["exported_job"] == "pre"
    storage2 = MemoryStorage()
    loop2 = make_loop(honor_labels=True)
    loop2.storage = storage2
    await loop2.scrape_once(1000)
    (lbls2,) = [dict(lb) for lb in storage2.samples if dict(lb)["__name__"] == "m"]
    assert lbls2["job"] == "scraped" and lbls2["instance"] == "i"


async def test_metric_relabeling_drop_and_post_relabel_count(
    exporter: Exporter, storage: MemoryStorage, make_loop: MakeLoop
) -> None:
    exporter.body = b"keep_me 1\ndrop_me 2\ngo_gc 3\n"
    rules = [
        RelabelConfig(source_labels=["__name__"], regex="drop_.*|go_.*", action="drop"),
        RelabelConfig(source_labels=["__name__"], target_label="renamed", replacement="yes"),
    ]
    loop = make_loop(metric_relabel_configs=rules)
    await loop.scrape_once(1000)
    assert storage.last("scrape_samples_scraped") == 3.0
    assert storage.last("scrape_samples_post_metric_relabeling") == 1.0
    assert storage.series("keep_me", renamed="yes") == [(1000, 1.0)]
    assert storage.series("drop_me") == []


async def test_nan_values_are_not_stale(
    exporter: Exporter, storage: MemoryStorage, make_loop: MakeLoop
) -> None:
    exporter.body = b"n NaN\n"
    loop = make_loop()
    await loop.scrape_once(1000)
    (v,) = storage.values("n")
    assert math.isnan(v) and not is_stale(v)


async def test_stop_writes_staleness_for_all_series(
    exporter: Exporter, storage: MemoryStorage, make_loop: MakeLoop
) -> None:
    exporter.body = b"a 1\n"
    loop = make_loop()
    await loop.scrape_once(1000)
    await loop.stop()
    assert is_stale(storage.last("a"))
    assert is_stale(storage.last("up"))
