"""Damaged or foreign blocks are skipped with one clear error, never taking queries or
compaction down with them."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest

from tests.tsdb.helpers import HOUR, T0, fill, lbl, open_db, select_all
from tidewatch.tsdb.block import write_block

A = lbl("a", job="j")
B = lbl("b", job="j")


def _block(parent: Path, series: list, start: int, end: int) -> Path:
    n = 120
    ids = np.repeat(np.arange(len(series), dtype=np.int64), n)
    ts = np.tile(start + np.arange(n, dtype=np.int64) * 30_000, len(series))
    vals = np.arange(len(ids), dtype=np.float64)
    meta = write_block(parent, series, ids, ts, vals, start, end)
    return parent / meta.ulid


def _garble(chunks: Path) -> None:
    size = chunks.stat().st_size
    with open(chunks, "r+b") as f:
        f.write(b"\x00garbage!" * (size // 9))


def test_garbage_chunks_block_is_skipped_at_open(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    good = _block(tmp_path, [A], T0, T0 + HOUR)
    bad = _block(tmp_path, [A, B], T0 + HOUR, T0 + 2 * HOUR)
    _garble(bad / "chunks")
    with caplog.at_level(logging.ERROR, logger="tidewatch.tsdb.db"):
        db = open_db(tmp_path, block_duration_ms=HOUR)
    try:
        assert [b.path for b in db.blocks] == [good]
        errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
        assert len(errors) == 1 and str(bad) in errors[0] and "move the directory" in errors[0]
        fill(db, [B], T0 + 3 * HOUR, 10)
        assert [len(s.ts) for s in select_all(db, "a")] == [120]
        assert [len(s.ts) for s in select_all(db, "b")] == [10]
        db.maintain()  # compaction and retention run without the skipped block
        assert bad.exists()  # left for the operator to move or delete
    finally:
        db.close()


def test_foreign_index_is_skipped(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    bad = _block(tmp_path, [A], T0, T0 + HOUR)
    (bad / "index").write_bytes(b"\x0d\x0e\x0f\x0a" + b"\x00" * 64)  # not our index format
    with caplog.at_level(logging.ERROR, logger="tidewatch.tsdb.db"):
        db = open_db(tmp_path, block_duration_ms=HOUR)
    try:
        assert db.blocks == []
        assert any(str(bad) in r.getMessage() for r in caplog.records)
    finally:
        db.close()


def test_block_damaged_after_open_does_not_crash_compaction(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # Two overlapping blocks: the next maintenance merges them.
    first = _block(tmp_path, [A], T0, T0 + HOUR)
    second = _block(tmp_path, [A, B], T0 + HOUR // 2, T0 + 2 * HOUR)
    db = open_db(tmp_path, block_duration_ms=HOUR)
    try:
        assert len(db.blocks) == 2
        _garble(second / "chunks")  # the block's chunks are mapped: the damage shows
        with caplog.at_level(logging.ERROR, logger="tidewatch.tsdb.db"):
            db.maintain()
        assert db.compactions_failed == 1
        assert [b.path for b in db.blocks] == [first]
        assert any(str(second) in r.getMessage() for r in caplog.records)
        fill(db, [B], T0 + 3 * HOUR, 10)
        assert [len(s.ts) for s in select_all(db, "a")] == [120]
        assert [len(s.ts) for s in select_all(db, "b")] == [10]
    finally:
        db.close()
