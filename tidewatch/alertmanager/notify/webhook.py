"""The webhook integration: Alertmanager's version 4 JSON payload."""

from __future__ import annotations

from typing import Any

import aiohttp

from tidewatch.alertmanager.notify.base import NotifyContext, read_secret_file
from tidewatch.alertmanager.notify.gojson import dumps, sorted_map
from tidewatch.alertmanager.notify.http import HTTPPoster
from tidewatch.alertmanager.receivers import WebhookConfig
from tidewatch.templating import Data


def data_json(data: Data) -> dict[str, Any]:
    """``template.Data`` as Go encodes it (the webhook body without its envelope)."""
    return {
        "receiver": data.Receiver,
        "status": data.Status,
        "alerts": [
            {
                "status": a.Status,
                "labels": sorted_map(a.Labels),
                "annotations": sorted_map(a.Annotations),
                "startsAt": a.StartsAt,
                "endsAt": a.EndsAt,
                "generatorURL": a.GeneratorURL,
                "fingerprint": a.Fingerprint,
            }
            for a in data.Alerts
        ],
        "groupLabels": sorted_map(data.GroupLabels),
        "commonLabels": sorted_map(data.CommonLabels),
        "commonAnnotations": sorted_map(data.CommonAnnotations),
        "externalURL": data.ExternalURL,
    }


class Webhook:
    name = "webhook"

    def __init__(self, cfg: WebhookConfig, index: int, session: aiohttp.ClientSession) -> None:
        self.cfg = cfg
        self.index = index
        self.send_resolved = cfg.send_resolved
        self._http = HTTPPoster(session, cfg.http_config)

    async def notify(self, ctx: NotifyContext) -> None:
        data = ctx.data
        truncated = 0
        limit = self.cfg.max_alerts
        if limit and len(ctx.alerts) > limit:
            truncated = len(ctx.alerts) - limit
            data = ctx.data_for(ctx.alerts[:limit])
        body = data_json(data)
        body.update({"version": "4", "groupKey": ctx.group_key, "truncatedAlerts": truncated})
        url = (
            self.cfg.url.value
            if self.cfg.url is not None
            else read_secret_file(self.cfg.url_file).strip()
        )
        timeout = self.cfg.timeout_ms / 1000.0 if self.cfg.timeout_ms else None
        await self._http.post_json(url, dumps(body), timeout_s=timeout)
