"""The rule manager end to end: config loading and reload, the evaluation loop,
/api/v1/rules and /api/v1/alerts over HTTP, and sending to an Alertmanager."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from tidewatch.config.model import Config
from tidewatch.promql.engine import Engine
from tidewatch.rules.manager import RuleManager
from tidewatch.rules.notifier import NotifyAlert
from tidewatch.rules.rulefile import RuleFileError
from tidewatch.rules.teststore import UnitTestStorage
from tidewatch.web.api_rules import RulesAPI
from tidewatch.web.responses import APIError, error_response

RULES = """
groups:
  - name: fast
    interval: 100ms
    rules:
      - record: answer
        expr: vector(42)
        labels:
          kind: constant
      - alert: AlwaysOn
        expr: vector(1) > 0
        labels:
          severity: warn
        annotations:
          summary: "value is {{ $value }}"
"""


def _config(tmp_path: Path, rules_text: str, alerting: dict[str, Any] | None = None) -> Config:
    (tmp_path / "rules").mkdir(exist_ok=True)
    (tmp_path / "rules" / "a.yml").write_text(rules_text)
    cfg = Config()
    cfg.source_path = str(tmp_path / "prometheus.yml")
    cfg.prometheus.rule_files = ["rules/*.yml"]
    cfg.prometheus.global_.external_labels = {"cluster": "eu1"}
    cfg.prometheus.alerting = alerting or {}
    return cfg


async def _wait_for(cond: Any, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.02)


async def _serve(app: web.Application) -> tuple[web.AppRunner, str]:
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    return runner, f"http://127.0.0.1:{port}"


@web.middleware
async def _api_errors(request: web.Request, handler: Any) -> web.StreamResponse:
    # The server's own middleware does this in production (tidewatch.web.app).
    try:
        resp: web.StreamResponse = await handler(request)
        return resp
    except APIError as exc:
        return error_response(exc)


class _Services:
    def __init__(self, manager: RuleManager) -> None:
        self.rule_manager = manager


async def test_loop_api_and_reload(tmp_path: Path) -> None:
    received: list[NotifyAlert] = []

    async def local(alerts: list[NotifyAlert]) -> None:
        received.extend(alerts)

    store = UnitTestStorage()
    manager = RuleManager(store, Engine(), notify=local, restore=False)
    cfg = _config(tmp_path, RULES)
    await manager.apply_config(cfg)
    app = web.Application(middlewares=[_api_errors])
    app.add_routes(RulesAPI(_Services(manager)).routes())
    runner, base = await _serve(app)
    try:
        group = next(iter(manager.groups.values()))
        await _wait_for(lambda: group.evaluations >= 2 and received)
        async with aiohttp.ClientSession() as http:
            async with http.get(base + "/api/v1/rules") as resp:
                body = await resp.json()
            async with http.get(base + "/api/v1/alerts") as resp:
                alerts_body = await resp.json()
            async with http.get(base + "/api/v1/rules?type=record") as resp:
                records = (await resp.json())["data"]
            async with http.get(base + "/api/v1/rules?type=bogus") as resp:
                assert resp.status == 400
        assert body["status"] == "success"
        (g,) = body["data"]["groups"]
        assert g["name"] == "fast" and g["file"].endswith("a.yml")
        assert g["interval"] == 0.1 and g["limit"] == 0
        rec, alert = g["rules"]
        assert rec["type"] == "recording" and rec["query"] == "vector(42)"
        assert rec["labels"] == {"kind": "constant"} and rec["health"] == "ok"
        assert alert["type"] == "alerting" and alert["state"] == "firing"
        assert alert["query"] == "vector(1) > 0" and alert["duration"] == 0
        assert alert["labels"] == {"severity": "warn"}
        assert alert["annotations"] == {"summary": "value is {{ $value }}"}
        (a,) = alert["alerts"]
        assert a["labels"] == {"alertname": "AlwaysOn", "severity": "warn"}
        assert a["annotations"] == {"summary": "value is 1"}
        assert a["value"] == "1e+00" and a["activeAt"].endswith("Z")
        assert set(alert) >= {"evaluationTime", "lastEvaluation", "keepFiringFor"}
        assert alerts_body["data"]["alerts"] == [a]
        assert [r["type"] for r in records["groups"][0]["rules"]] == ["recording"]
        # Sent to the built-in Alertmanager with external labels added.
        first = received[0]
        assert dict(first.labels) == {
            "alertname": "AlwaysOn",
            "cluster": "eu1",
            "severity": "warn",
        }
        assert first.generator_url.startswith("/graph?g0.expr=")
        # endsAt = now + 4 x max(resend delay 1m, interval 100ms)
        assert 230_000 < first.ends_at - first.starts_at < 250_000
        assert (await asyncio.to_thread(_answer, store)) == 42.0

        # A bad file on reload raises and keeps the running rules.
        (tmp_path / "rules" / "a.yml").write_text(
            "groups:\n  - name: x\n    rules:\n      - record: y\n        expr: 'sum('\n"
        )
        with pytest.raises(RuleFileError) as info:
            await manager.apply_config(cfg)
        assert "could not parse expression" in str(info.value)
        assert manager.groups and not manager.last_reload_success
        assert manager.groups[group.key] is group

        # Removing the group writes staleness markers for its series.
        (tmp_path / "rules" / "a.yml").write_text("groups: []\n")
        await manager.apply_config(cfg)
        assert manager.groups == {}
        assert _answer(store) != _answer(store)  # NaN: the stale marker
    finally:
        await manager.stop()
        await runner.cleanup()


def _answer(store: UnitTestStorage) -> float:
    from tidewatch.matcher import Matcher, MatchType

    q = store.querier()
    (s,) = q.select([Matcher(MatchType.EQUAL, "__name__", "answer")], 0, 2**62)
    return float(s.values[-1])


async def test_sends_to_external_alertmanager(tmp_path: Path) -> None:
    posts: list[Any] = []

    async def receive(request: web.Request) -> web.Response:
        posts.append(await request.json())
        return web.json_response({})

    am = web.Application()
    am.router.add_post("/prefix/api/v2/alerts", receive)
    runner, base = await _serve(am)
    target = base.removeprefix("http://")
    alerting = {
        "alert_relabel_configs": [{"target_label": "relabeled", "replacement": "yes"}],
        "alertmanagers": [{"path_prefix": "/prefix", "static_configs": [{"targets": [target]}]}],
    }
    manager = RuleManager(UnitTestStorage(), Engine(), external_url="http://tw:9090", restore=False)
    try:
        await manager.apply_config(_config(tmp_path, RULES, alerting))
        await _wait_for(lambda: posts)
        (alert,) = posts[0]
        assert alert["labels"] == {
            "alertname": "AlwaysOn",
            "cluster": "eu1",
            "relabeled": "yes",
            "severity": "warn",
        }
        assert alert["annotations"] == {"summary": "value is 1"}
        assert alert["generatorURL"].startswith("http://tw:9090/graph?g0.expr=vector%281%29")
        assert alert["startsAt"].endswith("Z") and alert["endsAt"] > alert["startsAt"]
        metrics = {m.name: m for m in manager.self_metrics()}
        assert metrics["prometheus_notifications_alertmanagers_discovered"].samples[0].value == 1
        # Resend delay: no second post within the next evaluations.
        await asyncio.sleep(0.4)
        assert len(posts) == 1
    finally:
        await manager.stop()
        await runner.cleanup()


async def test_loop_restores_for_state_before_writing_alerts(tmp_path: Path) -> None:
    from tidewatch.labels import from_dict

    store = UnitTestStorage()
    now = int(time.time() * 1000)
    # A previous run had this alert pending since 50 minutes ago, and went down 1m ago.
    for_state = from_dict({"__name__": "ALERTS_FOR_STATE", "alertname": "Slow"})
    for t in range(now - 50 * 60_000, now - 60_000 + 1, 60_000):
        store.add(for_state, t, (now - 50 * 60_000) // 1000)
    rules = """
groups:
  - name: slow
    interval: 100ms
    rules:
      - alert: Slow
        expr: vector(1)
        for: 1h
"""
    manager = RuleManager(store, Engine(), restore=True)
    try:
        await manager.apply_config(_config(tmp_path, rules))
        group = next(iter(manager.groups.values()))
        rule = group.rules[0]
        await _wait_for(lambda: group.evaluations >= 1)
        assert getattr(rule, "restored", True) is False
        await _wait_for(lambda: getattr(rule, "restored", False))
        (alert,) = rule.active_alerts()  # type: ignore[union-attr]
        # 49 of 60 minutes were spent pending: the downtime is added to activeAt.
        spent = (time.time() * 1000 - alert.active_at_ms) / 60_000
        assert 48 < spent < 50
        await _wait_for(lambda: group.evaluations >= 4)
        alerts = [lbls for lbls in store.series if dict(lbls).get("__name__") == "ALERTS"]
        assert alerts, "ALERTS is written once the state is restored"
    finally:
        await manager.stop()
