"""Alert merging, ordering and validation; the dedup decision and the notification
log's persistence."""

from __future__ import annotations

from pathlib import Path

import pytest

from tidewatch.alertmanager.alert import (
    Alert,
    AlertError,
    prepare_incoming,
    sort_alerts,
    validate,
)
from tidewatch.alertmanager.nflog import NotificationLog, needs_update
from tidewatch.alertmanager.store import AlertStore
from tidewatch.labels import from_dict

NOW = 1_700_000_000_000
L = from_dict({"alertname": "A"})


def test_merge_keeps_earliest_start_and_explicit_end() -> None:
    old = Alert(L, starts_at=NOW - 100, ends_at=NOW + 500, updated_at=NOW - 50)
    new = prepare_incoming(Alert(L, starts_at=NOW - 10), NOW, 300)
    assert new.timeout and new.ends_at == NOW + 300
    merged = old.merge(new, NOW)
    assert merged.starts_at == NOW - 100
    assert merged.ends_at == NOW + 500  # the sender's later end beats a timeout
    # Argument order does not matter: the younger update is the base.
    assert new.merge(old, NOW) == merged


def test_merge_resolution_wins() -> None:
    firing = Alert(L, starts_at=NOW - 100, ends_at=NOW + 500, updated_at=NOW - 50, timeout=True)
    resolved = Alert(L, starts_at=NOW - 100, ends_at=NOW - 1, updated_at=NOW)
    assert firing.merge(resolved, NOW).ends_at == NOW - 1


def test_store_merges_overlapping_and_gc_drops_resolved() -> None:
    s = AlertStore()
    s.put(Alert(L, starts_at=NOW - 100, ends_at=NOW + 1000, updated_at=NOW - 100), NOW)
    stored = s.put(Alert(L, starts_at=NOW - 10, ends_at=NOW + 2000, updated_at=NOW), NOW)
    assert stored.starts_at == NOW - 100 and len(s) == 1
    s.put(Alert(from_dict({"alertname": "B"}), starts_at=NOW - 5, ends_at=NOW - 1), NOW)
    assert [a.name for a in s.gc(NOW)] == ["B"]
    assert [a.name for a in s] == ["A"]


def test_sort_by_job_instance_then_labels() -> None:
    alerts = [
        Alert(from_dict({"alertname": "z"})),
        Alert(from_dict({"alertname": "a", "instance": "2", "job": "j"})),
        Alert(from_dict({"alertname": "a", "instance": "1", "job": "j"})),
        Alert(from_dict({"alertname": "b", "job": "a"})),
        Alert(from_dict({"alertname": "a"})),
    ]
    order = [
        (a.name, dict(a.labels).get("job"), dict(a.labels).get("instance"))
        for a in sort_alerts(alerts)
    ]
    assert order == [
        ("b", "a", None),
        ("a", "j", "1"),
        ("a", "j", "2"),
        ("a", None, None),
        ("z", None, None),
    ]


@pytest.mark.parametrize(
    ("alert", "message"),
    [
        (Alert((), starts_at=NOW), "at least one label pair required"),
        (Alert(L), "start time missing"),
        (Alert(L, starts_at=NOW, ends_at=NOW - 1), "start time must be before end time"),
        (Alert((("bad-name", "x"),), starts_at=NOW), "invalid name"),
    ],
)
def test_validate(alert: Alert, message: str) -> None:
    with pytest.raises(AlertError, match=message):
        validate(alert)


F = frozenset


@pytest.mark.parametrize(
    ("entry", "firing", "resolved", "send_resolved", "expected"),
    [
        (None, F({1}), F(), True, True),
        (None, F(), F({1}), True, False),  # only resolved, never told: stay quiet
        ((F({1}), F()), F({1}), F(), True, False),
        ((F({1}), F()), F({1, 2}), F(), True, True),  # new firing alert
        ((F({1, 2}), F()), F({1}), F({2}), True, True),  # one resolved
        ((F({1, 2}), F()), F({1}), F({2}), False, False),  # ...not wanted
        ((F({1}), F()), F(), F({1}), False, True),  # all resolved: always once
        ((F(), F({1})), F(), F({1}), True, False),
    ],
)
def test_needs_update(
    tmp_path: Path,
    entry: tuple[frozenset[int], frozenset[int]] | None,
    firing: frozenset[int],
    resolved: frozenset[int],
    send_resolved: bool,
    expected: bool,
) -> None:
    log = NotificationLog()
    if entry is not None:
        log.log("r", "g", entry[0], entry[1], NOW - 1000)
    e = log.get("r", "g")
    assert needs_update(e, firing, resolved, send_resolved, 3_600_000, NOW) is expected


def test_repeat_interval_and_persistence(tmp_path: Path) -> None:
    path = tmp_path / "am.db"
    log = NotificationLog(path, retention_ms=10_000)
    log.log("r", '{}:{a="1"}', F({0xFFFFFFFFFFFFFFFF}), F({5}), NOW)
    log.close()
    log = NotificationLog(path, retention_ms=10_000)
    e = log.get("r", '{}:{a="1"}')
    assert e is not None and e.firing == F({0xFFFFFFFFFFFFFFFF}) and e.resolved == F({5})
    assert not needs_update(e, e.firing, F(), True, 5_000, NOW + 5_000)
    assert needs_update(e, e.firing, F(), True, 5_000, NOW + 5_001)
    assert log.gc(NOW + 9_999) == 0
    assert log.gc(NOW + 10_000) == 1
    assert log.get("r", '{}:{a="1"}') is None
