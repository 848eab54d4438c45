"""The dispatcher end to end with short real timers: grouping, group_wait,
group_interval, repeat_interval, resolution, the mute stages, retries and
deduplication across a restart."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from tidewatch.alertmanager.alert import Alert, wall_clock_ms
from tidewatch.alertmanager.config import AlertmanagerConfig, load_config
from tidewatch.alertmanager.dispatch import Dispatcher
from tidewatch.alertmanager.matchers import parse_matchers
from tidewatch.alertmanager.nflog import NotificationLog
from tidewatch.alertmanager.silence import Silences
from tidewatch.alertmanager.sqlite import db_path
from tidewatch.labels import Labels, from_dict, get

CFG = """
route:
  receiver: team
  group_by: [alertname]
  group_wait: 200ms
  group_interval: 300ms
  repeat_interval: 1h
  routes:
    - matchers: [mute="always"]
      receiver: team
      mute_time_intervals: [always]
    - matchers: [active="never"]
      receiver: team
      active_time_intervals: [y1999]
    - matchers: [flaky="yes"]
      receiver: flaky
receivers:
  - name: team
    webhook_configs: [{url: "http://127.0.0.1:1/"}]
  - name: flaky
    webhook_configs: [{url: "http://127.0.0.1:1/"}]
inhibit_rules:
  - source_matchers: [severity=critical]
    target_matchers: [severity=warning]
    equal: [alertname]
time_intervals:
  - name: always
    time_intervals: [{}]
  - name: y1999
    time_intervals: [{years: ['1999']}]
"""


class Recorder:
    def __init__(self, fail_times: int = 0) -> None:
        self.calls: list[tuple[str, str, list[tuple[str, bool]], Labels]] = []
        self.times: list[float] = []  # event-loop time of each delivered notification
        self.fail_times = fail_times
        self.attempts = 0
        self._event = asyncio.Event()

    async def notify(
        self, receiver: str, group_key: str, alerts: list[Alert], group_labels: Labels
    ) -> None:
        self.attempts += 1
        if self.fail_times > 0:
            self.fail_times -= 1
            raise ConnectionError("receiver down")
        now = wall_clock_ms()
        summary = [(get(a.labels, "instance"), a.resolved_at(now)) for a in alerts]
        self.calls.append((receiver, group_key, summary, group_labels))
        self.times.append(asyncio.get_running_loop().time())
        self._event.set()

    async def wait(self, n: int, timeout: float = 3.0) -> None:
        async def _until() -> None:
            while len(self.calls) < n:
                self._event.clear()
                await self._event.wait()

        await asyncio.wait_for(_until(), timeout)


def _alert(ends_in_ms: int | None = None, **labels: str) -> Alert:
    now = wall_clock_ms()
    return Alert(
        from_dict(labels),
        starts_at=now,
        ends_at=0 if ends_in_ms is None else now + ends_in_ms,
    )


def _dispatcher(rec: Recorder, tmp_path: Path, cfg: AlertmanagerConfig | None = None) -> Dispatcher:
    path = db_path(tmp_path)
    return Dispatcher(
        cfg or load_config(CFG),
        rec,
        silences=Silences(path),
        nflog=NotificationLog(path),
    )


async def test_group_wait_batches_then_group_interval(tmp_path: Path) -> None:
    rec = Recorder()
    d = _dispatcher(rec, tmp_path)
    await d.start()
    try:
        t_start = asyncio.get_running_loop().time()
        d.receive([_alert(alertname="Disk", instance="a")])
        await asyncio.sleep(0.02)
        d.receive([_alert(alertname="Disk", instance="b"), _alert(alertname="Cpu", instance="c")])
        await rec.wait(2)
        assert min(rec.times) - t_start >= 0.19  # group_wait
        by_group = {c[3]: i for i, c in enumerate(rec.calls)}
        first = by_group[from_dict({"alertname": "Disk"})]
        disk = rec.calls[first]
        assert disk[0] == "team"
        assert disk[1] == '{}:{alertname="Disk"}'
        assert disk[2] == [("a", False), ("b", False)]
        # A new alert in an existing group waits for group_interval, not group_wait.
        d.receive([_alert(alertname="Disk", instance="z")])
        await rec.wait(3)
        assert rec.times[2] - rec.times[first] >= 0.25
        assert rec.calls[2][2] == [("a", False), ("b", False), ("z", False)]
        # Nothing changed: no repeat within repeat_interval.
        await asyncio.sleep(0.7)
        assert len(rec.calls) == 3
    finally:
        await d.stop()


async def test_resolved_alert_is_sent_and_group_destroyed(tmp_path: Path) -> None:
    rec = Recorder()
    d = _dispatcher(rec, tmp_path)
    await d.start()
    try:
        d.receive([_alert(alertname="Disk", instance="a")])
        await rec.wait(1)
        d.receive([_alert(ends_in_ms=-1, alertname="Disk", instance="a")])
        await rec.wait(2)
        assert rec.calls[1][2] == [("a", True)]
        await asyncio.sleep(0.05)
        assert d.groups() == []
    finally:
        await d.stop()


async def test_resolve_timeout_stamps_incoming_alerts(tmp_path: Path) -> None:
    rec = Recorder()
    d = _dispatcher(rec, tmp_path)
    before = wall_clock_ms()
    d.receive([Alert(from_dict({"alertname": "X"}))])
    (stored,) = d.alerts()
    assert stored.timeout and stored.starts_at >= before
    assert stored.ends_at - stored.starts_at == 300_000


async def test_silence_inhibit_and_time_mutes(tmp_path: Path) -> None:
    rec = Recorder()
    d = _dispatcher(rec, tmp_path)
    now = wall_clock_ms()
    d.silences.create(parse_matchers("instance=silenced"), 0, now + 60_000)
    await d.start()
    try:
        d.receive(
            [
                _alert(alertname="A", instance="silenced"),
                _alert(alertname="A", instance="shown"),
                _alert(alertname="B", instance="src", severity="critical"),
                _alert(alertname="B", instance="inhibited", severity="warning"),
                _alert(alertname="C", instance="m", mute="always"),
                _alert(alertname="D", instance="n", active="never"),
            ]
        )
        await rec.wait(2)
        await asyncio.sleep(0.2)
        got = {c[3]: c[2] for c in rec.calls}
        assert got == {
            from_dict({"alertname": "A"}): [("shown", False)],
            from_dict({"alertname": "B"}): [("src", False)],
        }
        silenced = next(a for a in d.alerts() if get(a.labels, "instance") == "silenced")
        assert d.silenced_by(silenced) != []
        inhibited = next(a for a in d.alerts() if get(a.labels, "instance") == "inhibited")
        assert d.inhibited_by(inhibited) != []
    finally:
        await d.stop()


async def test_failed_notification_is_retried_next_interval(tmp_path: Path) -> None:
    rec = Recorder(fail_times=1)
    d = _dispatcher(rec, tmp_path)
    await d.start()
    try:
        d.receive([_alert(alertname="F", instance="x", flaky="yes")])
        await rec.wait(1)
        assert rec.attempts == 2
        assert rec.calls[0][0] == "flaky"
    finally:
        await d.stop()


async def test_dedup_survives_restart(tmp_path: Path) -> None:
    alerts = [_alert(alertname="Disk", instance="a")]
    rec = Recorder()
    d = _dispatcher(rec, tmp_path)
    await d.start()
    d.receive(alerts)
    await rec.wait(1)
    await d.stop()
    d.silences.close()
    d.nflog.close()

    # A new process: the same alerts are re-sent by Prometheus; they are older than
    # group_wait so the group flushes at once, and the log says "already sent".
    rec2 = Recorder()
    d2 = _dispatcher(rec2, tmp_path)
    await d2.start()
    try:
        d2.receive(alerts)
        await asyncio.sleep(0.4)
        assert rec2.calls == []
        # A new alert in the group is news and is sent.
        d2.receive([_alert(alertname="Disk", instance="b")])
        await rec2.wait(1)
        assert rec2.calls[0][2] == [("a", False), ("b", False)]
    finally:
        await d2.stop()


async def test_reload_rebuilds_routes(tmp_path: Path) -> None:
    rec = Recorder()
    d = _dispatcher(rec, tmp_path)
    await d.start()
    try:
        d.receive([_alert(alertname="R", instance="a")])
        await rec.wait(1)
        new = load_config(CFG.replace("group_by: [alertname]", "group_by: [instance]"))
        await d.reload(new)
        await rec.wait(2)
        assert rec.calls[1][3] == from_dict({"instance": "a"})
    finally:
        await d.stop()


@pytest.mark.parametrize("n", [200])
async def test_many_alerts_one_notification_per_group(tmp_path: Path, n: int) -> None:
    rec = Recorder()
    d = _dispatcher(rec, tmp_path)
    await d.start()
    try:
        d.receive([_alert(alertname=f"G{i % 4}", instance=str(i)) for i in range(n)])
        await rec.wait(4)
        await asyncio.sleep(0.05)
        assert len(rec.calls) == 4
        assert sum(len(c[2]) for c in rec.calls) == n
    finally:
        await d.stop()


class JumpClock:
    """Wall time plus an offset the test can move forward."""

    def __init__(self) -> None:
        self.offset = 0

    def __call__(self) -> int:
        return wall_clock_ms() + self.offset


async def test_repeat_interval_renotifies_unchanged_group(tmp_path: Path) -> None:
    rec = Recorder()
    clock = JumpClock()
    path = db_path(tmp_path)
    d = Dispatcher(
        load_config(CFG), rec, silences=Silences(path), nflog=NotificationLog(path), clock=clock
    )
    await d.start()
    try:
        d.receive([Alert(from_dict({"alertname": "R", "instance": "a"}))])
        await rec.wait(1)
        await asyncio.sleep(0.5)  # group_interval passes: nothing new, no repeat
        assert len(rec.calls) == 1
        clock.offset += 3600_000 + 1  # repeat_interval (1h) later; still firing
        d.receive([Alert(from_dict({"alertname": "R", "instance": "a"}))])
        await rec.wait(2)
        assert rec.calls[1][2] == [("a", False)]
    finally:
        await d.stop()


async def test_gc_drops_resolved_alerts_and_their_inhibitions(tmp_path: Path) -> None:
    rec = Recorder()
    clock = JumpClock()
    path = db_path(tmp_path)
    d = Dispatcher(
        load_config(CFG), rec, silences=Silences(path), nflog=NotificationLog(path), clock=clock
    )
    d.receive([_alert(alertname="B", instance="src", severity="critical")])
    target = _alert(alertname="B", instance="t", severity="warning")
    assert d.inhibited_by(target) != []
    clock.offset += 300_001  # past resolve_timeout: the source resolved
    assert d.inhibited_by(target) == []
    d.gc()
    assert d.alerts() == []
