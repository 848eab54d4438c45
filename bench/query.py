"""PromQL query latency of tidewatch against Debian's Prometheus, on the same backfilled data.

    python bench/query.py                     # 10k series x 24 h, 3 timed runs per query
    python bench/query.py --quick             # 500 series x 2 h smoke run
    python bench/query.py --keep              # keep the imported data for the next run

One generated OpenMetrics dataset (bench/datagen.py) is imported into tidewatch with
`tidewatch import openmetrics` and into Prometheus with `promtool tsdb
create-blocks-from openmetrics`. Both servers then answer the fixed suite in
bench/query_suite.py, each query as an instant query and as range queries over 1 h and
24 h at Grafana's step, A and B alternating, one warm-up then --runs timed runs each.
It prints per-query median latency, the ratio tidewatch/prometheus and the geometric
means, and checks both answers agree (1e-6 relative, NaN equal, order only where the
query sorts). A mismatch or an error is a failure: the exit status is 1.
"""

from __future__ import annotations

import argparse
import http.client
import json
import math
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import REPO, Procs, free_ports, machine_summary, median, tree_usage, wait_http
from datagen import Spec, generate
from query_suite import MODES, QUERIES, Mode, Query

PROMETHEUS = "/usr/bin/prometheus"
PROMTOOL = "/usr/bin/promtool"
REL_TOL = 1e-6
ABS_TOL = 1e-12  # float noise around zero (e.g. x - x computed in another order)
GOAL_GEOMEAN = 1.0
GOAL_MAX = 2.0


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def tidewatch_env() -> dict[str, str]:
    return dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))


# --- the systems ---------------------------------------------------------------------


@dataclass
class System:
    name: str
    data_dir: Path
    port: int = 0
    proc: subprocess.Popen[bytes] | None = None
    conn: http.client.HTTPConnection | None = None

    def command(self, workdir: Path) -> list[str]:
        listen = f"127.0.0.1:{self.port}"
        if self.name == "prometheus":
            cfg = workdir / "prometheus.yml"
            cfg.write_text("scrape_configs: []\n")
            return [
                PROMETHEUS,
                f"--config.file={cfg}",
                f"--storage.tsdb.path={self.data_dir}",
                f"--web.listen-address={listen}",
                "--storage.tsdb.retention.time=100y",
                "--log.level=warn",
            ]
        cfg = workdir / "tidewatch.yml"
        cfg.write_text("prometheus:\n  scrape_configs: []\n")
        return [
            sys.executable,
            "-m",
            "tidewatch",
            "up",
            "--listen",
            listen,
            "--data-dir",
            str(self.data_dir),
            "--config",
            str(cfg),
            "--log.level",
            "warn",
        ]

    def start(self, procs: Procs, workdir: Path) -> None:
        self.port = free_ports(1)[0]
        env = tidewatch_env() if self.name == "tidewatch" else None
        self.proc = procs.start(
            self.command(workdir), workdir / f"{self.name}.log", env=env, cwd=str(REPO)
        )
        wait_http(f"http://127.0.0.1:{self.port}/-/ready", self.proc, timeout=300)
        self.conn = None

    def request(self, path: str, params: dict[str, str], timeout: float) -> tuple[float, Any]:
        """POSTs a form as Grafana does; (seconds, decoded JSON body). Raises on failure."""
        body = urllib.parse.urlencode(params)
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        for attempt in (0, 1):
            if self.conn is None:
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
            try:
                t0 = time.perf_counter()
                self.conn.request("POST", path, body=body, headers=headers)
                resp = self.conn.getresponse()
                raw = resp.read()
                elapsed = time.perf_counter() - t0
                break
            except (ConnectionError, http.client.HTTPException):
                self.conn.close()
                self.conn = None
                if attempt:
                    raise
            except OSError:  # a timeout: the connection is unusable
                self.conn.close()
                self.conn = None
                raise
        data = json.loads(raw)
        if resp.status != 200 or data.get("status") != "success":
            raise RuntimeError(f"HTTP {resp.status}: {data.get('error', raw[:300])!r}")
        return elapsed, data["data"]


def wait_idle(system: System, max_wait: float, min_wait: float = 0.0) -> None:
    """Until the process tree uses < 5% of a core for two 2-second windows in a row."""
    assert system.proc is not None
    t_end = time.monotonic() + max_wait
    t_min = time.monotonic() + min_wait
    quiet = 0
    while time.monotonic() < t_end:
        before = tree_usage(system.proc.pid).cpu_s
        time.sleep(2.0)
        busy = (tree_usage(system.proc.pid).cpu_s - before) / 2.0
        quiet = quiet + 1 if busy < 0.05 else 0
        if quiet >= 2 and time.monotonic() >= t_min:
            return
    log(f"warning: {system.name} still busy after {max_wait:.0f}s")


# --- data preparation ----------------------------------------------------------------


def run_logged(cmd: list[str], log_path: Path, env: dict[str, str] | None = None) -> None:
    with open(log_path, "ab") as out:
        out.write(f"$ {' '.join(cmd)}\n".encode())
        out.flush()
        proc = subprocess.run(cmd, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=str(REPO))
    if proc.returncode != 0:
        raise RuntimeError(f"{cmd[:4]} failed with {proc.returncode}; see {log_path}")


def import_all(files: list[Path], root: Path, names: list[str]) -> None:
    """The importers of `names` run at once (one per core), each file in turn."""
    jobs: dict[str, Callable[[Path], list[str]]] = {
        "tidewatch": lambda f: [
            sys.executable,
            "-m",
            "tidewatch",
            "import",
            "openmetrics",
            str(f),
            "--data-dir",
            str(root / "tidewatch"),
        ],
        "prometheus": lambda f: [
            PROMTOOL,
            "tsdb",
            "create-blocks-from",
            "openmetrics",
            str(f),
            str(root / "prometheus"),
        ],
    }
    errors: list[str] = []

    def worker(name: str) -> None:
        t0 = time.monotonic()
        try:
            for n, f in enumerate(files):
                env = tidewatch_env() if name == "tidewatch" else None
                run_logged(jobs[name](f), root / f"import-{name}.log", env)
                log(f"  {name}: imported {n + 1}/{len(files)} ({time.monotonic() - t0:.0f}s)")
        except Exception as exc:
            errors.append(f"{name}: {exc}")

    threads = [threading.Thread(target=worker, args=(name,)) for name in names]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise RuntimeError("import failed: " + "; ".join(errors))


def prepare(spec: Spec, root: Path, procs: Procs, reimport: list[str]) -> None:
    """Generates and imports the dataset into root/{tidewatch,prometheus} unless cached;
    `reimport` names systems whose cached import is replaced."""
    ready = root / "READY"
    names = ["tidewatch", "prometheus"]
    if ready.exists():
        if not reimport:
            log(f"reusing the imported dataset in {root}")
            return
        names = reimport
        ready.unlink()
        for name in names:
            shutil.rmtree(root / name, ignore_errors=True)
    else:
        shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True, exist_ok=True)
    log(f"generating {spec.total_series:,} series x {spec.steps} samples into {root / 'om'}")
    t0 = time.monotonic()
    files = generate(spec, root / "om", lambda s: log("  " + s))
    size = sum(f.stat().st_size for f in files)
    log(f"generated {len(files)} file(s), {size / 1e6:.0f} MB in {time.monotonic() - t0:.0f}s")
    t0 = time.monotonic()
    import_all(files, root, names)
    log(f"imported into {' and '.join(names)} in {time.monotonic() - t0:.0f}s")
    shutil.rmtree(root / "om")
    if len(files) > 1:
        # Both compact the backfilled 2 h blocks into bigger ones a minute after start:
        # do it now, once, so no compaction runs while queries are timed.
        log(f"letting {' and '.join(names)} compact the backfilled blocks once")
        for name in names:
            s = System(name, root / name)
            s.start(procs, root)
            wait_idle(s, max_wait=900, min_wait=75)
            assert s.proc is not None
            procs.stop(s.proc, timeout=120)
    ready.write_text(spec.key + "\n")


def check_stores(spec: Spec, systems: list[System], timeout_s: float, dump_dir: Path) -> list[str]:
    """Both stores must hold the same series in every 2-hour block range before any timing
    (an import from an older on-disk format, say, would make every answer differ)."""
    problems = []
    block_s = 7200
    first = spec.start_ms // 1000 // block_s * block_s
    for mid in range(first + block_s // 2, spec.end_ms // 1000, block_s):
        t = max(mid, spec.start_ms // 1000 + 60)
        cell = Cell(Query(f"series count at {t}", 'count({__name__=~".+"})'), MODES[0])
        run_cell(cell, systems, t, 0, timeout_s, dump_dir)
        if cell.failed:
            problems.append(f"at {t}: {cell.errors or cell.mismatch}")
    return problems


# --- comparing answers -----------------------------------------------------------------


def close(a: float, b: float) -> bool:
    if a == b or (a != a and b != b):
        return True
    diff = abs(a - b)
    return diff <= ABS_TOL or diff <= REL_TOL * max(abs(a), abs(b))


def _key(metric: dict[str, str]) -> str:
    return "{" + ", ".join(f'{k}="{v}"' for k, v in sorted(metric.items())) + "}"


def _by_time(data: Any) -> dict[Any, dict[str, float]]:
    """timestamp -> {series: value} of a vector or matrix result."""
    out: dict[Any, dict[str, float]] = {}
    for item in data["result"]:
        pts = item["values"] if data["resultType"] == "matrix" else [item["value"]]
        for t, v in pts:
            out.setdefault(t, {})[_key(item["metric"])] = float(v)
    return out


def compare_ties(a: Any, b: Any, limit: int = 5) -> list[str]:
    """As `compare`, for topk/bottomk: at each timestamp the values must agree, and a
    series only one side picked must have a value equal to one only the other side
    picked (a tie broken the other way)."""
    if a["resultType"] != b["resultType"] or a["resultType"] not in ("vector", "matrix"):
        return compare(a, b, False, limit)
    out: list[str] = []
    ta, tb = _by_time(a), _by_time(b)
    for t in sorted(ta.keys() | tb.keys()):
        va, vb = ta.get(t, {}), tb.get(t, {})
        for k in sorted(va.keys() & vb.keys()):
            if not close(va[k], vb[k]):
                out.append(f"{k} @ {t}: {va[k]!r} vs {vb[k]!r}")
        only_a = sorted(va[k] for k in va.keys() - vb.keys())
        only_b = sorted(vb[k] for k in vb.keys() - va.keys())
        if len(only_a) != len(only_b) or not all(
            close(x, y) for x, y in zip(only_a, only_b, strict=True)
        ):
            out.append(
                f"@ {t}: only tidewatch {sorted(va.keys() - vb.keys())} {only_a}, "
                f"only prometheus {sorted(vb.keys() - va.keys())} {only_b}"
            )
        if len(out) >= limit:
            break
    return out


def compare(a: Any, b: Any, ordered: bool, limit: int = 5) -> list[str]:
    """Differences between two `data` objects of the query API (a = tidewatch, b = prometheus)."""
    if a["resultType"] != b["resultType"]:
        return [f"result type {a['resultType']} vs {b['resultType']}"]
    kind = a["resultType"]
    if kind in ("scalar", "string"):
        ta, va = a["result"]
        tb, vb = b["result"]
        same = ta == tb and (va == vb if kind == "string" else close(float(va), float(vb)))
        return [] if same else [f"{kind} {a['result']} vs {b['result']}"]
    out: list[str] = []
    field_name = "values" if kind == "matrix" else "value"

    def points(item: dict[str, Any]) -> list[list[Any]]:
        got = item[field_name]
        return list(got) if kind == "matrix" else [got]

    sa = {_key(it["metric"]): points(it) for it in a["result"]}
    sb = {_key(it["metric"]): points(it) for it in b["result"]}
    if len(sa) != len(a["result"]):
        out.append(f"tidewatch returned duplicate label sets ({len(a['result'])} series)")
    for k in sorted(sa.keys() - sb.keys())[:limit]:
        out.append(f"only tidewatch: {k} {sa[k][:3]}")
    for k in sorted(sb.keys() - sa.keys())[:limit]:
        out.append(f"only prometheus: {k} {sb[k][:3]}")
    for k in sorted(sa.keys() & sb.keys()):
        pa, pb = sa[k], sb[k]
        ta = [p[0] for p in pa]
        tb = [p[0] for p in pb]
        if ta != tb:
            only_a = sorted(set(ta) - set(tb))[:3]
            only_b = sorted(set(tb) - set(ta))[:3]
            out.append(
                f"{k}: timestamps differ ({len(ta)} vs {len(tb)} points; "
                f"only tidewatch {only_a}, only prometheus {only_b})"
            )
        else:
            for (t, va), (_, vb) in zip(pa, pb, strict=True):
                if not close(float(va), float(vb)):
                    out.append(f"{k} @ {t}: {va} vs {vb}")
                    break
        if len(out) >= limit:
            break
    if ordered and not out:
        oa = [_key(it["metric"]) for it in a["result"]]
        ob = [_key(it["metric"]) for it in b["result"]]
        if oa != ob:
            out.append(f"order differs: {oa[:3]} vs {ob[:3]}")
    return out


# --- running the suite -----------------------------------------------------------------


@dataclass
class Cell:
    """One query in one mode: timings of both systems and the verdict."""

    query: Query
    mode: Mode
    times: dict[str, list[float]] = field(
        default_factory=lambda: {"tidewatch": [], "prometheus": []}
    )
    errors: dict[str, str] = field(default_factory=dict)
    mismatch: list[str] = field(default_factory=list)
    series: int = 0

    def med(self, name: str) -> float:
        return median(self.times[name]) if self.times[name] else float("nan")

    @property
    def ratio(self) -> float:
        a, b = self.med("tidewatch"), self.med("prometheus")
        return a / b if b == b and b > 0 and a == a else float("nan")

    @property
    def failed(self) -> bool:
        return bool(self.errors or self.mismatch)


def params_for(expr: str, mode: Mode, end_s: int, timeout_s: float) -> tuple[str, dict[str, str]]:
    params = {"query": mode.render(expr), "timeout": f"{int(timeout_s)}s"}
    if mode.range_s == 0:
        params["time"] = str(end_s)
        return "/api/v1/query", params
    # Grafana aligns start and end to multiples of the step.
    end = end_s - end_s % mode.step_s
    start = end - mode.range_s
    params.update(start=str(start), end=str(end), step=str(mode.step_s))
    return "/api/v1/query_range", params


def run_cell(
    cell: Cell, systems: list[System], end_s: int, runs: int, timeout_s: float, dump_dir: Path
) -> None:
    path, params = params_for(cell.query.expr, cell.mode, end_s, timeout_s)
    answers: dict[str, Any] = {}
    # Warm-up (also the answers compared), then timed runs alternating the order.
    orders = [systems] + [systems if r % 2 == 0 else systems[::-1] for r in range(runs)]
    for n, order in enumerate(orders):
        for s in order:
            if s.name in cell.errors:
                continue
            try:
                elapsed, data = s.request(path, params, timeout_s + 5)
            except Exception as exc:
                cell.errors[s.name] = f"{type(exc).__name__}: {exc}"[:300]
                continue
            if n == 0:
                answers[s.name] = data
            else:
                cell.times[s.name].append(elapsed)
    if len(answers) == 2:
        a, b = answers["tidewatch"], answers["prometheus"]
        if cell.query.ties:
            cell.mismatch = compare_ties(a, b)
        else:
            cell.mismatch = compare(a, b, cell.query.sorted and cell.mode.range_s == 0)
        res = answers["prometheus"]["result"]
        cell.series = len(res) if isinstance(res, list) and res and isinstance(res[0], dict) else 1
        if cell.mismatch:
            dump_dir.mkdir(parents=True, exist_ok=True)
            name = f"{cell.query.name}-{cell.mode.name}".replace(" ", "_").replace("/", "_")
            (dump_dir / f"{name}.json").write_text(
                json.dumps({"path": path, "params": params, **answers}, indent=1)
            )


def geomean(values: list[float]) -> float:
    vals = [v for v in values if v == v and v > 0]
    return math.exp(sum(math.log(v) for v in vals) / len(vals)) if vals else float("nan")


def ms(v: float) -> str:
    return "n/a" if v != v else f"{v * 1000:.1f}"


def report(cells: list[Cell], modes: list[Mode], header: str) -> int:
    print()
    print(header)
    print(machine_summary())
    width = 22
    head = f"{'query':<22}" + "".join(f" | {m.name + ' tw/prom ms':>{width + 7}}" for m in modes)
    print(head)
    print("-" * len(head))
    by_query: dict[str, dict[str, Cell]] = {}
    for c in cells:
        by_query.setdefault(c.query.name, {})[c.mode.name] = c
    for qname, row in by_query.items():
        parts = []
        for m in modes:
            got = row.get(m.name)
            if got is None:
                parts.append(f" | {'-':>{width + 7}}")
                continue
            flag = "ERR" if got.errors else "DIFF" if got.mismatch else ""
            cellt = f"{ms(got.med('tidewatch'))}/{ms(got.med('prometheus'))} {got.ratio:6.2f}x"
            parts.append(f" | {cellt:>{width + 2}} {flag:>4}")
        print(f"{qname[:22]:<22}" + "".join(parts))
    print()
    failures = [c for c in cells if c.failed]
    all_ratios = [c.ratio for c in cells]
    for m in modes:
        rs = [c.ratio for c in cells if c.mode.name == m.name]
        print(
            f"geometric mean tidewatch/prometheus, {m.name:<9}: {geomean(rs):.3f}  (max {max(rs, default=float('nan')):.2f})"
        )
    print(f"geometric mean tidewatch/prometheus, all      : {geomean(all_ratios):.3f}")
    worst = sorted((c for c in cells if c.ratio == c.ratio), key=lambda c: -c.ratio)[:5]
    print(
        "worst ratios: "
        + ", ".join(f"{c.query.name} [{c.mode.name}] {c.ratio:.2f}x" for c in worst)
    )
    over = [c for c in cells if c.ratio == c.ratio and c.ratio > GOAL_MAX]
    gm = geomean(all_ratios)
    goal = gm <= GOAL_GEOMEAN and not over
    print(
        f"goal (geomean <= {GOAL_GEOMEAN}, no query above {GOAL_MAX}x): "
        f"{'met' if goal else 'NOT met'} ({len(over)} query/mode cells above {GOAL_MAX}x)"
    )
    mismatches = [c for c in cells if c.mismatch]
    errors = [c for c in cells if c.errors]
    print(
        f"answers: {len(cells) - len(failures)}/{len(cells)} equal; mismatches: {len(mismatches)}; errors: {len(errors)}"
    )
    for c in failures:
        print(f"  FAILED {c.query.name} [{c.mode.name}]: {c.mode.render(c.query.expr)}")
        for sysname, err in c.errors.items():
            print(f"    {sysname} error: {err}")
        for line in c.mismatch[:3]:
            print(f"    tidewatch vs prometheus: {line[:400]}")
    return 1 if failures else 0


# --- main ---------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument(
        "--series", type=int, help="at least this many series (default 10000; --quick 500)"
    )
    ap.add_argument("--hours", type=float, help="hours of data at 15 s (default 24; --quick 2)")
    ap.add_argument(
        "--runs", type=int, default=3, help="timed runs per query and system (default 3)"
    )
    ap.add_argument("--quick", action="store_true", help="a small dataset for a smoke run")
    ap.add_argument(
        "--workdir",
        type=Path,
        default=Path(os.environ.get("TMPDIR", "/tmp")) / "tidewatch-bench-query",
        help="where the dataset, imports and logs live",
    )
    ap.add_argument("--keep", action="store_true", help="keep the imported data for the next run")
    ap.add_argument(
        "--reimport",
        choices=("", "tidewatch", "prometheus", "both"),
        default="",
        help="replace the cached import of this system (e.g. after an on-disk format change)",
    )
    ap.add_argument(
        "--timeout", type=float, default=120.0, help="seconds per query before it fails"
    )
    ap.add_argument("--only", default="", help="run only queries whose name contains this")
    ap.add_argument("--modes", default="instant,1h,24h", help="comma list out of instant,1h,24h")
    args = ap.parse_args(argv)
    if args.series is None:
        args.series = 500 if args.quick else 10_000
    if args.hours is None:
        args.hours = 2.0 if args.quick else 24.0
    return args


def _terminate(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    # A plain `kill` ends the run through the same clean-up as Ctrl-C.
    signal.signal(signal.SIGTERM, _terminate)
    reimport = {"": [], "both": ["tidewatch", "prometheus"]}.get(args.reimport, [args.reimport])
    for tool in (PROMETHEUS, PROMTOOL):
        if not os.path.exists(tool):
            print(f"{tool} not found: apt-get install prometheus", file=sys.stderr)
            return 2
    spec = Spec(args.series, args.hours)
    root = args.workdir / spec.key
    wanted = [w.strip() for w in args.modes.split(",") if w.strip()]
    modes = [m for m in MODES if any(m.name.endswith(w) for w in wanted)]
    queries = [q for q in QUERIES if args.only in q.name]
    log(machine_summary())
    log(f"dataset {spec.key}: {spec.total_series:,} series x {spec.steps} samples, work dir {root}")
    # Logs and the full answers of any mismatch survive the run (the data may not).
    run_dir = args.workdir / "last-run"
    shutil.rmtree(run_dir, ignore_errors=True)
    run_dir.mkdir(parents=True)
    cells: list[Cell] = []
    status = 1
    try:
        with Procs() as procs:
            prepare(spec, root, procs, reimport)
            systems = [
                System("tidewatch", root / "tidewatch"),
                System("prometheus", root / "prometheus"),
            ]
            for s in systems:
                s.start(procs, run_dir)
                log(f"{s.name} ready on 127.0.0.1:{s.port}")
            for s in systems:
                wait_idle(s, max_wait=300)
            end_s = spec.end_ms // 1000
            problems = check_stores(spec, systems, args.timeout, run_dir / "mismatches")
            if problems:
                for line in problems:
                    log(f"stores differ {line}"[:600])
                log(
                    "the two imports do not hold the same data; if the cache is stale, run "
                    "again with --reimport tidewatch (or prometheus, or both)"
                )
                return 3
            log("both stores hold the same series in every block range")
            for q in queries:
                for m in modes:
                    cell = Cell(q, m)
                    run_cell(cell, systems, end_s, args.runs, args.timeout, run_dir / "mismatches")
                    verdict = "ERR" if cell.errors else "DIFF" if cell.mismatch else "ok"
                    log(
                        f"{q.name:<22} {m.name:<9} tw {ms(cell.med('tidewatch')):>8} ms  "
                        f"prom {ms(cell.med('prometheus')):>8} ms  {cell.ratio:6.2f}x  "
                        f"{cell.series} series  {verdict}"
                    )
                    cells.append(cell)
            header = (
                f"query benchmark: {spec.total_series:,} series x {args.hours:g} h at 15 s "
                f"({spec.total_series * spec.steps:,} samples), {len(queries)} queries, "
                f"median of {args.runs} runs after a warm-up, A/B alternating"
            )
            status = report(cells, modes, header)
            if any(c.mismatch for c in cells):
                print(f"full answers of each mismatch: {run_dir / 'mismatches'}")
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
    return status


if __name__ == "__main__":
    sys.exit(main())
