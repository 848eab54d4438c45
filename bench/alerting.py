"""Alerting benchmark: tidewatch against Prometheus + Alertmanager, in the same run.

1. Latency: one loopback target exposes ``bench_condition{cycle="k"} 1`` from a chosen
   moment on; both tidewatch and Prometheus scrape it every 1 s and evaluate
   ``bench_condition > 0`` every 1 s; both Alertmanagers route it with ``group_wait: 0s``
   to a loopback webhook. Latency is the webhook's arrival time minus the time of the
   first scrape that returned 1 (and minus the flip, which adds the scrape phase).
2. Dispatch throughput: 10,000 distinct firing alerts POSTed to ``/api/v2/alerts`` in
   batches of 250 (Prometheus's batch size is 256), routed by team and grouped by
   ``alertname, group`` into 1,000 groups of 10; timed until every alert has reached the
   webhook in a firing notification. Resident memory of each process before and after.

Run: ``python bench/alerting.py`` (``--quick`` for a smoke run).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import yaml
from aiohttp import web

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import (
    REPO,
    Procs,
    fmt,
    free_ports,
    machine_summary,
    median,
    ratio,
    tree_usage,
    wait_http,
)

PROMETHEUS = "/usr/bin/prometheus"
ALERTMANAGER = "/usr/bin/prometheus-alertmanager"
SYSTEMS = ("tidewatch", "prometheus")  # "prometheus" = Prometheus + real Alertmanager
LATENCY_GOAL_S = 1.5
BATCH = 250
GROUP_SIZE = 10
TEAMS = ("payments", "search", "storage", "frontend")


# --- loopback target and webhook sink ---------------------------------------------------


class Target:
    """Serves ``bench_condition``; records the first scrape per system that saw the flip."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.cycle = -1  # no series exposed until the first flip
        self.flip_time = 0.0
        self.first_seen: dict[str, float] = {}

    def flip(self, cycle: int) -> None:
        with self.lock:
            self.cycle = cycle
            self.flip_time = time.time()
            self.first_seen = {}

    def body(self, user_agent: str) -> bytes:
        now = time.time()
        with self.lock:
            if self.cycle < 0:
                return b"# no condition yet\n"
            system = "prometheus" if "Prometheus" in user_agent else "tidewatch"
            self.first_seen.setdefault(system, now)
            return f'bench_condition{{cycle="{self.cycle}"}} 1\n'.encode()


class Sink:
    """Webhook receiver: the first arrival of each firing alert, per system."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        # (system, kind) -> alert key -> arrival time
        self.seen: dict[tuple[str, str], dict[str, float]] = {}
        self.notifications: dict[tuple[str, str], int] = {}

    def record(self, path: str, body: bytes) -> None:
        now = time.time()
        parts = path.strip("/").split("/")  # /<kind>/<system>
        if len(parts) != 2:
            return
        key = (parts[1], parts[0])
        payload = orjson.loads(body)
        with self.lock:
            seen = self.seen.setdefault(key, {})
            self.notifications[key] = self.notifications.get(key, 0) + 1
            for alert in payload.get("alerts", []):
                if alert.get("status") != "firing":
                    continue
                labels = alert.get("labels", {})
                ident = labels.get("id") or labels.get("cycle", "")
                seen.setdefault(ident, now)
                if "group" in labels:  # dispatch: also the group's first notification
                    groups = self.seen.setdefault((parts[1], "tp-groups"), {})
                    groups.setdefault(f"{labels.get('alertname')}/{labels['group']}", now)

    def count(self, system: str, kind: str) -> int:
        with self.lock:
            return len(self.seen.get((system, kind), {}))

    def arrival(self, system: str, kind: str, ident: str) -> float | None:
        with self.lock:
            return self.seen.get((system, kind), {}).get(ident)

    def last_arrival(self, system: str, kind: str, prefix: str) -> float:
        with self.lock:
            times = [
                t for k, t in self.seen.get((system, kind), {}).items() if k.startswith(prefix)
            ]
        return max(times) if times else float("nan")


class LoopbackServer:
    """The target (GET) and the sink (POST) on one aiohttp server in its own thread.

    An Alertmanager opens a connection per group at once (1,000 for the dispatch test);
    an event loop takes that without a thread per connection.
    """

    def __init__(self, port: int, target: Target, sink: Sink) -> None:
        self.loop = asyncio.new_event_loop()
        self.runner: web.AppRunner | None = None
        ready = threading.Event()

        async def scrape(request: web.Request) -> web.Response:
            body = target.body(request.headers.get("User-Agent", ""))
            return web.Response(body=body, content_type="text/plain")

        async def webhook(request: web.Request) -> web.Response:
            sink.record(request.path, await request.read())
            return web.Response()

        async def start() -> None:
            app = web.Application(client_max_size=64 << 20)
            app.router.add_get("/metrics", scrape)
            app.router.add_post("/{kind}/{system}", webhook)
            self.runner = web.AppRunner(app, access_log=None)
            await self.runner.setup()
            await web.TCPSite(self.runner, "127.0.0.1", port, backlog=4096).start()

        def run() -> None:
            asyncio.set_event_loop(self.loop)
            self.loop.run_until_complete(start())
            ready.set()
            self.loop.run_forever()

        threading.Thread(target=run, daemon=True).start()
        if not ready.wait(30):
            raise RuntimeError("loopback server did not start")

    def shutdown(self) -> None:
        if self.runner is not None:
            asyncio.run_coroutine_threadsafe(self.runner.cleanup(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)


# --- configs ----------------------------------------------------------------------------


def alertmanager_config(sink_port: int, system: str, group_interval: str) -> dict[str, Any]:
    """One routing tree for both systems; only the webhook path differs.

    ``group_interval`` of the dispatch route is also each notification's deadline (as in
    Alertmanager): 1,000 groups notifying at once need more than the latency route's 1 s.
    """
    base = f"http://127.0.0.1:{sink_port}"

    def hook(name: str, kind: str) -> dict[str, Any]:
        url = f"{base}/{kind}/{system}"
        return {"name": name, "webhook_configs": [{"url": url, "send_resolved": False}]}

    team_routes = [
        {
            "receiver": "throughput",
            "matchers": [f'team=~"{team}|{team}-oncall"'],
            "group_by": ["alertname", "group"],
        }
        for team in TEAMS
    ]
    return {
        "route": {
            "receiver": "blackhole",
            "group_wait": "0s",
            "group_interval": "1s",
            "repeat_interval": "4h",
            "routes": [
                {
                    "receiver": "latency",
                    "matchers": ['bench="latency"'],
                    "group_by": ["alertname", "cycle"],
                },
                {
                    "matchers": ['bench="throughput"'],
                    "group_interval": group_interval,
                    "routes": team_routes,
                },
            ],
        },
        "receivers": [
            {"name": "blackhole"},
            hook("latency", "lat"),
            hook("throughput", "tp"),
        ],
    }


RULES = {
    "groups": [
        {
            "name": "bench",
            "interval": "1s",
            "rules": [
                {
                    "alert": "BenchCondition",
                    "expr": "bench_condition > 0",
                    "labels": {"bench": "latency"},
                }
            ],
        }
    ]
}


def prometheus_section(target_port: int, rules_path: Path) -> dict[str, Any]:
    return {
        "global": {"scrape_interval": "1s", "scrape_timeout": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(rules_path)],
        "scrape_configs": [
            {"job_name": "condition", "static_configs": [{"targets": [f"127.0.0.1:{target_port}"]}]}
        ],
    }


@dataclass
class Servers:
    ports: dict[str, int]  # system -> port its Alertmanager API answers on
    pids: dict[str, int]  # system -> pid whose memory is the Alertmanager's
    procs: dict[str, int] = field(default_factory=dict)


def start_servers(
    procs: Procs,
    work: Path,
    target_port: int,
    sink_port: int,
    systems: tuple[str, ...],
    group_interval: str,
) -> Servers:
    tw_port, prom_port, am_port = free_ports(3)
    rules_path = work / "rules.yml"
    rules_path.write_text(yaml.safe_dump(RULES, sort_keys=False))
    servers = Servers({}, {})
    waits: list[tuple[str, Any]] = []
    if "tidewatch" in systems:
        cfg = {
            "prometheus": prometheus_section(target_port, rules_path),
            "alertmanager": alertmanager_config(sink_port, "tidewatch", group_interval),
        }
        (work / "tidewatch.yml").write_text(yaml.safe_dump(cfg, sort_keys=False))
        args = [sys.executable, "-m", "tidewatch", "up", "--listen", f"127.0.0.1:{tw_port}"]
        args += ["--data-dir", str(work / "tw-data"), "--config", str(work / "tidewatch.yml")]
        p = procs.start(args, work / "tidewatch.log", cwd=str(REPO))
        servers.ports["tidewatch"] = tw_port
        servers.pids["tidewatch"] = p.pid
        waits.append((f"http://127.0.0.1:{tw_port}/-/ready", p))
    if "prometheus" in systems:
        (work / "alertmanager.yml").write_text(
            yaml.safe_dump(
                alertmanager_config(sink_port, "prometheus", group_interval), sort_keys=False
            )
        )
        am = procs.start(
            [
                ALERTMANAGER,
                f"--config.file={work / 'alertmanager.yml'}",
                f"--storage.path={work / 'am-data'}",
                f"--web.listen-address=127.0.0.1:{am_port}",
                "--cluster.listen-address=",
            ],
            work / "alertmanager.log",
        )
        prom_cfg = prometheus_section(target_port, rules_path)
        prom_cfg["alerting"] = {
            "alertmanagers": [{"static_configs": [{"targets": [f"127.0.0.1:{am_port}"]}]}]
        }
        (work / "prometheus.yml").write_text(yaml.safe_dump(prom_cfg, sort_keys=False))
        prom = procs.start(
            [
                PROMETHEUS,
                f"--config.file={work / 'prometheus.yml'}",
                f"--storage.tsdb.path={work / 'prom-data'}",
                f"--web.listen-address=127.0.0.1:{prom_port}",
            ],
            work / "prometheus.log",
        )
        servers.ports["prometheus"] = am_port
        servers.pids["prometheus"] = am.pid
        waits.append((f"http://127.0.0.1:{am_port}/-/ready", am))
        waits.append((f"http://127.0.0.1:{prom_port}/-/ready", prom))
    for url, proc in waits:
        wait_http(url, proc, timeout=120)
    return servers


# --- measurements -----------------------------------------------------------------------


def wait_until(cond: Callable[[], bool], timeout: float, step: float = 0.01) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(step)
    return cond()


def measure_latency(
    target: Target, sink: Sink, systems: tuple[str, ...], cycles: int
) -> dict[str, dict[str, list[float]]]:
    """Per system: latency from the first true sample, and from the flip, per cycle."""
    out: dict[str, dict[str, list[float]]] = {s: {"sample": [], "flip": []} for s in systems}
    # Let both scrape and evaluate the empty target for a while: steady state first.
    time.sleep(3)
    for cycle in range(cycles):
        # A random phase against the scrape and evaluation ticks.
        time.sleep(1.0 + (cycle * 0.37) % 1.0)
        target.flip(cycle)
        ident = str(cycle)

        def notified(ident: str = ident) -> bool:
            return all(sink.arrival(s, "lat", ident) for s in systems)

        wait_until(notified, timeout=15)
        for system in systems:
            arrived = sink.arrival(system, "lat", ident)
            with target.lock:
                sampled = target.first_seen.get(system)
                flipped = target.flip_time
            if arrived is None or sampled is None:
                print(f"  cycle {cycle}: {system} not notified within 15 s")
                out[system]["sample"].append(float("nan"))
                out[system]["flip"].append(float("nan"))
                continue
            out[system]["sample"].append(arrived - sampled)
            out[system]["flip"].append(arrived - flipped)
        row = "  ".join(
            f"{s}: {fmt(out[s]['sample'][-1], 's')} (flip {fmt(out[s]['flip'][-1], 's')})"
            for s in systems
        )
        print(f"  cycle {cycle}: {row}")
    return out


def alerts_payload(run: int, n: int) -> list[bytes]:
    """n distinct firing alerts in POST bodies of BATCH; groups of GROUP_SIZE."""
    starts = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    alerts = []
    for i in range(n):
        group = i // GROUP_SIZE
        team = TEAMS[group % len(TEAMS)] + ("-oncall" if group % 3 == 0 else "")
        alerts.append(
            {
                "labels": {
                    "alertname": f"BenchDispatch{run}",
                    "bench": "throughput",
                    "group": f"g{group}",
                    "team": team,
                    "instance": f"host-{i % 97}:9100",
                    "severity": ("critical", "warning", "info")[i % 3],
                    "id": f"r{run}-{i}",
                },
                "annotations": {"summary": f"bench alert {i} of run {run}", "runbook": "none"},
                "startsAt": starts,
                "generatorURL": "http://127.0.0.1/graph",
            }
        )
    return [orjson.dumps(alerts[i : i + BATCH]) for i in range(0, n, BATCH)]


def post_all(port: int, bodies: list[bytes]) -> None:
    url = f"http://127.0.0.1:{port}/api/v2/alerts"
    for body in bodies:
        req = urllib.request.Request(
            url, data=body, method="POST", headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(req, timeout=60) as resp:
            if resp.status != 200:
                raise RuntimeError(f"POST {url}: HTTP {resp.status}")


@dataclass
class DispatchRun:
    seconds: float  # first POST to the last group's first notification
    all_alerts_seconds: float  # first POST to the last alert's notification
    post_seconds: float
    rss_before: int
    rss_after: int
    complete: bool


def measure_dispatch(
    system: str, servers: Servers, sink: Sink, run: int, n: int, timeout: float
) -> DispatchRun:
    bodies = alerts_payload(run, n)
    prefix = f"r{run}-"
    pid = servers.pids[system]
    rss_before = tree_usage(pid).rss_bytes
    n_groups = -(-n // GROUP_SIZE)
    before, before_groups = sink.count(system, "tp"), sink.count(system, "tp-groups")
    t0 = time.time()
    post_all(servers.ports[system], bodies)
    posted = time.time()
    groups_done = wait_until(
        lambda: sink.count(system, "tp-groups") - before_groups >= n_groups, timeout, step=0.01
    )
    rss_after = tree_usage(pid).rss_bytes
    complete = groups_done and wait_until(
        lambda: sink.count(system, "tp") - before >= n, timeout, step=0.02
    )
    nan = float("nan")
    done = sink.last_arrival(system, "tp-groups", f"BenchDispatch{run}/") if groups_done else nan
    all_done = sink.last_arrival(system, "tp", prefix) if complete else nan
    return DispatchRun(done - t0, all_done - t0, posted - t0, rss_before, rss_after, complete)


# --- main -------------------------------------------------------------------------------


def _raise_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="small smoke run (~1 minute)")
    ap.add_argument("--cycles", type=int, default=0, help="latency cycles (default 8, quick 2)")
    ap.add_argument("--alerts", type=int, default=0, help="alerts per dispatch run (10000)")
    ap.add_argument("--runs", type=int, default=0, help="dispatch runs per system (3, quick 1)")
    ap.add_argument("--systems", default=",".join(SYSTEMS), help="tidewatch,prometheus")
    ap.add_argument("--timeout", type=float, default=120.0, help="seconds per dispatch run")
    ap.add_argument(
        "--group-interval", default="10s", help="group_interval of the dispatch route (10s)"
    )
    ap.add_argument("--keep", action="store_true", help="keep the work directory")
    args = ap.parse_args(argv)
    # A SIGTERM (e.g. from a test's timeout) unwinds like Ctrl-C, so every process is ended.
    signal.signal(signal.SIGTERM, _raise_interrupt)
    cycles = args.cycles or (2 if args.quick else 8)
    n_alerts = args.alerts or (500 if args.quick else 10_000)
    runs = args.runs or (1 if args.quick else 3)
    systems = tuple(s for s in args.systems.split(",") if s)
    for s in systems:
        if s not in SYSTEMS:
            ap.error(f"unknown system {s!r}")
    if "prometheus" in systems and not (
        os.path.exists(PROMETHEUS) and os.path.exists(ALERTMANAGER)
    ):
        print(f"needs {PROMETHEUS} and {ALERTMANAGER} (apt-get install prometheus-alertmanager)")
        return 2

    print(f"alerting benchmark  {machine_summary()}")
    print(f"systems: {', '.join(systems)}; latency cycles {cycles}; dispatch {n_alerts} alerts")
    work = Path(tempfile.mkdtemp(prefix="tidewatch-bench-alerting-"))
    target, sink = Target(), Sink()
    # One loopback server is both the scrape target (GET) and the webhook sink (POST).
    (target_port,) = free_ports(1)
    sink_port = target_port
    http = LoopbackServer(target_port, target, sink)
    failed = False
    try:
        with Procs() as procs:
            servers = start_servers(
                procs, work, target_port, sink_port, systems, args.group_interval
            )
            print("\n== latency: first true sample -> webhook (1 s scrape + eval, group_wait 0s)")
            lat = measure_latency(target, sink, systems, cycles)
            for s in systems:
                for v in lat[s]["sample"]:
                    failed |= v != v
            print("\n== dispatch: POST /api/v2/alerts -> every group notified at the webhook")
            results: dict[str, list[DispatchRun]] = {s: [] for s in systems}
            order = list(systems)
            for run in range(runs):
                for system in order:
                    r = measure_dispatch(
                        system,
                        servers,
                        sink,
                        run * 10 + SYSTEMS.index(system),
                        n_alerts,
                        args.timeout,
                    )
                    results[system].append(r)
                    state = "" if r.complete else "  INCOMPLETE"
                    print(
                        f"  run {run} {system:10s} every group {fmt(r.seconds, 's')}, every alert "
                        f"{fmt(r.all_alerts_seconds, 's')} (POSTs {fmt(r.post_seconds, 's')})  RSS {r.rss_before / 2**20:.0f}"
                        f" -> {r.rss_after / 2**20:.0f} MiB{state}"
                    )
                    failed |= not r.complete
                order.reverse()  # A B, B A, ...
            report(lat, results, systems, n_alerts)
    finally:
        http.shutdown()
        if args.keep:
            print(f"work directory kept: {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    if failed:
        print("FAILED: an alert was not delivered in time")
    return 1 if failed else 0


def report(
    lat: dict[str, dict[str, list[float]]],
    results: dict[str, list[DispatchRun]],
    systems: tuple[str, ...],
    n_alerts: int,
) -> None:
    print("\n== summary (medians)")
    summary: dict[str, Any] = {}
    for s in systems:
        name = "tidewatch" if s == "tidewatch" else "Prometheus + Alertmanager"
        ls, lf = median(lat[s]["sample"]), median(lat[s]["flip"])
        worst = max((v for v in lat[s]["sample"] if v == v), default=float("nan"))
        d = median(r.seconds for r in results[s])
        d_all = median(r.all_alerts_seconds for r in results[s])
        grow = median(float(r.rss_after - r.rss_before) for r in results[s])
        rss = max(r.rss_after for r in results[s]) if results[s] else 0
        print(
            f"  {name:26s} latency {fmt(ls, 's')} from sample (max {fmt(worst, 's')}), "
            f"{fmt(lf, 's')} from flip;\n  {'':26s} dispatch {n_alerts} alerts: every group "
            f"notified {fmt(d, 's')} ({fmt(n_alerts / d if d == d else float('nan'), ' alerts/s')}),"
            f" every alert {fmt(d_all, 's')}; RSS {rss / 2**20:.0f} MiB"
            f" (+{grow / 2**20:.1f} MiB per run)"
        )
        summary[s] = {
            "latency_sample_s": ls,
            "latency_flip_s": lf,
            "dispatch_s": d,
            "dispatch_all_alerts_s": d_all,
            "rss": rss,
        }
    if len(systems) == 2:
        t, p = summary["tidewatch"], summary["prometheus"]
        print(
            f"  ratio tidewatch/reference: latency {fmt(ratio(t['latency_sample_s'], p['latency_sample_s']))}"
            f"  dispatch time {fmt(ratio(t['dispatch_s'], p['dispatch_s']))}"
            f"  RSS {fmt(ratio(t['rss'], p['rss']))} (tidewatch's RSS is the whole server)"
        )
    if "tidewatch" in systems:
        ok = summary["tidewatch"]["latency_sample_s"] < LATENCY_GOAL_S
        print(f"  latency goal < {LATENCY_GOAL_S} s: {'met' if ok else 'NOT met'}")
    print(json.dumps({"alerting": summary}, default=float))


if __name__ == "__main__":
    sys.exit(main())
