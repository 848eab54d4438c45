"""The rule manager: loads rule files from the config, runs one task per group,
keeps alert state across reloads and hands due alerts to the notifier.

A reload parses every file first; if any is bad it raises and the running groups
stay as they were. Loki ruler files (``logs.ruler`` in the config) load alongside:
their groups run the same way, with the LogQL query function given as ``log_query``. Groups that survive a reload (same file and name) keep their
alerts and series; removed groups end their series with staleness markers.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Awaitable, Callable, Collection, Mapping, Sequence
from typing import Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from tidewatch.config.model import Config
from tidewatch.matcher import Matcher
from tidewatch.promql.engine import Engine
from tidewatch.rules.alerting import Alert
from tidewatch.rules.apijson import alerts_data, rules_data
from tidewatch.rules.group import (
    DEFAULT_GRACE_PERIOD_MS,
    DEFAULT_OUTAGE_TOLERANCE_MS,
    DEFAULT_RESEND_DELAY_MS,
    Group,
    GroupOptions,
    now_ms,
)
from tidewatch.rules.logrules import explore_link, log_rule_files, ruler_config
from tidewatch.rules.notifier import Notifier, NotifyAlert, table_link
from tidewatch.rules.query import QueryFunc, engine_query_func
from tidewatch.rules.rulefile import (
    LOGQL,
    GroupDef,
    RuleFileError,
    expand_rule_files,
    parse_rule_file,
)
from tidewatch.tsdb.interface import Storage

log = logging.getLogger(__name__)

NotifyCallback = Callable[[list[NotifyAlert]], Awaitable[None]]


class RuleManager:
    def __init__(
        self,
        storage: Storage,
        engine: Engine,
        *,
        external_labels: Mapping[str, str] | None = None,
        external_url: str = "",
        notify: NotifyCallback | None = None,
        resend_delay_ms: int = DEFAULT_RESEND_DELAY_MS,
        outage_tolerance_ms: int = DEFAULT_OUTAGE_TOLERANCE_MS,
        grace_period_ms: int = DEFAULT_GRACE_PERIOD_MS,
        restore: bool = True,
        log_query: QueryFunc | None = None,
    ) -> None:
        self.storage = storage
        # Runs LogQL rule expressions; without it, log rule files are refused.
        self.log_query = log_query
        self.log_interval_ms = 0  # logs.ruler.evaluation_interval (0: the global one)
        self.engine = engine
        self.external_labels = dict(external_labels or {})
        self.external_url = external_url.rstrip("/")
        self.resend_delay_ms = resend_delay_ms
        self.outage_tolerance_ms = outage_tolerance_ms
        self.grace_period_ms = grace_period_ms
        self.restore = restore
        self.notifier = Notifier(external_labels=self.external_labels, local=notify)
        self.groups: dict[tuple[str, str], Group] = {}
        self.rule_files: list[str] = []
        self.last_reload_success = True
        self.last_reload_time = 0.0
        self._started = False
        self._lock = asyncio.Lock()

    # ----------------------------------------------------------------- config

    def load_groups(self, cfg: Config) -> list[GroupDef]:
        """Parse every rule file the config names; RuleFileError if any is bad."""
        base = os.path.dirname(os.path.abspath(cfg.source_path)) if cfg.source_path else "."
        files = expand_rule_files(cfg.prometheus.rule_files, base)
        ruler = ruler_config(cfg)
        log_files = log_rule_files(ruler, base)
        if log_files and self.log_query is None:
            raise RuleFileError([f"{log_files[0]}: log rules need the log store"])
        defs: list[GroupDef] = []
        errors: list[str] = []
        for f in log_files:
            if f in files:
                errors.append(
                    f"{f}: listed both in prometheus.rule_files and in logs.ruler; "
                    "a rule file is either PromQL or LogQL"
                )
        for f in files:
            try:
                defs.extend(parse_rule_file(f))
            except RuleFileError as exc:
                errors.extend(exc.errors)
        for f in log_files:
            try:
                defs.extend(parse_rule_file(f, language=LOGQL))
            except RuleFileError as exc:
                errors.extend(exc.errors)
        if errors:
            raise RuleFileError(errors)
        self.rule_files = files + log_files
        self.log_interval_ms = ruler.evaluation_interval_ms
        return defs

    async def apply_config(self, cfg: Config) -> None:
        async with self._lock:
            try:
                defs = await asyncio.to_thread(self.load_groups, cfg)
                self.notifier.apply(cfg.prometheus.alerting, cfg.prometheus.global_.external_labels)
            except Exception:
                self.last_reload_success = False
                raise
            self.external_labels = dict(cfg.prometheus.global_.external_labels)
            if cfg.server.external_url:
                self.external_url = cfg.server.external_url.rstrip("/")
            g = cfg.prometheus.global_
            new: dict[tuple[str, str], Group] = {}
            options = GroupOptions(
                external_labels=self.external_labels,
                external_url=self.external_url,
                resend_delay_ms=self.resend_delay_ms,
                outage_tolerance_ms=self.outage_tolerance_ms,
                grace_period_ms=self.grace_period_ms,
            )
            query = engine_query_func(self.engine, self.storage)
            old_groups = self.groups
            # Stop the running loops before copying their state, so no evaluation
            # changes it half-way; the new groups start right after.
            await asyncio.gather(*(og.stop(mark_stale=False) for og in old_groups.values()))
            for d in defs:
                is_log = d.language == LOGQL and self.log_query is not None
                group = Group(
                    d,
                    storage=self.storage,
                    query=self.log_query if is_log and self.log_query else query,
                    interval_ms=(self.log_interval_ms if is_log else 0) or g.evaluation_interval_ms,
                    query_offset_ms=g.rule_query_offset_ms,
                    options=options,
                    restore=self.restore,
                    send=self._send_log_alerts if is_log else self._send,
                )
                old = old_groups.get(group.key)
                if old is not None:
                    group.copy_state_from(old)
                new[group.key] = group
            self.groups = new
            # Series of removed groups and rules end with staleness markers.
            now = now_ms()
            for og in old_groups.values():
                await asyncio.to_thread(og.mark_all_stale, now)
            for group in new.values():
                group.start()
            self._started = True
            self.last_reload_success = True
            self.last_reload_time = time.time()

    async def stop(self) -> None:
        async with self._lock:
            await asyncio.gather(*(g.stop(mark_stale=False) for g in self.groups.values()))
            await self.notifier.stop()

    # ----------------------------------------------------------------- sending

    async def _send(self, expr: str, alerts: list[Alert], link: str = "") -> None:
        link = link or table_link(self.external_url, expr)
        out = [
            NotifyAlert(
                labels=a.labels,
                annotations=dict(a.annotations),
                starts_at=a.fired_at_ms,
                ends_at=a.resolved_at_ms if a.resolved_at_ms else a.valid_until_ms,
                generator_url=link,
            )
            for a in alerts
        ]
        await self.notifier.send(out)

    async def _send_log_alerts(self, expr: str, alerts: list[Alert]) -> None:
        await self._send(expr, alerts, explore_link(self.external_url, expr))

    # ----------------------------------------------------------------- views

    def ordered_groups(self, language: str = "") -> list[Group]:
        """In file order, then group order within a file, as Prometheus lists them;
        ``language`` ("promql" or "logql") keeps only that kind of group."""
        order = {f: i for i, f in enumerate(self.rule_files)}
        groups = [
            g for g in self.groups.values() if not language or g.definition.language == language
        ]
        return sorted(groups, key=lambda g: (order.get(g.file, len(order)), g.definition_index))

    def rules_api(
        self,
        *,
        rule_type: str = "",
        rule_names: Collection[str] = (),
        group_names: Collection[str] = (),
        files: Collection[str] = (),
        exclude_alerts: bool = False,
        match: Sequence[Sequence[Matcher]] = (),
        group_limit: int = 0,
        next_token: str = "",
        language: str = "",
    ) -> dict[str, Any]:
        """Raises ValueError for an unknown ``next_token``."""
        return rules_data(
            self.ordered_groups(language),
            rule_type=rule_type,
            rule_names=rule_names,
            group_names=group_names,
            files=files,
            exclude_alerts=exclude_alerts,
            match=match,
            group_limit=group_limit,
            next_token=next_token,
        )

    def alerts_api(self, language: str = "") -> dict[str, Any]:
        return alerts_data(self.ordered_groups(language))

    def self_metrics(self) -> list[Metric]:
        labels = ["rule_group"]
        interval = GaugeMetricFamily(
            "prometheus_rule_group_interval_seconds",
            "The interval of a rule group.",
            labels=labels,
        )
        duration = GaugeMetricFamily(
            "prometheus_rule_group_last_duration_seconds",
            "The duration of the last rule group evaluation.",
            labels=labels,
        )
        last_eval = GaugeMetricFamily(
            "prometheus_rule_group_last_evaluation_timestamp_seconds",
            "The timestamp of the last rule group evaluation in seconds.",
            labels=labels,
        )
        n_rules = GaugeMetricFamily(
            "prometheus_rule_group_rules", "The number of rules.", labels=labels
        )
        evals = CounterMetricFamily(
            "prometheus_rule_evaluations", "The total number of rule evaluations.", labels=labels
        )
        failures = CounterMetricFamily(
            "prometheus_rule_evaluation_failures",
            "The total number of rule evaluation failures.",
            labels=labels,
        )
        missed = CounterMetricFamily(
            "prometheus_rule_group_iterations_missed",
            "The total number of rule group evaluations missed due to slow rule group evaluation.",
            labels=labels,
        )
        for g in self.ordered_groups():
            key = [f"{g.file};{g.name}"]
            interval.add_metric(key, g.interval_ms / 1000.0)
            duration.add_metric(key, g.eval_seconds)
            last_eval.add_metric(key, g.last_eval_ms / 1000.0)
            n_rules.add_metric(key, len(g.rules))
            evals.add_metric(key, g.evaluations * len(g.rules))
            failures.add_metric(key, g.failures)
            missed.add_metric(key, g.iterations_missed)
        n = self.notifier
        sent = CounterMetricFamily(
            "prometheus_notifications_sent",
            "Total number of alerts sent.",
            labels=["alertmanager"],
        )
        errs = CounterMetricFamily(
            "prometheus_notifications_errors",
            "Total number of sent alerts affected by errors.",
            labels=["alertmanager"],
        )
        for t in n.targets:
            sent.add_metric([t.url], n.sent.get(t.url, 0))
            errs.add_metric([t.url], n.errors.get(t.url, 0))
        dropped = CounterMetricFamily(
            "prometheus_notifications_dropped",
            "Total number of alerts dropped due to errors when sending to Alertmanager.",
            value=n.dropped,
        )
        queue = GaugeMetricFamily(
            "prometheus_notifications_queue_length",
            "The number of alert notifications in the queue.",
            value=len(n.queue),
        )
        discovered = GaugeMetricFamily(
            "prometheus_notifications_alertmanagers_discovered",
            "The number of alertmanagers discovered and active.",
            value=len(n.targets),
        )
        return [
            interval,
            duration,
            last_eval,
            n_rules,
            evals,
            failures,
            missed,
            sent,
            errs,
            dropped,
            queue,
            discovered,
        ]
