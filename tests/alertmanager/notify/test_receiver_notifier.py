"""ReceiverNotifier against loopback sinks: fan-out, retries and backoff,
send_resolved, metrics, isolation of slow or failing integrations."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import aiohttp
import pytest
from prometheus_client.core import Metric

from tests.alertmanager.notify.helpers import NOW, alert, fast_backoff, notifier
from tests.alertmanager.notify.sinks import HTTPSink
from tidewatch.alertmanager.alert import Alert
from tidewatch.alertmanager.config import load_config
from tidewatch.alertmanager.notify import NotificationFailed, NotifierMetrics, ReceiverNotifier
from tidewatch.alertmanager.service import Alertmanager
from tidewatch.labels import from_dict

GROUP = from_dict({"alertname": "Disk"})


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


def _value(families: list[Metric], name: str, **labels: str) -> float:
    for fam in families:
        for sample in fam.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return float(sample.value)
    raise AssertionError(f"no sample {name}{labels}")


async def test_webhook_v4_payload_and_truncation(
    sink: tuple[HTTPSink, str], session: aiohttp.ClientSession
) -> None:
    s, base = sink
    n, _ = notifier(
        f"""
route: {{receiver: r}}
receivers:
  - name: r
    webhook_configs: [{{url: "{base}/all"}}, {{url: "{base}/two", max_alerts: 2}}]
""",
        session,
    )
    alerts = [alert(alertname="Disk", instance=f"h{i}") for i in range(3)]
    await n.notify("r", '{}:{alertname="Disk"}', alerts, GROUP)
    full = s.under("/all")[0].json()
    assert full["version"] == "4"
    assert full["groupKey"] == '{}:{alertname="Disk"}'
    assert full["truncatedAlerts"] == 0
    assert full["status"] == "firing"
    assert full["externalURL"] == "http://am.test"
    assert [a["labels"]["instance"] for a in full["alerts"]] == ["h0", "h1", "h2"]
    assert full["alerts"][0]["startsAt"] == "2023-11-14T22:12:20Z"
    assert full["alerts"][0]["endsAt"] == "0001-01-01T00:00:00Z"
    assert full["commonLabels"] == {"alertname": "Disk"}
    two = s.under("/two")[0].json()
    assert two["truncatedAlerts"] == 1 and len(two["alerts"]) == 2
    assert s.under("/all")[0].headers["Content-Type"] == "application/json"


async def test_retries_with_backoff_until_success(session: aiohttp.ClientSession) -> None:
    answers = [503, 500, 200]
    s = HTTPSink(responder=lambda _p: (answers.pop(0), b"busy"))
    base = await s.start()
    metrics = NotifierMetrics()
    n, _ = notifier(
        f"route: {{receiver: r}}\nreceivers: [{{name: r, slack_configs: [{{api_url: '{base}/s'}}]}}]",
        session,
        metrics,
    )
    await n.notify("r", "k", [alert(alertname="Disk")], GROUP)
    await s.stop()
    assert len(s.requests) == 3
    fams = list(n.self_metrics())
    assert _value(fams, "alertmanager_notifications_total", integration="slack") == 1
    assert _value(fams, "alertmanager_notification_requests_total", integration="slack") == 3
    assert _value(fams, "alertmanager_notification_requests_failed_total", integration="slack") == 2
    assert (
        _value(
            fams,
            "alertmanager_notifications_failed_total",
            integration="slack",
            reason="serverError",
        )
        == 0
    )
    assert _value(fams, "alertmanager_notification_latency_seconds_count", integration="slack") == 3


async def test_client_error_is_not_retried(session: aiohttp.ClientSession) -> None:
    s = HTTPSink(responder=lambda _p: (400, b"bad payload"))
    base = await s.start()
    n, _ = notifier(
        f"route: {{receiver: r}}\nreceivers: [{{name: r, webhook_configs: [{{url: '{base}/w'}}]}}]",
        session,
    )
    with pytest.raises(NotificationFailed, match="unexpected status code 400: bad payload"):
        await n.notify("r", "k", [alert(alertname="Disk")], GROUP)
    await s.stop()
    assert len(s.requests) == 1
    fams = list(n.self_metrics())
    assert (
        _value(
            fams,
            "alertmanager_notifications_failed_total",
            integration="webhook",
            reason="clientError",
        )
        == 1
    )


async def test_send_resolved_false_drops_resolved_alerts(
    sink: tuple[HTTPSink, str], session: aiohttp.ClientSession
) -> None:
    s, base = sink
    n, _ = notifier(
        f"""
route: {{receiver: r}}
receivers:
  - name: r
    webhook_configs:
      - {{url: "{base}/no", send_resolved: false}}
      - {{url: "{base}/yes"}}
""",
        session,
    )
    resolved = alert(ends_at=NOW - 1, alertname="Disk", instance="a")
    firing = alert(alertname="Disk", instance="b")
    await n.notify("r", "k1", [resolved], GROUP)
    assert len(s.under("/no")) == 0 and len(s.under("/yes")) == 1
    assert s.under("/yes")[0].json()["status"] == "resolved"
    await n.notify("r", "k2", [resolved, firing], GROUP)
    only_firing = s.under("/no")[0].json()
    assert [a["labels"]["instance"] for a in only_firing["alerts"]] == ["b"]
    both = s.under("/yes")[1].json()
    assert [a["status"] for a in both["alerts"]] == ["resolved", "firing"]


async def test_failing_integration_does_not_delay_sibling(session: aiohttp.ClientSession) -> None:
    s = HTTPSink()
    s.delay["/slow"] = 2.0
    base = await s.start()
    n, _ = notifier(
        f"""
route: {{receiver: r}}
receivers:
  - name: r
    webhook_configs: [{{url: "{base}/slow"}}, {{url: "{base}/fast"}}]
""",
        session,
    )
    started = time.monotonic()
    task = asyncio.create_task(n.notify("r", "k", [alert(alertname="Disk")], GROUP))
    await s.wait_for(lambda: len(s.under("/fast")) == 1, timeout=3)
    assert time.monotonic() - started < 1.5
    assert not task.done()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    fams = list(n.self_metrics())
    # The canceled attempt counts as a failure of that integration.
    total_failed = sum(
        _value(fams, "alertmanager_notifications_failed_total", integration="webhook", reason=r)
        for r in ("other", "contextCanceledOrDeadlineExceeded")
    )
    assert total_failed == 1
    # The next flush re-sends only to the integration that did not get through.
    s.delay.clear()
    await n.notify("r", "k", [alert(alertname="Disk")], GROUP)
    assert len(s.under("/fast")) == 1
    await s.stop()
    assert len(s.under("/slow")) >= 1


async def test_after_partial_failure_only_the_failed_integration_resends(
    session: aiohttp.ClientSession,
) -> None:
    fail = {"on": True}
    s = HTTPSink(responder=lambda p: (400, b"no") if p == "/bad" and fail["on"] else (200, b"ok"))
    base = await s.start()
    n, _ = notifier(
        f"""
route: {{receiver: r}}
receivers:
  - name: r
    webhook_configs: [{{url: "{base}/good"}}, {{url: "{base}/bad"}}]
""",
        session,
    )
    alerts = [alert(alertname="Disk")]
    with pytest.raises(NotificationFailed):
        await n.notify("r", "k", alerts, GROUP)
    fail["on"] = False
    await n.notify("r", "k", alerts, GROUP)
    await s.stop()
    assert len(s.under("/good")) == 1
    assert len(s.under("/bad")) == 2


async def test_receivers_without_integrations_and_unknown_receivers_are_no_ops(
    session: aiohttp.ClientSession,
) -> None:
    n, _ = notifier("route: {receiver: r}\nreceivers: [{name: r}]", session)
    await n.notify("r", "k", [alert(alertname="Disk")], GROUP)
    await n.notify("nobody", "k", [alert(alertname="Disk")], GROUP)


async def test_failing_receiver_never_delays_another(session: aiohttp.ClientSession) -> None:
    """Through the dispatcher: a receiver whose endpoint keeps failing retries on
    its own while another receiver's groups are notified on time."""
    s = HTTPSink(responder=lambda p: (503, b"down") if p == "/broken" else (200, b"ok"))
    base = await s.start()
    cfg = load_config(
        f"""
route:
  receiver: ok
  group_by: [alertname]
  group_wait: 200ms
  group_interval: 5s
  routes: [{{matchers: [team="x"], receiver: broken}}]
receivers:
  - {{name: ok, webhook_configs: [{{url: "{base}/ok"}}]}}
  - {{name: broken, webhook_configs: [{{url: "{base}/broken"}}]}}
"""
    )
    n = ReceiverNotifier(cfg, session, backoff=fast_backoff)
    am = Alertmanager(n, config=cfg)
    await am.start()
    try:
        am.receive(
            [
                Alert(from_dict({"alertname": "A", "team": "x"})),
                Alert(from_dict({"alertname": "B"})),
            ]
        )
        started = time.monotonic()
        await s.wait_for(lambda: len(s.under("/ok")) == 1, timeout=3)
        assert time.monotonic() - started < 1.5
        await s.wait_for(lambda: len(s.under("/broken")) >= 3, timeout=3)
    finally:
        await am.stop()
        await s.stop()
    assert s.under("/ok")[0].json()["groupLabels"] == {"alertname": "B"}
