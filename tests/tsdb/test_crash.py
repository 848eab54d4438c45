"""A SIGKILLed writer loses nothing it had committed."""

import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np

from tests.tsdb.crash_writer import SERIES, STEP_MS, T0
from tests.tsdb.helpers import open_db, select_all

REPO = Path(__file__).resolve().parents[2]


def _run_and_kill(data: Path, min_step: int) -> int:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.tsdb.crash_writer", str(data)],
        stdout=subprocess.PIPE,
        cwd=REPO,
        env=env,
        text=True,
    )
    last = -1
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            kind, step = line.split()
            if kind == "committed":
                last = int(step)
            if kind == "synced" and int(step) >= min_step:
                break
        os.kill(proc.pid, signal.SIGKILL)
        # Commits reported while we were deciding to kill also count.
        for line in proc.stdout:
            kind, step = line.split()
            if kind == "committed":
                last = int(step)
    finally:
        proc.kill()
        proc.wait(timeout=10)
    assert last >= min_step
    return last


def test_sigkill_loses_no_committed_sample(tmp_path: Path) -> None:
    data = tmp_path / "data"
    last = _run_and_kill(data, 300)  # 300 minutes: several head cuts and compactions
    db = open_db(data, block_duration_ms=3600 * 1000)
    got = select_all(db, "crash")
    assert len(got) == SERIES
    for s in got:
        steps = (s.ts - T0) // STEP_MS
        assert steps[0] == 0
        assert np.array_equal(steps[: last + 1], np.arange(last + 1))
        assert np.array_equal(s.values[: last + 1], np.arange(last + 1, dtype=float))
    db.close()
