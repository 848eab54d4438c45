"""A hung statfs must not stall the scrape; the mount reports an error until it answers."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest

from tidewatch.collectors import statfs
from tidewatch.collectors.statfs import StatfsRunner


def test_stuck_mount_times_out_and_recovers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    release = threading.Event()
    real_statvfs = os.statvfs
    slow = str(tmp_path / "slow")
    os.mkdir(slow)

    def statvfs(path: str) -> os.statvfs_result:
        if path == slow:
            release.wait(10)
        return real_statvfs(path)

    monkeypatch.setattr(statfs.os, "statvfs", statvfs)
    runner = StatfsRunner(timeout_s=0.2)

    started = time.monotonic()
    fast, hung, missing = runner.statfs_many([str(tmp_path), slow, str(tmp_path / "nope")])
    assert time.monotonic() - started < 2
    assert fast is not None and fast.f_blocks > 0
    assert hung is None and missing is None
    assert runner.is_stuck(slow)

    # While stuck it is not asked again, so the next scrape is immediate.
    started = time.monotonic()
    assert runner.statfs_many([slow]) == [None]
    assert time.monotonic() - started < 0.1

    release.set()
    deadline = time.monotonic() + 5
    while runner.is_stuck(slow) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not runner.is_stuck(slow)
    assert runner.statfs_many([slow])[0] is not None
