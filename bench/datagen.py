"""A deterministic, dashboard-shaped OpenMetrics dataset for the query benchmark.

    python bench/datagen.py OUT_DIR --series 10000 --hours 24

Several jobs, each with instances that expose what a typical service does: request
counters by method/path/code, a 12-bucket latency histogram, CPU counters, memory and
queue gauges, a build-info metric for joins, and `up`. Every instance scrapes every
15 s at its own phase (milliseconds off round seconds, so window edges never coincide
with query steps). Some instances restart (every counter resets) and one has a
20-minute gap with no samples at all, so rate/increase/resets and the lookback see the
cases real data has.

The output is one file per 2-hour block range (`data-<n>.om`), each a complete
OpenMetrics exposition ending in `# EOF`: both importers then hold only one block's
worth of samples in memory at a time. Values are written as Python's shortest
round-trip repr, so both sides parse exactly the same float64.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import numpy as np

# Bump when the generated data changes, so cached imports are not reused.
DATAGEN_VERSION = 2

INTERVAL_MS = 15_000
BLOCK_MS = 2 * 3600 * 1000
# A fixed, block-aligned end (2024-01-01T00:00:00Z): Prometheus only loads blocks and
# every query uses absolute times, so no clock is involved.
DEFAULT_END_MS = 1_704_067_200_000

JOBS = ("api", "checkout", "search", "auth", "billing", "worker")
METHODS = ("GET", "POST")
PATHS = ("/api/v1/users", "/api/v1/orders", "/api/v1/items", "/login", "/healthz")
CODES = ("200", "404", "500")
CPU_MODES = ("idle", "user", "system", "iowait")
CPUS = ("0", "1")
QUEUES = ("email", "billing", "reports")
SENSORS = ("cpu", "board")
# Written the way Prometheus 3 normalises `le`, which 2.x keeps as written: both agree.
LE_BOUNDS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
LE_TEXT = (*(repr(b) for b in LE_BOUNDS), "+Inf")

SERIES_PER_INSTANCE = (
    len(METHODS) * len(PATHS) * len(CODES)  # http_requests_total
    + len(METHODS) * len(PATHS) * (len(LE_TEXT) + 2)  # histogram buckets + sum + count
    + 1  # process_cpu_seconds_total
    + len(CPUS) * len(CPU_MODES)  # node_cpu_seconds_total
    + 1  # process_resident_memory_bytes
    + len(QUEUES)  # queue_depth
    + len(SENSORS)  # temperature_celsius
    + 1  # build_info
    + 1  # up
)


@dataclass(frozen=True)
class Spec:
    """What to generate; `key` names it for caching."""

    series: int
    hours: float
    end_ms: int = DEFAULT_END_MS
    seed: int = 42

    @property
    def instances(self) -> int:
        return max(2, math.ceil(self.series / SERIES_PER_INSTANCE))

    @property
    def total_series(self) -> int:
        return self.instances * SERIES_PER_INSTANCE

    @property
    def steps(self) -> int:
        return max(1, int(self.hours * 3600_000 // INTERVAL_MS))

    @property
    def start_ms(self) -> int:
        return self.end_ms - self.steps * INTERVAL_MS

    @property
    def key(self) -> str:
        return f"s{self.series}-h{self.hours:g}-e{self.end_ms}-r{self.seed}-v{DATAGEN_VERSION}"


@dataclass(frozen=True)
class Instance:
    index: int
    job: str
    name: str  # host:port, as the `instance` label
    phase_ms: int  # scrape offset within the interval
    version: str
    restart_step: int | None  # every counter restarts from zero here
    gap: tuple[int, int] | None  # steps [a, b) have no samples


def instances_of(spec: Spec) -> list[Instance]:
    out = []
    for i in range(spec.instances):
        phase = (i * 7919 + 357) % INTERVAL_MS
        if phase % 1000 == 0:
            phase += 123  # never a round second
        restart = spec.steps * (3 + i % 5) // 9 if i % 4 == 1 else None
        gap = None
        if i == 2 and spec.steps >= 240:
            a = spec.steps * 2 // 3
            gap = (a, a + 80)  # 20 minutes
        out.append(
            Instance(
                index=i,
                job=JOBS[i % len(JOBS)],
                name=f"{JOBS[i % len(JOBS)]}-{i // len(JOBS):02d}.prod:{8080 + i % 3}",
                phase_ms=phase,
                version="1.4.2" if i % 3 else "1.5.0",
                restart_step=restart,
                gap=gap,
            )
        )
    return out


def _counter(increments: np.ndarray, restart: int | None) -> np.ndarray:
    """A counter along the last axis that starts at 0, and again at `restart` (a process
    restart), as client libraries' counters do.

    Starting at 0 (or, for host counters, far above one step's increase) also keeps the
    benchmark clear of where Prometheus 2.x and 3.x extrapolate rate() differently: a
    series whose first sample lies between half and 1.1 steps of "zero" away.
    """
    total = np.cumsum(increments, axis=-1) - increments
    if restart is not None and 0 < restart < increments.shape[-1]:
        tail = increments[..., restart:]
        total[..., restart:] = np.cumsum(tail, axis=-1) - tail
    return total


def _labels(pairs: list[tuple[str, str]]) -> str:
    return "{" + ",".join(f'{k}="{v}"' for k, v in pairs) + "}"


class Writer:
    """Appends each series' samples to the file of its 2-hour block range."""

    def __init__(self, spec: Spec, out_dir: Path) -> None:
        self.spec = spec
        first = spec.start_ms // BLOCK_MS
        last = (spec.end_ms - 1) // BLOCK_MS
        self.ranges = list(range(first, last + 1))
        out_dir.mkdir(parents=True, exist_ok=True)
        self.paths = [out_dir / f"data-{n:03d}.om" for n in range(len(self.ranges))]
        self.files: list[IO[str]] = [open(p, "w", buffering=1 << 22) for p in self.paths]  # noqa: SIM115
        self.lines = 0
        # Per instance: timestamp strings and the slice of steps in each block range.
        self._ts_cache: dict[int, tuple[list[str], list[tuple[int, int]]]] = {}

    def times(self, inst: Instance) -> tuple[list[str], list[tuple[int, int]]]:
        got = self._ts_cache.get(inst.index)
        if got is None:
            ts = self.spec.start_ms + inst.phase_ms + INTERVAL_MS * np.arange(self.spec.steps)
            text = [f"{t // 1000}.{t % 1000:03d}" for t in ts.tolist()]
            rng = ts // BLOCK_MS
            bounds = [
                (int(np.searchsorted(rng, r, "left")), int(np.searchsorted(rng, r, "right")))
                for r in self.ranges
            ]
            got = self._ts_cache[inst.index] = (text, bounds)
        return got

    def family(self, name: str, kind: str, help_text: str) -> None:
        for f in self.files:
            f.write(f"# HELP {name} {help_text}\n# TYPE {name} {kind}\n")

    def _kept(self, inst: Instance, lo: int, hi: int) -> Iterator[int]:
        for i in range(lo, hi):
            if inst.gap is None or not inst.gap[0] <= i < inst.gap[1]:
                yield i

    def series(
        self, inst: Instance, name: str, labels: str, values: list[float] | list[int]
    ) -> None:
        """One series: all its samples, split over the block files."""
        ts_text, bounds = self.times(inst)
        prefix = name + labels + " "
        for f, (lo, hi) in zip(self.files, bounds, strict=True):
            if lo == hi:
                continue
            if inst.gap is None:
                f.write(
                    "".join(
                        [
                            f"{prefix}{v} {t}\n"
                            for v, t in zip(values[lo:hi], ts_text[lo:hi], strict=True)
                        ]
                    )
                )
                self.lines += hi - lo
            else:
                idx = list(self._kept(inst, lo, hi))
                f.write("".join([f"{prefix}{values[i]} {ts_text[i]}\n" for i in idx]))
                self.lines += len(idx)

    def histogram_points(
        self,
        inst: Instance,
        name: str,
        labels: list[tuple[str, str]],
        buckets: list[list[int]],
        count: list[int],
        total: list[float],
    ) -> None:
        """One histogram: per timestamp all buckets, then count and sum (an OpenMetrics MetricPoint)."""
        ts_text, bounds = self.times(inst)
        bucket_prefix = [name + "_bucket" + _labels([*labels, ("le", le)]) + " " for le in LE_TEXT]
        count_prefix = name + "_count" + _labels(labels) + " "
        sum_prefix = name + "_sum" + _labels(labels) + " "
        for f, (lo, hi) in zip(self.files, bounds, strict=True):
            out: list[str] = []
            for i in self._kept(inst, lo, hi):
                t = ts_text[i]
                out.extend(f"{p}{b[i]} {t}\n" for p, b in zip(bucket_prefix, buckets, strict=True))
                out.append(f"{count_prefix}{count[i]} {t}\n")
                out.append(f"{sum_prefix}{total[i]} {t}\n")
            self.lines += len(out)
            f.write("".join(out))

    def close(self) -> None:
        for f in self.files:
            f.write("# EOF\n")
            f.close()


def generate(
    spec: Spec, out_dir: Path, progress: Callable[[str], None] | None = None
) -> list[Path]:
    """Writes the dataset; returns the files (one per 2-hour block range)."""
    rng = np.random.default_rng(spec.seed)
    insts = instances_of(spec)
    n = spec.steps
    w = Writer(spec, out_dir)
    started = time.monotonic()

    def note(what: str) -> None:
        if progress:
            progress(f"{what} ({w.lines:,} samples, {time.monotonic() - started:.0f}s)")

    def base(inst: Instance) -> list[tuple[str, str]]:
        return [("instance", inst.name), ("job", inst.job)]

    w.family("http_requests", "counter", "Requests served.")
    for inst in insts:
        for m_i, method in enumerate(METHODS):
            for p_i, path in enumerate(PATHS):
                for c_i, code in enumerate(CODES):
                    per_s = (20.0 / (1 + p_i)) * (0.3 if m_i else 1.0) * (1.0, 0.05, 0.01)[c_i]
                    per_s *= 0.5 + (inst.index % 7) / 7
                    # A daily-ish swell, so rates move over the day.
                    swell = 1 + 0.5 * np.sin(np.arange(n) * (2 * np.pi / 5760) + inst.index)
                    inc = rng.poisson(per_s * 15 * swell)
                    vals = _counter(inc, inst.restart_step).tolist()
                    lbls = _labels(
                        [("code", code), *base(inst), ("method", method), ("path", path)]
                    )
                    w.series(inst, "http_requests_total", lbls, vals)
    note("http_requests_total")

    w.family("http_request_duration_seconds", "histogram", "Request latency.")
    bounds = np.array([*LE_BOUNDS, np.inf])
    for inst in insts:
        for m_i, method in enumerate(METHODS):
            for p_i, path in enumerate(PATHS):
                median_s = 0.02 * (1 + p_i) * (1.5 if m_i else 1.0) * (1 + inst.index % 3)
                # Lognormal latencies: probability mass of each bucket.
                z = (np.log(bounds[:-1]) - math.log(median_s)) / 0.9
                cdf = np.append(0.5 * (1 + np.vectorize(math.erf)(z / math.sqrt(2))), 1.0)
                pvals = np.diff(np.concatenate([[0.0], cdf]))
                pvals = np.clip(pvals, 0, None)
                pvals /= pvals.sum()
                per_s = (10.0 / (1 + p_i)) * (0.3 if m_i else 1.0) * (0.5 + (inst.index % 7) / 7)
                counts = rng.poisson(per_s * 15, n)
                per_bucket = rng.multinomial(counts, pvals)  # (n, buckets)
                cum = _counter(np.cumsum(per_bucket, axis=1).T, inst.restart_step)
                sums = _counter(counts * median_s * rng.uniform(0.8, 1.6, n), inst.restart_step)
                w.histogram_points(
                    inst,
                    "http_request_duration_seconds",
                    [*base(inst), ("method", method), ("path", path)],
                    cum.tolist(),
                    cum[-1].tolist(),
                    np.round(sums, 4).tolist(),
                )
    note("http_request_duration_seconds")

    w.family("process_cpu_seconds", "counter", "CPU time used.")
    for inst in insts:
        inc = rng.uniform(0.1, 0.6, n) * 15 * (1 + inst.index % 3)
        vals = np.round(_counter(inc, inst.restart_step), 3).tolist()
        w.series(inst, "process_cpu_seconds_total", _labels(base(inst)), vals)

    w.family("node_cpu_seconds", "counter", "Seconds each CPU spent in each mode.")
    for inst in insts:
        for cpu in CPUS:
            shares = rng.dirichlet((6.0, 2.0, 1.0, 0.3), n).T * 15  # modes sum to 15 s a step
            for mode, inc in zip(CPU_MODES, shares, strict=True):
                # Host counters count since boot: far from zero when the data starts.
                vals = np.round(3e5 * inc[0] + np.cumsum(inc), 3).tolist()
                lbls = _labels([("cpu", cpu), *base(inst), ("mode", mode)])
                w.series(inst, "node_cpu_seconds_total", lbls, vals)
    note("cpu counters")

    w.family("process_resident_memory_bytes", "gauge", "Resident memory.")
    for inst in insts:
        walk = 200e6 + np.cumsum(rng.normal(0, 2e5, n)) + 1e5 * (inst.index % 11)
        w.series(
            inst,
            "process_resident_memory_bytes",
            _labels(base(inst)),
            walk.astype(np.int64).tolist(),
        )

    w.family("queue_depth", "gauge", "Jobs waiting.")
    for inst in insts:
        for queue in QUEUES:
            depth = np.abs(np.cumsum(rng.integers(-3, 4, n))) + 10
            w.series(inst, "queue_depth", _labels([*base(inst), ("queue", queue)]), depth.tolist())

    w.family("temperature_celsius", "gauge", "Sensor temperature.")
    for inst in insts:
        for s_i, sensor in enumerate(SENSORS):
            temp = 40 + 8 * np.sin(np.arange(n) / 240 + inst.index + s_i) + rng.normal(0, 0.5, n)
            w.series(
                inst,
                "temperature_celsius",
                _labels([*base(inst), ("sensor", sensor)]),
                np.round(temp, 2).tolist(),
            )

    w.family("build_info", "gauge", "Build information.")
    for inst in insts:
        lbls = _labels([("goversion", "go1.21.5"), *base(inst), ("version", inst.version)])
        w.series(inst, "build_info", lbls, [1] * n)

    w.family("up", "gauge", "Whether the target was up.")
    for inst in insts:
        up = np.ones(n, np.int64)
        if inst.restart_step is not None:
            up[max(0, inst.restart_step - 4) : inst.restart_step] = 0
        w.series(inst, "up", _labels(base(inst)), up.tolist())
    note("gauges")
    w.close()
    return w.paths


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("out_dir", type=Path)
    ap.add_argument("--series", type=int, default=10_000)
    ap.add_argument("--hours", type=float, default=24.0)
    ap.add_argument("--end-ms", type=int, default=DEFAULT_END_MS)
    args = ap.parse_args(argv)
    spec = Spec(args.series, args.hours, args.end_ms)
    paths = generate(spec, args.out_dir, lambda s: print(s, flush=True))
    print(
        f"{spec.total_series:,} series x {spec.steps} steps in {len(paths)} file(s) under {args.out_dir}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
