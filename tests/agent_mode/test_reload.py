"""``tidewatch agent`` as a real process reloads its metrics side (scrape configs and
remote_write) on SIGHUP and on ``/-/reload``; a bad file is refused and changes nothing."""

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


def agent_yml(target: str, url: str, team: str) -> str:
    return (
        "prometheus:\n"
        "  global:\n    scrape_interval: 200ms\n    scrape_timeout: 150ms\n"
        "  scrape_configs:\n    - job_name: demo\n      static_configs:\n"
        f"        - targets: ['{target}']\n          labels: {{team: {team}}}\n"
        "  remote_write:\n"
        f"    - url: {url}\n      queue_config:\n        batch_send_deadline: 50ms\n"
    )


def teams(rx: Receiver) -> set[str]:
    return {dict(lbls).get("team", "") for lbls in by_name(rx, "demo_temp")}


async def post_reload(port: int) -> tuple[int, str]:
    async with (
        aiohttp.ClientSession() as s,
        s.post(f"http://127.0.0.1:{port}/-/reload") as resp,
    ):
        return resp.status, await resp.text()


async def metric_value(port: int, name: str) -> float:
    async with aiohttp.ClientSession() as s, s.get(f"http://127.0.0.1:{port}/metrics") as resp:
        text = await resp.text()
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    raise AssertionError(f"{name} not in /metrics")


async def test_agent_reloads_on_sighup_and_endpoint(target: str, tmp_path: Path) -> None:
    rx1, rx2, rx3 = Receiver(), Receiver(), Receiver()
    for rx in (rx1, rx2, rx3):
        await rx.start()
    port = free_port()
    config = tmp_path / "tidewatch.yml"
    config.write_text(agent_yml(target, rx1.url, "a"))
    env = dict(os.environ, PYTHONPATH=str(REPO))
    with open(tmp_path / "agent.log", "wb") as err:
        proc = subprocess.Popen(
            [
                *(sys.executable, "-m", "tidewatch", "agent", "--config", str(config)),
                *("--data-dir", str(tmp_path / "data")),
                *("--web.listen-address", f"127.0.0.1:{port}"),
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=err,
        )
    try:
        await wait_for(lambda: teams(rx1) == {"a"}, 30)

        # SIGHUP: a new remote and a changed target label.
        config.write_text(agent_yml(target, rx2.url, "b"))
        proc.send_signal(signal.SIGHUP)
        # The old series' staleness markers may go to the new remote too.
        await wait_for(lambda: "b" in teams(rx2), 20)
        sent_to_rx1 = rx1.total()
        await asyncio.sleep(0.6)
        assert rx1.total() == sent_to_rx1  # the removed remote gets nothing more

        # A bad file over /-/reload: refused, the running config stays.
        config.write_text(agent_yml(target, rx3.url, "c").replace("200ms", "soon"))
        status, text = await post_reload(port)
        assert status == 400 and "failed to reload config" in text, text
        assert await metric_value(port, "prometheus_config_last_reload_successful") == 0.0
        before = rx2.total()
        await wait_for(lambda: rx2.total() > before + 3, 10)
        assert not rx3.total()

        # A good file over /-/reload.
        config.write_text(agent_yml(target, rx3.url, "c"))
        assert (await post_reload(port))[0] == 200
        await wait_for(lambda: "c" in teams(rx3), 20)
        assert await metric_value(port, "prometheus_config_last_reload_successful") == 1.0
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.to_thread(proc.wait, 30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        for rx in (rx1, rx2, rx3):
            await rx.stop()
    assert teams(rx3) <= {"b", "c"}
