"""Quick figures for the time-series store (no reference run; see BENCHMARKS.md).

    python bench/tsdb_bench.py [--series N] [--hours H]   (defaults: 10000 series, 24 h)

Prints: CPU µs per sample appended (batches of 1k and 10k samples, series refs cached
as a scraper does), bytes per sample on disk after compaction for a realistic mix
(counters, jittering gauges, constants; ~15 s scrape interval with ms jitter), and
head memory per series.
"""

from __future__ import annotations

import argparse
import gc
import os
import shutil
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tidewatch.labels import Labels, from_dict
from tidewatch.tsdb import TSDB, TSDBOptions

HOUR = 3600 * 1000
T0 = 1_700_000_000_000


def make_series(n: int) -> list[Labels]:
    return [
        from_dict(
            {
                "__name__": f"metric_{i % 200}",
                "job": "api",
                "instance": f"host-{i // 200}:9100",
                "code": str(200 + i % 5),
            }
        )
        for i in range(n)
    ]


class Workload:
    """Per-series value generators of a realistic mix, stepped one scrape at a time."""

    def __init__(self, n: int, seed: int = 1) -> None:
        self.rng = np.random.default_rng(seed)
        self.kind = np.arange(n) % 10  # 0-4 counters, 5-6 int gauges, 7 decimal, 8 const, 9 float
        self.value = self.rng.integers(0, 10_000, n).astype(float)
        self.offset = self.rng.integers(0, 15_000, n)

    def step(self, k: int) -> tuple[np.ndarray, np.ndarray]:
        n = len(self.kind)
        ts = T0 + k * 15_000 + self.offset + self.rng.integers(-2, 3, n)
        inc = self.rng.integers(0, 20, n).astype(float)
        v = self.value
        v = np.where(self.kind < 5, v + inc, v)
        v = np.where(
            (self.kind == 5) | (self.kind == 6), np.maximum(0, v + self.rng.integers(-50, 51, n)), v
        )
        v = np.where(self.kind == 7, np.round(20 + self.rng.normal(0, 2, n), 2), v)
        v = np.where(self.kind == 9, self.rng.random(n) * 100, v)
        self.value = v
        return ts, v


def fill(db: TSDB, series: list[Labels], steps: int, batch: int, timed: bool) -> float:
    """Append ``steps`` scrapes; returns CPU seconds spent in append+commit."""
    wl = Workload(len(series))
    refs = [0] * len(series)
    cpu = 0.0
    for k in range(steps):
        ts, vals = wl.step(k)
        tl, vl = ts.tolist(), vals.tolist()
        start = time.process_time()
        app = db.appender()
        for lo in range(0, len(series), batch):
            for i in range(lo, min(lo + batch, len(series))):
                refs[i] = app.append(refs[i], series[i], tl[i], vl[i])
            app.commit()
        db.seal_head()  # what the background thread does every second
        db.merge_head_runs()
        cpu += time.process_time() - start
        if not timed and k % 240 == 0:
            db.maintain()
    return cpu


def dir_bytes(path: Path, blocks_only: bool) -> int:
    total = 0
    for root, _, files in os.walk(path):
        if blocks_only and "wal" in Path(root).parts:
            continue
        total += sum(os.path.getsize(os.path.join(root, f)) for f in files)
    return total


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--series", type=int, default=10_000)
    ap.add_argument("--hours", type=float, default=24.0)
    args = ap.parse_args()
    print(f"cores={os.cpu_count()} load={os.getloadavg()[0]:.2f}")
    series = make_series(args.series)
    tmp = Path(tempfile.mkdtemp(prefix="tsdb-bench-"))
    try:
        for batch in (1_000, 10_000):
            d = tmp / f"append-{batch}"
            db = TSDB.open(str(d), TSDBOptions())
            fill(db, series, 2, batch, timed=True)  # warm-up: series creation
            steps = 20
            cpu = fill_steps(db, series, steps, batch)
            print(f"append batch={batch}: {cpu / (steps * len(series)) * 1e6:.2f} µs CPU/sample")
            db.close()

        d = tmp / "mem"
        gc.collect()
        tracemalloc.start()
        fresh = make_series(args.series)  # label sets counted too
        db = TSDB.open(str(d), TSDBOptions())
        fill(db, fresh, 480, 10_000, timed=True)  # 2h of 15s scrapes in the head
        gc.collect()
        cur, _ = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        print(
            f"head memory: {cur / len(series):.0f} bytes/series with 480 samples each, labels included"
        )
        db.close()
        start = time.perf_counter()
        db = TSDB.open(str(d), TSDBOptions())
        took = time.perf_counter() - start
        print(f"wal replay: {took:.2f} s for {480 * len(series)} samples")
        db.close()

        d = tmp / "disk"
        steps = int(args.hours * 240)
        db = TSDB.open(str(d), TSDBOptions(retention_ms=1000 * HOUR))
        fill(db, series, steps, 10_000, timed=False)
        db.maintain()
        stored = sum(b.meta.num_samples for b in db.blocks)
        if not stored:
            raise SystemExit("no block was cut: use --hours 4 or more")
        size = sum(b.size_bytes for b in db.blocks)
        levels = sorted(b.meta.level for b in db.blocks)
        print(
            f"disk: {size / stored:.2f} bytes/sample in {len(db.blocks)} blocks "
            f"(levels {levels}, {stored} samples); wal {dir_bytes(d / 'wal', False) / 1e6:.1f} MB"
        )
        time_queries(db)
        db.close()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def time_queries(db: TSDB) -> None:
    from tidewatch.matcher import Matcher, MatchType

    one = [Matcher(MatchType.EQUAL, "__name__", "metric_7")]
    everything = [Matcher(MatchType.EQUAL, "job", "api")]
    lo, hi = db.min_time(), db.max_time()
    for label, matchers, start in (
        ("50 series, all data", one, lo),
        ("all series, last hour", everything, hi - HOUR),
    ):
        for run in ("cold", "warm"):
            t = time.perf_counter()
            got = db.querier().select(matchers, start, hi)
            took = time.perf_counter() - t
            n = sum(len(x.ts) for x in got)
            print(f"select {label} ({run}): {took * 1000:.0f} ms, {n} samples")


def fill_steps(db: TSDB, series: list[Labels], steps: int, batch: int) -> float:
    wl = Workload(len(series))
    for _ in range(2):
        wl.step(0)
    refs = [db.head.by_labels[s] for s in series]
    cpu = 0.0
    for k in range(2, 2 + steps):
        ts, vals = wl.step(k)
        tl, vl = ts.tolist(), vals.tolist()
        start = time.process_time()
        app = db.appender()
        for lo in range(0, len(series), batch):
            for i in range(lo, min(lo + batch, len(series))):
                refs[i] = app.append(refs[i], series[i], tl[i], vl[i])
            app.commit()
        db.seal_head()
        db.merge_head_runs()
        cpu += time.process_time() - start
    return cpu


if __name__ == "__main__":
    main()
