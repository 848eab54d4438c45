"""The Microsoft Teams integration: an Office 365 connector ``MessageCard``."""

from __future__ import annotations

from typing import Any

import aiohttp

from tidewatch.alertmanager.notify.base import NotifyContext, read_secret_file
from tidewatch.alertmanager.notify.gojson import dumps
from tidewatch.alertmanager.notify.http import HTTPPoster
from tidewatch.alertmanager.receivers import MSTeamsConfig

_COLORS = {"firing": "8C1A1A", "resolved": "2DC72D"}


class MSTeams:
    name = "msteams"

    def __init__(self, cfg: MSTeamsConfig, index: int, session: aiohttp.ClientSession) -> None:
        self.cfg = cfg
        self.index = index
        self.send_resolved = cfg.send_resolved
        self._http = HTTPPoster(session, cfg.http_config)

    def payload(self, ctx: NotifyContext) -> dict[str, Any]:
        return {
            "@context": "http://schema.org/extensions",
            "type": "MessageCard",
            "title": ctx.text(self.cfg.title),
            "summary": ctx.text(self.cfg.summary),
            "text": ctx.text(self.cfg.text),
            "themeColor": _COLORS.get(ctx.status, "808080"),
        }

    async def notify(self, ctx: NotifyContext) -> None:
        body = dumps(self.payload(ctx))
        c = self.cfg
        url = c.webhook_url.value if c.webhook_url else read_secret_file(c.webhook_url_file).strip()
        await self._http.post_json(url, body)
