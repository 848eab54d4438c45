"""Remote-write receive cost: tidewatch (1.0 and 2.0 bodies) against the real
Prometheus receiving the same 1.0 bodies; 10k series per request.

Run with ``pytest tests/remote/test_write_bench.py -m slow -s``. Prints CPU per
request and samples per second per core for each, and the ratio.
"""

from __future__ import annotations

import os
import subprocess
import time
import urllib.request
from pathlib import Path

import psutil
import pytest

from tests.remote.helpers import V2Builder, snappy, v1_body
from tests.remote.test_real_prometheus import free_port
from tidewatch.remote.codec import snappy_decode
from tidewatch.remote.fastv1 import decode_v1_fast
from tidewatch.remote.fastv2 import decode_v2_fast
from tidewatch.remote.write import SeriesCache, apply_write, decode_v1, decode_v2
from tidewatch.tsdb import TSDB

SERIES = 10_000
REQUESTS = 12


def _series(k: int, t0: int) -> list[tuple[list[tuple[str, str]], list[tuple[int, float]]]]:
    return [
        (
            [
                ("__name__", f"metric_{i % 200}"),
                ("instance", f"host-{i % 50}:9100"),
                ("job", "node"),
                ("series", str(i)),
            ],
            [(t0 + k * 15_000 + 7, float(i + k))],
        )
        for i in range(SERIES)
    ]


def _v2(series: list[tuple[list[tuple[str, str]], list[tuple[int, float]]]]) -> bytes:
    b = V2Builder()
    for pairs, samples in series:
        b.series(pairs, samples)
    return snappy(b.body())


def _tidewatch_cpu(tmp: Path, bodies: list[bytes], v2: bool) -> float:
    """CPU seconds per request after the first (warm-up) one."""
    db = TSDB.open(str(tmp))
    cache = SeriesCache()
    spent = 0.0
    try:
        for k, body in enumerate(bodies):
            t0 = time.process_time()
            data = snappy_decode(body, 1 << 28)
            if v2:
                batch = decode_v2_fast(data, cache) or decode_v2(data, cache)
            else:
                batch = decode_v1_fast(data, cache) or decode_v1(data, cache)
            result = apply_write(db, batch)
            if k:
                spent += time.process_time() - t0
            assert result.rejected == 0 and result.samples_written == SERIES
    finally:
        db.close()
    return spent / (len(bodies) - 1)


def _prometheus_cpu(tmp: Path, bodies: list[bytes]) -> float:
    port = free_port()
    tmp.mkdir(parents=True)
    (tmp / "p.yml").write_text("global: {}\n")
    proc = subprocess.Popen(
        [
            "prometheus",
            f"--config.file={tmp / 'p.yml'}",
            f"--storage.tsdb.path={tmp / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--web.enable-remote-write-receiver",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(150):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/-/ready")
                break
            except OSError:
                time.sleep(0.2)

        def post(body: bytes) -> None:
            req = urllib.request.Request(
                f"http://127.0.0.1:{port}/api/v1/write",
                data=body,
                headers={"Content-Type": "application/x-protobuf", "Content-Encoding": "snappy"},
            )
            assert urllib.request.urlopen(req).status == 204

        post(bodies[0])
        time.sleep(1)
        ps = psutil.Process(proc.pid)
        c0 = ps.cpu_times()
        for body in bodies[1:]:
            post(body)
        c1 = ps.cpu_times()
        return (c1.user + c1.system - c0.user - c0.system) / (len(bodies) - 1)
    finally:
        proc.terminate()
        proc.wait(10)


@pytest.mark.slow
def test_remote_write_receive_cost(tmp_path: Path) -> None:
    t0 = int(time.time() * 1000) - 3_600_000
    batches = [_series(k, t0) for k in range(REQUESTS)]
    v1 = [snappy(v1_body(s)) for s in batches]
    v2 = [_v2(s) for s in batches]
    runs: dict[str, list[float]] = {"prometheus v1": [], "tidewatch v1": [], "tidewatch v2": []}
    for r in range(3):  # alternate A and B
        runs["prometheus v1"].append(_prometheus_cpu(tmp_path / f"p{r}", v1))
        runs["tidewatch v1"].append(_tidewatch_cpu(tmp_path / f"t1-{r}", v1, v2=False))
        runs["tidewatch v2"].append(_tidewatch_cpu(tmp_path / f"t2-{r}", v2, v2=True))
    med = {k: sorted(v)[1] for k, v in runs.items()}
    print(f"\ncores={os.cpu_count()} load={os.getloadavg()[0]:.1f}; {SERIES} series/request")
    for name, cpu in med.items():
        ratio = cpu / med["prometheus v1"]
        print(
            f"{name}: {cpu * 1000:.1f} ms CPU/request, {SERIES / cpu:,.0f} samples/s/core, x{ratio:.2f}"
        )
