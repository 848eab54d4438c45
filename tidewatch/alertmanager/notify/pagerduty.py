"""The PagerDuty integration: Events API v2 (``routing_key``), or v1 for a legacy
``service_key``; one incident per group, deduplicated by the group key's hash."""

from __future__ import annotations

from typing import Any

import aiohttp

from tidewatch.alertmanager.notify.base import NotifyContext, read_secret_file, truncate_runes
from tidewatch.alertmanager.notify.errors import NotifyError
from tidewatch.alertmanager.notify.gojson import dumps, sorted_map
from tidewatch.alertmanager.notify.http import HTTPPoster
from tidewatch.alertmanager.receivers import PagerdutyConfig

V1_URL = "https://events.pagerduty.com/generic/2010-04-15/create_event.json"
MAX_SUMMARY_RUNES = 1024
MAX_EVENT_BYTES = 512_000

# Alertmanager adds these details unless the config sets the same keys.
DEFAULT_DETAILS = {
    "firing": '{{ template "pagerduty.default.instances" .Alerts.Firing }}',
    "resolved": '{{ template "pagerduty.default.instances" .Alerts.Resolved }}',
    "num_firing": "{{ .Alerts.Firing | len }}",
    "num_resolved": "{{ .Alerts.Resolved | len }}",
}


class PagerDuty:
    name = "pagerduty"

    def __init__(self, cfg: PagerdutyConfig, index: int, session: aiohttp.ClientSession) -> None:
        self.cfg = cfg
        self.index = index
        self.send_resolved = cfg.send_resolved
        self._http = HTTPPoster(session, cfg.http_config)
        self._v1 = cfg.service_key is not None or bool(cfg.service_key_file)

    def _details(self, ctx: NotifyContext) -> dict[str, str]:
        merged = {**DEFAULT_DETAILS, **{k: str(v) for k, v in self.cfg.details.items()}}
        return sorted_map({k: ctx.text(v) for k, v in merged.items()})

    def _key(self, secret: Any, path: str) -> str:
        if secret is not None:
            return str(secret.value)
        return read_secret_file(path).strip()

    def payload(self, ctx: NotifyContext) -> dict[str, Any]:
        c = self.cfg
        action = "resolve" if ctx.status == "resolved" else "trigger"
        details = self._details(ctx)
        if self._v1:
            msg: dict[str, Any] = {
                "service_key": ctx.text(self._key(c.service_key, c.service_key_file)),
                "incident_key": ctx.key_hash(),
                "event_type": action,
                "description": truncate_runes(ctx.text(c.description), MAX_SUMMARY_RUNES),
                "event_action": "",
                "payload": None,
            }
            if action == "trigger":
                msg["client"] = ctx.text(c.client)
                msg["client_url"] = ctx.text(c.client_url)
            msg["details"] = details
            return {k: v for k, v in msg.items() if v or k in ("event_action", "payload")}
        payload = {
            "summary": truncate_runes(ctx.text(c.description), MAX_SUMMARY_RUNES),
            "source": ctx.text(c.source or c.client),
            "severity": ctx.text(c.severity or "error"),
            "class": ctx.text(c.class_),
            "component": ctx.text(c.component),
            "group": ctx.text(c.group),
            "custom_details": details,
        }
        payload = {k: v for k, v in payload.items() if v or k in ("summary", "source", "severity")}
        images = [
            {
                "src": ctx.text(str(i.get("src", ""))),
                "alt": ctx.text(str(i.get("alt", ""))),
                "href": ctx.text(str(i.get("href", ""))),
            }
            for i in c.images
        ]
        links = [
            {
                "href": ctx.text(str(link.get("href", ""))),
                "text": ctx.text(str(link.get("text", ""))),
            }
            for link in c.links
        ]
        msg = {
            "routing_key": ctx.text(self._key(c.routing_key, c.routing_key_file)),
            "dedup_key": ctx.key_hash(),
            "event_action": action,
            "payload": payload,
            "client": ctx.text(c.client),
            "client_url": ctx.text(c.client_url),
            "images": [i for i in images if i["src"]],
            "links": [link for link in links if link["href"]],
        }
        if not msg["routing_key"]:
            raise NotifyError("routing key cannot be empty", retry=False)
        return {k: v for k, v in msg.items() if v or k in ("event_action", "payload")}

    async def notify(self, ctx: NotifyContext) -> None:
        msg = self.payload(ctx)
        body = dumps(msg)
        if len(body) > MAX_EVENT_BYTES:
            note = (
                "Custom details have been removed because the original event exceeds "
                "the maximum size of 512kB"
            )
            if self._v1:
                msg["details"] = {"error": note}
            else:
                msg["payload"]["custom_details"] = {"error": note}
            body = dumps(msg)
        timeout = self.cfg.timeout_ms / 1000.0 if self.cfg.timeout_ms else None
        url = V1_URL if self._v1 else self.cfg.url
        # Retrying helps on rate limits (v1: 403, v2: 429) and 5xx.
        retry = (403,) if self._v1 else (429,)
        await self._http.post_json(url, body, retry_codes=retry, timeout_s=timeout)
