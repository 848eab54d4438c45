"""Agent mode end to end on loopback: a real scrape target, the agent, a receiver."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest

from tests.remote.send.receiver import Receiver
from tidewatch.agent_mode import MetricsAgent
from tidewatch.config.model import Config, ScrapeConfig, StaticConfig
from tidewatch.remote.send import RemoteWriteConfigError
from tidewatch.value import is_stale


def agent_config(target: str, url: str) -> Config:
    cfg = Config()
    cfg.prometheus.global_.external_labels = {"agent": "a1"}
    cfg.prometheus.scrape_configs = [
        ScrapeConfig(
            job_name="demo",
            scrape_interval_ms=200,
            scrape_timeout_ms=150,
            static_configs=[StaticConfig(targets=[target])],
        )
    ]
    cfg.prometheus.remote_write = [
        {"url": url, "queue_config": {"batch_send_deadline": "50ms", "min_backoff": "10ms"}}
    ]
    return cfg


async def wait_for(cond: Any, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(0.05)


def by_name(rx: Receiver, name: str) -> dict[tuple[tuple[str, str], ...], list[tuple[int, float]]]:
    return {k: v for k, v in rx.samples.items() if dict(k).get("__name__") == name}


async def test_agent_scrapes_and_forwards(target: str, tmp_path: Path) -> None:
    rx = Receiver()
    await rx.start()
    agent = MetricsAgent(agent_config(target, rx.url), tmp_path)
    await agent.start()
    try:
        await wait_for(lambda: any(len(v) >= 3 for v in by_name(rx, "demo_temp").values()))
    finally:
        await agent.stop()
        await rx.stop()
    ((lbls, samples),) = by_name(rx, "demo_temp").items()
    assert dict(lbls) == {
        "__name__": "demo_temp",
        "agent": "a1",
        "instance": target,
        "job": "demo",
    }
    ts = [t for t, _ in samples]
    assert ts == sorted(ts) and len(set(ts)) == len(ts)
    assert all(v == 21.5 for _, v in samples[:-1])
    # Stopping the agent marks its series stale, and the markers are forwarded.
    assert is_stale(samples[-1][1])
    assert by_name(rx, "up") and by_name(rx, "demo_requests_total")
    assert agent.series.num_series >= 3
    names = {m.name for m in agent.self_metrics()}
    assert "prometheus_remote_storage_samples_pending" in names
    assert not list(agent.series.querier().select([], 0, 2**62))


async def test_agent_reload_rejects_bad_remote_write(target: str, tmp_path: Path) -> None:
    rx = Receiver()
    await rx.start()
    agent = MetricsAgent(agent_config(target, rx.url), tmp_path)
    await agent.start()
    try:
        bad = agent_config(target, rx.url)
        bad.prometheus.remote_write = [{"url": rx.url, "queue_config": {"max_shards": 0}}]
        with pytest.raises(RemoteWriteConfigError, match="max_shards"):
            await agent.apply_config(bad)
        assert len(agent.remote.queues) == 1
        rx2 = Receiver()
        await rx2.start()
        try:
            await agent.apply_config(agent_config(target, rx2.url))
            await wait_for(lambda: bool(by_name(rx2, "demo_temp")))
        finally:
            await agent.stop()
            await rx2.stop()
    finally:
        await rx.stop()


def test_series_only_storage_batch_append_fixes_unknown_refs() -> None:
    import numpy as np

    from tidewatch.agent_mode import SeriesOnlyStorage

    storage = SeriesOnlyStorage()
    labels = [(("__name__", "m"), ("i", str(i))) for i in range(3)]
    app = storage.appender()
    refs = np.array([app.append(0, lb, 1, 1.0) for lb in labels], np.int64)
    batch = np.array([refs[0], 0, 99], np.int64)  # known, never seen, out of range
    app.append_batch(batch, labels, np.full(3, 2, np.int64), np.ones(3))  # type: ignore[attr-defined]
    assert batch.tolist() == refs.tolist()  # replaced in place with the right refs
    assert app.commit().samples == 6 and storage.num_series == 3
