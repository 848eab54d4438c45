"""A longer outage under steady load, with a sender restart in the middle of it:
after the remote returns, every sample arrives, in order per series, once (the
restart may re-send what was in flight, which the spec's at-least-once allows)."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from tests.remote.send.receiver import Receiver
from tests.remote.send.test_queue import BASE_TS, rw_config, series, wait_for
from tidewatch.agent_mode.storage import SeriesOnlyStorage
from tidewatch.remote.send import RemoteWriteManager, TeeStorage

SERIES = 500
TICK = 0.1  # seconds between commits ("scrapes")


async def produce(storage: TeeStorage, start: int, ticks: int) -> None:
    refs = [0] * SERIES
    for b in range(start, start + ticks):
        app = storage.appender()
        for i in range(SERIES):
            refs[i] = app.append(refs[i], series(i), BASE_TS + b * 1000, float(b))
        app.commit()
        await asyncio.sleep(TICK)


@pytest.mark.slow
async def test_long_outage_with_restart_delivers_everything(tmp_path: Path) -> None:
    outage_s = float(os.environ.get("TIDEWATCH_OUTAGE_SECONDS", "20"))
    half = int(outage_s / 2 / TICK)
    rx = Receiver()
    cfg = rw_config(rx.url, max_samples_per_send=500, max_backoff="500ms")
    mgr = RemoteWriteManager([cfg], {}, tmp_path)
    await mgr.start()
    await produce(TeeStorage(SeriesOnlyStorage(), mgr), 0, half)
    await mgr.stop(flush_timeout=0.5)

    mgr = RemoteWriteManager([cfg], {}, tmp_path)  # the restarted sender
    await mgr.start()
    q = next(iter(mgr.queues.values()))
    assert q.stats.samples_pending == SERIES * half
    await produce(TeeStorage(SeriesOnlyStorage(), mgr), half, half)
    await rx.start()
    total = SERIES * 2 * half
    try:
        await wait_for(lambda: q.stats.samples_pending == 0, 120)
        await mgr.stop()
        for i in range(SERIES):
            got = [t for t, _ in rx.samples[series(i)]]
            assert got == [BASE_TS + b * 1000 for b in range(2 * half)], i
        assert rx.total() == total
    finally:
        await rx.stop()
