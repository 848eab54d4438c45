"""Backup/restore round trip, status shape and self metrics."""

from pathlib import Path

import pytest

from tests.tsdb.helpers import HOUR, T0, fill, lbl, open_db, same_series, select_all
from tidewatch.tsdb import backup, restore

SERIES = [lbl("m", instance=f"i{i}") for i in range(5)] + [lbl("up", instance="i0")]


def test_backup_restore_round_trip(tmp_path: Path) -> None:
    data = tmp_path / "data"
    db = open_db(data, block_duration_ms=HOUR)
    fill(db, SERIES, T0, 600)
    db.maintain()
    assert db.blocks
    before = select_all(db, "m")
    progress: list[tuple[str, float]] = []
    backup(db, str(tmp_path / "bk"), lambda p, f: progress.append((p, f)))
    assert progress[-1] == ("backup", 1.0)
    fill(db, SERIES, T0 + 600 * 15000, 5)  # written after the snapshot: not in the backup
    db.close()

    with pytest.raises(FileExistsError):
        restore(str(tmp_path / "bk"), str(data), None)
    with pytest.raises(FileExistsError):
        backup(str(data), str(tmp_path / "bk"), None)
    restored = tmp_path / "restored"
    restore(str(tmp_path / "bk"), str(restored), lambda p, f: progress.append((p, f)))
    assert progress[-1] == ("restore", 1.0)
    db2 = open_db(restored, block_duration_ms=HOUR)
    assert same_series(select_all(db2, "m"), before)
    db2.close()
    restore(str(tmp_path / "bk"), str(data), None, overwrite=True)
    db3 = open_db(data, block_duration_ms=HOUR)
    assert same_series(select_all(db3, "m"), before)
    db3.close()


def test_backup_of_closed_data_dir(tmp_path: Path) -> None:
    db = open_db(tmp_path / "d")
    fill(db, SERIES, T0, 3)
    before = select_all(db, "m")
    db.close()
    backup(str(tmp_path / "d"), str(tmp_path / "b"), None)
    restore(str(tmp_path / "b"), str(tmp_path / "r"), None)
    db = open_db(tmp_path / "r")
    assert same_series(select_all(db, "m"), before)
    db.close()


def test_stats_shape(tmp_path: Path) -> None:
    db = open_db(tmp_path)
    fill(db, SERIES, T0, 2)
    st = db.stats(limit=2)
    assert set(st) == {
        "headStats",
        "seriesCountByMetricName",
        "labelValueCountByLabelName",
        "memoryInBytesByLabelName",
        "seriesCountByLabelValuePair",
    }
    assert st["headStats"]["numSeries"] == 6
    assert st["headStats"]["minTime"] == T0
    assert st["headStats"]["maxTime"] == T0 + 15000 + 5
    assert st["headStats"]["numLabelPairs"] == 2 + 5
    assert st["seriesCountByMetricName"] == [{"name": "m", "value": 5}, {"name": "up", "value": 1}]
    assert st["labelValueCountByLabelName"][0] == {"name": "instance", "value": 5}
    assert st["seriesCountByLabelValuePair"][0] == {"name": "__name__=m", "value": 5}
    assert len(st["memoryInBytesByLabelName"]) == 2
    assert db.min_time() == T0 and db.max_time() == T0 + 15000 + 5
    db.close()


def test_self_metrics_names(tmp_path: Path) -> None:
    from prometheus_client import CollectorRegistry, generate_latest

    db = open_db(tmp_path)
    fill(db, SERIES, T0, 2)
    names = {m.name for m in db.self_metrics()}
    for want in [
        "prometheus_tsdb_head_series",
        "prometheus_tsdb_head_samples_appended",
        "prometheus_tsdb_out_of_order_samples",
        "prometheus_tsdb_out_of_bound_samples",
        "prometheus_tsdb_wal_fsync_duration_seconds",
        "prometheus_tsdb_blocks_loaded",
        "prometheus_tsdb_compactions",
        "prometheus_tsdb_storage_blocks_bytes",
        "prometheus_tsdb_head_min_time",
        "prometheus_tsdb_head_max_time",
    ]:
        assert want in names

    class _Collector:
        def collect(self):  # type: ignore[no-untyped-def]
            return db.self_metrics()

    reg = CollectorRegistry()
    reg.register(_Collector())  # type: ignore[arg-type]
    text = generate_latest(reg).decode()
    assert 'prometheus_tsdb_head_samples_appended_total{type="float"} 12.0' in text
    assert "prometheus_tsdb_head_series 6.0" in text
    db.close()
