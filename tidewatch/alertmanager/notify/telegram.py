"""The Telegram integration: the Bot API's ``sendMessage``."""

from __future__ import annotations

from typing import Any

import aiohttp
import orjson

from tidewatch.alertmanager.notify.base import NotifyContext, read_secret_file, truncate_runes
from tidewatch.alertmanager.notify.errors import NotifyError
from tidewatch.alertmanager.notify.gojson import dumps
from tidewatch.alertmanager.notify.http import HTTPPoster
from tidewatch.alertmanager.receivers import TelegramConfig

MAX_MESSAGE_RUNES = 4096


class Telegram:
    name = "telegram"

    def __init__(self, cfg: TelegramConfig, index: int, session: aiohttp.ClientSession) -> None:
        self.cfg = cfg
        self.index = index
        self.send_resolved = cfg.send_resolved
        self._http = HTTPPoster(session, cfg.http_config)

    def payload(self, ctx: NotifyContext) -> dict[str, Any]:
        c = self.cfg
        # HTML parse mode renders with HTML escaping, as Alertmanager does.
        render = ctx.html if c.parse_mode == "HTML" else ctx.text
        chat_id = c.chat_id
        if c.chat_id_file:
            chat_id = int(read_secret_file(c.chat_id_file).strip())
        # The Bot API client Alertmanager uses sends every parameter as a string.
        params = {
            "chat_id": str(chat_id),
            "text": truncate_runes(render(c.message), MAX_MESSAGE_RUNES),
            "disable_web_page_preview": "true",
        }
        if c.message_thread_id:
            params["message_thread_id"] = str(c.message_thread_id)
        if c.disable_notifications:
            params["disable_notification"] = "true"
        if c.parse_mode:
            params["parse_mode"] = c.parse_mode
        return {k: params[k] for k in sorted(params)}

    async def notify(self, ctx: NotifyContext) -> None:
        c = self.cfg
        token = c.bot_token.value if c.bot_token is not None else ""
        if c.bot_token_file:
            token = read_secret_file(c.bot_token_file).strip()
        url = f"{c.api_url.rstrip('/')}/bot{token}/sendMessage"
        try:
            text = await self._http.post_json(url, dumps(self.payload(ctx)))
        except NotifyError as exc:
            # Alertmanager retries every Telegram failure.
            raise NotifyError(
                str(exc).replace(token, "<secret>"), retry=True, reason=exc.reason
            ) from None
        try:
            ok = bool(orjson.loads(text).get("ok", False))
        except (orjson.JSONDecodeError, AttributeError):
            ok = False
        if not ok:
            raise NotifyError(f"telegram: unexpected response: {text[:200]}", retry=True)
