"""``/api/v1/rules`` and ``/api/v1/alerts`` of Prometheus's HTTP API."""

from __future__ import annotations

from aiohttp import web

from tidewatch.rules.manager import RuleManager
from tidewatch.web.api_metadata import parse_match_params
from tidewatch.web.params import read_params
from tidewatch.web.responses import invalid_param, success
from tidewatch.web.services import Services

_TYPES = {"": "", "alert": "alert", "record": "record"}


class RulesAPI:
    def __init__(self, services: Services) -> None:
        self.s = services

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get("/api/v1/rules", self.rules),
            web.get("/api/v1/alerts", self.alerts),
        ]

    def _manager(self) -> RuleManager:
        return self.s.rule_manager

    async def rules(self, request: web.Request) -> web.Response:
        params = await read_params(request)
        kind = params.get("type", "").lower()
        if kind not in _TYPES:
            raise invalid_param("type", f'unsupported type "{kind}"')
        exclude_text = params.get("exclude_alerts", "")
        if exclude_text not in ("", "true", "false", "1", "0", "t", "f", "True", "False"):
            raise invalid_param("exclude_alerts", f'cannot parse "{exclude_text}" as a boolean')
        match = parse_match_params(params.getall("match[]", []))
        limit_text = params.get("group_limit", "")
        group_limit = 0
        if limit_text:
            try:
                group_limit = int(limit_text)
            except ValueError:
                raise invalid_param("group_limit", f'cannot parse "{limit_text}"') from None
            if group_limit <= 0:
                raise invalid_param("group_limit", "group_limit needs to be greater than 0")
        next_token = params.get("group_next_token", "")
        if next_token and not group_limit:
            raise invalid_param(
                "group_next_token",
                "group_limit needs to be present in order to paginate over the groups",
            )
        try:
            data = self._manager().rules_api(
                rule_type=kind,
                rule_names=set(params.getall("rule_name[]", [])),
                group_names=set(params.getall("rule_group[]", [])),
                files=set(params.getall("file[]", [])),
                exclude_alerts=exclude_text in ("true", "1", "t", "True"),
                match=match,
                group_limit=group_limit,
                next_token=next_token,
            )
        except ValueError as exc:
            raise invalid_param("group_next_token", str(exc)) from None
        return success(data)

    async def alerts(self, request: web.Request) -> web.Response:
        return success(self._manager().alerts_api())
