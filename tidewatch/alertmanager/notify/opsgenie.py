"""The Opsgenie integration: create an alert aliased by the group key's hash,
close it when the group resolves, optionally update message and description."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import aiohttp

from tidewatch.alertmanager.notify.base import NotifyContext, read_secret_file, truncate_runes
from tidewatch.alertmanager.notify.gojson import dumps, sorted_map
from tidewatch.alertmanager.notify.http import HTTPPoster
from tidewatch.alertmanager.receivers import OpsgenieConfig

MAX_MESSAGE_RUNES = 130


def _split(s: str) -> list[str]:
    return [x for x in s.strip().split(",") if x != ""]


class Opsgenie:
    name = "opsgenie"

    def __init__(self, cfg: OpsgenieConfig, index: int, session: aiohttp.ClientSession) -> None:
        self.cfg = cfg
        self.index = index
        self.send_resolved = cfg.send_resolved
        self._http = HTTPPoster(session, cfg.http_config)

    def _responders(self, ctx: NotifyContext) -> list[dict[str, str]]:
        out: list[dict[str, str]] = []
        for r in self.cfg.responders:
            resp = {k: ctx.text(str(r.get(k, ""))) for k in ("id", "name", "username", "type")}
            if not any(resp.values()):
                continue  # filled from labels and empty for this group
            if resp["type"] == "teams":
                out.extend({"name": ctx.text(t), "type": "team"} for t in _split(resp["name"]))
                continue
            out.append({k: v for k, v in resp.items() if v or k == "type"})
        return out

    def requests(self, ctx: NotifyContext) -> list[tuple[str, str, dict[str, Any]]]:
        """``(method, url, body)`` for each call this notification makes."""
        c = self.cfg
        alias = ctx.key_hash()
        base = c.api_url
        if ctx.status == "resolved":
            url = f"{base}v2/alerts/{alias}/close?identifierType=alias"
            return [("POST", url, {"source": ctx.text(c.source)})]
        details = dict(ctx.data.CommonLabels)
        details.update({k: ctx.text(v) for k, v in c.details.items()})
        msg: dict[str, Any] = {
            "alias": alias,
            "message": truncate_runes(ctx.text(c.message), MAX_MESSAGE_RUNES),
            "description": ctx.text(c.description),
            "details": sorted_map(details),
            "source": ctx.text(c.source),
            "responders": self._responders(ctx),
            "tags": _split(ctx.text(c.tags)),
            "note": ctx.text(c.note),
            "priority": ctx.text(c.priority),
            "entity": ctx.text(c.entity),
            "actions": _split(ctx.text(c.actions)),
        }
        keep = ("alias", "message", "details", "source")
        msg = {k: v for k, v in msg.items() if v or k in keep}
        reqs: list[tuple[str, str, dict[str, Any]]] = [("POST", f"{base}v2/alerts", msg)]
        if c.update_alerts:
            q = "?identifierType=alias"
            a = quote(alias)
            reqs.append(("PUT", f"{base}v2/alerts/{a}/message{q}", _nonempty("message", msg)))
            reqs.append(
                ("PUT", f"{base}v2/alerts/{a}/description{q}", _nonempty("description", msg))
            )
        return reqs

    async def notify(self, ctx: NotifyContext) -> None:
        c = self.cfg
        key = c.api_key.value if c.api_key is not None else read_secret_file(c.api_key_file)
        headers = {"Authorization": f"GenieKey {ctx.text(key)}"}
        for method, url, body in self.requests(ctx):
            await self._http.request(method, url, dumps(body), headers=headers, retry_codes=(429,))


def _nonempty(key: str, msg: dict[str, Any]) -> dict[str, Any]:
    return {key: msg[key]} if msg.get(key) else {}
