"""The SQLite database that keeps Alertmanager's small mutable state (silences, the
notification log) under ``<data dir>/alertmanager/``: WAL mode, so readers never
block the writer and a crash loses nothing that was committed."""

from __future__ import annotations

import sqlite3
from pathlib import Path

DB_NAME = "alertmanager.db"


def db_path(data_dir: str | Path) -> Path:
    """Where the state lives for a tidewatch data directory."""
    return Path(data_dir) / "alertmanager" / DB_NAME


def open_db(path: str | Path) -> sqlite3.Connection:
    """Open (creating parents) a WAL-mode database; ``:memory:`` gives a private one."""
    if str(path) != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA busy_timeout=5000")
    return conn
