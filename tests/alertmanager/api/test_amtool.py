"""Debian's ``amtool`` against tidewatch's API v2 on loopback: alert add/query,
silence add/query/expire, config show and cluster status. Skips without amtool,
except with ``CI`` set, where that is a failure."""

from __future__ import annotations

import asyncio
import json
import os

from tests.alertmanager.api.server import api_server
from tests.peers import require_binary


def _amtool() -> str:
    return require_binary("amtool")


async def _run(base: str, *args: str) -> str:
    proc = await asyncio.create_subprocess_exec(
        _amtool(),
        f"--alertmanager.url={base}",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "HOME": os.environ.get("HOME", "/nonexistent")},
    )
    out, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 0, (args, out.decode(), err.decode())
    return out.decode()


async def test_amtool_alerts_and_silences() -> None:
    _amtool()
    async with api_server() as (base, _):
        await _run(
            base,
            "alert",
            "add",
            "alertname=Disk",
            "team=db",
            "instance=h1",
            "--annotation=summary=full",
        )
        await _run(base, "alert", "add", "alertname=Load", "severity=critical")
        alerts = json.loads(await _run(base, "alert", "query", "-o", "json"))
        assert sorted(a["labels"]["alertname"] for a in alerts) == ["Disk", "Load"]
        disk = next(a for a in alerts if a["labels"]["alertname"] == "Disk")
        assert disk["annotations"] == {"summary": "full"}
        assert disk["receivers"] == [{"name": "db"}]
        simple = await _run(base, "alert", "query", "alertname=Disk")
        assert "Disk" in simple and "Load" not in simple

        sid = (
            await _run(
                base,
                "silence",
                "add",
                "alertname=Disk",
                "-a",
                "me",
                "-c",
                "maintenance",
                "-d",
                "1h",
            )
        ).strip()
        assert len(sid) == 36
        listed = json.loads(await _run(base, "silence", "query", "-o", "json"))
        assert [s["id"] for s in listed] == [sid]
        assert listed[0]["comment"] == "maintenance" and listed[0]["createdBy"] == "me"
        quiet = json.loads(await _run(base, "alert", "query", "-o", "json", "--silenced"))
        assert [a["labels"]["alertname"] for a in quiet] == ["Disk"]
        assert quiet[0]["status"]["silencedBy"] == [sid]
        assert (await _run(base, "silence", "query", "-q")).split() == [sid]

        await _run(base, "silence", "expire", sid)
        assert (await _run(base, "silence", "query", "-q")).split() == []
        expired = (await _run(base, "silence", "query", "--expired", "-q")).split()
        assert expired == [sid]


async def test_amtool_config_and_cluster() -> None:
    _amtool()
    async with api_server() as (base, _):
        shown = await _run(base, "config", "show")
        assert "receiver: default" in shown
        assert "secret-token" not in shown
        status = await _run(base, "cluster", "show", "-o", "json")
        assert json.loads(status)["status"] == "disabled"
