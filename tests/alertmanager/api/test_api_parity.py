"""The API v2 JSON compared with the real Alertmanager's for the same config, alerts
and silences: same keys, values and order of alerts, groups, silences and
receivers (times normalized, silence ids mapped). Skips without the binary, except
with ``CI`` set."""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path
from typing import Any

import aiohttp

from tests.alertmanager.notify.parity import binary, post, real_alertmanager, tidewatch_alertmanager

CONFIG = """
route:
  receiver: default
  group_by: [alertname]
  group_wait: 1h
  routes:
    - matchers: [team="db"]
      receiver: db
      continue: true
    - matchers: [team=~"d.*"]
      receiver: d-teams
inhibit_rules:
  - source_matchers: [severity="critical"]
    target_matchers: [severity="warning"]
    equal: [alertname]
receivers:
  - name: default
  - name: db
  - name: d-teams
"""

TIME_KEYS = {"startsAt", "endsAt", "updatedAt"}


def _iso(t: dt.datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"


def _normalize(obj: Any, ids: dict[str, str]) -> Any:
    if isinstance(obj, dict):
        out: dict[str, Any] = {}
        for k, v in obj.items():
            if k in TIME_KEYS:
                out[k] = "<time>"
            elif k == "id" or k == "silencedBy":
                out[k] = _normalize(v, ids) if isinstance(v, list) else ids.get(v, v)
            else:
                out[k] = _normalize(v, ids)
        return out
    if isinstance(obj, list):
        return [ids.get(x, x) if isinstance(x, str) else _normalize(x, ids) for x in obj]
    return obj


async def _get(base: str, path: str, **params: str) -> Any:
    async with aiohttp.ClientSession() as http, http.get(f"{base}{path}", params=params) as r:
        assert r.status == 200, await r.text()
        return await r.json()


async def _load(base: str, now: dt.datetime) -> list[str]:
    ids = []
    for i, (matchers, start) in enumerate(
        [
            ([{"name": "instance", "value": "h1", "isRegex": False, "isEqual": True}], now),
            ([{"name": "alertname", "value": "L.*", "isRegex": True, "isEqual": True}], now),
            (
                [
                    {"name": "env", "value": "dev", "isRegex": False, "isEqual": False},
                    {"name": "team", "value": "db", "isRegex": False, "isEqual": True},
                ],
                now + dt.timedelta(hours=1),
            ),
        ]
    ):
        body = {
            "matchers": matchers,
            "startsAt": _iso(start),
            "endsAt": _iso(start + dt.timedelta(hours=2 + i)),
            "createdBy": f"user{i}",
            "comment": f"c{i}",
        }
        ids.append((await post(base, "/api/v2/silences", body))["silenceID"])
    s = _iso(now - dt.timedelta(minutes=5))
    alerts = [
        {
            "labels": {"alertname": "Disk", "team": "db", "instance": "h1"},
            "annotations": {"a": "1"},
            "startsAt": s,
            "generatorURL": "http://prom/graph?g0.expr=x",
        },
        {"labels": {"alertname": "Disk", "team": "db", "instance": "h2"}, "startsAt": s},
        {"labels": {"alertname": "Load", "severity": "critical", "team": "dx"}, "startsAt": s},
        {"labels": {"alertname": "Load", "severity": "warning", "team": "dx"}, "startsAt": s},
        {"labels": {"alertname": "Other", "severity": "warning"}, "startsAt": s},
    ]
    await post(base, "/api/v2/alerts", alerts)
    return ids


async def test_api_json_matches_real_alertmanager(tmp_path: Path) -> None:
    binary("prometheus-alertmanager")
    async with (
        real_alertmanager(tmp_path, CONFIG, "http://am.example") as real,
        tidewatch_alertmanager(CONFIG, "http://am.example") as (ours, _, _),
    ):
        now = dt.datetime.now(dt.UTC)
        real_ids, our_ids = await asyncio.gather(_load(real, now), _load(ours, now))
        await asyncio.sleep(0.5)  # the real one inhibits asynchronously
        real_map = {r: f"sil{i}" for i, r in enumerate(real_ids)}
        our_map = {o: f"sil{i}" for i, o in enumerate(our_ids)}
        queries: list[tuple[str, dict[str, str]]] = [
            ("/api/v2/alerts", {}),
            ("/api/v2/alerts", {"silenced": "false"}),
            ("/api/v2/alerts", {"inhibited": "false", "active": "true"}),
            ("/api/v2/alerts", {"active": "false"}),
            ("/api/v2/alerts", {"receiver": "d.*"}),
            ("/api/v2/alerts", {"filter": 'alertname=~"D.*|L.*"'}),
            ("/api/v2/alerts", {"filter": "team!=db"}),
            ("/api/v2/alerts/groups", {}),
            ("/api/v2/alerts/groups", {"receiver": "db"}),
            ("/api/v2/silences", {}),
            ("/api/v2/silences", {"filter": "team=db"}),
            ("/api/v2/receivers", {}),
        ]
        for path, params in queries:
            want = _normalize(await _get(real, path, **params), real_map)
            got = _normalize(await _get(ours, path, **params), our_map)
            assert got == want, (path, params)
        real_status = await _get(real, "/api/v2/status")
        our_status = await _get(ours, "/api/v2/status")
        assert set(our_status) == set(real_status)
        assert our_status["cluster"]["status"] == real_status["cluster"]["status"] == "disabled"
        assert set(our_status["versionInfo"]) == set(real_status["versionInfo"])
