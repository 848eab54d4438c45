"""``python -m tidewatch.agent_mode`` as a real process: scrapes, forwards, serves
its self metrics, and stops cleanly on SIGTERM."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

import aiohttp

from tests.agent_mode.test_agent import by_name, wait_for
from tests.remote.send.receiver import Receiver, free_port

REPO = Path(__file__).resolve().parents[2]


async def test_runner_process(target: str, tmp_path: Path) -> None:
    rx = Receiver()
    await rx.start()
    port = free_port()
    config = tmp_path / "prometheus.yml"
    config.write_text(
        "global:\n  scrape_interval: 200ms\n  scrape_timeout: 150ms\n"
        "scrape_configs:\n  - job_name: demo\n    static_configs:\n"
        f"      - targets: ['{target}']\n"
        "remote_write:\n"
        f"  - url: {rx.url}\n    queue_config:\n      batch_send_deadline: 50ms\n"
    )
    env = dict(os.environ, PYTHONPATH=str(REPO))
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tidewatch.agent_mode",
            "--config",
            str(config),
            "--data-dir",
            str(tmp_path / "data"),
            "--listen",
            f"127.0.0.1:{port}",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=open(tmp_path / "agent.log", "wb"),  # noqa: SIM115 - closed with the process
    )
    try:
        await wait_for(lambda: bool(by_name(rx, "demo_temp")), 30)
        async with (
            aiohttp.ClientSession() as s,
            s.get(f"http://127.0.0.1:{port}/metrics") as resp,
        ):
            text = await resp.text()
        assert "prometheus_remote_storage_samples_total{" in text
        assert "prometheus_agent_active_series" in text
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.to_thread(proc.wait, 30) == 0
        assert (tmp_path / "data" / "remote_write").is_dir()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        await rx.stop()
