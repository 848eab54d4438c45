"""Logs benchmark: tidewatch's log store against grep over the same raw bytes.

1. Ingest: realistic ~200-byte JSON lines from 100 streams (``{job="app", pod=...}``),
   spread over the last hour, pushed to ``/loki/api/v1/push`` — the first half as
   snappy protobuf (as Promtail sends), the second half as JSON. Lines per second per
   core is lines divided by the server's CPU seconds (user + system, whole process tree,
   including the background work until it is idle again); wall-clock lines/s too.
2. Storage: the log store's directory divided by the raw bytes pushed (after ingest, and
   again after a clean stop).
3. Search over every raw byte: ``{job="app"} |= "needle"`` (a log query returning every
   match), ``sum(count_over_time({job="app"} |= "needle" [2h]))`` and the same with
   ``|~ "err(or)?"``, against ``grep -c`` (and ``rg -c`` when installed) on a file holding
   the same lines, alternating tidewatch and grep. Counts must agree.
4. ``sum by (level) (count_over_time({job="app"} | json [1m]))`` as a range query over the
   hour (step 15 s), checked point by point against counts from the generator.

Run: ``python bench/logs.py`` (1 GB of lines; ``--gb 0.2`` to scale, ``--quick`` for a smoke run).
"""

from __future__ import annotations

import argparse
import concurrent.futures
import http.client
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cramjam
import numpy as np
import orjson
import yaml
import zstandard

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from common import (
    REPO,
    Procs,
    dir_size,
    fmt,
    free_ports,
    machine_summary,
    median,
    ratio,
    tree_usage,
    wait_http,
)

from tidewatch.logs.push.proto import PushRequest

STREAMS = 100
LINE_BYTES = 200  # target average
BATCH_LINES = 5000  # ~1 MB of raw lines per push, Promtail's default batch size
SPAN_NS = 3600 * 10**9
LEVELS = ("info", "warn", "error", "debug")
LEVEL_P = (0.80, 0.10, 0.08, 0.02)
NEEDLE_EVERY = 2000  # one line in this many mentions the needle
METHODS = ("GET", "GET", "GET", "POST", "PUT", "DELETE")
PATHS = ("/api/v1/orders", "/api/v1/users", "/api/v1/cart", "/healthz", "/api/v2/search")
MESSAGES = {
    "info": ("request completed", "cache hit", "session refreshed", "order accepted"),
    "warn": ("slow request", "retrying upstream call", "cache nearly full"),
    "error": ("upstream request failed: error connection reset", "db timeout error"),
    "debug": ("dispatching handler", "parsed request body"),
}
SEARCHES = (
    ("needle lines", '{job="app"} |= "needle"', ["needle"]),
    ("needle count", 'sum(count_over_time({job="app"} |= "needle" [2h]))', ["needle"]),
    ("regex count", 'sum(count_over_time({job="app"} |~ "err(or)?" [2h]))', ["-E", "err(or)?"]),
    (
        "alternation count",
        'sum(count_over_time({job="app"} |~ "timeout|retrying" [2h]))',
        ["-E", "timeout|retrying"],
    ),
)
METRIC_QUERY = 'sum by (level) (count_over_time({job="app"} | json [1m]))'
MAX_LOG_LINES = 5000  # Loki's max_entries_limit_per_query


# --- data -------------------------------------------------------------------------------


@dataclass
class Dataset:
    """Every line's time and level, for checking answers; the raw lines are in a file."""

    t0_ns: int
    end_ns: int
    ts: np.ndarray  # int64 ns, line i
    level: np.ndarray  # int8 index into LEVELS
    needle: np.ndarray  # bool
    raw_path: Path
    raw_bytes: int


def stream_labels(s: int) -> dict[str, str]:
    return {"job": "app", "namespace": "prod", "pod": f"app-{s:03d}", "container": "server"}


def make_times(n: int, now_ns: int) -> tuple[int, int, np.ndarray]:
    """n line times over the hour before now; never on a round second (query steps are)."""
    end_ns = (now_ns // 10**9 - 30) * 10**9
    t0_ns = end_ns - SPAN_NS
    step = SPAN_NS // n
    ts = t0_ns + 123_456_000 + np.arange(n, dtype=np.int64) * step
    ts = ts // 10 * 10 + 7  # an odd last digit: never equal to a query time
    return t0_ns, end_ns, ts


def render_lines(start: int, ts: np.ndarray, level: np.ndarray, needle: np.ndarray) -> list[str]:
    """The JSON lines for global indexes start.. (deterministic in the index)."""
    n = len(ts)
    rng = np.random.default_rng(start)
    trace = rng.integers(0, 2**63, n, dtype=np.int64)
    user = rng.integers(1000, 99999, n)
    item = rng.integers(1, 999999, n)
    dur = rng.gamma(2.0, 20.0, n)
    method = rng.integers(0, len(METHODS), n)
    path = rng.integers(0, len(PATHS), n)
    msg_pick = rng.integers(0, 4, n)
    second_text: dict[int, str] = {}
    out = []
    for i in range(n):
        t = int(ts[i])
        sec = t // 10**9
        stamp = second_text.get(sec)
        if stamp is None:
            stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(sec))
            second_text[sec] = stamp
        lv = LEVELS[level[i]]
        msgs = MESSAGES[lv]
        msg = msgs[msg_pick[i] % len(msgs)]
        if needle[i]:
            msg = f"lookup found needle in key k{item[i]}"
        status = 500 if lv == "error" else (429 if lv == "warn" else 200)
        out.append(
            f'{{"ts":"{stamp}.{(t // 1000) % 1000000:06d}Z","level":"{lv}",'
            f'"logger":"http.server","msg":"{msg}","method":"{METHODS[method[i]]}",'
            f'"path":"{PATHS[path[i]]}/{item[i]}","status":{status},'
            f'"duration_ms":{dur[i]:.3f},"trace_id":"{int(trace[i]):016x}","user_id":{user[i]}}}'
        )
    return out


def make_dataset(n: int, work: Path) -> Dataset:
    t0, end, ts = make_times(n, time.time_ns())
    rng = np.random.default_rng(42)
    level = rng.choice(len(LEVELS), size=n, p=LEVEL_P).astype(np.int8)
    needle = (np.arange(n) * 7919 + 13) % NEEDLE_EVERY == 0
    return Dataset(t0, end, ts, level, needle, work / "raw.log", 0)


def batches(ds: Dataset, lo: int, hi: int) -> Iterator[tuple[int, list[str]]]:
    for start in range(lo, hi, BATCH_LINES):
        stop = min(start + BATCH_LINES, hi)
        yield (
            start,
            render_lines(start, ds.ts[start:stop], ds.level[start:stop], ds.needle[start:stop]),
        )


def by_stream(start: int, lines: list[str]) -> dict[int, list[int]]:
    """Line i belongs to stream i % STREAMS; offsets into `lines` per stream, in time order."""
    out: dict[int, list[int]] = {}
    for off in range(len(lines)):
        out.setdefault((start + off) % STREAMS, []).append(off)
    return out


def labels_text(s: int) -> str:
    return "{" + ", ".join(f'{k}="{v}"' for k, v in stream_labels(s).items()) + "}"


def encode_protobuf(ds: Dataset, start: int, lines: list[str]) -> bytes:
    req = PushRequest()
    for s, offs in by_stream(start, lines).items():
        st = req.streams.add()
        st.labels = labels_text(s)
        for off in offs:
            e = st.entries.add()
            e.timestamp.seconds, e.timestamp.nanos = divmod(int(ds.ts[start + off]), 10**9)
            e.line = lines[off]
    return bytes(cramjam.snappy.compress_raw(req.SerializeToString()))


def encode_json(ds: Dataset, start: int, lines: list[str]) -> bytes:
    streams = []
    for s, offs in by_stream(start, lines).items():
        values = [[str(int(ds.ts[start + off])), lines[off]] for off in offs]
        streams.append({"stream": stream_labels(s), "values": values})
    return orjson.dumps({"streams": streams})


# --- client -----------------------------------------------------------------------------


class Client:
    """One kept-alive connection per thread to tidewatch."""

    def __init__(self, port: int, timeout: float = 600.0) -> None:
        self.port = port
        self.timeout = timeout
        self.local = threading.local()

    def conn(self) -> http.client.HTTPConnection:
        c = getattr(self.local, "conn", None)
        if c is None:
            c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=self.timeout)
            self.local.conn = c
        return c

    def request(self, method: str, path: str, body: bytes | None, headers: dict[str, str]) -> bytes:
        c = self.conn()
        try:
            c.request(method, path, body=body, headers=headers)
            resp = c.getresponse()
            data = resp.read()
        except (OSError, http.client.HTTPException):
            c.close()
            self.local.conn = None
            raise
        if resp.status >= 300:
            raise RuntimeError(f"{method} {path}: HTTP {resp.status}: {data[:300]!r}")
        return data

    def push(self, body: bytes, protobuf: bool) -> None:
        ctype = "application/x-protobuf" if protobuf else "application/json"
        self.request("POST", "/loki/api/v1/push", body, {"Content-Type": ctype})

    def query(self, path: str, params: dict[str, str]) -> Any:
        body = urllib.parse.urlencode(params).encode()
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        return orjson.loads(self.request("POST", path, body, headers))


def wait_idle(pid: int, timeout: float = 120.0) -> None:
    """Until the server uses under 5% of a core over a second (background work done)."""
    deadline = time.monotonic() + timeout
    last = tree_usage(pid).cpu_s
    while time.monotonic() < deadline:
        time.sleep(1.0)
        now = tree_usage(pid).cpu_s
        if now - last < 0.05:
            return
        last = now


def wait_settled(pid: int, quiet_s: float = 7.0, timeout: float = 300.0) -> float:
    """Seconds until the server stayed under 5% of a core for ``quiet_s`` (longer than
    the log store's 5 s maintenance interval): compaction of the freshly pushed lines
    has caught up, so it neither slows the timed searches nor competes with grep."""
    t0 = time.monotonic()
    samples = [(t0, tree_usage(pid).cpu_s)]
    while time.monotonic() - t0 < timeout:
        time.sleep(0.5)
        now = time.monotonic()
        samples.append((now, tree_usage(pid).cpu_s))
        while len(samples) > 2 and now - samples[1][0] >= quiet_s:
            samples.pop(0)
        first_t, first_cpu = samples[0]
        if now - first_t >= quiet_s and samples[-1][1] - first_cpu < 0.05 * (now - first_t):
            return now - t0
    return time.monotonic() - t0


@dataclass
class IngestResult:
    fmt: str
    lines: int
    raw_bytes: int
    wall_s: float
    cpu_s: float


def ingest(
    ds: Dataset, client: Client, pid: int, lo: int, hi: int, protobuf: bool, raw: Any
) -> IngestResult:
    """Push lines lo..hi; encoding and the raw file happen in the client's threads."""
    encode = encode_protobuf if protobuf else encode_json
    nbytes = 0
    lock = threading.Lock()

    def one(item: tuple[int, list[str]]) -> None:
        nonlocal nbytes
        start, lines = item
        body = encode(ds, start, lines)
        client.push(body, protobuf)
        text = "\n".join(lines) + "\n"
        with lock:
            nbytes += len(text.encode())

    cpu0 = tree_usage(pid).cpu_s
    t0 = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(max_workers=3) as pool:
        pending: list[concurrent.futures.Future[None]] = []
        for item in batches(ds, lo, hi):
            # The raw file gets lines in the same order as pushed, for grep.
            raw.write(("\n".join(item[1]) + "\n").encode())
            pending.append(pool.submit(one, item))
            if len(pending) >= 6:
                pending.pop(0).result()
        for f in pending:
            f.result()
    wall = time.perf_counter() - t0
    wait_idle(pid)
    cpu = tree_usage(pid).cpu_s - cpu0
    return IngestResult("protobuf" if protobuf else "JSON", hi - lo, nbytes, wall, cpu)


# --- searches ---------------------------------------------------------------------------


def tidewatch_search(client: Client, ds: Dataset, query: str) -> tuple[float, int]:
    """(seconds, matching lines) for one search over the whole hour."""
    t = time.perf_counter()
    if query.startswith("sum("):
        params = {"query": query, "time": str(ds.end_ns + 10**9)}
        data = client.query("/loki/api/v1/query", params)
        dt = time.perf_counter() - t
        result = data["data"]["result"]
        return dt, int(float(result[0]["value"][1])) if result else 0
    params = {
        "query": query,
        "start": str(ds.t0_ns),
        "end": str(ds.end_ns + 10**9),
        "limit": str(MAX_LOG_LINES),
        "direction": "backward",
    }
    data = client.query("/loki/api/v1/query_range", params)
    dt = time.perf_counter() - t
    lines = [v[1] for s in data["data"]["result"] for v in s["values"]]
    if not all("needle" in line for line in lines):
        raise RuntimeError("a returned line does not contain the needle")
    return dt, len(lines)


def grep_search(tool: str, args: list[str], path: Path) -> tuple[float, int]:
    env = dict(os.environ, LC_ALL="C")  # byte matching: grep's fastest, the physical reference
    t = time.perf_counter()
    proc = subprocess.run([tool, "-c", *args, str(path)], capture_output=True, env=env, check=False)
    dt = time.perf_counter() - t
    if proc.returncode not in (0, 1):
        raise RuntimeError(f"{tool} failed: {proc.stderr[:300]!r}")
    return dt, int(proc.stdout.strip() or 0)


def expected_count(ds: Dataset, name: str) -> int | None:
    """Matching lines as the generator knows them (None: not tracked, grep decides)."""
    if "alternation" in name:
        return None  # which message a line got is not kept
    if "needle" in name:
        return int(ds.needle.sum())
    return int((ds.level == LEVELS.index("error")).sum())  # only error lines say "error"


def metric_check(ds: Dataset, data: Any, start_ns: int, step_ns: int, n_steps: int) -> list[str]:
    """Compare the range query's points with counts from the generator."""
    problems = []
    got = {r["metric"].get("level", ""): r["values"] for r in data["data"]["result"]}
    times = start_ns + np.arange(n_steps, dtype=np.int64) * step_ns
    for li, lv in enumerate(LEVELS):
        ts = ds.ts[ds.level == li]
        counts = np.searchsorted(ts, times, "right") - np.searchsorted(
            ts, times - 60 * 10**9, "right"
        )
        want = {int(t // 10**6): int(c) for t, c in zip(times, counts, strict=True) if c > 0}
        have = {round(float(v[0]) * 1000): int(float(v[1])) for v in got.get(lv, [])}
        if want != have:
            diff = sorted(set(want.items()) ^ set(have.items()))[:4]
            problems.append(
                f"level={lv}: {len(want)} points expected, {len(have)} got; e.g. {diff}"
            )
    extra = set(got) - set(LEVELS)
    if extra:
        problems.append(f"unexpected series {sorted(extra)}")
    return problems


def zstd_reference(path: Path) -> float:
    """How compressible the lines are: zstd level 3 over independent 1 MiB frames."""
    cctx = zstandard.ZstdCompressor(level=3)
    raw = packed = 0
    with open(path, "rb") as fh:
        while block := fh.read(1 << 20):
            raw += len(block)
            packed += len(cctx.compress(block))
    return packed / raw if raw else float("nan")


# --- main -------------------------------------------------------------------------------


def start_tidewatch(procs: Procs, work: Path) -> tuple[int, int]:
    (port,) = free_ports(1)
    cfg = {"logs": {"limits_config": {"ingestion_rate_mb": 0}}}
    (work / "tidewatch.yml").write_text(yaml.safe_dump(cfg))
    args = [sys.executable, "-m", "tidewatch", "up", "--listen", f"127.0.0.1:{port}"]
    args += ["--data-dir", str(work / "tw-data"), "--config", str(work / "tidewatch.yml")]
    proc = procs.start(args, work / "tidewatch.log", cwd=str(REPO))
    wait_http(f"http://127.0.0.1:{port}/-/ready", proc, timeout=120)
    return port, proc.pid


def _raise_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--gb", type=float, default=1.0, help="raw gigabytes of lines (default 1)")
    ap.add_argument("--quick", action="store_true", help="smoke run: 5 MB, 1 timed run")
    ap.add_argument("--runs", type=int, default=0, help="timed runs per search (3, quick 1)")
    ap.add_argument("--step", type=int, default=15, help="metric query step in seconds")
    ap.add_argument(
        "--metric-timeout", type=float, default=300.0, help="seconds to wait for the metric query"
    )
    ap.add_argument("--keep", action="store_true", help="keep the work directory")
    args = ap.parse_args(argv)
    # A SIGTERM (e.g. from a test's timeout) unwinds like Ctrl-C, so every process is ended.
    signal.signal(signal.SIGTERM, _raise_interrupt)
    gb = 0.005 if args.quick else args.gb
    runs = args.runs or (1 if args.quick else 3)
    n_lines = max(int(gb * 1e9 / LINE_BYTES), 2 * BATCH_LINES)
    greps = [t for t in ("grep", "rg") if shutil.which(t)]

    print(f"logs benchmark  {machine_summary()}")
    print(f"{n_lines} lines (~{gb:g} GB), {STREAMS} streams; references: {', '.join(greps)}")
    work = Path(tempfile.mkdtemp(prefix="tidewatch-bench-logs-"))
    failed: list[str] = []
    summary: dict[str, Any] = {}
    try:
        with Procs() as procs:
            port, pid = start_tidewatch(procs, work)
            client = Client(port)
            ds = make_dataset(n_lines, work)

            print("\n== ingest (lines per second per core of the server's CPU)")
            half = n_lines // 2 // BATCH_LINES * BATCH_LINES
            results = []
            with open(ds.raw_path, "wb") as raw:
                for protobuf, lo, hi in ((True, 0, half), (False, half, n_lines)):
                    r = ingest(ds, client, pid, lo, hi, protobuf, raw)
                    results.append(r)
                    print(
                        f"  {r.fmt:8s} {r.lines} lines {r.raw_bytes / 1e6:.0f} MB: "
                        f"{fmt(r.lines / r.cpu_s)} lines/s/core ({fmt(r.cpu_s, 's')} CPU), "
                        f"{fmt(r.lines / r.wall_s)} lines/s wall"
                    )
                    summary[f"ingest_{r.fmt.lower()}_lines_per_core_s"] = r.lines / r.cpu_s
            ds.raw_bytes = ds.raw_path.stat().st_size
            print(
                f"  goal 200k lines/s/core: {'met' if min(r.lines / r.cpu_s for r in results) >= 2e5 else 'NOT met'}"
            )

            store = work / "tw-data" / "logs"
            running_size = dir_size(store)
            print(
                f"\n== storage: {running_size / ds.raw_bytes:.3f} bytes per raw byte while running"
            )

            settled = wait_settled(pid)
            print(
                f"\n== search over {ds.raw_bytes / 1e9:.3f} GB ({runs} timed runs, first run apart; "
                f"background work settled after {settled:.0f}s)"
            )
            for name, query, grep_args in SEARCHES:
                want = expected_count(ds, name)
                first, got = tidewatch_search(client, ds, query)
                ref: dict[str, list[float]] = {t: [] for t in greps}
                ref_counts: dict[str, int] = {}
                mine: list[float] = []
                for _ in range(runs):
                    for tool in greps:
                        dt, c = grep_search(tool, grep_args, ds.raw_path)
                        ref[tool].append(dt)
                        ref_counts[tool] = c
                    dt, c2 = tidewatch_search(client, ds, query)
                    mine.append(dt)
                    if c2 != got:
                        failed.append(f"{name}: answers differ between runs ({got} vs {c2})")
                for tool, c in ref_counts.items():
                    if c != got or (want is not None and c != want):
                        failed.append(f"{name}: tidewatch {got}, {tool} {c}, generator {want}")
                gbps = ds.raw_bytes / 1e9 / median(mine)
                line = f"  {name:17s} {got} matches  tidewatch {fmt(gbps)} GB/s (first run {fmt(ds.raw_bytes / 1e9 / first)})"
                for tool in greps:
                    tg = ds.raw_bytes / 1e9 / median(ref[tool])
                    line += f"  {tool} {fmt(tg)} GB/s  ratio {fmt(ratio(gbps, tg))}"
                    summary[f"{name} ratio vs {tool}"] = ratio(gbps, tg)
                print(line)
                summary[f"{name} GB/s"] = gbps

            print(f"\n== {METRIC_QUERY} over 1 h, step {args.step}s")
            step_ns = args.step * 10**9
            start_ns = (ds.t0_ns // 10**9 + 60) * 10**9
            n_steps = (ds.end_ns - start_ns) // step_ns + 1
            params = {
                "query": METRIC_QUERY,
                "start": str(start_ns),
                "end": str(start_ns + (n_steps - 1) * step_ns),
                "step": f"{args.step}s",
            }
            metric_client = Client(port, timeout=args.metric_timeout)
            times: list[float] = []
            for _ in range(runs + 1):
                t = time.perf_counter()
                try:
                    data = metric_client.query("/loki/api/v1/query_range", params)
                except (OSError, RuntimeError, http.client.HTTPException) as exc:
                    took = time.perf_counter() - t
                    failed.append(f"metric query: no answer after {took:.0f}s ({exc})")
                    print(f"  no answer after {took:.0f}s: {exc}")
                    break
                times.append(time.perf_counter() - t)
                failed += [
                    f"metric query: {p}" for p in metric_check(ds, data, start_ns, step_ns, n_steps)
                ]
                if sum(times) > args.metric_timeout:
                    break  # one slow answer is enough to report
            if times:
                timed = times[1:] or times
                print(
                    f"  {fmt(median(timed), 's')} (first run {fmt(times[0], 's')}, "
                    f"{len(timed)} timed); {fmt(ds.raw_bytes / 1e9 / median(timed))} GB/s of raw lines"
                )
                summary["metric_query_s"] = median(timed)

            procs.stop_all()
            stopped_size = dir_size(store)
            print(
                f"\n== storage after a clean stop: {stopped_size / ds.raw_bytes:.3f} bytes per raw "
                f"byte (goal <= 0.15; {stopped_size / 1e6:.1f} MB for {ds.raw_bytes / 1e6:.0f} MB)"
            )
            summary["bytes_per_raw_byte"] = stopped_size / ds.raw_bytes
            zstd_ratio = zstd_reference(ds.raw_path)
            print(
                f"  reference: zstd -3 of the raw file in 1 MiB frames: {zstd_ratio:.3f} bytes per raw byte"
            )
            summary["zstd_reference_bytes_per_raw_byte"] = zstd_ratio
    finally:
        if args.keep:
            print(f"work directory kept: {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    print(json.dumps({"logs": summary}))
    for f in failed:
        print(f"FAILED: {f}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
