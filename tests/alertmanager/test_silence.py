"""Silences: states, matching, Alertmanager's update-or-replace rule, expiry, GC and
persistence across a reopen of the SQLite file."""

from __future__ import annotations

from pathlib import Path

import pytest

from tidewatch.alertmanager.matchers import parse_matchers
from tidewatch.alertmanager.silence import (
    ACTIVE,
    EXPIRED,
    PENDING,
    Silence,
    SilenceError,
    SilenceNotFound,
    Silences,
)
from tidewatch.alertmanager.sqlite import db_path
from tidewatch.labels import from_dict

MIN = 60_000


class FakeClock:
    def __init__(self, now: int = 1_700_000_000_000) -> None:
        self.now = now

    def __call__(self) -> int:
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def test_states_and_mutes(clock: FakeClock) -> None:
    s = Silences(clock=clock)
    sid = s.create(
        parse_matchers('job="api", env=~"prod|stage"'), 0, clock.now + 10 * MIN, "me", "x"
    )
    later = s.create(parse_matchers("job=db"), clock.now + 5 * MIN, clock.now + 10 * MIN)
    assert s.get(sid) is not None and s.get(sid).state(clock.now) == ACTIVE  # type: ignore[union-attr]
    assert s.get(later).state(clock.now) == PENDING  # type: ignore[union-attr]
    assert s.mutes(from_dict({"job": "api", "env": "prod", "x": "1"})) == [sid]
    assert s.mutes(from_dict({"job": "api", "env": "dev"})) == []
    assert s.mutes(from_dict({"job": "db"})) == []
    clock.now += 6 * MIN
    assert s.mutes(from_dict({"job": "db"})) == [later]
    clock.now += 5 * MIN
    assert s.mutes(from_dict({"job": "api", "env": "prod"})) == []
    assert {x.id for x in s.list(states=[EXPIRED])} == {sid, later}


@pytest.mark.parametrize(
    ("matchers", "start", "end", "message"),
    [
        ("", 0, 1, "at least one matcher required"),
        ('a=~".*"', 0, 10 * MIN, "must not match the empty string"),
        ('a=""', 0, 10 * MIN, "must not match the empty string"),
        ("a=b", 5 * MIN, 1 * MIN, "end time must not be before start time"),
        ("a=b", 0, -1, "invalid zero end timestamp"),
    ],
)
def test_validation(clock: FakeClock, matchers: str, start: int, end: int, message: str) -> None:
    s = Silences(clock=clock)
    end_at = 0 if end == -1 else clock.now + end
    with pytest.raises(SilenceError, match=message):
        s.create(parse_matchers(matchers), clock.now + start if start else 0, end_at)


def test_update_in_place_or_replace(clock: FakeClock) -> None:
    s = Silences(clock=clock)
    sid = s.create(parse_matchers("a=b"), 0, clock.now + 10 * MIN, "me", "first")
    sil = s.get(sid)
    assert sil is not None
    # Extending an active silence keeps its id.
    sil.ends_at += 10 * MIN
    sil.comment = "longer"
    assert s.update(sil) == sid
    assert s.get(sid).comment == "longer"  # type: ignore[union-attr]
    # Changing the matchers rewrites history: old one expires, a new id appears.
    sil = s.get(sid)
    assert sil is not None
    sil.matchers = parse_matchers("a=c")
    clock.now += 1
    new_id = s.update(sil)
    assert new_id != sid
    assert s.get(sid).state(clock.now) == EXPIRED  # type: ignore[union-attr]
    assert s.mutes(from_dict({"a": "c"})) == [new_id]
    with pytest.raises(SilenceNotFound):
        s.update(Silence(parse_matchers("a=b"), 0, clock.now + MIN, id="nope"))


def test_expire_pending_and_active(clock: FakeClock) -> None:
    s = Silences(clock=clock)
    active = s.create(parse_matchers("a=b"), 0, clock.now + 10 * MIN)
    pending = s.create(parse_matchers("a=b"), clock.now + MIN, clock.now + 10 * MIN)
    s.expire(active)
    s.expire(pending)
    s.expire(active)  # idempotent
    for sid in (active, pending):
        sil = s.get(sid)
        assert sil is not None and sil.state(clock.now) == EXPIRED and sil.ends_at == clock.now
    assert s.mutes(from_dict({"a": "b"})) == []
    with pytest.raises(SilenceNotFound):
        s.expire("missing")


def test_gc_after_retention(clock: FakeClock) -> None:
    s = Silences(clock=clock, retention_ms=60 * MIN)
    sid = s.create(parse_matchers("a=b"), 0, clock.now + MIN)
    clock.now += 30 * MIN
    assert s.gc() == 0
    clock.now += 31 * MIN
    assert s.gc() == 1
    assert s.get(sid) is None


def test_persistence_across_reopen(tmp_path: Path, clock: FakeClock) -> None:
    path = db_path(tmp_path)
    s = Silences(path, clock=clock)
    keep = s.create(
        parse_matchers('job=~"api|web", env!="dev"'), 0, clock.now + 10 * MIN, "ann", "deploy"
    )
    gone = s.create(parse_matchers("job=db"), 0, clock.now + 10 * MIN)
    s.expire(gone)
    s.close()
    assert path.exists()

    s2 = Silences(path, clock=clock)
    got = s2.get(keep)
    assert got is not None
    assert (got.created_by, got.comment) == ("ann", "deploy")
    assert [repr(m) for m in got.matchers] == ['job=~"api|web"', 'env!="dev"']
    assert s2.mutes(from_dict({"job": "web", "env": "prod"})) == [keep]
    assert s2.get(gone).state(clock.now) == EXPIRED  # type: ignore[union-attr]
    s2.close()
