"""``tidewatch agent``: in-process with its /metrics endpoint, and as a real process."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import aiohttp
import yaml

from tests.logs.agent.helpers import wait_for
from tests.logs.agent.test_sink import FakeLoki, loki  # noqa: F401 - fixture
from tidewatch.cli.cmd_agent import load_agent_config, run_agent

REPO = Path(__file__).resolve().parents[3]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _write_config(tmp_path: Path, url: str, port: int = 0, tidewatch_yml: bool = False) -> Path:
    body = f"""
positions:
  filename: {tmp_path / "positions.yaml"}
  sync_period: 100ms
clients:
  - url: {url}
scrape_configs:
  - job_name: app
    static_configs:
      - labels: {{job: app, __path__: "{tmp_path}/logs/*.log"}}
"""
    if tidewatch_yml:
        text = "logs:\n" + textwrap.indent(body.strip("\n") + "\n", "  ")
        path = tmp_path / "tidewatch.yml"
    else:
        server = f"server:\n  http_listen_port: {port}\n  http_listen_address: 127.0.0.1\n"
        text = (server if port else "") + body
        path = tmp_path / "promtail.yml"
    path.write_text(text)
    return path


async def test_run_agent_serves_metrics(tmp_path: Path, loki: tuple[FakeLoki, str]) -> None:  # noqa: F811
    fake, url = loki
    (tmp_path / "logs").mkdir()
    (tmp_path / "logs" / "a.log").write_text("x\ny\n")
    port = _free_port()
    cfg = load_agent_config(str(_write_config(tmp_path, url, port)))
    stop = asyncio.Event()
    task = asyncio.create_task(run_agent(cfg, stop))
    try:
        await wait_for(lambda: len(fake.lines()) == 2)
        text = ""
        async with aiohttp.ClientSession() as s:
            for _ in range(100):  # the endpoint comes up just after the first push
                try:
                    async with s.get(f"http://127.0.0.1:{port}/metrics") as resp:
                        text = await resp.text()
                    break
                except aiohttp.ClientConnectorError:
                    await asyncio.sleep(0.05)
            async with s.get(f"http://127.0.0.1:{port}/ready") as resp:
                assert resp.status == 200
        host = url.split("/")[2]
        assert f'promtail_sent_entries_total{{host="{host}"}} 2.0' in text
        assert "promtail_files_active_total 1.0" in text
    finally:
        stop.set()
        await task


async def test_tidewatch_yml_logs_section(tmp_path: Path, loki: tuple[FakeLoki, str]) -> None:  # noqa: F811
    fake, url = loki
    (tmp_path / "logs").mkdir()
    (tmp_path / "logs" / "a.log").write_text("from tidewatch.yml\n")
    cfg = load_agent_config(str(_write_config(tmp_path, url, tidewatch_yml=True)))
    assert cfg.clients[0].url == url
    stop = asyncio.Event()
    task = asyncio.create_task(run_agent(cfg, stop))
    try:
        await wait_for(lambda: fake.lines() == ["from tidewatch.yml"])
    finally:
        stop.set()
        await task


_LAUNCH = (
    "import argparse, sys\n"
    "from tidewatch.cli import cmd_agent\n"
    "p = argparse.ArgumentParser()\n"
    "cmd_agent.register(p.add_subparsers())\n"
    "a = p.parse_args(sys.argv[1:])\n"
    "sys.exit(a.func(a))\n"
)


async def test_agent_process_stops_cleanly(tmp_path: Path, loki: tuple[FakeLoki, str]) -> None:  # noqa: F811
    fake, url = loki
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "a.log").write_text("one\ntwo\n")
    cfg = _write_config(tmp_path, url)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", _LAUNCH, "agent", "--config", str(cfg), env=env, cwd=str(REPO)
    )
    try:
        await wait_for(lambda: len(fake.lines()) == 2, timeout=20)
        # SIGHUP re-reads the file: lines read after the reload carry the new label.
        cfg.write_text(cfg.read_text() + "    pipeline_stages:\n      - static_labels: {v: two}\n")
        proc.send_signal(signal.SIGHUP)
        for i in range(100):
            with (logs / "a.log").open("a") as f:
                f.write(f"more {i}\n")
            await asyncio.sleep(0.2)
            if any('v="two"' in st.labels_text for st in fake.streams):
                break
        await wait_for(lambda: len(fake.lines()) == 3 + i, timeout=20)
        assert fake.lines() == ["one", "two"] + [f"more {n}" for n in range(i + 1)]
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(proc.wait(), 20) == 0
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    saved = yaml.safe_load((tmp_path / "positions.yaml").read_text())
    assert saved["positions"] == {str(logs / "a.log"): str((logs / "a.log").stat().st_size)}


def test_agent_process_config_error(tmp_path: Path) -> None:
    bad = tmp_path / "promtail.yml"
    bad.write_text("clients:\n  - url: http://x/push\nscrape_configs:\n  - job: a\n")
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    out = subprocess.run(
        [sys.executable, "-c", _LAUNCH, "agent", "--config", str(bad)],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert out.returncode == 1
    assert f'{bad}:4: scrape_configs[0].job: unknown field "job"' in out.stderr
