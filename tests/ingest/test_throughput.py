"""Parser and scrape-ingest throughput (prints lines/s; run with ``-m slow -s``)."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from tidewatch.config.model import ScrapeConfig
from tidewatch.ingest.exposition import iter_samples, parse_exposition
from tidewatch.ingest.scrape_loop import LoopStats, ScrapeLoop, ScrapeSettings
from tidewatch.ingest.target import populate
from tidewatch.tsdb.interface import AppendStats, Exemplar, MetricMetadata

N = 10_000


def _body() -> bytes:
    lines = ["# HELP http_requests_total Requests.", "# TYPE http_requests_total counter"]
    for i in range(N):
        lines.append(
            f'http_requests_total{{method="GET",handler="/api/v1/item/{i % 500}",'
            f'code="{200 + i % 5}",instance_id="{i}"}} {i * 3.5}'
        )
    return ("\n".join(lines) + "\n").encode()


class _NullAppender:
    def append(self, ref: int, labels: object, t: int, v: float) -> int:
        return ref or 1

    def append_exemplar(self, ref: int, labels: object, exemplar: Exemplar) -> None:
        pass

    def update_metadata(self, metric_family: str, meta: MetricMetadata) -> None:
        pass

    def commit(self) -> AppendStats:
        return AppendStats()

    def rollback(self) -> None:
        pass


class _NullStorage:
    def appender(self) -> _NullAppender:
        return _NullAppender()


def _best(fn: Callable[[], object], runs: int = 5) -> float:
    best = float("inf")
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


@pytest.mark.slow
def test_throughput() -> None:
    body = _body()
    cfg = ScrapeConfig(job_name="bench")
    target, _ = populate({"__address__": "h:1"}, cfg, [])
    assert target is not None

    def new_loop() -> ScrapeLoop:
        return ScrapeLoop(
            target, ScrapeSettings.from_config(cfg), _NullStorage(), None, LoopStats()
        )  # type: ignore[arg-type]

    warm_loop = new_loop()
    warm_loop.ingest(body, False, 1000)
    ts = [1000]

    def warm() -> None:
        ts[0] += 1000
        warm_loop.ingest(body, False, ts[0])

    figures = {
        "split only": _best(lambda: parse_exposition(body, False)),
        "iter_samples (cold, full labels)": _best(lambda: list(iter_samples(body, False))),
        "scrape ingest cold": _best(lambda: new_loop().ingest(body, False, 1000)),
        "scrape ingest warm (cache)": _best(warm),
    }
    for name, secs in figures.items():
        print(f"{name}: {N / secs:,.0f} lines/s")
    assert N / figures["scrape ingest warm (cache)"] > 100_000
