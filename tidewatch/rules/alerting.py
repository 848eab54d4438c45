"""Alerting rules: the inactive → pending → firing state machine of Prometheus.

One ``AlertingRule`` keeps its active alerts by label set. Each evaluation turns the
query result into alerts (labels and annotations expanded from templates), moves
them through the states (``for``, ``keep_firing_for``, 15 minutes of resolved
retention so the resolution reaches Alertmanager) and returns the ``ALERTS`` and
``ALERTS_FOR_STATE`` samples to write.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass

from tidewatch.labels import METRIC_NAME, Labels, from_dict
from tidewatch.promql.ast import Expr
from tidewatch.promql.engine import QueryError
from tidewatch.rules.query import QueryFunc
from tidewatch.rules.rulefile import RuleDef
from tidewatch.templating import TemplateError, expand_alert_template

ALERT_METRIC = "ALERTS"
ALERT_FOR_STATE_METRIC = "ALERTS_FOR_STATE"
ALERT_NAME_LABEL = "alertname"
ALERT_STATE_LABEL = "alertstate"
# Resolved alerts stay this long so Alertmanager hears of the resolution.
RESOLVED_RETENTION_MS = 15 * 60 * 1000


class AlertState(enum.IntEnum):
    INACTIVE = 0
    PENDING = 1
    FIRING = 2

    def __str__(self) -> str:
        return self.name.lower()


@dataclass
class Alert:
    labels: Labels
    annotations: Labels
    state: AlertState
    value: float
    active_at_ms: int
    fired_at_ms: int = 0
    resolved_at_ms: int = 0
    last_sent_at_ms: int = 0
    valid_until_ms: int = 0
    keep_firing_since_ms: int = 0

    def needs_sending(self, ts_ms: int, resend_delay_ms: int) -> bool:
        """Prometheus's needsSending: firing alerts every resend delay, resolutions once."""
        if self.state == AlertState.PENDING:
            return False
        if self.resolved_at_ms > self.last_sent_at_ms:
            return True
        return self.last_sent_at_ms + resend_delay_ms < ts_ms


class AlertingRule:
    def __init__(
        self,
        rule: RuleDef,
        *,
        group_labels: Mapping[str, str] | None = None,
        external_labels: Mapping[str, str] | None = None,
        external_url: str = "",
        restored: bool = True,
    ) -> None:
        self.name = rule.alert
        self.expr_text = rule.expr
        self.expr: Expr | str = rule.expr_ast
        self.language = rule.language
        self.hold_ms = rule.for_ms
        self.keep_firing_for_ms = rule.keep_firing_for_ms
        self.labels = {**(group_labels or {}), **rule.labels}
        self.annotations = dict(rule.annotations)
        self.external_labels = dict(external_labels or {})
        self.external_url = external_url
        # ALERTS series are written only once `for` state has been restored.
        self.restored = restored
        self.active: dict[Labels, Alert] = {}
        self.health = "unknown"
        self.last_error = ""
        self.last_eval_ms = 0
        self.eval_seconds = 0.0

    @property
    def kind(self) -> str:
        return "alerting"

    # ----------------------------------------------------------------- evaluation

    def _expand(
        self, text: str, lbls: dict[str, str], value: float, query: QueryFunc, ts_ms: int
    ) -> str:
        def template_query(q: str) -> list[tuple[Labels, float]]:
            return query(q, ts_ms)

        try:
            return expand_alert_template(
                text,
                name=f"__alert_{self.name}",
                labels=lbls,
                value=value,
                external_labels=self.external_labels,
                external_url=self.external_url,
                query=template_query,
                now=ts_ms / 1000.0,
            )
        except TemplateError as exc:
            return f"<error expanding template: {exc}>"

    def eval(
        self, ts_ms: int, query: QueryFunc, *, query_offset_ms: int = 0, limit: int = 0
    ) -> list[tuple[Labels, float]]:
        """One evaluation at ``ts_ms``; returns the ALERTS / ALERTS_FOR_STATE samples
        (timestamped ``ts_ms - query_offset_ms`` by the caller)."""
        result = query(self.expr, ts_ms - query_offset_ms)
        found: dict[Labels, Alert] = {}
        for sample_labels, value in result:
            metric = dict(sample_labels)
            lb = {k: v for k, v in metric.items() if k != METRIC_NAME}
            for name, tmpl in self.labels.items():
                lb[name] = self._expand(tmpl, metric, value, query, ts_ms)
            lb[ALERT_NAME_LABEL] = self.name
            annotations = {
                name: self._expand(tmpl, metric, value, query, ts_ms)
                for name, tmpl in self.annotations.items()
            }
            lbls = from_dict({k: v for k, v in lb.items() if v != ""})
            if lbls in found:
                raise QueryError(
                    "execution",
                    "vector contains metrics with the same labelset after applying alert labels",
                )
            found[lbls] = Alert(
                labels=lbls,
                annotations=from_dict(annotations),
                state=AlertState.PENDING,
                value=value,
                active_at_ms=ts_ms,
            )
        # Work on a copy and swap it in at the end: the HTTP API reads `active`
        # from the event loop while this runs in a worker thread.
        active = dict(self.active)
        for lbls, new in found.items():
            old = active.get(lbls)
            if old is not None and old.state != AlertState.INACTIVE:
                old.value = new.value
                old.annotations = new.annotations
                continue
            active[lbls] = new

        out: list[tuple[Labels, float]] = []
        active_pending = 0
        for lbls, a in list(active.items()):
            if lbls not in found:
                keep_firing = False
                if a.state == AlertState.FIRING and self.keep_firing_for_ms > 0:
                    if a.keep_firing_since_ms == 0:
                        a.keep_firing_since_ms = ts_ms
                    keep_firing = ts_ms - a.keep_firing_since_ms < self.keep_firing_for_ms
                if not keep_firing:
                    if a.state == AlertState.PENDING or (
                        a.resolved_at_ms and ts_ms - a.resolved_at_ms > RESOLVED_RETENTION_MS
                    ):
                        del active[lbls]
                    if a.state != AlertState.INACTIVE:
                        a.state = AlertState.INACTIVE
                        a.resolved_at_ms = ts_ms
                    continue
            else:
                a.keep_firing_since_ms = 0
            active_pending += 1
            if a.state == AlertState.PENDING and ts_ms - a.active_at_ms >= self.hold_ms:
                a.state = AlertState.FIRING
                a.fired_at_ms = ts_ms
            if self.restored:
                out.append((alert_series(a), 1.0))
                out.append((for_state_series(a), a.active_at_ms / 1000.0))
        if limit > 0 and active_pending > limit:
            self.active = {}
            raise QueryError("execution", f"exceeded limit of {limit} with {active_pending} alerts")
        self.active = active
        return out

    # ----------------------------------------------------------------- views

    def state(self) -> AlertState:
        return max((a.state for a in self.active.values()), default=AlertState.INACTIVE)

    def active_alerts(self) -> list[Alert]:
        """Pending and firing alerts (resolved ones are kept only for sending)."""
        return [a for a in self.active.values() if a.state != AlertState.INACTIVE]

    def alerts_to_send(self, ts_ms: int, resend_delay_ms: int, interval_ms: int) -> list[Alert]:
        """Alerts due for Alertmanager, with ``valid_until`` set as Prometheus does."""
        out = []
        for a in self.active.values():
            if not a.needs_sending(ts_ms, resend_delay_ms):
                continue
            a.last_sent_at_ms = ts_ms
            delta = max(resend_delay_ms, interval_ms)
            a.valid_until_ms = ts_ms + 4 * delta
            out.append(a)
        return out


def alert_series(a: Alert) -> Labels:
    d = dict(a.labels)
    d[METRIC_NAME] = ALERT_METRIC
    d[ALERT_STATE_LABEL] = str(a.state)
    return from_dict(d)


def for_state_series(a: Alert) -> Labels:
    d = dict(a.labels)
    d[METRIC_NAME] = ALERT_FOR_STATE_METRIC
    return from_dict(d)
