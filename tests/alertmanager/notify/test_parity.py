"""Parity with the real Alertmanager (Debian's prometheus-alertmanager 0.25): both get
the same alertmanager.yml (receivers pointing at loopback sinks) and the same alert
sequence; the notifications must match, rendered default templates byte for byte.
Covers grouping, ``continue``, inhibition, silences, resolve and repeat. Without the
binary the test skips, except with ``CI`` set, where that is a failure."""

from __future__ import annotations

import asyncio
import datetime as dt
import email
import email.policy
import os
from collections import Counter
from pathlib import Path
from typing import Any

import orjson

from tests.alertmanager.notify.parity import (
    binary,
    post,
    real_alertmanager,
    tidewatch_alertmanager,
)
from tests.alertmanager.notify.sinks import Captured, HTTPSink, SMTPSink

EXTERNAL_URL = "http://am.example:9093"

CONFIG = """
global:
  resolve_timeout: 5m
  smtp_smarthost: SMARTHOST
  smtp_from: Alertmanager <am@example.org>
  smtp_require_tls: false
route:
  receiver: fallback
  group_by: [alertname]
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
  routes:
    - matchers: [team="db"]
      receiver: db-all
      continue: true
    - matchers: [team="db"]
      receiver: db-hook
    - matchers: [team="web"]
      receiver: web
      repeat_interval: 2s
inhibit_rules:
  - source_matchers: [severity="critical"]
    target_matchers: [severity="warning"]
    equal: [alertname]
receivers:
  - name: fallback
    webhook_configs: [{url: "BASE/hook/fallback"}]
  - name: db-all
    slack_configs: [{api_url: "BASE/slack/db", channel: "#db", send_resolved: true}]
    pagerduty_configs: [{routing_key: rk-123, url: "BASE/pagerduty"}]
    discord_configs: [{webhook_url: "BASE/discord"}]
    telegram_configs: [{api_url: "BASE/telegram", bot_token: "tok", chat_id: 42}]
    opsgenie_configs: [{api_key: key-1, api_url: "BASE/opsgenie/"}]
    email_configs: [{to: "ops@example.org", send_resolved: true}]
  - name: db-hook
    webhook_configs: [{url: "BASE/hook/db", max_alerts: 1}]
  - name: web
    slack_configs: [{api_url: "BASE/slack/web"}]
    webhook_configs: [{url: "BASE/hook/web", send_resolved: false}]
"""


def _iso(t: dt.datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"


def _alerts(start: dt.datetime) -> list[dict[str, Any]]:
    # ``start`` is "now": an alert older than group_wait is flushed at once, and the
    # real Alertmanager may then flush before the rest of the batch is inserted.
    s = _iso(start)
    gen = "http://prom.example:9090/graph?g0.expr=up+%3D%3D+0&g0.tab=1"
    return [
        {
            "labels": {
                "alertname": "DiskFull",
                "team": "db",
                "severity": "warning",
                "instance": "h1",
            },
            "annotations": {"summary": 'Disk <full> & "quoted" é', "runbook": "r1"},
            "startsAt": s,
            "generatorURL": gen,
        },
        {
            "labels": {
                "alertname": "DiskFull",
                "team": "db",
                "severity": "warning",
                "instance": "h2",
            },
            "annotations": {"summary": "Disk full", "runbook": "r1"},
            "startsAt": s,
            "generatorURL": gen,
        },
        {
            "labels": {"alertname": "Latency", "team": "web", "severity": "warning"},
            "startsAt": s,
        },
        {
            "labels": {"alertname": "Outage", "team": "web", "severity": "critical"},
            "annotations": {"description": "all down"},
            "startsAt": s,
        },
        {
            "labels": {"alertname": "Outage", "team": "web", "severity": "warning"},
            "startsAt": s,
        },
        {"labels": {"alertname": "Misc", "instance": "x:1"}, "startsAt": s},
        {"labels": {"alertname": "Quiet", "team": "db"}, "startsAt": s},
    ]


def _normalize_http(c: Captured) -> tuple[str, str, str]:
    body = c.body.decode()
    return (c.method, c.path + ("?" + c.query if c.query else ""), body)


def _normalize_mail(raw: bytes) -> tuple[str, ...]:
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    parts = []
    for part in msg.walk():
        if part.get_content_maintype() == "text":
            parts.append(part.get_content_type() + "\n" + part.get_content().replace("\r\n", "\n"))
    return (str(msg["Subject"]), str(msg["To"]), str(msg["From"]), *parts)


async def _scenario(api: str, now: dt.datetime) -> None:
    """The alert sequence, posted the same way to either Alertmanager."""
    await post(
        api,
        "/api/v2/silences",
        {
            "matchers": [
                {"name": "alertname", "value": "Quiet", "isRegex": False, "isEqual": True}
            ],
            "startsAt": _iso(now),
            "endsAt": _iso(now + dt.timedelta(hours=1)),
            "createdBy": "test",
            "comment": "quiet please",
        },
    )
    await post(api, "/api/v2/alerts", _alerts(now))


async def _resolve(
    api: str, start: dt.datetime, end: dt.datetime, which: list[tuple[str, str | None]]
) -> None:
    by_name = {(a["labels"]["alertname"], a["labels"].get("instance")): a for a in _alerts(start)}
    resolved = [by_name[key] for key in which]
    await post(api, "/api/v2/alerts", [{**a, "endsAt": _iso(end)} for a in resolved])


async def test_notifications_match_real_alertmanager(tmp_path: Path) -> None:
    binary("prometheus-alertmanager")
    sinks = {side: (HTTPSink(), SMTPSink()) for side in ("real", "ours")}
    cfgs = {}
    for side, (http, smtp) in sinks.items():
        base = await http.start()
        host = await smtp.start()
        cfgs[side] = CONFIG.replace("BASE", base).replace("SMARTHOST", host)
    try:
        async with (
            real_alertmanager(tmp_path, cfgs["real"], EXTERNAL_URL) as real_api,
            tidewatch_alertmanager(cfgs["ours"], EXTERNAL_URL) as (our_api, _, _),
        ):
            now = dt.datetime.now(dt.UTC)
            start = now
            await asyncio.gather(_scenario(real_api, now), _scenario(our_api, now))
            await asyncio.sleep(4.5)
            # Resolve part of some groups (mixed notifications) and all of others...
            first: list[tuple[str, str | None]] = [
                ("DiskFull", "h1"),
                ("Latency", None),
                ("Misc", "x:1"),
            ]
            end = dt.datetime.now(dt.UTC)
            await asyncio.gather(
                _resolve(real_api, start, end, first), _resolve(our_api, start, end, first)
            )
            await asyncio.sleep(3.5)
            # ...then the rest of the db groups: every integration's "resolved" form.
            second: list[tuple[str, str | None]] = [("DiskFull", "h2")]
            end = dt.datetime.now(dt.UTC)
            await asyncio.gather(
                _resolve(real_api, start, end, second), _resolve(our_api, start, end, second)
            )
            await asyncio.sleep(3.5)
    finally:
        for http, smtp in sinks.values():
            await http.stop()
            await smtp.stop()

    def distinct(side: str) -> dict[str, set[tuple[str, ...]]]:
        http, smtp = sinks[side]
        out: dict[str, set[tuple[str, ...]]] = {}
        for c in http.requests:
            out.setdefault(c.path.split("/")[1], set()).add(_normalize_http(c))
        out["email"] = {_normalize_mail(m.data) for m in smtp.mails}
        return out

    real, ours = distinct("real"), distinct("ours")
    # PARITY_DUMP=<file> writes both sides' notifications there, for debugging.
    if os.environ.get("PARITY_DUMP"):
        with open(os.environ["PARITY_DUMP"], "w") as f:
            for kind in sorted(set(real) | set(ours)):
                for side, d in (("REAL", real), ("OURS", ours)):
                    for t in sorted(d.get(kind, ())):
                        f.write(f"=== {side} {kind}\n" + "\n".join(t) + "\n")
            for side in ("real", "ours"):
                for c in sinks[side][0].requests:
                    f.write(f"--- {side} {c.path} {c.body!r}\n")
    assert set(real) == set(ours)
    for kind in sorted(real):
        missing = real[kind] - ours[kind]
        extra = ours[kind] - real[kind]
        assert not missing and not extra, (kind, _show(missing), _show(extra))

    # Repeat: the firing Outage group was sent again after repeat_interval by both.
    for side in ("real", "ours"):
        counts = Counter(c.body for c in sinks[side][0].under("/slack/web"))
        assert max(counts.values()) >= 2, (side, counts)
    # Sanity on the scenario itself (so a broken sink cannot make both sides agree).
    hooks = [orjson.loads(c.body) for c in sinks["ours"][0].under("/hook/")]
    statuses = {(h["receiver"], h["status"], len(h["alerts"])) for h in hooks}
    assert ("fallback", "resolved", 1) in statuses
    assert ("db-hook", "firing", 1) in statuses
    outage = [h for h in hooks if h["groupLabels"] == {"alertname": "Outage"}]
    assert outage and all(len(h["alerts"]) == 1 for h in outage)  # the warning is inhibited
    assert not any(h["groupLabels"] == {"alertname": "Quiet"} for h in hooks)  # silenced
    assert len(sinks["ours"][1].mails) >= 3
    events = {c.json()["event_action"] for c in sinks["ours"][0].under("/pagerduty")}
    assert events == {"trigger", "resolve"}
    assert sinks["ours"][0].under("/opsgenie/v2/alerts/")  # the close call


def _show(items: set[tuple[str, ...]]) -> list[str]:
    return ["\n".join(t)[:3000] for t in sorted(items)]
