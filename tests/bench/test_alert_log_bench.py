"""Smoke tests of the alerting and logs benchmarks: each end to end with --quick."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[2]
BENCH = REPO / "bench"


def _bench_module(name: str) -> Any:
    sys.path.insert(0, str(BENCH))
    try:
        return __import__(name)
    finally:
        sys.path.remove(str(BENCH))


def _run(script: str, *args: str, timeout: float) -> tuple[subprocess.CompletedProcess[str], Any]:
    proc = subprocess.run(
        [sys.executable, str(BENCH / script), "--quick", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=str(REPO),
    )
    summary = None
    for line in proc.stdout.splitlines():
        if line.startswith("{"):
            summary = json.loads(line)
    return proc, summary


def test_generated_lines_match_what_the_checks_expect(tmp_path: Path) -> None:
    logs = _bench_module("logs")
    ds = logs.make_dataset(20_000, tmp_path)
    lines = [line for _, batch in logs.batches(ds, 0, 20_000) for line in batch]
    assert len(lines) == 20_000
    assert 150 <= np.mean([len(x) for x in lines]) <= 260  # ~200-byte lines
    assert all(json.loads(x)["level"] in logs.LEVELS for x in lines[:500])
    assert sum("needle" in x for x in lines) == logs.expected_count(ds, "needle count")
    assert sum("err" in x for x in lines) == logs.expected_count(ds, "regex")
    assert bool(np.all(np.diff(ds.ts) > 0)) and bool(np.all(ds.ts % 10**9 != 0))


def test_metric_check_spots_a_wrong_point(tmp_path: Path) -> None:
    logs = _bench_module("logs")
    ds = logs.make_dataset(10_000, tmp_path)
    step = 60 * 10**9
    start = (ds.t0_ns // 10**9 + 60) * 10**9
    n = (ds.end_ns - start) // step + 1
    times = start + np.arange(n, dtype=np.int64) * step
    result: list[dict[str, Any]] = []
    for li, lv in enumerate(logs.LEVELS):
        ts = ds.ts[ds.level == li]
        counts = np.searchsorted(ts, times, "right") - np.searchsorted(ts, times - step, "right")
        values = [[t / 1e9, str(int(c))] for t, c in zip(times, counts, strict=True) if c]
        result.append({"metric": {"level": lv}, "values": values})
    data = {"data": {"result": result}}
    assert logs.metric_check(ds, data, start, step, n) == []
    result[0]["values"][3][1] = str(int(result[0]["values"][3][1]) + 1)
    assert logs.metric_check(ds, data, start, step, n)


@pytest.mark.skipif(
    not (
        os.path.exists("/usr/bin/prometheus") and os.path.exists("/usr/bin/prometheus-alertmanager")
    ),
    reason="needs Debian's prometheus and prometheus-alertmanager",
)
def test_alerting_quick_run() -> None:
    proc, summary = _run("alerting.py", "--alerts", "200", timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "latency goal" in proc.stdout
    for system in ("tidewatch", "prometheus"):
        s = summary["alerting"][system]
        assert 0 < s["latency_sample_s"] < 10
        assert s["dispatch_s"] > 0


def test_logs_quick_run() -> None:
    proc, summary = _run("logs.py", "--metric-timeout", "120", timeout=400)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    s = summary["logs"]
    assert s["ingest_protobuf_lines_per_core_s"] > 0 and s["ingest_json_lines_per_core_s"] > 0
    assert "needle count ratio vs grep" in s and "metric_query_s" in s
    assert 0 < s["bytes_per_raw_byte"] < 2
