"""Helper process for test_crash: appends forever, reporting each durable commit.

Usage: python -m tests.tsdb.crash_writer DATA_DIR
Prints "committed <step>" after each commit (the WAL write reached the OS) and
"synced <step>" after an explicit fsync. Cuts blocks now and then, so a kill can
land in the middle of a head cut, a checkpoint or a compaction.
"""

from __future__ import annotations

import sys

from tidewatch.labels import from_dict
from tidewatch.tsdb import TSDB, TSDBOptions

HOUR = 3600 * 1000
T0 = 1_700_000_000_000
STEP_MS = 60_000
SERIES = 50


def main() -> None:
    db = TSDB.open(sys.argv[1], TSDBOptions(block_duration_ms=HOUR, wal_sync_interval_ms=20))
    db.start_background()
    series = [from_dict({"__name__": "crash", "i": str(i)}) for i in range(SERIES)]
    refs = [0] * SERIES
    app = db.appender()
    step = 0
    while True:
        for i, s in enumerate(series):
            refs[i] = app.append(refs[i], s, T0 + step * STEP_MS, float(step))
        stats = app.commit()
        assert stats.samples == SERIES, stats
        print(f"committed {step}", flush=True)
        if step % 10 == 0:
            db.sync()
            print(f"synced {step}", flush=True)
        if step % 37 == 0:
            db.maintain()
        step += 1


if __name__ == "__main__":
    main()
