"""Ingestion cost of tidewatch against Debian's Prometheus, scraping the same targets.

    python bench/ingest.py                      # 10 targets x 1000 series, ~2.5 min
    python bench/ingest.py --targets 20 --series 2000 --duration 300
    python bench/ingest.py --mode alternate     # one system at a time, A/B/B/A/A/B

One helper process serves K synthetic targets (counters, gauges and histograms
whose values change every second) on 127.0.0.1 ports. tidewatch and Prometheus
read the same prometheus.yml (scrape every 1 s). Per system it prints CPU
seconds per million samples ingested (user+system of the process tree over
steady windows after a warm-up; samples counted by the targets themselves, per
scraper User-Agent), resident memory per active series, and bytes on disk per
sample, then the ratio tidewatch/Prometheus. It checks both stored the same
series. Every process it starts is ended on exit.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import (
    REPO,
    Procs,
    dir_size,
    fmt,
    free_ports,
    http_get,
    http_post,
    machine_summary,
    median,
    ratio,
    scrape_config_yaml,
    tree_usage,
    wait_http,
)

PROMETHEUS = "/usr/bin/prometheus"
AUTO_SERIES = 5  # up, scrape_duration_seconds, scrape_samples_scraped, ..._post_metric_relabeling, scrape_series_added
BUCKETS = ("0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "+Inf")


# --- synthetic targets (run in a child process) -------------------------------------


@dataclass
class Layout:
    counters: int
    gauges: int
    histograms: int  # each is len(BUCKETS) + 2 series

    @classmethod
    def for_series(cls, series: int) -> Layout:
        per_hist = len(BUCKETS) + 2
        histograms = (series // 5) // per_hist
        rest = series - histograms * per_hist
        return cls(counters=rest // 2, gauges=rest - rest // 2, histograms=histograms)

    @property
    def series(self) -> int:
        return self.counters + self.gauges + self.histograms * (len(BUCKETS) + 2)


def render_target(layout: Layout, target: int, second: int) -> tuple[bytes, int]:
    """The exposition of `target` at `second`, and its number of samples."""
    out = ["# HELP bench_requests_total Requests served.\n# TYPE bench_requests_total counter\n"]
    out.extend(
        f'bench_requests_total{{path="/p{i}",code="{200 + i % 3}"}} {i * 7 + second * (1 + (i + target) % 5)}\n'
        for i in range(layout.counters)
    )
    out.append(
        "# HELP bench_temperature_celsius A wandering gauge.\n# TYPE bench_temperature_celsius gauge\n"
    )
    out.extend(
        f'bench_temperature_celsius{{sensor="s{i}"}} {20 + 5 * math.sin(second / 10 + i + target):.4f}\n'
        for i in range(layout.gauges)
    )
    out.append("# HELP bench_latency_seconds Latency.\n# TYPE bench_latency_seconds histogram\n")
    for j in range(layout.histograms):
        step = 1 + (j + target) % 3
        for b, le in enumerate(BUCKETS):
            out.append(
                f'bench_latency_seconds_bucket{{handler="h{j}",le="{le}"}} {(second + 1) * (b + 1) * step}\n'
            )
        total = (second + 1) * len(BUCKETS) * step
        out.append(f'bench_latency_seconds_sum{{handler="h{j}"}} {total * 0.137:.3f}\n')
        out.append(f'bench_latency_seconds_count{{handler="h{j}"}} {total}\n')
    return "".join(out).encode(), layout.series


async def serve_targets(ports: list[int], control_port: int, series: int) -> None:
    from aiohttp import web

    layout = Layout.for_series(series)
    cache: dict[tuple[int, int], tuple[bytes, int]] = {}
    stats: dict[str, dict[str, int]] = {}

    def make_handler(target: int) -> Any:
        async def handler(request: web.Request) -> web.Response:
            second = int(time.time())
            key = (target, second)
            if key not in cache:
                if len(cache) > 4 * len(ports):
                    cache.clear()
                cache[key] = render_target(layout, target, second)
            body, samples = cache[key]
            agent = request.headers.get("User-Agent", "").split("/")[0].lower() or "unknown"
            entry = stats.setdefault(agent, {"scrapes": 0, "samples": 0})
            entry["scrapes"] += 1
            entry["samples"] += samples
            return web.Response(body=body, content_type="text/plain", charset="utf-8")

        return handler

    async def control(_: web.Request) -> web.Response:
        return web.json_response(stats)

    runners = []
    for target, port in enumerate(ports):
        app = web.Application()
        app.router.add_get("/metrics", make_handler(target))
        runners.append((web.AppRunner(app, access_log=None), port))
    control_app = web.Application()
    control_app.router.add_get("/stats", control)
    runners.append((web.AppRunner(control_app, access_log=None), control_port))
    for runner, port in runners:
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port).start()
    await asyncio.Event().wait()


# --- the systems under test -----------------------------------------------------------


@dataclass
class System:
    name: str  # label in the report
    agent: str  # User-Agent prefix, lower case, as the targets count it
    port: int
    data_dir: Path
    log: Path
    proc: Any = None
    cpu_per_msample: list[float] = field(default_factory=list)
    # One entry per finished run (one in concurrent mode, one per round when alternating).
    rss_per_series: list[float] = field(default_factory=list)
    rss_bytes: list[float] = field(default_factory=list)
    disk_per_sample: list[float] = field(default_factory=list)
    snapshot_per_sample: list[float] = field(default_factory=list)
    disk_note: str = ""
    samples_base: int = 0  # the targets' count for this agent when this run started
    samples_total: int = 0  # samples this run ingested
    appended_own: float = float("nan")  # the system's prometheus_tsdb_head_samples_appended_total

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def command(self, config: Path) -> list[str]:
        if self.agent == "prometheus":
            return [
                PROMETHEUS,
                f"--config.file={config}",
                f"--storage.tsdb.path={self.data_dir}",
                f"--web.listen-address=127.0.0.1:{self.port}",
                "--web.enable-admin-api",
                "--log.level=warn",
            ]
        return [
            sys.executable,
            "-m",
            "tidewatch",
            "up",
            "--config",
            str(config),
            "--data-dir",
            str(self.data_dir),
            "--listen",
            f"127.0.0.1:{self.port}",
            "--log.level",
            "warn",
        ]


def write_config(path: Path, target_ports: list[int], interval_s: float) -> None:
    path.write_text(scrape_config_yaml(target_ports, interval_s))


def target_stats(control_port: int) -> dict[str, dict[str, int]]:
    return dict(json.loads(http_get(f"http://127.0.0.1:{control_port}/stats")))


def ingested(stats: dict[str, dict[str, int]], agent: str) -> int:
    """Samples a scraper took in: what it was served plus its per-scrape automatic series."""
    entry = stats.get(agent, {"scrapes": 0, "samples": 0})
    return entry["samples"] + AUTO_SERIES * entry["scrapes"]


def samples_appended(system: System) -> float:
    """Sum of the system's own appended-samples counter, as a cross-check of our count."""
    try:
        text = http_get(f"{system.url}/metrics").decode()
    except OSError:
        return float("nan")
    total = float("nan")
    for line in text.splitlines():
        if line.startswith("prometheus_tsdb_head_samples_appended_total"):
            value = float(line.rsplit(" ", 1)[1])
            total = value if total != total else total + value
    return total


def query_scalar(system: System, expr: str) -> float:
    from urllib.parse import quote

    body = json.loads(http_get(f"{system.url}/api/v1/query?query={quote(expr)}", timeout=30))
    result = body.get("data", {}).get("result", [])
    return float(result[0]["value"][1]) if result else float("nan")


def start(procs: Procs, system: System, config: Path, control_port: int) -> None:
    """A fresh run of `system` (empty data dir); samples count from here."""
    system.samples_base = ingested(target_stats(control_port), system.agent)
    shutil.rmtree(system.data_dir, ignore_errors=True)
    system.data_dir.mkdir(parents=True)
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    system.proc = procs.start(system.command(config), system.log, env=env, cwd=str(REPO))
    wait_http(f"{system.url}/-/ready", system.proc, timeout=90)


def wait_scraping(control_port: int, systems: list[System], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        stats = target_stats(control_port)
        if all(stats.get(s.agent, {}).get("scrapes", 0) > 0 for s in systems):
            return
        time.sleep(0.5)
    raise RuntimeError(f"not every system scraped the targets within {timeout:.0f}s")


def measure_windows(
    systems: list[System], control_port: int, windows: int, window_s: float
) -> None:
    """CPU per million samples of each system over consecutive windows, measured together."""
    for _ in range(windows):
        before = {s.name: tree_usage(s.proc.pid).cpu_s for s in systems}
        stats0 = target_stats(control_port)
        time.sleep(window_s)
        after = {s.name: tree_usage(s.proc.pid).cpu_s for s in systems}
        stats1 = target_stats(control_port)
        for s in systems:
            samples = ingested(stats1, s.agent) - ingested(stats0, s.agent)
            cpu = after[s.name] - before[s.name]
            s.cpu_per_msample.append(ratio(cpu, samples / 1e6))
            print(
                f"  window: {s.name:<10} cpu {cpu:6.2f}s  samples {samples:>9,}  "
                f"-> {fmt(s.cpu_per_msample[-1], ' s/Msample')}"
            )


def finish(procs: Procs, system: System, control_port: int, active_series: int) -> None:
    """Memory at steady state, a snapshot if the system offers one, then stop and size the disk."""
    usage = tree_usage(system.proc.pid)
    system.rss_bytes.append(usage.rss_bytes)
    system.rss_per_series.append(usage.rss_bytes / active_series)
    system.samples_total = ingested(target_stats(control_port), system.agent) - system.samples_base
    system.appended_own = samples_appended(system)
    # A snapshot writes the in-memory head out as a compacted block: the on-disk
    # figure after compaction, which a short run would otherwise never reach.
    status, body = http_post(f"{system.url}/api/v1/admin/tsdb/snapshot")
    if status == 200:
        try:
            name = json.loads(body)["data"]["name"]
            snap = system.data_dir / "snapshots" / name
            system.snapshot_per_sample.append(dir_size(snap) / max(system.samples_total, 1))
        except (KeyError, ValueError):
            pass
    procs.stop(system.proc, timeout=60)
    # Scrapes in flight when we counted have landed by now.
    system.samples_total = max(
        system.samples_total,
        ingested(target_stats(control_port), system.agent) - system.samples_base,
    )
    snap_bytes = dir_size(system.data_dir / "snapshots")
    system.disk_per_sample.append(
        (dir_size(system.data_dir) - snap_bytes) / max(system.samples_total, 1)
    )
    blocks = [p for p in system.data_dir.iterdir() if p.is_dir() and len(p.name) == 26]
    system.disk_note = (
        f"{len(blocks)} block(s)" if blocks else "no block yet (WAL/head chunks only)"
    )


# --- runs ---------------------------------------------------------------------------


def report(
    systems: list[System], args: argparse.Namespace, active_series: int, checks: list[str]
) -> None:
    by_name = {s.name: s for s in systems}
    # A system left out with --systems reports n/a (its System stays unmeasured).
    tw = by_name.get("tidewatch") or System("tidewatch", "tidewatch", 0, Path(), Path())
    prom = by_name.get("prometheus") or System("prometheus", "prometheus", 0, Path(), Path())
    print()
    print(
        f"ingest benchmark: {args.targets} targets x {args.series} series, scrape every "
        f"{args.interval:g}s, mode {args.mode}; {machine_summary()}"
    )
    print(f"active series per system: {active_series:,}")

    def row(
        label: str, attr: str, scale: float = 1.0, note: str = ""
    ) -> tuple[str, float, float, str]:
        return (
            label,
            median(getattr(tw, attr)) * scale,
            median(getattr(prom, attr)) * scale,
            note,
        )

    disk_note = f"tidewatch: {tw.disk_note or 'n/a'}; prometheus: {prom.disk_note or 'n/a'}"
    rows = [
        row("CPU s per million samples", "cpu_per_msample"),
        row("RSS bytes per active series", "rss_per_series"),
        row("RSS total MB", "rss_bytes", 1e-6),
        row("disk bytes per sample (data dir)", "disk_per_sample", note=disk_note),
        row("disk bytes per sample (snapshot block)", "snapshot_per_sample"),
    ]
    print("medians over windows/rounds:")
    print(f"{'':40} {'tidewatch':>12} {'prometheus':>12} {'ratio tw/prom':>14}")
    for label, a, b, note in rows:
        print(f"{label:40} {fmt(a):>12} {fmt(b):>12} {fmt(ratio(a, b)):>14}  {note}")
    print(
        "per-window CPU s/Msample: tidewatch "
        + ", ".join(fmt(v) for v in tw.cpu_per_msample)
        + " | prometheus "
        + ", ".join(fmt(v) for v in prom.cpu_per_msample)
    )
    for s in (tw, prom):
        if s.samples_total:
            print(
                f"{s.name}: {s.samples_total:,} samples scraped (targets' count), "
                f"{fmt(s.appended_own, digits=9)} appended (its own counter)"
            )
    for line in checks:
        print(line)


def check_same_series(systems: list[System], expected: int) -> list[str]:
    """Both stores must hold every synthetic series (a fast wrong answer is a failure)."""
    lines = []
    for s in systems:
        try:
            n = query_scalar(s, 'count({__name__=~"bench_.*"})')
        except Exception as exc:  # report, don't hide the other figures
            lines.append(f"CHECK FAILED: {s.name} query error: {exc}")
            continue
        verdict = "ok" if n == expected else "CHECK FAILED"
        lines.append(f"{verdict}: {s.name} holds {n:g} bench series (expected {expected})")
    return lines


def run(args: argparse.Namespace) -> int:
    if not os.path.exists(PROMETHEUS):
        print(f"{PROMETHEUS} not found: apt-get install prometheus", file=sys.stderr)
        return 2
    layout = Layout.for_series(args.series)
    active_series = args.targets * (layout.series + AUTO_SERIES)
    workdir = Path(tempfile.mkdtemp(prefix="tidewatch-bench-ingest-"))
    ports = free_ports(args.targets + 3)
    target_ports, control_port = ports[: args.targets], ports[args.targets]
    config = workdir / "prometheus.yml"
    write_config(config, target_ports, args.interval)
    systems = [
        System(
            "tidewatch", "tidewatch", ports[-2], workdir / "tidewatch", workdir / "tidewatch.log"
        ),
        System(
            "prometheus",
            "prometheus",
            ports[-1],
            workdir / "prometheus",
            workdir / "prometheus.log",
        ),
    ]
    systems = [s for s in systems if s.name in args.systems.split(",")]
    print(machine_summary())
    print(
        f"work dir {workdir}; {args.targets} targets x {layout.series} series "
        f"({layout.counters} counters, {layout.gauges} gauges, {layout.histograms} histograms)"
    )
    checks: list[str] = []
    try:
        with Procs() as procs:
            procs.start(
                [
                    sys.executable,
                    __file__,
                    "--serve-targets",
                    ",".join(map(str, target_ports)),
                    "--control-port",
                    str(control_port),
                    "--series",
                    str(args.series),
                ],
                workdir / "targets.log",
            )
            wait_http(f"http://127.0.0.1:{control_port}/stats")
            warmup = max(10.0, args.duration * 0.2)
            if args.mode == "concurrent":
                window = max(5.0, (args.duration - warmup - 15) / args.windows)
                for s in systems:
                    start(procs, s, config, control_port)
                wait_scraping(control_port, systems)
                print(
                    f"warm-up {warmup:.0f}s, then {args.windows} windows of {window:.0f}s, both systems running"
                )
                time.sleep(warmup)
                measure_windows(systems, control_port, args.windows, window)
                time.sleep(2 * args.interval)
                checks = check_same_series(systems, args.targets * layout.series)
                for s in systems:
                    finish(procs, s, control_port, active_series)
            else:
                # One system at a time, order alternating (A B, B A, A B ...).
                window = max(5.0, (args.duration / (2 * args.windows)) - warmup / 2)
                for r in range(args.windows):
                    order = systems if r % 2 == 0 else systems[::-1]
                    for s in order:
                        start(procs, s, config, control_port)
                        wait_scraping(control_port, [s])
                        time.sleep(warmup / 2)
                        measure_windows([s], control_port, 1, window)
                        time.sleep(2 * args.interval)
                        if r == args.windows - 1:
                            checks += check_same_series([s], args.targets * layout.series)
                        finish(procs, s, control_port, active_series)
    finally:
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    report(systems, args, active_series, checks)
    return 1 if any(c.startswith("CHECK FAILED") for c in checks) else 0


def main() -> int:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--targets", type=int, default=10, help="synthetic targets (K)")
    p.add_argument("--series", type=int, default=1000, help="series per target (S)")
    p.add_argument("--duration", type=float, default=150, help="approximate total seconds")
    p.add_argument("--interval", type=float, default=1.0, help="scrape interval, seconds")
    p.add_argument("--windows", type=int, default=3, help="measurement windows (or A/B rounds)")
    p.add_argument("--mode", choices=("concurrent", "alternate"), default="concurrent")
    p.add_argument(
        "--systems", default="tidewatch,prometheus", help="which to run (comma-separated)"
    )
    p.add_argument("--keep", action="store_true", help="keep the work dir (data, logs)")
    p.add_argument("--serve-targets", help=argparse.SUPPRESS)
    p.add_argument("--control-port", type=int, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.serve_targets:
        ports = [int(x) for x in args.serve_targets.split(",")]
        asyncio.run(serve_targets(ports, args.control_port, args.series))
        return 0
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
