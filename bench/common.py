"""Helpers shared by the benchmarks: ports, processes, CPU/RSS of a process tree, sizes.

Every process a benchmark starts goes through `Procs`, which ends them all
(by their own ids) when the benchmark finishes, fails or is interrupted.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import psutil

REPO = Path(__file__).resolve().parents[1]


def free_ports(n: int) -> list[int]:
    """n distinct free loopback ports (held open together so they differ)."""
    socks = []
    try:
        for _ in range(n):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [int(s.getsockname()[1]) for s in socks]
    finally:
        for s in socks:
            s.close()


def machine_summary() -> str:
    load = os.getloadavg()
    return (
        f"cores: {os.cpu_count()}  load average: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}  "
        f"python {sys.version.split()[0]}"
    )


def http_get(url: str, timeout: float = 10.0) -> bytes:
    with urllib.request.urlopen(url, timeout=timeout) as resp:
        return bytes(resp.read())


def http_post(url: str, timeout: float = 60.0) -> tuple[int, bytes]:
    req = urllib.request.Request(url, data=b"", method="POST")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return int(resp.status), bytes(resp.read())
    except urllib.error.HTTPError as exc:
        return int(exc.code), exc.read()


def wait_http(url: str, proc: subprocess.Popen[bytes] | None = None, timeout: float = 60.0) -> None:
    """Until `url` answers 2xx; fails early if `proc` exits."""
    deadline = time.monotonic() + timeout
    while True:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process {proc.args!r} exited with {proc.returncode}")
        try:
            http_get(url, timeout=2)
            return
        except (OSError, urllib.error.URLError):
            if time.monotonic() > deadline:
                raise TimeoutError(f"{url} did not answer within {timeout:.0f}s") from None
            time.sleep(0.2)


class Procs:
    """Starts processes in their own session and ends every one of them on exit."""

    def __init__(self) -> None:
        self._procs: list[subprocess.Popen[bytes]] = []

    def start(
        self, args: Sequence[str], log_path: Path, **kwargs: object
    ) -> subprocess.Popen[bytes]:
        log = open(log_path, "wb")  # noqa: SIM115 - lives as long as the process
        proc = subprocess.Popen(
            list(args),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: we can end it and its children
            **kwargs,  # type: ignore[call-overload]
        )
        self._procs.append(proc)
        return proc

    def stop(self, proc: subprocess.Popen[bytes], timeout: float = 15.0) -> None:
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        if proc in self._procs:
            self._procs.remove(proc)

    def stop_all(self) -> None:
        for proc in list(reversed(self._procs)):
            self.stop(proc)

    def __enter__(self) -> Procs:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop_all()


@dataclass(frozen=True)
class TreeUsage:
    cpu_s: float  # user + system of the process and all its descendants
    rss_bytes: int


def tree_usage(pid: int) -> TreeUsage:
    """CPU seconds and resident memory of a process and its descendants now."""
    root = psutil.Process(pid)
    procs = [root, *root.children(recursive=True)]
    cpu = 0.0
    rss = 0
    for p in procs:
        try:
            t = p.cpu_times()
            # children_* counts descendants that already exited and were reaped.
            cpu += t.user + t.system + t.children_user + t.children_system
            rss += p.memory_info().rss
        except psutil.NoSuchProcess:
            continue
    return TreeUsage(cpu, rss)


def dir_size(path: Path) -> int:
    total = 0
    for root, _, files in os.walk(path):
        for name in files:
            try:
                total += os.lstat(os.path.join(root, name)).st_size
            except OSError:
                continue
    return total


def median(values: Iterable[float]) -> float:
    vals = [v for v in values if v == v]  # drop NaN
    return statistics.median(vals) if vals else float("nan")


def ratio(a: float, b: float) -> float:
    return a / b if b else float("nan")


def fmt(value: float, unit: str = "", digits: int = 3) -> str:
    if value != value:
        return "n/a"
    return f"{value:.{digits}g}{unit}"


def scrape_config_yaml(target_ports: list[int], interval_s: float) -> str:
    """A prometheus.yml scraping the bench targets on loopback (read by both systems)."""
    targets = ", ".join(f'"127.0.0.1:{p}"' for p in target_ports)
    return (
        "global:\n"
        f"  scrape_interval: {interval_s:g}s\n"
        f"  scrape_timeout: {interval_s:g}s\n"
        "scrape_configs:\n"
        "  - job_name: bench\n"
        "    static_configs:\n"
        f"      - targets: [{targets}]\n"
    )
