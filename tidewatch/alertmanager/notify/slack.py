"""The Slack integration: one attachment, as Alertmanager's incoming-webhook
(``api_url``) or ``chat.postMessage`` (``app_token``) request."""

from __future__ import annotations

from typing import Any

import aiohttp

from tidewatch.alertmanager.notify.base import NotifyContext, read_secret_file, truncate_runes
from tidewatch.alertmanager.notify.gojson import dumps
from tidewatch.alertmanager.notify.http import HTTPPoster
from tidewatch.alertmanager.receivers import SlackConfig

MAX_TITLE_RUNES = 1024


def _omit_empty(d: dict[str, Any], *keys: str) -> dict[str, Any]:
    return {k: v for k, v in d.items() if not (k in keys and not v)}


class Slack:
    name = "slack"

    def __init__(self, cfg: SlackConfig, index: int, session: aiohttp.ClientSession) -> None:
        self.cfg = cfg
        self.index = index
        self.send_resolved = cfg.send_resolved
        self._http = HTTPPoster(session, cfg.http_config)

    def _fields(self, ctx: NotifyContext) -> list[dict[str, Any]]:
        out = []
        for f in self.cfg.fields:
            short = f.get("short")
            out.append(
                {
                    "title": ctx.text(str(f.get("title", ""))),
                    "value": ctx.text(str(f.get("value", ""))),
                    "short": self.cfg.short_fields if short is None else bool(short),
                }
            )
        return out

    def _actions(self, ctx: NotifyContext) -> list[dict[str, Any]]:
        out = []
        for a in self.cfg.actions:
            action = _omit_empty(
                {
                    k: ctx.text(str(a.get(k, "")))
                    for k in ("type", "text", "url", "style", "name", "value")
                },
                "url",
                "style",
                "name",
                "value",
            )
            confirm = a.get("confirm")
            if isinstance(confirm, dict):
                action["confirm"] = _omit_empty(
                    {
                        "text": ctx.text(str(confirm.get("text", ""))),
                        "title": ctx.text(str(confirm.get("title", ""))),
                        "ok_text": ctx.text(str(confirm.get("ok_text", ""))),
                        "dismiss_text": ctx.text(str(confirm.get("dismiss_text", ""))),
                    },
                    "title",
                    "ok_text",
                    "dismiss_text",
                )
            out.append(action)
        return out

    def payload(self, ctx: NotifyContext) -> dict[str, Any]:
        c = self.cfg
        att = _omit_empty(
            {
                "title": truncate_runes(ctx.text(c.title), MAX_TITLE_RUNES),
                "title_link": ctx.text(c.title_link),
                "pretext": ctx.text(c.pretext),
                "text": ctx.text(c.text),
                "fallback": ctx.text(c.fallback),
                "callback_id": ctx.text(c.callback_id),
                "fields": self._fields(ctx),
                "actions": self._actions(ctx),
                "image_url": ctx.text(c.image_url),
                "thumb_url": ctx.text(c.thumb_url),
                "footer": ctx.text(c.footer),
                "color": ctx.text(c.color),
                "mrkdwn_in": c.mrkdwn_in or ["fallback", "pretext", "text"],
            },
            "title",
            "title_link",
            "pretext",
            "fields",
            "actions",
            "image_url",
            "thumb_url",
            "color",
            "mrkdwn_in",
        )
        req = _omit_empty(
            {
                "channel": ctx.text(c.channel),
                "username": ctx.text(c.username),
                "icon_emoji": ctx.text(c.icon_emoji),
                "icon_url": ctx.text(c.icon_url),
                "link_names": c.link_names,
                "attachments": [att],
            },
            "channel",
            "username",
            "icon_emoji",
            "icon_url",
            "link_names",
        )
        return req

    async def notify(self, ctx: NotifyContext) -> None:
        body = dumps(self.payload(ctx))
        c = self.cfg
        headers: dict[str, str] = {}
        if c.api_url is not None:
            url = c.api_url.value
        elif c.api_url_file:
            url = read_secret_file(c.api_url_file).strip()
        else:
            url = c.app_url
            token = c.app_token.value if c.app_token is not None else ""
            if c.app_token_file:
                token = read_secret_file(c.app_token_file).strip()
            headers["Authorization"] = f"Bearer {token}"
        timeout = c.timeout_ms / 1000.0 if c.timeout_ms else None
        await self._http.post_json(url, body, headers=headers, timeout_s=timeout)
