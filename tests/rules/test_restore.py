"""`for` state survives a restart through ALERTS_FOR_STATE, as Prometheus restores it."""

from __future__ import annotations

from pathlib import Path

from tests.rules.helpers import lbls, make_group
from tidewatch.rules.alerting import AlertingRule, AlertState
from tidewatch.tsdb import TSDB

M = 60_000
RULES = """
groups:
  - name: g
    rules:
      - alert: Down
        expr: up == 0
        for: 30m
"""


def _write_up(db: TSDB, t_from: int, t_to: int) -> None:
    app = db.appender()
    for t in range(t_from, t_to + 1, M):
        app.append(0, lbls(__name__="up", job="x"), t, 0.0)
    app.commit()


def _rule(group) -> AlertingRule:  # type: ignore[no-untyped-def]
    rule = group.rules[0]
    assert isinstance(rule, AlertingRule)
    return rule


def test_for_state_is_restored_after_restart(tmp_path: Path) -> None:
    t0 = 1_700_000_000_000 // M * M
    db = TSDB.open(str(tmp_path / "db"))
    try:
        _write_up(db, t0, t0 + 40 * M)
        first, _ = make_group(RULES, db)
        for i in range(0, 21):  # pending for 20 minutes, then "crash"
            first.eval(t0 + i * M)
        assert _rule(first).state() == AlertState.PENDING

        # A restart 5 minutes later: new group, nothing written until restored.
        second, _ = make_group(RULES, db, restore=True)
        restart = t0 + 25 * M
        second.eval(restart)
        assert not _rule(second).restored
        second.restore_for_state(restart)
        (alert,) = _rule(second).active_alerts()
        # 20m pending before going down, 10m remaining: more than the 10m grace, so
        # the downtime (5m) is added to activeAt.
        assert alert.active_at_ms == t0 + 5 * M
        second.eval(restart + 5 * M)
        assert _rule(second).state() == AlertState.PENDING
        second.eval(t0 + 35 * M)
        assert _rule(second).state() == AlertState.FIRING
    finally:
        db.close()


def test_restore_near_the_end_of_for_waits_the_grace_period(tmp_path: Path) -> None:
    t0 = 1_700_000_000_000 // M * M
    db = TSDB.open(str(tmp_path / "db"))
    try:
        _write_up(db, t0, t0 + 60 * M)
        first, _ = make_group(RULES, db)
        for i in range(0, 26):  # 25 minutes pending: 5 remain, under the 10m grace
            first.eval(t0 + i * M)
        second, _ = make_group(RULES, db, restore=True)
        restart = t0 + 27 * M
        second.eval(restart)
        second.restore_for_state(restart)
        (alert,) = _rule(second).active_alerts()
        assert alert.active_at_ms == restart + 10 * M - 30 * M
    finally:
        db.close()


def test_stale_for_state_is_not_restored(tmp_path: Path) -> None:
    t0 = 1_700_000_000_000 // M * M
    db = TSDB.open(str(tmp_path / "db"))
    try:
        app = db.appender()
        app.append(0, lbls(__name__="up", job="x"), t0, 1.0)
        app.append(0, lbls(__name__="up", job="x"), t0 + 10 * M, 0.0)
        app.commit()
        first, _ = make_group(RULES, db)
        first.eval(t0 + 10 * M)  # pending from 10m
        app = db.appender()
        app.append(0, lbls(__name__="up", job="x"), t0 + 11 * M, 1.0)
        app.commit()
        first.eval(t0 + 11 * M)  # resolved: ALERTS_FOR_STATE gets a stale marker
        app = db.appender()
        app.append(0, lbls(__name__="up", job="x"), t0 + 12 * M, 0.0)
        app.commit()
        second, _ = make_group(RULES, db, restore=True)
        second.eval(t0 + 12 * M)
        second.restore_for_state(t0 + 12 * M)
        (alert,) = _rule(second).active_alerts()
        assert alert.active_at_ms == t0 + 12 * M
    finally:
        db.close()
