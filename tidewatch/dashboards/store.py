"""Saved dashboards and folders in SQLite (``<data dir>/ui/tidewatch.db``), as Grafana keeps its own."""

from __future__ import annotations

import sqlite3
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from tidewatch.dashboards.model import DashboardRecord, FolderRecord

SCHEMA = """
CREATE TABLE IF NOT EXISTS folder (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    uid TEXT NOT NULL UNIQUE,
    title TEXT NOT NULL,
    version INTEGER NOT NULL DEFAULT 1,
    created TEXT NOT NULL,
    updated TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS dashboard (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    uid TEXT NOT NULL UNIQUE,
    title TEXT NOT NULL,
    folder_uid TEXT NOT NULL DEFAULT '',
    version INTEGER NOT NULL,
    data BLOB NOT NULL,
    created TEXT NOT NULL,
    updated TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS dashboard_title ON dashboard (folder_uid, title);
"""


def now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class DashboardStore:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        # One connection shared by the worker threads that call us; the lock serialises it.
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._lock = threading.Lock()
        with self._lock:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # -- dashboards --------------------------------------------------------------

    def _row_to_dashboard(self, row: tuple[Any, ...]) -> DashboardRecord:
        id_, uid, title, folder_uid, version, data, created, updated = row
        dash = orjson.loads(data)
        return DashboardRecord(
            id=id_,
            uid=uid,
            title=title,
            dashboard=dash,
            folder_uid=folder_uid,
            version=version,
            created=created,
            updated=updated,
            tags=[str(t) for t in dash.get("tags") or []],
        )

    _COLUMNS = "id, uid, title, folder_uid, version, data, created, updated"

    def get(self, uid: str) -> DashboardRecord | None:
        with self._lock:
            row = self._db.execute(
                f"SELECT {self._COLUMNS} FROM dashboard WHERE uid = ?", (uid,)
            ).fetchone()
        return self._row_to_dashboard(row) if row else None

    def find_by_title(self, folder_uid: str, title: str) -> DashboardRecord | None:
        with self._lock:
            row = self._db.execute(
                f"SELECT {self._COLUMNS} FROM dashboard WHERE folder_uid = ? AND lower(title) = lower(?)",
                (folder_uid, title),
            ).fetchone()
        return self._row_to_dashboard(row) if row else None

    def all(self) -> list[DashboardRecord]:
        with self._lock:
            rows = self._db.execute(f"SELECT {self._COLUMNS} FROM dashboard").fetchall()
        return [self._row_to_dashboard(r) for r in rows]

    def put(self, dash: dict[str, Any], folder_uid: str, version: int) -> DashboardRecord:
        """Insert or replace the dashboard with ``dash["uid"]``; returns the stored record."""
        uid = str(dash["uid"])
        ts = now_iso()
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                row = self._db.execute(
                    "SELECT id, created FROM dashboard WHERE uid = ?", (uid,)
                ).fetchone()
                if row is None:
                    cur = self._db.execute(
                        "INSERT INTO dashboard (uid, title, folder_uid, version, data, created, updated)"
                        " VALUES (?, ?, ?, ?, ?, ?, ?)",
                        (uid, dash["title"], folder_uid, version, b"{}", ts, ts),
                    )
                    id_ = int(cur.lastrowid or 0)
                    created = ts
                else:
                    id_, created = row
                dash["id"] = id_
                dash["version"] = version
                self._db.execute(
                    "UPDATE dashboard SET title = ?, folder_uid = ?, version = ?, data = ?, updated = ?"
                    " WHERE id = ?",
                    (dash["title"], folder_uid, version, orjson.dumps(dash), ts, id_),
                )
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        return DashboardRecord(
            id=id_,
            uid=uid,
            title=str(dash["title"]),
            dashboard=dash,
            folder_uid=folder_uid,
            version=version,
            created=created,
            updated=ts,
            tags=[str(t) for t in dash.get("tags") or []],
        )

    def delete(self, uid: str) -> bool:
        with self._lock:
            cur = self._db.execute("DELETE FROM dashboard WHERE uid = ?", (uid,))
        return cur.rowcount > 0

    # -- folders -----------------------------------------------------------------

    def folders(self) -> list[FolderRecord]:
        with self._lock:
            rows = self._db.execute(
                "SELECT id, uid, title, created, updated, version FROM folder ORDER BY title"
            ).fetchall()
        return [FolderRecord(*r) for r in rows]

    def create_folder(self, uid: str, title: str) -> FolderRecord:
        ts = now_iso()
        with self._lock:
            cur = self._db.execute(
                "INSERT INTO folder (uid, title, created, updated) VALUES (?, ?, ?, ?)",
                (uid, title, ts, ts),
            )
        return FolderRecord(int(cur.lastrowid or 0), uid, title, ts, ts)

    def delete_folder(self, uid: str) -> bool:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            self._db.execute("DELETE FROM dashboard WHERE folder_uid = ?", (uid,))
            cur = self._db.execute("DELETE FROM folder WHERE uid = ?", (uid,))
            self._db.execute("COMMIT")
        return cur.rowcount > 0
