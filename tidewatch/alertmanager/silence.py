"""Silences: label matchers that mute alerts between ``startsAt`` and ``endsAt``.

Semantics follow Alertmanager's ``silence`` package: a change that would rewrite
history (different matchers, moving the start of an active silence, ending it in
the past) expires the old silence and creates a new one with a new id; expired
silences are kept for a retention period, then dropped. State is kept in memory
for matching and written through to SQLite, so it survives a restart.
"""

from __future__ import annotations

import builtins
import json
import sqlite3
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from tidewatch.alertmanager.alert import Clock, wall_clock_ms
from tidewatch.alertmanager.sqlite import open_db
from tidewatch.labels import Labels
from tidewatch.matcher import Matcher, MatchType, RegexError

PENDING = "pending"
ACTIVE = "active"
EXPIRED = "expired"
DEFAULT_RETENTION_MS = 120 * 3600 * 1000  # Alertmanager's --data.retention


class SilenceError(ValueError):
    pass


class SilenceNotFound(KeyError):
    pass


@dataclass
class Silence:
    matchers: list[Matcher]
    starts_at: int  # ms; 0 on create = now
    ends_at: int
    created_by: str = ""
    comment: str = ""
    id: str = ""
    updated_at: int = 0

    def state(self, now_ms: int) -> str:
        if now_ms < self.starts_at:
            return PENDING
        if now_ms >= self.ends_at:
            # Alertmanager compares nanoseconds with After(); at millisecond
            # resolution an expired-just-now silence must read as expired.
            return EXPIRED
        return ACTIVE

    def matches(self, lbls: dict[str, str]) -> bool:
        return all(m.matches(lbls.get(m.name, "")) for m in self.matchers)


def validate(sil: Silence) -> None:
    """Alertmanager's ``validateSilence``."""
    if not sil.matchers:
        raise SilenceError("at least one matcher required")
    for i, m in enumerate(sil.matchers):
        if m.name == "":
            raise SilenceError(f'invalid label matcher {i}: invalid label name ""')
    if all(m.matches("") for m in sil.matchers):
        raise SilenceError("at least one matcher must not match the empty string")
    if sil.starts_at == 0:
        raise SilenceError("invalid zero start timestamp")
    if sil.ends_at == 0:
        raise SilenceError("invalid zero end timestamp")
    if sil.ends_at < sil.starts_at:
        raise SilenceError("end time must not be before start time")


def _same_matchers(a: Sequence[Matcher], b: Sequence[Matcher]) -> bool:
    return list(a) == list(b)


def _can_update(prev: Silence, new: Silence, now_ms: int) -> bool:
    if not _same_matchers(prev.matchers, new.matchers):
        return False
    st = prev.state(now_ms)
    if st == ACTIVE:
        # Go compares whole seconds here.
        return prev.starts_at // 1000 == new.starts_at // 1000 and new.ends_at >= now_ms
    if st == PENDING:
        return new.starts_at >= now_ms
    return False


# --- persistence format (the API v2 matcher shape) ---------------------------------


def matchers_to_json(ms: Iterable[Matcher]) -> list[dict[str, Any]]:
    return [
        {
            "name": m.name,
            "value": m.value,
            "isRegex": m.type in (MatchType.REGEX, MatchType.NOT_REGEX),
            "isEqual": m.type in (MatchType.EQUAL, MatchType.REGEX),
        }
        for m in ms
    ]


def matchers_from_json(items: Iterable[dict[str, Any]]) -> list[Matcher]:
    out = []
    for it in items:
        regex = bool(it.get("isRegex", False))
        equal = bool(it.get("isEqual", True))
        if regex:
            mtype = MatchType.REGEX if equal else MatchType.NOT_REGEX
        else:
            mtype = MatchType.EQUAL if equal else MatchType.NOT_EQUAL
        try:
            out.append(Matcher(mtype, str(it["name"]), str(it["value"])))
        except RegexError as exc:
            raise SilenceError(f"invalid regular expression {it['value']!r}: {exc}") from None
    return out


_SCHEMA = """
CREATE TABLE IF NOT EXISTS silences (
    id TEXT PRIMARY KEY,
    matchers TEXT NOT NULL,
    starts_at INTEGER NOT NULL,
    ends_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    created_by TEXT NOT NULL,
    comment TEXT NOT NULL
)
"""


class Silences:
    """All silences; ``mutes(labels)`` answers from memory."""

    def __init__(
        self,
        path: str | Path = ":memory:",
        *,
        clock: Clock = wall_clock_ms,
        retention_ms: int = DEFAULT_RETENTION_MS,
    ) -> None:
        self._clock = clock
        self._retention_ms = retention_ms
        self._db: sqlite3.Connection = open_db(path)
        self._db.execute(_SCHEMA)
        self._by_id: dict[str, Silence] = {}
        self.version = 0  # bumped on every change, so callers can cache mute results
        self._active_cache: tuple[int, int, int, builtins.list[Silence]] | None = None
        for row in self._db.execute(
            "SELECT id, matchers, starts_at, ends_at, updated_at, created_by, comment FROM silences"
        ):
            sil = Silence(
                matchers=matchers_from_json(json.loads(row[1])),
                starts_at=row[2],
                ends_at=row[3],
                updated_at=row[4],
                created_by=row[5],
                comment=row[6],
                id=row[0],
            )
            self._by_id[sil.id] = sil

    def close(self) -> None:
        self._db.close()

    # --- reads -------------------------------------------------------------------

    def get(self, silence_id: str) -> Silence | None:
        sil = self._by_id.get(silence_id)
        return replace(sil) if sil is not None else None

    def list(self, *, states: Iterable[str] | None = None) -> list[Silence]:
        """Silences (copies), optionally only those in the given states."""
        now = self._clock()
        wanted = set(states) if states is not None else None
        return [
            replace(s) for s in self._by_id.values() if wanted is None or s.state(now) in wanted
        ]

    def mutes(self, lbls: Labels, now_ms: int | None = None) -> builtins.list[str]:
        """Ids of the active silences matching the label set (empty: not silenced)."""
        now = self._clock() if now_ms is None else now_ms
        active = self._active_at(now)
        if not active:
            return []
        d = dict(lbls)
        return sorted(s.id for s in active if s.matches(d))

    def _active_at(self, now: int) -> builtins.list[Silence]:
        """Active silences, recomputed only when a silence changes or one starts or
        ends (most flushes check every alert against the same set)."""
        cache = self._active_cache
        if cache is not None and cache[0] == self.version and cache[1] <= now < cache[2]:
            return cache[3]
        active = []
        until = 1 << 62
        for s in self._by_id.values():
            if s.state(now) == ACTIVE:
                active.append(s)
            for t in (s.starts_at, s.ends_at):
                if t > now:
                    until = min(until, t)
        self._active_cache = (self.version, now, until, active)
        return active

    # --- writes ------------------------------------------------------------------

    def set(self, sil: Silence) -> str:
        """Create (empty id) or update a silence; returns the id now in effect, which
        is new when the change could not be made in place."""
        now = self._clock()
        sil = replace(sil)
        if sil.starts_at == 0:
            sil.starts_at = now
        validate(sil)
        prev = self._by_id.get(sil.id) if sil.id else None
        if sil.id and prev is None:
            raise SilenceNotFound(sil.id)
        if prev is not None and _can_update(prev, sil, now):
            sil.updated_at = now
            self._store(sil)
            return sil.id
        sil.id = str(uuid.uuid4())
        sil.starts_at = max(sil.starts_at, now)
        sil.updated_at = now
        if prev is not None and prev.state(now) != EXPIRED:
            self._expire(prev, now)
        self._store(sil)
        return sil.id

    def create(
        self,
        matchers: Sequence[Matcher],
        starts_at: int,
        ends_at: int,
        created_by: str = "",
        comment: str = "",
    ) -> str:
        return self.set(Silence(builtins.list(matchers), starts_at, ends_at, created_by, comment))

    def update(self, sil: Silence) -> str:
        if not sil.id:
            raise SilenceError("silence id required for an update")
        return self.set(sil)

    def expire(self, silence_id: str) -> None:
        """End a silence now (idempotent for already-expired ones)."""
        prev = self._by_id.get(silence_id)
        if prev is None:
            raise SilenceNotFound(silence_id)
        now = self._clock()
        if prev.state(now) != EXPIRED:
            self._expire(prev, now)

    def gc(self) -> int:
        """Drop silences expired for longer than the retention; returns how many."""
        cutoff = self._clock() - self._retention_ms
        dead = [s.id for s in self._by_id.values() if s.ends_at <= cutoff]
        for sid in dead:
            del self._by_id[sid]
        if dead:
            self._db.executemany("DELETE FROM silences WHERE id = ?", [(d,) for d in dead])
            self.version += 1
        return len(dead)

    def _expire(self, prev: Silence, now: int) -> None:
        sil = replace(prev)
        if sil.state(now) == PENDING:
            sil.starts_at = now
        sil.ends_at = now
        sil.updated_at = now
        self._store(sil)

    def _store(self, sil: Silence) -> None:
        self._db.execute(
            "INSERT OR REPLACE INTO silences VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                sil.id,
                json.dumps(matchers_to_json(sil.matchers)),
                sil.starts_at,
                sil.ends_at,
                sil.updated_at,
                sil.created_by,
                sil.comment,
            ),
        )
        self._by_id[sil.id] = sil
        self.version += 1
