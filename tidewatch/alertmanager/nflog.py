"""The notification log: which firing and resolved alerts each receiver was last
told about for each group, and when. Deduplication reads it so that a restart, a
reload or a repeated flush does not notify again before ``repeat_interval``.
Kept in memory and written through to SQLite."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from tidewatch.alertmanager.sqlite import open_db

DEFAULT_RETENTION_MS = 120 * 3600 * 1000

_SCHEMA = """
CREATE TABLE IF NOT EXISTS nflog (
    receiver TEXT NOT NULL,
    group_key TEXT NOT NULL,
    firing TEXT NOT NULL,
    resolved TEXT NOT NULL,
    timestamp INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    PRIMARY KEY (receiver, group_key)
)
"""


@dataclass(frozen=True)
class Entry:
    receiver: str
    group_key: str
    firing: frozenset[int]  # alert fingerprints
    resolved: frozenset[int]
    timestamp: int  # ms of the notification
    expires_at: int


class NotificationLog:
    def __init__(
        self, path: str | Path = ":memory:", *, retention_ms: int = DEFAULT_RETENTION_MS
    ) -> None:
        self._retention_ms = retention_ms
        self._db: sqlite3.Connection = open_db(path)
        self._db.execute(_SCHEMA)
        self._entries: dict[tuple[str, str], Entry] = {}
        for row in self._db.execute(
            "SELECT receiver, group_key, firing, resolved, timestamp, expires_at FROM nflog"
        ):
            e = Entry(
                row[0],
                row[1],
                frozenset(int(x, 16) for x in json.loads(row[2])),
                frozenset(int(x, 16) for x in json.loads(row[3])),
                row[4],
                row[5],
            )
            self._entries[(e.receiver, e.group_key)] = e

    def close(self) -> None:
        self._db.close()

    def get(self, receiver: str, group_key: str) -> Entry | None:
        return self._entries.get((receiver, group_key))

    def log(
        self,
        receiver: str,
        group_key: str,
        firing: frozenset[int],
        resolved: frozenset[int],
        now_ms: int,
    ) -> None:
        e = Entry(receiver, group_key, firing, resolved, now_ms, now_ms + self._retention_ms)
        self._entries[(receiver, group_key)] = e
        self._db.execute(
            "INSERT OR REPLACE INTO nflog VALUES (?, ?, ?, ?, ?, ?)",
            (
                receiver,
                group_key,
                json.dumps(sorted(f"{fp:016x}" for fp in firing)),
                json.dumps(sorted(f"{fp:016x}" for fp in resolved)),
                e.timestamp,
                e.expires_at,
            ),
        )

    def gc(self, now_ms: int) -> int:
        dead = [k for k, e in self._entries.items() if e.expires_at <= now_ms]
        for k in dead:
            del self._entries[k]
        if dead:
            self._db.executemany("DELETE FROM nflog WHERE receiver = ? AND group_key = ?", dead)
        return len(dead)


def needs_update(
    entry: Entry | None,
    firing: frozenset[int],
    resolved: frozenset[int],
    send_resolved: bool,
    repeat_interval_ms: int,
    now_ms: int,
) -> bool:
    """Alertmanager's DedupStage decision."""
    if entry is None:
        return bool(firing)  # a group that only ever resolved is news to nobody
    if not firing <= entry.firing:
        return True  # something new is firing
    if not firing:
        # Everything resolved: tell the receiver once (even without send_resolved,
        # so the log forgets the firing alerts), unless it never heard of them.
        return bool(entry.firing)
    if send_resolved and not resolved <= entry.resolved:
        return True
    return entry.timestamp < now_ms - repeat_interval_ms
