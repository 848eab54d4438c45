"""Out-of-order, duplicate and out-of-bounds handling, as Prometheus does it."""

from pathlib import Path

import numpy as np

from tests.tsdb.helpers import HOUR, T0, as_dict, lbl, open_db, select_all
from tidewatch.value import STALE_NAN


def _counter(db, name: str) -> float:  # type: ignore[no-untyped-def]
    for fam in db.self_metrics():
        if fam.name == name.removesuffix("_total"):
            return sum(
                s.value for s in fam.samples if s.name.endswith("_total") or s.name == fam.name
            )
    raise KeyError(name)


def test_out_of_order_and_duplicates(tmp_path: Path) -> None:
    db = open_db(tmp_path)
    s = lbl("m", job="a")
    app = db.appender()
    ref = app.append(0, s, T0, 1.0)
    app.append(ref, s, T0 + 10, 2.0)
    assert app.commit().samples == 2

    app.append(ref, s, T0 + 5, 9.0)  # older than the last: out of order
    app.append(ref, s, T0 + 10, 2.0)  # same time, same value: silently dropped
    app.append(ref, s, T0 + 10, 3.0)  # same time, other value: duplicate error
    app.append(ref, s, T0 + 20, 4.0)  # fine, rest of the batch is kept
    stats = app.commit()
    assert (stats.samples, stats.out_of_order, stats.duplicates) == (1, 1, 1)
    assert any("duplicate sample for timestamp" in e for e in stats.errors)
    assert any("out of order sample" in e for e in stats.errors)
    assert as_dict(select_all(db, "m"))[s] == [(T0, 1.0), (T0 + 10, 2.0), (T0 + 20, 4.0)]
    assert _counter(db, "prometheus_tsdb_out_of_order_samples_total") == 1
    assert _counter(db, "tidewatch_tsdb_duplicate_sample_timestamp_total") == 1
    db.close()


def test_order_within_one_batch(tmp_path: Path) -> None:
    db = open_db(tmp_path)
    s = lbl("m")
    app = db.appender()
    for t, v in [(10, 1.0), (30, 3.0), (20, 2.0), (30, 3.0), (40, 4.0)]:
        app.append(0, s, T0 + t, v)
    stats = app.commit()
    assert (stats.samples, stats.out_of_order, stats.duplicates) == (3, 1, 0)
    assert [t - T0 for t, _ in as_dict(select_all(db, "m"))[s]] == [10, 30, 40]
    db.close()


def test_out_of_bounds_and_window(tmp_path: Path) -> None:
    db = open_db(tmp_path, block_duration_ms=2 * HOUR)
    a, b = lbl("m", s="a"), lbl("m", s="b")
    app = db.appender()
    app.append(0, a, T0 + 3 * HOUR, 1.0)
    app.commit()
    app.append(0, b, T0 + 3 * HOUR - 2 * HOUR, 1.0)  # older than max - 1h: out of bounds
    app.append(0, b, T0 + 3 * HOUR - HOUR // 2, 2.0)  # inside the appendable window
    stats = app.commit()
    assert (stats.samples, stats.out_of_bounds) == (1, 1)
    assert _counter(db, "prometheus_tsdb_out_of_bound_samples_total") == 1
    db.close()


def test_out_of_order_window_accepts_and_sorts(tmp_path: Path) -> None:
    db = open_db(tmp_path, out_of_order_window_ms=10 * 60 * 1000)
    s = lbl("m")
    app = db.appender()
    for t in (0, 60_000, 120_000):
        app.append(0, s, T0 + t, float(t))
    app.commit()
    app.append(0, s, T0 + 30_000, 30_000.0)  # out of order but inside the window
    app.append(0, s, T0 - 3_600_000, 1.0)  # too old even for the window
    stats = app.commit()
    assert (stats.samples, stats.out_of_bounds) == (1, 1)
    got = as_dict(select_all(db, "m"))[s]
    assert [t - T0 for t, _ in got] == [0, 30_000, 60_000, 120_000]
    db.close()
    db = open_db(tmp_path, out_of_order_window_ms=10 * 60 * 1000)
    assert as_dict(select_all(db, "m"))[s] == got
    db.close()


def test_stale_marker_round_trips_bit_exact(tmp_path: Path) -> None:
    db = open_db(tmp_path)
    s = lbl("m")
    app = db.appender()
    vals = [1.0, STALE_NAN, float("nan"), -0.0]
    for i, v in enumerate(vals):
        app.append(0, s, T0 + i, v)
    app.commit()
    db.maintain()
    db.close()
    db = open_db(tmp_path)
    got = select_all(db, "m")[0].values
    assert np.array_equal(got.view(np.uint64), np.array(vals).view(np.uint64))
    db.close()


def test_stale_ref_after_head_gc_is_resolved_by_labels(tmp_path: Path) -> None:
    db = open_db(tmp_path, block_duration_ms=HOUR)
    old, new = lbl("m", s="old"), lbl("m", s="new")
    app = db.appender()
    old_ref = app.append(0, old, T0, 1.0)
    app.commit()
    app.append(0, new, T0 + 3 * HOUR, 1.0)
    app.commit()
    db.maintain()  # "old" moves to a block and leaves the head
    assert old not in db.head.by_labels
    app.append(old_ref, old, T0 + 3 * HOUR + 1, 5.0)
    assert app.commit().samples == 1
    assert as_dict(select_all(db, "m"))[old] == [(T0, 1.0), (T0 + 3 * HOUR + 1, 5.0)]
    db.close()
