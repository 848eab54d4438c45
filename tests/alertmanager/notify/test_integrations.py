"""Each integration's request, captured by a loopback sink: URL, headers and the
payload fields rendered from the default (and user) templates."""

from __future__ import annotations

import email
import email.policy
import hashlib
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from tests.alertmanager.notify.helpers import NOW, alert, notifier
from tests.alertmanager.notify.sinks import HTTPSink, SMTPSink, self_signed
from tidewatch.alertmanager.notify import NotificationFailed
from tidewatch.labels import from_dict

GROUP = from_dict({"alertname": "Disk"})
KEY = '{}:{alertname="Disk"}'
KEY_HASH = hashlib.sha256(KEY.encode()).hexdigest()


@pytest.fixture
async def sink() -> AsyncIterator[tuple[HTTPSink, str]]:
    s = HTTPSink()
    base = await s.start()
    yield s, base
    await s.stop()


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as s:
        yield s


def _alerts() -> list:
    return [
        alert(alertname="Disk", instance="h1", severity="page"),
        alert(alertname="Disk", instance="h2", severity="page"),
    ]


async def test_slack_default_templates(
    sink: tuple[HTTPSink, str], session: aiohttp.ClientSession
) -> None:
    s, base = sink
    n, _ = notifier(
        f"""
route: {{receiver: r}}
receivers:
  - name: r
    slack_configs:
      - api_url: "{base}/hook"
        channel: "#ops"
        fields: [{{title: "n", value: "{{{{ .Alerts | len }}}}"}}]
""",
        session,
    )
    await n.notify("r", KEY, _alerts(), GROUP)
    body = s.requests[0].json()
    assert body["channel"] == "#ops"
    assert body["username"] == "Alertmanager"
    att = body["attachments"][0]
    assert att["title"] == "[FIRING:2] Disk (page)"
    assert att["title_link"] == "http://am.test/#/alerts?receiver=r"
    assert att["fallback"] == "[FIRING:2] Disk (page) | http://am.test/#/alerts?receiver=r"
    assert att["color"] == "danger"
    assert att["fields"] == [{"title": "n", "value": "2", "short": False}]
    assert s.requests[0].headers["User-Agent"].startswith("Alertmanager/")


async def test_pagerduty_v2_event(
    sink: tuple[HTTPSink, str], session: aiohttp.ClientSession
) -> None:
    s, base = sink
    n, _ = notifier(
        f"""
route: {{receiver: r}}
receivers:
  - name: r
    pagerduty_configs: [{{routing_key: rk, url: "{base}/enqueue", severity: critical}}]
""",
        session,
    )
    await n.notify("r", KEY, _alerts(), GROUP)
    await n.notify("r", KEY, [alert(ends_at=NOW - 1, alertname="Disk", instance="h1")], GROUP)
    trigger, resolve = (r.json() for r in s.requests)
    assert trigger["routing_key"] == "rk"
    assert trigger["dedup_key"] == KEY_HASH
    assert trigger["event_action"] == "trigger"
    assert trigger["payload"]["summary"] == "[FIRING:2] Disk (page)"
    assert trigger["payload"]["source"] == "Alertmanager"
    assert trigger["payload"]["severity"] == "critical"
    details = trigger["payload"]["custom_details"]
    assert details["num_firing"] == "2" and details["num_resolved"] == "0"
    assert " - instance = h1\n" in details["firing"]
    assert trigger["client_url"] == "http://am.test/#/alerts?receiver=r"
    assert resolve["event_action"] == "resolve"
    assert resolve["dedup_key"] == KEY_HASH


async def test_msteams_discord_telegram_opsgenie(
    sink: tuple[HTTPSink, str], session: aiohttp.ClientSession
) -> None:
    s, base = sink
    n, _ = notifier(
        f"""
route: {{receiver: r}}
receivers:
  - name: r
    msteams_configs: [{{webhook_url: "{base}/teams"}}]
    discord_configs: [{{webhook_url: "{base}/discord"}}]
    telegram_configs: [{{api_url: "{base}/tg", bot_token: "T0K", chat_id: -100}}]
    opsgenie_configs:
      - api_key: gk
        api_url: "{base}/og/"
        tags: "a, b,"
        responders: [{{name: "x,y", type: teams}}]
""",
        session,
    )
    await n.notify("r", KEY, _alerts(), GROUP)
    teams = s.under("/teams")[0].json()
    assert teams["@context"] == "http://schema.org/extensions"
    assert teams["type"] == "MessageCard"
    assert teams["title"] == "[FIRING:2] Disk (page)"
    assert teams["themeColor"] == "8C1A1A"
    assert "# Alerts Firing:" in teams["text"]
    discord = s.under("/discord")[0].json()
    assert discord["embeds"][0]["title"] == "[FIRING:2] Disk (page)"
    assert discord["embeds"][0]["color"] == 0x992D22
    assert "Alerts Firing:" in discord["embeds"][0]["description"]
    tg = s.under("/tg/botT0K/sendMessage")[0].json()
    assert tg["chat_id"] == "-100" and tg["parse_mode"] == "HTML"
    assert tg["text"].startswith("\n\nAlerts Firing:\nLabels:\n - alertname = Disk\n")
    og = s.under("/og/v2/alerts")[0]
    assert og.headers["Authorization"] == "GenieKey gk"
    body = og.json()
    assert body["alias"] == KEY_HASH
    assert body["message"] == "[FIRING:2] Disk (page)"
    assert body["details"] == {"alertname": "Disk", "severity": "page"}
    assert body["source"] == "http://am.test/#/alerts?receiver=r"
    assert body["tags"] == ["a", " b"]
    assert body["responders"] == [{"name": "x", "type": "team"}, {"name": "y", "type": "team"}]
    # Resolution closes the Opsgenie alert by alias.
    await n.notify("r", KEY, [alert(ends_at=NOW - 1, alertname="Disk")], GROUP)
    close = s.under(f"/og/v2/alerts/{KEY_HASH}/close")[0]
    assert close.query == "identifierType=alias"


async def test_user_templates_override_defaults(
    tmp_path: Path, sink: tuple[HTTPSink, str], session: aiohttp.ClientSession
) -> None:
    s, base = sink
    (tmp_path / "mine.tmpl").write_text(
        '{{ define "slack.default.title" }}custom {{ .CommonLabels.severity | toUpper }}{{ end }}'
        '{{ define "my.text" }}{{ range .Alerts }}{{ .Labels.instance }};{{ end }}{{ end }}'
    )
    n, _ = notifier(
        f"""
templates: ["{tmp_path}/*.tmpl"]
route: {{receiver: r}}
receivers:
  - name: r
    slack_configs: [{{api_url: "{base}/hook", text: '{{{{ template "my.text" . }}}}'}}]
""",
        session,
    )
    await n.notify("r", KEY, _alerts(), GROUP)
    att = s.requests[0].json()["attachments"][0]
    assert att["title"] == "custom PAGE"
    assert att["text"] == "h1;h2;"


async def test_template_error_fails_without_retry(
    sink: tuple[HTTPSink, str], session: aiohttp.ClientSession
) -> None:
    s, base = sink
    n, _ = notifier(
        f"""
route: {{receiver: r}}
receivers:
  - name: r
    slack_configs: [{{api_url: "{base}/hook", text: '{{{{ template "nope" . }}}}'}}]
""",
        session,
    )
    with pytest.raises(NotificationFailed, match="nope"):
        await n.notify("r", KEY, _alerts(), GROUP)
    assert s.requests == []


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl needed for a test certificate")
async def test_email_starttls_and_auth(tmp_path: Path, session: aiohttp.ClientSession) -> None:
    server_ctx, cert = self_signed(tmp_path)
    smtp = SMTPSink(tls=server_ctx, users={"alice": "s3cret"})
    host = await smtp.start()
    n, _ = notifier(
        f"""
global:
  smtp_smarthost: "{host}"
  smtp_from: "Alerts <am@example.org>"
  smtp_auth_username: alice
  smtp_auth_password: s3cret
  smtp_tls_config: {{ca_file: "{cert}"}}
route: {{receiver: r}}
receivers:
  - name: r
    email_configs:
      - to: "a@example.org, b@example.org"
        text: "{{{{ .Alerts | len }}}} alerts"
        headers: {{X-Team: ops}}
""",
        session,
    )
    await n.notify("r", KEY, _alerts(), GROUP)
    await smtp.stop()
    assert len(smtp.mails) == 1
    mail = smtp.mails[0]
    assert mail.tls and mail.auth == ("alice", "s3cret")
    assert mail.mail_from == "am@example.org"
    assert mail.rcpts == ["a@example.org", "b@example.org"]
    msg = email.message_from_bytes(mail.data, policy=email.policy.default)
    assert msg["Subject"] == "[FIRING:2] Disk (page)"
    assert msg["X-Team"] == "ops"
    assert msg.get_content_type() == "multipart/alternative"
    text, html = (p.get_content() for p in msg.iter_parts())
    assert text == "2 alerts"
    assert "2 alerts for alertname=Disk" in " ".join(html.split())
    assert 'href="http://am.test/#/alerts?receiver=r"' in html


async def test_email_requires_starttls_by_default(session: aiohttp.ClientSession) -> None:
    smtp = SMTPSink()  # no STARTTLS on offer
    host = await smtp.start()
    n, _ = notifier(
        f"""
global: {{smtp_smarthost: "{host}", smtp_from: am@example.org}}
route: {{receiver: r, group_interval: 1s}}
receivers: [{{name: r, email_configs: [{{to: x@example.org}}]}}]
""",
        session,
    )
    import asyncio

    with pytest.raises(TimeoutError):
        # Retried (a server may gain STARTTLS) until the dispatcher's deadline.
        await asyncio.wait_for(n.notify("r", KEY, _alerts(), GROUP), 0.5)
    await smtp.stop()
    assert smtp.mails == []
