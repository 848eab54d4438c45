"""Remote-write sending cost: tidewatch's metrics agent against Prometheus in agent
mode (``--enable-feature=agent``), scraping the same targets and forwarding to the
same receiver.

    python bench/remote_write_send.py                   # 10 targets x 1000 series, ~2 min
    python bench/remote_write_send.py --targets 20 --series 2000 --duration 240

The synthetic targets of ``bench/ingest.py`` run in one helper process; a second helper
is a remote-write sink on loopback (answers 204, counts samples). Both agents read the
same scrape config (every 1 s) with ``remote_write`` to the sink. After a warm-up, for
each agent and over consecutive windows: **CPU seconds per million forwarded samples**
(user + system of the process tree, psutil, over the growth of the agent's own
``prometheus_remote_storage_samples_total``); medians are reported with the ratio
tidewatch / Prometheus, plus resident memory per active series at the end.
"""

from __future__ import annotations

import argparse
import asyncio
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
    fmt,
    free_ports,
    http_get,
    machine_summary,
    median,
    ratio,
    scrape_config_yaml,
    tree_usage,
    wait_http,
)

PROMETHEUS = "/usr/bin/prometheus"
INGEST = Path(__file__).resolve().parent / "ingest.py"
AUTO_SERIES = 5


async def serve_sink(port: int) -> None:
    """A remote-write receiver that only counts what it gets."""
    import cramjam
    from aiohttp import web

    stats = {"requests": 0, "bytes": 0}

    async def write(request: web.Request) -> web.Response:
        body = await request.read()
        stats["requests"] += 1
        stats["bytes"] += len(cramjam.snappy.decompress_raw(body))
        return web.Response(status=204)

    async def show(_: web.Request) -> web.Response:
        return web.json_response(stats)

    app = web.Application(client_max_size=256 << 20)
    app.router.add_post("/api/v1/write", write)
    app.router.add_get("/stats", show)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    await asyncio.Event().wait()


@dataclass
class Agent:
    name: str
    port: int
    data_dir: Path
    log: Path
    proc: Any = None
    cpu_per_msample: list[float] = field(default_factory=list)
    rss_per_series: float = float("nan")
    forwarded: float = 0.0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def command(self, config: Path) -> list[str]:
        if self.name == "prometheus":
            return [
                PROMETHEUS,
                "--enable-feature=agent",
                f"--config.file={config}",
                f"--storage.agent.path={self.data_dir}",
                f"--web.listen-address=127.0.0.1:{self.port}",
                "--log.level=warn",
            ]
        return [
            sys.executable,
            "-m",
            "tidewatch.agent_mode",
            "--config",
            str(config),
            "--data-dir",
            str(self.data_dir),
            "--listen",
            f"127.0.0.1:{self.port}",
        ]


def write_config(path: Path, target_ports: list[int], sink_port: int, interval_s: float) -> None:
    path.write_text(
        scrape_config_yaml(target_ports, interval_s)
        + f"remote_write:\n  - url: http://127.0.0.1:{sink_port}/api/v1/write\n"
    )


def samples_sent(agent: Agent) -> float:
    text = http_get(f"{agent.url}/metrics").decode()
    total = 0.0
    for line in text.splitlines():
        if line.startswith("prometheus_remote_storage_samples_total"):
            total += float(line.rsplit(" ", 1)[1])
    return total


def measure(agents: list[Agent], windows: int, window_s: float) -> None:
    for _ in range(windows):
        before = {a.name: (tree_usage(a.proc.pid).cpu_s, samples_sent(a)) for a in agents}
        time.sleep(window_s)
        for a in agents:
            cpu0, n0 = before[a.name]
            cpu1, n1 = tree_usage(a.proc.pid).cpu_s, samples_sent(a)
            a.forwarded += n1 - n0
            if n1 > n0:
                a.cpu_per_msample.append((cpu1 - cpu0) / ((n1 - n0) / 1e6))


def run(args: argparse.Namespace) -> int:
    if not os.path.exists(PROMETHEUS):
        print(f"{PROMETHEUS} not found: apt-get install prometheus", file=sys.stderr)
        return 2
    workdir = Path(tempfile.mkdtemp(prefix="tidewatch-bench-rwsend-"))
    ports = free_ports(args.targets + 4)
    target_ports, control_port, sink_port = ports[: args.targets], ports[-4], ports[-3]
    config = workdir / "prometheus.yml"
    write_config(config, target_ports, sink_port, args.interval)
    agents = [
        Agent("tidewatch", ports[-2], workdir / "tidewatch", workdir / "tidewatch.log"),
        Agent("prometheus", ports[-1], workdir / "prometheus", workdir / "prometheus.log"),
    ]
    agents = [a for a in agents if a.name in args.systems.split(",")]
    print(machine_summary())
    print(f"work dir {workdir}; {args.targets} targets x {args.series} series, 1 remote")
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    try:
        with Procs() as procs:
            procs.start(
                [
                    sys.executable,
                    str(INGEST),
                    "--serve-targets",
                    ",".join(map(str, target_ports)),
                    "--control-port",
                    str(control_port),
                    "--series",
                    str(args.series),
                ],
                workdir / "targets.log",
            )
            procs.start(
                [sys.executable, __file__, "--serve-sink", str(sink_port)], workdir / "sink.log"
            )
            wait_http(f"http://127.0.0.1:{control_port}/stats")
            wait_http(f"http://127.0.0.1:{sink_port}/stats")
            for a in agents:
                a.data_dir.mkdir(parents=True)
                a.proc = procs.start(a.command(config), a.log, env=env, cwd=str(REPO))
                wait_http(f"{a.url}/-/ready", a.proc, timeout=90)
            warmup = max(10.0, args.duration * 0.2)
            window = max(5.0, (args.duration - warmup) / args.windows)
            print(f"warm-up {warmup:.0f}s, then {args.windows} windows of {window:.0f}s")
            time.sleep(warmup)
            measure(agents, args.windows, window)
            series = args.targets * (args.series + AUTO_SERIES)
            for a in agents:
                a.rss_per_series = tree_usage(a.proc.pid).rss_bytes / series
    finally:
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    print()
    print(f"{'agent':<12}{'CPU s / M forwarded':>22}{'RSS B / series':>18}{'forwarded':>14}")
    for a in agents:
        print(
            f"{a.name:<12}{fmt(median(a.cpu_per_msample)):>22}"
            f"{fmt(a.rss_per_series, digits=4):>18}{a.forwarded:>14.0f}"
        )
    if len(agents) == 2:
        tw, prom = agents
        print(
            "ratio tidewatch/prometheus: CPU "
            f"{fmt(ratio(median(tw.cpu_per_msample), median(prom.cpu_per_msample)))}, "
            f"RSS/series {fmt(ratio(tw.rss_per_series, prom.rss_per_series))}"
        )
    return 0


def main() -> int:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--targets", type=int, default=10)
    p.add_argument("--series", type=int, default=1000)
    p.add_argument("--duration", type=float, default=120)
    p.add_argument("--interval", type=float, default=1.0)
    p.add_argument("--windows", type=int, default=3)
    p.add_argument("--systems", default="tidewatch,prometheus")
    p.add_argument("--keep", action="store_true")
    p.add_argument("--serve-sink", type=int, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.serve_sink:
        asyncio.run(serve_sink(args.serve_sink))
        return 0
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
