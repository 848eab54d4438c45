"""The Loki ruler's read API, for the log rules only.

- ``/prometheus/api/v1/rules`` and ``/prometheus/api/v1/alerts``: Prometheus's JSON,
  which Grafana's Loki data source reads to list a Loki's rules and alerts.
- ``/loki/api/v1/rules[/{namespace}[/{group}]]``: the rule groups as YAML, keyed by
  namespace (a rule file's name), as Loki's ruler API (and ``lokitool``) list them.

The Prometheus-style handlers are :class:`~tidewatch.web.api_rules.RulesAPI`'s, given
a view of the rule manager that sees only the LogQL groups.
"""

from __future__ import annotations

import os
from typing import Any

import yaml
from aiohttp import web

from tidewatch.duration import format_duration
from tidewatch.rules.group import Group
from tidewatch.rules.manager import RuleManager
from tidewatch.rules.rulefile import LOGQL, GroupDef
from tidewatch.web.api_rules import RulesAPI


class _LogRulesView:
    """The rule manager's listing methods, restricted to LogQL groups."""

    def __init__(self, manager: RuleManager) -> None:
        self.manager = manager

    def rules_api(self, **kwargs: Any) -> dict[str, Any]:
        return self.manager.rules_api(language=LOGQL, **kwargs)

    def alerts_api(self) -> dict[str, Any]:
        return self.manager.alerts_api(language=LOGQL)


class _PrometheusStyleLogRules(RulesAPI):
    def _manager(self) -> Any:
        return _LogRulesView(self.s.rule_manager)


class LokiRulesAPI:
    def __init__(self, services: Any) -> None:
        self.s = services
        self.prometheus_style = _PrometheusStyleLogRules(services)

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get("/prometheus/api/v1/rules", self.prometheus_style.rules),
            web.get("/prometheus/api/v1/alerts", self.prometheus_style.alerts),
            web.get("/loki/api/v1/rules", self.list_rules),
            web.get("/loki/api/v1/rules/{namespace}", self.list_rules),
            web.get("/loki/api/v1/rules/{namespace}/{group}", self.get_group),
        ]

    def _groups(self) -> list[Group]:
        manager: RuleManager = self.s.rule_manager
        return manager.ordered_groups(LOGQL)

    async def list_rules(self, request: web.Request) -> web.Response:
        wanted = request.match_info.get("namespace")
        by_namespace: dict[str, list[dict[str, Any]]] = {}
        for g in self._groups():
            ns = namespace_of(g.file)
            if wanted is None or ns == wanted:
                by_namespace.setdefault(ns, []).append(group_yaml(g.definition))
        if not by_namespace:
            return web.Response(status=404, text="no rule groups found\n")
        return _yaml_response(by_namespace)

    async def get_group(self, request: web.Request) -> web.Response:
        ns, name = request.match_info["namespace"], request.match_info["group"]
        for g in self._groups():
            if namespace_of(g.file) == ns and g.name == name:
                return _yaml_response(group_yaml(g.definition))
        return web.Response(status=404, text="group does not exist\n")


def namespace_of(file: str) -> str:
    """Loki's namespace for a rule file: its file name."""
    return os.path.basename(file)


def group_yaml(d: GroupDef) -> dict[str, Any]:
    """A group as written in a rule file (defaults left out)."""
    out: dict[str, Any] = {"name": d.name}
    if d.interval_ms:
        out["interval"] = format_duration(d.interval_ms)
    if d.query_offset_ms is not None:
        out["query_offset"] = format_duration(d.query_offset_ms)
    if d.limit:
        out["limit"] = d.limit
    if d.labels:
        out["labels"] = dict(d.labels)
    rules = []
    for r in d.rules:
        rule: dict[str, Any] = {"alert": r.alert} if r.is_alert else {"record": r.record}
        rule["expr"] = r.expr
        if r.for_ms:
            rule["for"] = format_duration(r.for_ms)
        if r.keep_firing_for_ms:
            rule["keep_firing_for"] = format_duration(r.keep_firing_for_ms)
        if r.labels:
            rule["labels"] = dict(r.labels)
        if r.annotations:
            rule["annotations"] = dict(r.annotations)
        rules.append(rule)
    out["rules"] = rules
    return out


def _yaml_response(obj: Any) -> web.Response:
    text = yaml.safe_dump(obj, sort_keys=False, allow_unicode=True)
    return web.Response(text=text, content_type="application/yaml")
