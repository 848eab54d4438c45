"""Group keys, receivers and alert fingerprints compared with a real Alertmanager
(Debian's prometheus-alertmanager) on loopback: alerts are posted to it, its webhook
notifications are captured, and each one must name the group key, receiver and
fingerprints tidewatch computes for the same config. Skips without the binary,
except in CI, where that is a failure."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import socket
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from tests.peers import require_binary
from tidewatch.alertmanager.alert import wall_clock_ms
from tidewatch.alertmanager.config import load_config
from tidewatch.alertmanager.fingerprint import fingerprint_hex
from tidewatch.alertmanager.route import build_route_tree
from tidewatch.alertmanager.silence import Silence, SilenceError, Silences, matchers_from_json
from tidewatch.labels import from_dict

CONFIG = """
route:
  receiver: root
  group_by: [alertname, cluster]
  group_wait: 100ms
  group_interval: 1h
  routes:
    - matchers: ['service=~"api|web"']
      receiver: svc
      group_by: ['...']
      routes:
        - matchers: [severity="critical"]
          receiver: svc-crit
          group_by: [alertname]
    - match: {team: db}
      receiver: db
      continue: true
    - matchers: ['team=~"d.*"', 'env!=dev']
      receiver: d-teams
receivers:
  - {name: root, webhook_configs: [{url: "URL"}]}
  - {name: svc, webhook_configs: [{url: "URL"}]}
  - {name: svc-crit, webhook_configs: [{url: "URL"}]}
  - {name: db, webhook_configs: [{url: "URL"}]}
  - {name: d-teams, webhook_configs: [{url: "URL"}]}
"""

ALERTS = [
    {"alertname": "Disk", "cluster": "eu-1", "instance": "h1"},
    {"alertname": "Disk", "cluster": "eu-1", "instance": "h2"},
    {"alertname": "Latency", "service": "api", "instance": "h3", "note": 'quo"te é'},
    {"alertname": "Latency", "service": "web", "severity": "critical", "cluster": "us"},
    {"alertname": "Conn", "team": "db", "env": "prod"},
    {"alertname": "Conn", "team": "dx", "env": "prod"},
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _binary() -> str:
    return require_binary("prometheus-alertmanager")


@contextlib.asynccontextmanager
async def running_alertmanager(
    tmp_path: Path, cfg_text: str
) -> AsyncIterator[tuple[str, aiohttp.ClientSession]]:
    """A real Alertmanager on a loopback port, stopped (by its pid) afterwards."""
    binary = _binary()
    (tmp_path / "am.yml").write_text(cfg_text)
    port = _free_port()
    proc = subprocess.Popen(
        [
            binary,
            f"--config.file={tmp_path / 'am.yml'}",
            f"--storage.path={tmp_path / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--cluster.listen-address=",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        async with aiohttp.ClientSession() as http:
            for _ in range(100):
                try:
                    async with http.get(f"{base}/-/ready") as r:
                        if r.status == 200:
                            break
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.1)
            else:
                pytest.fail("alertmanager did not become ready")
            yield base, http
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture
async def webhook() -> AsyncIterator[tuple[str, list[dict[str, Any]]]]:
    received: list[dict[str, Any]] = []

    async def hook(request: web.Request) -> web.Response:
        received.append(await request.json())
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_post("/hook", hook)
    runner = web.AppRunner(app)
    await runner.setup()
    port = _free_port()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    try:
        yield f"http://127.0.0.1:{port}/hook", received
    finally:
        await runner.cleanup()


async def test_group_keys_and_fingerprints_match_real_alertmanager(
    tmp_path: Path, webhook: tuple[str, list[dict[str, Any]]]
) -> None:
    url, received = webhook
    cfg_text = CONFIG.replace("URL", url)
    async with running_alertmanager(tmp_path, cfg_text) as (base, http):
        body = [{"labels": labels} for labels in ALERTS]
        async with http.post(f"{base}/api/v2/alerts", json=body) as r:
            assert r.status == 200, await r.text()
        # Expected notifications, computed by tidewatch.
        tree = build_route_tree(load_config(cfg_text).route)
        expected: dict[tuple[str, str], set[str]] = {}
        for labels in ALERTS:
            lbls = from_dict(labels)
            for route in tree.match_labels(lbls):
                key = (route.opts.receiver, route.group_key(route.group_labels(lbls)))
                expected.setdefault(key, set()).add(fingerprint_hex(lbls))
        for _ in range(100):
            if len(received) >= len(expected):
                break
            await asyncio.sleep(0.1)
        await asyncio.sleep(0.3)  # any unexpected extra notification shows up too
    got = {
        (msg["receiver"], msg["groupKey"]): {a["fingerprint"] for a in msg["alerts"]}
        for msg in received
    }
    assert got == expected


def _iso(ms: int) -> str:
    return dt.datetime.fromtimestamp(ms / 1000, tz=dt.UTC).isoformat(timespec="milliseconds")


async def test_silence_updates_match_real_alertmanager(tmp_path: Path) -> None:
    """The same sequence of silence edits gives the same decisions (kept id or new
    id) and the same final states in both."""
    ours = Silences()
    now = wall_clock_ms()
    hour = 3600_000
    steps: list[tuple[str, str | None, list[dict[str, Any]], int, int]] = [
        # (name, base step to edit or None, matchers, startsAt, endsAt)
        (
            "active",
            None,
            [{"name": "a", "value": "1", "isRegex": False, "isEqual": True}],
            now,
            now + hour,
        ),
        (
            "extend",
            "active",
            [{"name": "a", "value": "1", "isRegex": False, "isEqual": True}],
            0,
            now + 2 * hour,
        ),
        (
            "rematch",
            "extend",
            [{"name": "a", "value": "2", "isRegex": False, "isEqual": True}],
            0,
            now + 2 * hour,
        ),
        (
            "pending",
            None,
            [{"name": "b", "value": "x|y", "isRegex": True, "isEqual": True}],
            now + hour,
            now + 2 * hour,
        ),
        (
            "move",
            "pending",
            [{"name": "b", "value": "x|y", "isRegex": True, "isEqual": True}],
            now + 2 * hour,
            now + 3 * hour,
        ),
        (
            "shorten_to_past",
            "rematch",
            [{"name": "a", "value": "2", "isRegex": False, "isEqual": True}],
            0,
            now - hour,
        ),
    ]
    theirs_ids: dict[str, str] = {}
    ours_ids: dict[str, str] = {}
    async with running_alertmanager(tmp_path, "route: {receiver: a}\nreceivers: [{name: a}]\n") as (
        base,
        http,
    ):
        for name, edit_of, matchers, starts, ends in steps:
            # Edits keep the stored start (as a client re-sending the silence would).
            body: dict[str, Any] = {
                "matchers": matchers,
                "endsAt": _iso(ends),
                "createdBy": "t",
                "comment": name,
            }
            sil = Silence(matchers_from_json(matchers), starts, ends, "t", name)
            if edit_of is not None:
                async with http.get(f"{base}/api/v2/silence/{theirs_ids[edit_of]}") as r:
                    body["startsAt"] = (await r.json())["startsAt"]
                body["id"] = theirs_ids[edit_of]
                prev = ours.get(ours_ids[edit_of])
                assert prev is not None
                sil.id, sil.starts_at = prev.id, prev.starts_at
            else:
                body["startsAt"] = _iso(starts)
            async with http.post(f"{base}/api/v2/silences", json=body) as r:
                reply = await r.json()
                theirs_ids[name] = reply["silenceID"] if r.status == 200 else "error"
            try:
                ours_ids[name] = ours.set(sil)
            except SilenceError:
                ours_ids[name] = "error"
        their_states = {}
        for name, sid in theirs_ids.items():
            if sid != "error":
                async with http.get(f"{base}/api/v2/silence/{sid}") as r:
                    their_states[name] = (await r.json())["status"]["state"]

    # Same decisions: which edits kept their id, which created a new one, which failed.
    def shape(ids: dict[str, str]) -> list[str]:
        seen: dict[str, str] = {}
        return [seen.setdefault(v, k) if v != "error" else "error" for k, v in ids.items()]

    assert shape(ours_ids) == shape(theirs_ids)
    now2 = wall_clock_ms()
    our_states = {}
    for name, sid in ours_ids.items():
        got = ours.get(sid) if sid != "error" else None
        if got is not None:
            our_states[name] = got.state(now2)
    assert our_states == their_states
