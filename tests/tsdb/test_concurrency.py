"""Appending, querying and maintenance at the same time."""

import threading
from pathlib import Path

import numpy as np

from tests.tsdb.helpers import HOUR, T0, lbl, open_db, select_all

SERIES = [lbl("c", i=str(i)) for i in range(30)]
STEPS = 1500
STEP_MS = 20_000


def test_append_query_and_maintain_concurrently(tmp_path: Path) -> None:
    db = open_db(tmp_path, block_duration_ms=HOUR, wal_sync_interval_ms=5)
    db.start_background()
    done = threading.Event()
    errors: list[BaseException] = []

    def writer() -> None:
        try:
            app = db.appender()
            refs = [0] * len(SERIES)
            for step in range(STEPS):
                for i, s in enumerate(SERIES):
                    refs[i] = app.append(refs[i], s, T0 + step * STEP_MS, float(step))
                assert app.commit().samples == len(SERIES)
        except BaseException as exc:
            errors.append(exc)
        finally:
            done.set()

    def reader() -> None:
        try:
            while not done.is_set():
                for s in select_all(db, "c"):
                    steps = (s.ts - T0) // STEP_MS
                    # Whatever moment we read at, each series is a gap-free prefix.
                    assert np.array_equal(steps, np.arange(len(steps)))
                    assert np.array_equal(s.values, steps.astype(float))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=writer), threading.Thread(target=reader)]
    for t in threads:
        t.start()
    while not done.wait(0.05):
        db.maintain()
    for t in threads:
        t.join()
    db.maintain()
    assert not errors, errors
    assert len(db.blocks) >= 2
    got = select_all(db, "c")
    assert len(got) == len(SERIES) and all(len(s.ts) == STEPS for s in got)
    db.close()
