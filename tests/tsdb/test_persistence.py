"""Restart, WAL replay, compaction and retention."""

import itertools
from pathlib import Path

import pytest

from tests.tsdb.helpers import HOUR, T0, as_dict, fill, lbl, open_db, same_series, select_all
from tidewatch.labels import from_dict
from tidewatch.tsdb.interface import Exemplar, MetricMetadata

SERIES = [lbl("m", instance=f"i{i}", job="j") for i in range(20)]


def test_restart_restores_head_and_blocks(tmp_path: Path) -> None:
    db = open_db(tmp_path, block_duration_ms=HOUR)
    written = fill(db, SERIES, T0, 700)  # ~3h: cut into blocks + head
    app = db.appender()
    app.update_metadata("m", MetricMetadata("counter", "help text"))
    app.append_exemplar(0, SERIES[0], Exemplar(from_dict({"trace_id": "abc"}), 1.0, T0 + 5))
    app.commit()
    db.maintain()
    assert len(db.blocks) >= 1 and db.head.series_count() == 20
    before = select_all(db, "m")
    assert as_dict(before) == written
    db.close()

    phases = []
    db = open_db(tmp_path, block_duration_ms=HOUR)
    assert same_series(select_all(db, "m"), before)
    assert db.metadata() == {"m": [MetricMetadata("counter", "help text")]}
    db.close()
    # progress is reported while opening
    from tidewatch.tsdb import TSDB

    db = TSDB.open(str(tmp_path), None, progress=lambda p, f: phases.append((p, f)))
    assert ("wal replay", 1.0) in phases
    assert same_series(select_all(db, "m"), before)
    db.close()


def test_torn_wal_tail_is_tolerated(tmp_path: Path) -> None:
    db = open_db(tmp_path)
    written = fill(db, SERIES, T0, 10)
    db.close()
    seg = max((tmp_path / "wal").iterdir(), key=lambda p: p.name if p.name.isdigit() else "")
    with open(seg, "ab") as f:
        f.write(b"\x40\x00\x00\x00garbage-from-a-crash")
    db = open_db(tmp_path)
    assert as_dict(select_all(db, "m")) == written
    fill(db, [lbl("m", instance="new", job="j")], T0 + 10 * 15000, 1)
    db.close()
    db = open_db(tmp_path)
    assert len(select_all(db, "m")) == 21
    db.close()


def test_exemplars_query(tmp_path: Path) -> None:
    from tidewatch.matcher import Matcher, MatchType

    db = open_db(tmp_path)
    app = db.appender()
    ref = app.append(0, SERIES[0], T0, 1.0)
    app.append_exemplar(ref, SERIES[0], Exemplar(from_dict({"trace_id": "t1"}), 0.5, T0))
    app.append_exemplar(ref, SERIES[0], Exemplar(from_dict({"trace_id": "t2"}), 0.7, T0 + 10))
    app.commit()
    got = db.query_exemplars([[Matcher(MatchType.EQUAL, "instance", "i0")]], T0 + 5, T0 + 20)
    assert got == [(SERIES[0], [Exemplar(from_dict({"trace_id": "t2"}), 0.7, T0 + 10)])]
    db.close()


def test_compaction_keeps_answers(tmp_path: Path) -> None:
    db = open_db(tmp_path, block_duration_ms=HOUR, retention_ms=1000 * HOUR)
    # 8 hours, maintained every hour, as the background thread would
    for hour in range(8):
        fill(db, SERIES, T0 + hour * HOUR, 240)
        before_cut = select_all(db, "m")
        db.maintain()
        assert same_series(select_all(db, "m"), before_cut)
    levels = sorted(b.meta.level for b in db.blocks)
    assert max(levels) >= 2, levels  # 1h blocks were merged into 3h ones
    for b in db.blocks:
        assert b.meta.num_samples > 0
    spans = sorted((b.meta.min_time, b.meta.max_time) for b in db.blocks)
    for (_, end), (start, _) in itertools.pairwise(spans):
        assert end <= start  # no overlap left
    before = select_all(db, "m")
    db.close()
    db = open_db(tmp_path, block_duration_ms=HOUR, retention_ms=1000 * HOUR)
    assert same_series(select_all(db, "m"), before)
    assert sum(len(s.ts) for s in before) == 20 * 240 * 8
    db.close()


def test_overlapping_blocks_are_merged(tmp_path: Path) -> None:
    import numpy as np

    from tidewatch.tsdb.block import write_block

    a, b = SERIES[0], SERIES[1]
    # Block 1: series a at 0..9 min; block 2 (overlapping): a at 5..14 min, b at 0..4.
    t1 = T0 + np.arange(10) * 60_000
    write_block(tmp_path, [a], np.zeros(10, np.int64), t1, np.arange(10.0), T0, T0 + HOUR)
    t2 = np.concatenate([T0 + np.arange(5, 15) * 60_000, T0 + np.arange(5) * 60_000])
    v2 = np.concatenate([np.arange(5.0, 15.0), np.full(5, 7.0)])
    ids2 = np.array([0] * 10 + [1] * 5, np.int64)
    write_block(tmp_path, [a, b], ids2, t2, v2, T0 + 5 * 60_000 - 1, T0 + 2 * HOUR)
    db = open_db(tmp_path, block_duration_ms=HOUR)
    before = select_all(db, "m")
    assert [len(s.ts) for s in before] == [15, 5]
    db.maintain()
    assert len(db.blocks) == 1 and db.blocks[0].meta.level == 2
    assert (db.blocks[0].meta.min_time, db.blocks[0].meta.max_time) == (T0, T0 + 2 * HOUR)
    assert same_series(select_all(db, "m"), before)
    db.close()


def test_retention_by_time_counts_from_newest_data(tmp_path: Path) -> None:
    # Old history far in the past: kept, because retention counts from the newest block.
    old = T0 - 400 * 24 * HOUR
    db = open_db(tmp_path, block_duration_ms=HOUR, retention_ms=10 * HOUR)
    fill(db, SERIES[:2], old, 4 * 240)  # 4h of history
    db.maintain()
    assert db.blocks
    db.maintain()
    assert select_all(db, "m", old, old + HOUR)  # still there
    # Now data 20h later: the old blocks are now more than 10h behind the newest block.
    fill(db, SERIES[:2], old + 20 * HOUR, 4 * 240, interval=15000)
    db.maintain()
    assert all(b.meta.max_time > old + 10 * HOUR for b in db.blocks)
    assert not select_all(db, "m", old, old + 2 * HOUR)
    db.close()


def test_retention_by_size(tmp_path: Path) -> None:
    db = open_db(tmp_path, block_duration_ms=HOUR, retention_ms=1000 * HOUR)
    for hour in range(6):
        fill(db, SERIES, T0 + hour * HOUR, 240)
        db.maintain()
    assert len(db.blocks) >= 2
    newest = max(db.blocks, key=lambda b: b.meta.max_time)
    limit = newest.size_bytes + db.wal.size_bytes() + 10
    db.options.retention_bytes = limit
    db.maintain()
    assert [b.ulid for b in db.blocks] == [newest.ulid]
    assert db.blocks_bytes() + db.wal.size_bytes() <= limit
    db.close()


def test_head_runs_merge_without_changing_answers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import tidewatch.tsdb.head as head_mod

    monkeypatch.setattr(head_mod, "MIN_BUFFER", 64)  # seal every few scrapes
    db = open_db(tmp_path)
    fill(db, SERIES, T0, 400)
    runs_before = len(db.head.runs)
    before = select_all(db, "m")
    db.merge_head_runs()
    assert len(db.head.runs) < runs_before
    assert max(r.tier for r in db.head.runs) >= 2
    assert same_series(select_all(db, "m"), before)
    db.close()


def test_data_dir_is_locked_while_open(tmp_path: Path) -> None:
    from tidewatch.tsdb.db import DataDirLockedError

    db = open_db(tmp_path)
    with pytest.raises(DataDirLockedError):
        open_db(tmp_path)
    db.close()
    open_db(tmp_path).close()


def test_background_thread_fsyncs_and_seals(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import time

    import tidewatch.tsdb.head as head_mod

    monkeypatch.setattr(head_mod, "MIN_BUFFER", 64)
    db = open_db(tmp_path, wal_sync_interval_ms=10)
    db.start_background()
    fill(db, SERIES, T0, 20)  # 400 samples: several full buffers
    deadline = time.monotonic() + 10
    while (db.wal.fsync_count == 0 or db.head.frozen) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert db.wal.fsync_count > 0
    assert not db.head.frozen and db.head.runs
    assert sum(len(s.ts) for s in select_all(db, "m")) == 400
    db.close()


def test_block_deleted_before_first_read_reads_as_empty(tmp_path: Path) -> None:
    import shutil

    db = open_db(tmp_path, block_duration_ms=HOUR)
    fill(db, SERIES[:2], T0, 500)
    db.maintain()
    db.close()
    db = open_db(tmp_path, block_duration_ms=HOUR)
    block = db.blocks[0]
    shutil.rmtree(block.path)  # as retention would, before any query loaded it
    assert block.labels == [] and len(block.postings.select([])) == 0
    db.close()
