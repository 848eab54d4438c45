"""The ``data`` objects of Prometheus's ``/api/v1/rules`` and ``/api/v1/alerts``."""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Sequence
from datetime import UTC, datetime
from typing import Any

from tidewatch.gofloat import format_float as go_format_float
from tidewatch.labels import Labels
from tidewatch.matcher import Matcher
from tidewatch.promql.printer import format_expr
from tidewatch.rules.alerting import Alert, AlertingRule, AlertState
from tidewatch.rules.group import Group, Rule
from tidewatch.rules.recording import RecordingRule

ZERO_TIME = "0001-01-01T00:00:00Z"


def rfc3339_nano(t_ms: int) -> str:
    """Go's RFC3339Nano for a ms time (trailing zeros of the fraction dropped)."""
    if t_ms <= 0:
        return ZERO_TIME
    d = datetime.fromtimestamp(t_ms // 1000, tz=UTC)
    frac = f"{t_ms % 1000:03d}".rstrip("0")
    return d.strftime("%Y-%m-%dT%H:%M:%S") + (f".{frac}" if frac else "") + "Z"


def alert_json(a: Alert) -> dict[str, Any]:
    out: dict[str, Any] = {
        "labels": dict(a.labels),
        "annotations": dict(a.annotations),
        "state": str(a.state),
        "activeAt": rfc3339_nano(a.active_at_ms),
        "value": go_format_float(a.value, "e"),
    }
    if a.keep_firing_since_ms:
        out["keepFiringSince"] = rfc3339_nano(a.keep_firing_since_ms)
    return out


def _query_text(rule: Rule) -> str:
    if isinstance(rule.expr, str):  # LogQL rules keep their text as written
        return rule.expr_text
    try:
        return format_expr(rule.expr)
    except Exception:  # printing must never break the API; fall back to the source
        return rule.expr_text


def rule_json(rule: Rule, *, exclude_alerts: bool) -> dict[str, Any]:
    if isinstance(rule, AlertingRule):
        out: dict[str, Any] = {
            "state": str(rule.state()),
            "name": rule.name,
            "query": _query_text(rule),
            "duration": rule.hold_ms / 1000.0,
            "keepFiringFor": rule.keep_firing_for_ms / 1000.0,
            "labels": dict(sorted(rule.labels.items())),
            "annotations": dict(sorted(rule.annotations.items())),
        }
        if not exclude_alerts:
            out["alerts"] = [alert_json(a) for a in rule.active_alerts()]
        out.update(_health(rule))
        out["type"] = "alerting"
        return out
    assert isinstance(rule, RecordingRule)
    rec: dict[str, Any] = {"name": rule.name, "query": _query_text(rule)}
    if rule.labels:
        rec["labels"] = dict(sorted(rule.labels.items()))
    rec.update(_health(rule))
    rec["type"] = "recording"
    return rec


def _health(rule: Rule) -> dict[str, Any]:
    out: dict[str, Any] = {"health": rule.health}
    if rule.last_error:
        out["lastError"] = rule.last_error
    out["evaluationTime"] = rule.eval_seconds
    out["lastEvaluation"] = rfc3339_nano(rule.last_eval_ms)
    return out


def _matches(rule: Rule, match: Sequence[Sequence[Matcher]]) -> bool:
    if not match:
        return True
    lbls: Labels = tuple(sorted(rule.labels.items()))
    return any(all(m.matches_labels(lbls) for m in ms) for ms in match)


def rules_data(
    groups: Sequence[Group],
    *,
    rule_type: str = "",
    rule_names: Collection[str] = (),
    group_names: Collection[str] = (),
    files: Collection[str] = (),
    exclude_alerts: bool = False,
    match: Sequence[Sequence[Matcher]] = (),
    group_limit: int = 0,
    next_token: str = "",
) -> dict[str, Any]:
    """``rule_type`` is "", "alert" or "record" (the API's ``type`` parameter).

    With ``group_limit`` the answer is paged: ``groupNextToken`` names the first group
    of the next page, and passing it back as ``next_token`` continues from there.
    """
    out: list[dict[str, Any]] = []
    started = not next_token
    token_out = ""
    for g in groups:
        if not started:
            if group_token(g) != next_token:
                continue
            started = True
        if group_names and g.name not in group_names:
            continue
        if files and g.file not in files:
            continue
        rules = []
        for r in g.rules:
            if rule_type == "alert" and not isinstance(r, AlertingRule):
                continue
            if rule_type == "record" and not isinstance(r, RecordingRule):
                continue
            if rule_names and r.name not in rule_names:
                continue
            if not _matches(r, match):
                continue
            rules.append(rule_json(r, exclude_alerts=exclude_alerts))
        if (rule_type or rule_names or match) and not rules:
            continue
        if group_limit and len(out) == group_limit:
            token_out = group_token(g)
            break
        out.append(
            {
                "name": g.name,
                "file": g.file,
                "rules": rules,
                "interval": g.interval_ms / 1000.0,
                "limit": g.limit,
                "evaluationTime": g.eval_seconds,
                "lastEvaluation": rfc3339_nano(g.last_eval_ms),
            }
        )
    if next_token and not started:
        raise ValueError("invalid group_next_token")
    data: dict[str, Any] = {"groups": out}
    if token_out:
        data["groupNextToken"] = token_out
    return data


def group_token(g: Group) -> str:
    """A stable page token for a group (file and name), as Prometheus derives one."""
    return hashlib.sha1(f"{g.file};{g.name}".encode(), usedforsecurity=False).hexdigest()


def alerts_data(groups: Sequence[Group]) -> dict[str, Any]:
    alerts: list[dict[str, Any]] = []
    for g in groups:
        for r in g.rules:
            if isinstance(r, AlertingRule):
                alerts.extend(
                    alert_json(a) for a in r.active_alerts() if a.state != AlertState.INACTIVE
                )
    return {"alerts": alerts}
