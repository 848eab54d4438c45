"""tidewatch's Alertmanager with its API v2 on a loopback port, for API tests."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from types import SimpleNamespace

from aiohttp import web

from tests.alertmanager.notify.sinks import site_port
from tidewatch.alertmanager.alert import Alert
from tidewatch.alertmanager.config import load_config
from tidewatch.alertmanager.service import Alertmanager
from tidewatch.labels import Labels
from tidewatch.web.api_alertmanager import AlertmanagerAPI

CONFIG = """
route:
  receiver: default
  group_by: [alertname]
  group_wait: 1h
  routes:
    - matchers: [team="db"]
      receiver: db
inhibit_rules:
  - source_matchers: [severity="critical"]
    target_matchers: [severity="warning"]
    equal: [alertname]
receivers:
  - name: default
  - name: db
    slack_configs: [{api_url: "http://127.0.0.1:9/secret-token"}]
"""


class RecordingNotifier:
    def __init__(self) -> None:
        self.calls: list[tuple[str, str, list[Alert], Labels]] = []

    async def notify(
        self, receiver: str, group_key: str, alerts: list[Alert], group_labels: Labels
    ) -> None:
        self.calls.append((receiver, group_key, alerts, group_labels))


@contextlib.asynccontextmanager
async def api_server(cfg_text: str = CONFIG) -> AsyncIterator[tuple[str, Alertmanager]]:
    am = Alertmanager(RecordingNotifier(), config=load_config(cfg_text))
    await am.start()
    app = web.Application()
    app.add_routes(AlertmanagerAPI(SimpleNamespace(alertmanager=am, start_time=1.7e9)).routes())
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site_port(site)
    try:
        yield f"http://127.0.0.1:{port}", am
    finally:
        await runner.cleanup()
        await am.stop()
