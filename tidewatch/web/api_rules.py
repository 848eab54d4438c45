"""``/api/v1/rules`` and ``/api/v1/alerts`` of Prometheus's HTTP API."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from tidewatch.web.api_metadata import parse_match_params
from tidewatch.web.params import read_params
from tidewatch.web.responses import APIError, invalid_param, success

_TYPES = {"": "", "alert": "alert", "record": "record"}


class RulesAPI:
    """Needs ``services.rule_manager`` (a :class:`tidewatch.rules.manager.RuleManager`)."""

    def __init__(self, services: Any) -> None:
        self.s = services

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get("/api/v1/rules", self.rules),
            web.get("/api/v1/alerts", self.alerts),
        ]

    def _manager(self) -> Any:
        manager = getattr(self.s, "rule_manager", None)
        if manager is None:
            raise APIError("unavailable", "rule manager is not running")
        return manager

    async def rules(self, request: web.Request) -> web.Response:
        params = await read_params(request)
        kind = params.get("type", "").lower()
        if kind not in _TYPES:
            raise invalid_param("type", f'unsupported type "{kind}"')
        exclude_text = params.get("exclude_alerts", "")
        if exclude_text not in ("", "true", "false", "1", "0", "t", "f", "True", "False"):
            raise invalid_param("exclude_alerts", f'cannot parse "{exclude_text}" as a boolean')
        match = parse_match_params(params.getall("match[]", []))
        data = self._manager().rules_api(
            rule_type=kind,
            rule_names=set(params.getall("rule_name[]", [])),
            group_names=set(params.getall("rule_group[]", [])),
            files=set(params.getall("file[]", [])),
            exclude_alerts=exclude_text in ("true", "1", "t", "True"),
            match=match,
        )
        return success(data)

    async def alerts(self, request: web.Request) -> web.Response:
        return success(self._manager().alerts_api())
