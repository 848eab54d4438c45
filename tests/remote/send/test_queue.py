"""Remote write sending against a loopback receiver: batching, headers, outages,
restarts resuming from the on-disk queue, 4xx drops, relabeling, metrics."""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.remote.send.receiver import Receiver
from tidewatch.agent_mode.storage import SeriesOnlyStorage
from tidewatch.labels import Labels
from tidewatch.remote.send import RemoteWriteManager, TeeStorage
from tidewatch.value import STALE_NAN, is_stale

BASE_TS = 1_700_000_000_000


def rw_config(url: str, **queue: Any) -> dict[str, Any]:
    q = {
        "batch_send_deadline": "20ms",
        "min_backoff": "10ms",
        "max_backoff": "50ms",
        "max_samples_per_send": 100,
        "max_shards": 4,
    }
    q.update(queue)
    return {"url": url, "queue_config": q}


def series(i: int) -> Labels:
    return (("__name__", "test_metric"), ("instance", f"host{i}"), ("job", "send"))


def write_batches(
    storage: TeeStorage, n_series: int, n_batches: int, start: int = 0, base: int = BASE_TS
) -> None:
    """``n_batches`` commits, each one sample per series, timestamps 1 s apart."""
    refs = [0] * n_series
    for b in range(start, start + n_batches):
        app = storage.appender()
        for i in range(n_series):
            refs[i] = app.append(refs[i], series(i), base + b * 1000, float(b * 10 + i))
        app.commit()


async def wait_for(cond: Any, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.02)


def assert_complete(rx: Receiver, n_series: int, n_batches: int, ext: Labels = ()) -> None:
    """Every sample arrived, in time order per series, without duplicates."""
    assert len(rx.samples) == n_series
    for i in range(n_series):
        lbls = tuple(sorted(series(i) + ext))
        got = rx.samples[lbls]
        assert [t for t, _ in got] == [BASE_TS + b * 1000 for b in range(n_batches)], lbls
        assert [v for _, v in got] == [float(b * 10 + i) for b in range(n_batches)]


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    rx = Receiver()
    await rx.start()
    yield rx
    await rx.stop()


async def test_delivers_in_order_with_protocol_headers(receiver: Receiver, tmp_path: Path) -> None:
    mgr = RemoteWriteManager([rw_config(receiver.url)], {"cluster": "c1"}, tmp_path)
    await mgr.start()
    storage = TeeStorage(SeriesOnlyStorage(), mgr)
    write_batches(storage, 30, 20)
    await wait_for(lambda: receiver.total() == 600)
    await mgr.stop()
    assert_complete(receiver, 30, 20, (("cluster", "c1"),))
    h = receiver.headers[0]
    assert h["Content-Encoding"] == "snappy"
    assert h["Content-Type"] == "application/x-protobuf"
    assert h["X-Prometheus-Remote-Write-Version"] == "0.1.0"
    assert h["User-Agent"].startswith("tidewatch/")
    # 100 samples per request at most: at least 6 requests for 600 samples.
    assert receiver.requests >= 6


async def test_outage_then_recovery_delivers_everything(tmp_path: Path) -> None:
    rx = Receiver()  # not started: connection refused
    mgr = RemoteWriteManager([rw_config(rx.url)], {}, tmp_path)
    await mgr.start()
    storage = TeeStorage(SeriesOnlyStorage(), mgr)
    write_batches(storage, 25, 10)
    await asyncio.sleep(0.3)
    q = next(iter(mgr.queues.values()))
    assert q.stats.samples_retried > 0
    assert q.stats.samples_pending == 250
    write_batches(storage, 25, 10, start=10)
    await rx.start()
    try:
        await wait_for(lambda: rx.total() >= 500)
        await mgr.stop()
        assert_complete(rx, 25, 20)
        assert q.stats.samples_pending == 0
        assert q.stats.samples_failed == 0
    finally:
        await rx.stop()


async def test_server_errors_are_retried(receiver: Receiver, tmp_path: Path) -> None:
    receiver.status = 503
    mgr = RemoteWriteManager([rw_config(receiver.url)], {}, tmp_path)
    await mgr.start()
    write_batches(TeeStorage(SeriesOnlyStorage(), mgr), 5, 4)
    await wait_for(lambda: receiver.requests >= 3)
    receiver.status = 204
    await wait_for(lambda: receiver.total() == 20)
    await mgr.stop()
    assert_complete(receiver, 5, 4)


async def test_restart_mid_outage_resumes_from_the_log(tmp_path: Path) -> None:
    rx = Receiver()
    mgr = RemoteWriteManager([rw_config(rx.url)], {}, tmp_path)
    await mgr.start()
    storage = TeeStorage(SeriesOnlyStorage(), mgr)
    write_batches(storage, 10, 5)
    await asyncio.sleep(0.1)
    await mgr.stop(flush_timeout=0.2)  # cannot deliver: the data stays queued on disk
    assert rx.total() == 0

    # A new process: new storage refs, same data dir.
    mgr2 = RemoteWriteManager([rw_config(rx.url)], {}, tmp_path)
    q2 = next(iter(mgr2.queues.values())) if mgr2.queues else None
    assert q2 is None
    await mgr2.start()
    q2 = next(iter(mgr2.queues.values()))
    assert q2.stats.samples_pending == 50
    storage2 = TeeStorage(SeriesOnlyStorage(), mgr2)
    write_batches(storage2, 10, 5, start=5)
    await rx.start()
    try:
        await wait_for(lambda: rx.total() >= 100)
        await mgr2.stop()
        assert_complete(rx, 10, 10)
    finally:
        await rx.stop()


async def test_restart_after_delivery_sends_nothing_again(
    receiver: Receiver, tmp_path: Path
) -> None:
    mgr = RemoteWriteManager([rw_config(receiver.url)], {}, tmp_path)
    await mgr.start()
    write_batches(TeeStorage(SeriesOnlyStorage(), mgr), 4, 3)
    await wait_for(lambda: receiver.total() == 12)
    await mgr.stop()
    mgr2 = RemoteWriteManager([rw_config(receiver.url)], {}, tmp_path)
    await mgr2.start()
    assert next(iter(mgr2.queues.values())).stats.samples_pending == 0
    await asyncio.sleep(0.2)
    await mgr2.stop()
    assert receiver.total() == 12


async def test_client_errors_drop_the_batch(receiver: Receiver, tmp_path: Path) -> None:
    receiver.status = 400
    mgr = RemoteWriteManager([rw_config(receiver.url)], {}, tmp_path)
    await mgr.start()
    storage = TeeStorage(SeriesOnlyStorage(), mgr)
    write_batches(storage, 5, 2)
    q = next(iter(mgr.queues.values()))
    await wait_for(lambda: q.stats.samples_failed == 10)
    requests = receiver.requests
    receiver.status = 204
    write_batches(storage, 5, 1, start=2)
    await wait_for(lambda: receiver.total() == 5)
    await mgr.stop()
    # The refused samples were not retried; only the later batch arrived.
    assert receiver.requests == requests + 1
    assert q.stats.samples_retried == 0
    assert {t for v in receiver.samples.values() for t, _ in v} == {BASE_TS + 2000}


async def test_429_retried_unless_disabled(receiver: Receiver, tmp_path: Path) -> None:
    receiver.status = 429
    cfg = rw_config(receiver.url, retry_on_http_429=False)
    mgr = RemoteWriteManager([cfg], {}, tmp_path)
    await mgr.start()
    write_batches(TeeStorage(SeriesOnlyStorage(), mgr), 3, 1)
    q = next(iter(mgr.queues.values()))
    await wait_for(lambda: q.stats.samples_failed == 3)
    await mgr.stop()


async def test_write_relabel_and_external_labels(receiver: Receiver, tmp_path: Path) -> None:
    cfg = rw_config(receiver.url)
    cfg["write_relabel_configs"] = [
        {"source_labels": ["instance"], "regex": "host[0-4]", "action": "keep"},
        {"target_label": "env", "replacement": "prod"},
    ]
    mgr = RemoteWriteManager([cfg], {"cluster": "c1", "job": "ignored"}, tmp_path)
    await mgr.start()
    write_batches(TeeStorage(SeriesOnlyStorage(), mgr), 10, 3)
    await wait_for(lambda: receiver.total() == 15)
    await mgr.stop()
    # The series' own job wins over the external label.
    assert_complete(receiver, 5, 3, (("cluster", "c1"), ("env", "prod")))
    q_metrics = {m.name: m for m in mgr.self_metrics()}
    assert "prometheus_remote_storage_samples" in q_metrics


async def test_staleness_markers_keep_their_bits(receiver: Receiver, tmp_path: Path) -> None:
    mgr = RemoteWriteManager([rw_config(receiver.url)], {}, tmp_path)
    await mgr.start()
    storage = TeeStorage(SeriesOnlyStorage(), mgr)
    app = storage.appender()
    app.append(0, series(0), BASE_TS, 1.0)
    app.append(0, series(1), BASE_TS, STALE_NAN)
    app.commit()
    await wait_for(lambda: receiver.total() == 2)
    await mgr.stop()
    assert is_stale(receiver.samples[series(1)][0][1])
    assert receiver.samples[series(0)][0][1] == 1.0


async def test_auth_and_custom_headers(receiver: Receiver, tmp_path: Path) -> None:
    cfg = rw_config(receiver.url)
    cfg["headers"] = {"X-Scope-OrgID": "tenant-1"}
    cfg["basic_auth"] = {"username": "u", "password": "p"}
    mgr = RemoteWriteManager([cfg], {}, tmp_path)
    await mgr.start()
    write_batches(TeeStorage(SeriesOnlyStorage(), mgr), 1, 1)
    await wait_for(lambda: receiver.total() == 1)
    await mgr.stop()
    h = receiver.headers[0]
    assert h["X-Scope-OrgID"] == "tenant-1"
    assert h["Authorization"] == "Basic dTpw"


async def test_rollback_sends_nothing(receiver: Receiver, tmp_path: Path) -> None:
    mgr = RemoteWriteManager([rw_config(receiver.url)], {}, tmp_path)
    await mgr.start()
    storage = TeeStorage(SeriesOnlyStorage(), mgr)
    app = storage.appender()
    app.append(0, series(0), BASE_TS, 1.0)
    app.rollback()
    write_batches(storage, 1, 1, start=1)
    await wait_for(lambda: receiver.total() == 1)
    await mgr.stop()
    assert receiver.samples[series(0)] == [(BASE_TS + 1000, 10.0)]


async def test_metrics_report_queue_state(receiver: Receiver, tmp_path: Path) -> None:
    mgr = RemoteWriteManager([rw_config(receiver.url)], {}, tmp_path)
    await mgr.start()
    write_batches(TeeStorage(SeriesOnlyStorage(), mgr), 10, 2)
    await wait_for(lambda: receiver.total() == 20)
    await asyncio.sleep(0.05)
    values = {
        (s.name, s.labels.get("le", "")): s.value for m in mgr.self_metrics() for s in m.samples
    }
    await mgr.stop()
    assert values[("prometheus_remote_storage_samples_total", "")] == 20
    assert values[("prometheus_remote_storage_samples_pending", "")] == 0
    assert values[("prometheus_remote_storage_samples_failed_total", "")] == 0
    assert (
        values[("prometheus_remote_storage_highest_timestamp_in_seconds", "")]
        == (BASE_TS + 1000) / 1000
    )
    assert (
        values[("prometheus_remote_storage_queue_highest_sent_timestamp_seconds", "")]
        == (BASE_TS + 1000) / 1000
    )
    assert values[("prometheus_remote_storage_sent_batch_duration_seconds_count", "")] >= 1
    assert not math.isnan(values[("prometheus_remote_storage_shards", "")])


async def test_segment_rotation_under_load_loses_nothing(tmp_path: Path) -> None:
    rx = Receiver()
    mgr = RemoteWriteManager([rw_config(rx.url)], {}, tmp_path)
    await mgr.start()
    q = next(iter(mgr.queues.values()))
    q.writer.segment_bytes = 2048  # many small segments
    storage = TeeStorage(SeriesOnlyStorage(), mgr)
    write_batches(storage, 40, 30)
    await rx.start()
    try:
        await wait_for(lambda: rx.total() >= 1200)
        await mgr.stop()
        assert_complete(rx, 40, 30)
        segments = [p for p in (tmp_path / "remote_write" / q.cfg.hash).iterdir()]
        assert len([p for p in segments if p.name.isdigit()]) <= 2
    finally:
        await rx.stop()


async def test_tee_over_the_real_tsdb(receiver: Receiver, tmp_path: Path) -> None:
    from tidewatch.matcher import Matcher, MatchType
    from tidewatch.tsdb import TSDB

    db = TSDB.open(str(tmp_path / "tsdb"))
    mgr = RemoteWriteManager([rw_config(receiver.url)], {}, tmp_path)
    await mgr.start()
    try:
        write_batches(TeeStorage(db, mgr), 3, 4)
        await wait_for(lambda: receiver.total() == 12)
        q = TeeStorage(db, mgr).querier()
        got = q.select([Matcher(MatchType.EQUAL, "__name__", "test_metric")], 0, 2**62)
        q.close()
        assert sorted(len(s.ts) for s in got) == [4, 4, 4]
        assert_complete(receiver, 3, 4)
    finally:
        await mgr.stop()
        db.close()


async def test_reload_reconfigures_in_place_and_adds_queues(tmp_path: Path) -> None:
    rx1, rx2 = Receiver(), Receiver()
    await rx1.start()
    await rx2.start()
    mgr = RemoteWriteManager([rw_config(rx1.url)], {}, tmp_path)
    await mgr.start()
    storage = TeeStorage(SeriesOnlyStorage(), mgr)
    try:
        write_batches(storage, 4, 1)
        await wait_for(lambda: rx1.total() == 4)
        first = next(iter(mgr.queues.values()))
        cfg = rw_config(rx1.url)
        cfg["write_relabel_configs"] = [{"target_label": "env", "replacement": "prod"}]
        await mgr.apply_config([cfg, rw_config(rx2.url)], {"dc": "x"})
        assert next(iter(mgr.queues.values())) is first  # same queue, same log
        assert len(mgr.queues) == 2
        write_batches(storage, 4, 1, start=1)
        await wait_for(lambda: rx1.total() == 8 and rx2.total() == 4)
        relabeled = tuple(sorted((*series(0), ("dc", "x"), ("env", "prod"))))
        assert rx1.samples[relabeled] == [(BASE_TS + 1000, 10.0)]
        assert rx2.samples[tuple(sorted((*series(0), ("dc", "x"))))] == [(BASE_TS + 1000, 10.0)]
        with pytest.raises(ValueError, match="max_shards"):
            await mgr.apply_config([{"url": rx1.url, "queue_config": {"max_shards": 0}}], {})
        assert len(mgr.queues) == 2
        await mgr.apply_config([rw_config(rx2.url)], {"dc": "x"})
        assert len(mgr.queues) == 1
    finally:
        await mgr.stop()
        await rx1.stop()
        await rx2.stop()


async def test_sample_age_limit_drops_old_samples(receiver: Receiver, tmp_path: Path) -> None:
    mgr = RemoteWriteManager([rw_config(receiver.url, sample_age_limit="1h")], {}, tmp_path)
    await mgr.start()
    storage = TeeStorage(SeriesOnlyStorage(), mgr)
    write_batches(storage, 2, 1)  # BASE_TS is years old
    write_batches(storage, 2, 1, base=int(time.time() * 1000))
    await wait_for(lambda: receiver.total() == 2)
    q = next(iter(mgr.queues.values()))
    await mgr.stop()
    assert q.stats.samples_dropped == 2
    assert q.stats.samples_pending == 0


async def test_backlog_cap_drops_oldest_during_outage(tmp_path: Path) -> None:
    rx = Receiver()
    mgr = RemoteWriteManager([rw_config(rx.url)], {}, tmp_path, max_backlog_bytes=4096)
    await mgr.start()
    q = next(iter(mgr.queues.values()))
    q.writer.segment_bytes = 1024
    storage = TeeStorage(SeriesOnlyStorage(), mgr)
    for b in range(40):
        write_batches(storage, 10, 1, start=b)
        await asyncio.sleep(0.01)
    await wait_for(lambda: q.stats.samples_dropped > 0)
    await rx.start()
    try:
        await wait_for(lambda: q.stats.samples_pending == 0)
        await mgr.stop()
        assert rx.total() + q.stats.samples_dropped == 400
        for i in range(10):
            got = [t for t, _ in rx.samples[series(i)]]
            assert got == sorted(set(got))  # in order, no duplicates
            assert got[-1] == BASE_TS + 39_000  # the newest data survived
        log_dir = tmp_path / "remote_write" / q.cfg.hash
        assert sum(p.stat().st_size for p in log_dir.iterdir() if p.name.isdigit()) < 8192
    finally:
        await rx.stop()


async def test_metadata_is_sent_periodically(receiver: Receiver, tmp_path: Path) -> None:
    from tidewatch.tsdb.interface import MetricMetadata

    cfg = rw_config(receiver.url)
    cfg["metadata_config"] = {"send_interval": "50ms"}
    mgr = RemoteWriteManager([cfg], {}, tmp_path)
    await mgr.start()
    app = TeeStorage(SeriesOnlyStorage(), mgr).appender()
    app.append(0, series(0), BASE_TS, 1.0)
    app.update_metadata("test_metric", MetricMetadata("counter", "Requests served.", "requests"))
    app.commit()
    await wait_for(lambda: "test_metric" in receiver.metadata)
    await mgr.stop()
    assert receiver.metadata["test_metric"] == MetricMetadata(
        "counter", "Requests served.", "requests"
    )


async def test_send_loop_error_resumes_from_committed_position(
    receiver: Receiver, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import tidewatch.remote.send.queue as queue_mod

    real = queue_mod.encode_write_request
    calls = {"n": 0}

    def flaky(*args: Any) -> tuple[bytes, int]:
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("injected")
        return real(*args)

    monkeypatch.setattr(queue_mod, "encode_write_request", flaky)
    monkeypatch.setattr(queue_mod.asyncio, "sleep", _fast_sleep)
    mgr = RemoteWriteManager([rw_config(receiver.url)], {}, tmp_path)
    await mgr.start()
    write_batches(TeeStorage(SeriesOnlyStorage(), mgr), 5, 3)
    await wait_for(lambda: receiver.total() >= 15)
    await mgr.stop()
    assert calls["n"] > 1
    assert_complete(receiver, 5, 3)


_real_sleep = asyncio.sleep


async def _fast_sleep(delay: float, *args: Any) -> Any:
    return await _real_sleep(min(delay, 0.01), *args)


async def test_tls_with_ca_file_and_server_name(tmp_path: Path) -> None:
    import shutil
    import ssl
    import subprocess

    if not shutil.which("openssl"):
        pytest.skip("openssl not installed")
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=receiver.test",
            "-addext",
            "subjectAltName=DNS:receiver.test",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_ctx.load_cert_chain(cert, key)
    rx = Receiver(ssl_context=server_ctx)
    await rx.start()
    cfg = rw_config(rx.url)
    cfg["tls_config"] = {"ca_file": str(cert), "server_name": "receiver.test"}
    mgr = RemoteWriteManager([cfg], {}, tmp_path / "data")
    await mgr.start()
    try:
        write_batches(TeeStorage(SeriesOnlyStorage(), mgr), 2, 2)
        await wait_for(lambda: rx.total() == 4)
    finally:
        await mgr.stop()
        await rx.stop()
    assert_complete(rx, 2, 2)


@pytest.mark.parametrize("send", [True, False])
async def test_exemplars_follow_send_exemplars(
    receiver: Receiver, tmp_path: Path, send: bool
) -> None:
    from tidewatch.tsdb.interface import Exemplar

    cfg = rw_config(receiver.url)
    cfg["send_exemplars"] = send
    mgr = RemoteWriteManager([cfg], {"dc": "x"}, tmp_path)
    await mgr.start()
    app = TeeStorage(SeriesOnlyStorage(), mgr).appender()
    ref = app.append(0, series(0), BASE_TS, 1.0)
    ex = Exemplar((("trace_id", "abc123"),), 0.25, BASE_TS - 5)
    app.append_exemplar(ref, series(0), ex)
    app.commit()
    await wait_for(lambda: receiver.total() == 1)
    if send:
        await wait_for(lambda: bool(receiver.exemplars))
    else:
        await asyncio.sleep(0.1)
    await mgr.stop()
    key = tuple(sorted((*series(0), ("dc", "x"))))
    assert receiver.exemplars.get(key, []) == ([ex] if send else [])
