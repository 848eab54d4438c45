"""Tuning knobs of the time-series store."""

from __future__ import annotations

from dataclasses import dataclass

DAY_MS = 24 * 3600 * 1000


@dataclass
class TSDBOptions:
    # Blocks older than this, counted back from the newest block's end, are deleted.
    retention_ms: int = 15 * DAY_MS
    # Oldest blocks are deleted while blocks + WAL exceed this; 0 = unlimited.
    retention_bytes: int = 0
    # How often the WAL is fsynced: a power cut loses at most this much; a killed
    # process loses nothing committed (records reach the OS on every commit).
    # 0 = fsync on every commit.
    wal_sync_interval_ms: int = 1000
    # The head is cut into blocks of this span once it holds 1.5x as much.
    block_duration_ms: int = 2 * 3600 * 1000
    # Accept samples up to this far behind the newest one; 0 rejects them (Prometheus's default).
    out_of_order_window_ms: int = 0
