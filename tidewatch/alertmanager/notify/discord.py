"""The Discord integration: one embed posted to a channel webhook."""

from __future__ import annotations

from typing import Any

import aiohttp

from tidewatch.alertmanager.notify.base import NotifyContext, read_secret_file
from tidewatch.alertmanager.notify.gojson import dumps
from tidewatch.alertmanager.notify.http import HTTPPoster
from tidewatch.alertmanager.receivers import DiscordConfig

_COLORS = {"firing": 0x992D22, "resolved": 0x2ECC71}


class Discord:
    name = "discord"

    def __init__(self, cfg: DiscordConfig, index: int, session: aiohttp.ClientSession) -> None:
        self.cfg = cfg
        self.index = index
        self.send_resolved = cfg.send_resolved
        self._http = HTTPPoster(session, cfg.http_config)

    def payload(self, ctx: NotifyContext) -> dict[str, Any]:
        out: dict[str, Any] = {
            "content": ctx.text(self.cfg.content),
            "embeds": [
                {
                    "title": ctx.text(self.cfg.title),
                    "description": ctx.text(self.cfg.message),
                    "color": _COLORS.get(ctx.status, 0x95A5A6),
                }
            ],
        }
        if self.cfg.username:
            out["username"] = self.cfg.username
        if self.cfg.avatar_url:
            out["avatar_url"] = self.cfg.avatar_url
        return out

    async def notify(self, ctx: NotifyContext) -> None:
        body = dumps(self.payload(ctx))
        c = self.cfg
        url = c.webhook_url.value if c.webhook_url else read_secret_file(c.webhook_url_file).strip()
        await self._http.post_json(url, body)
