"""One rule group: its rules evaluated in order, on Prometheus's schedule.

Each group runs at its own phase inside its interval (a hash of file and name),
so many groups with the same interval do not all query at the same instant.
Rules run in order and each rule's output is committed before the next runs, so
later rules see earlier ones' results. Series a rule produced last time but not
this time get a staleness marker, as Prometheus writes them.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

from tidewatch.labels import METRIC_NAME, Labels, from_dict
from tidewatch.matcher import Matcher, MatchType
from tidewatch.promql.engine import QueryError
from tidewatch.rules.alerting import ALERT_FOR_STATE_METRIC, Alert, AlertingRule
from tidewatch.rules.query import QueryFunc
from tidewatch.rules.recording import RecordingRule
from tidewatch.rules.rulefile import GroupDef
from tidewatch.tsdb.interface import Storage, StorageError
from tidewatch.value import STALE_NAN, is_stale

log = logging.getLogger(__name__)

Rule = RecordingRule | AlertingRule
# (rule expression, alerts due) -> sent to Alertmanagers.
SendFunc = Callable[[str, list[Alert]], Awaitable[None]]

DEFAULT_RESEND_DELAY_MS = 60_000
DEFAULT_OUTAGE_TOLERANCE_MS = 3_600_000
DEFAULT_GRACE_PERIOD_MS = 600_000


def now_ms() -> int:
    return time.time_ns() // 1_000_000


@dataclass
class GroupOptions:
    external_labels: Mapping[str, str]
    external_url: str = ""
    resend_delay_ms: int = DEFAULT_RESEND_DELAY_MS
    outage_tolerance_ms: int = DEFAULT_OUTAGE_TOLERANCE_MS
    grace_period_ms: int = DEFAULT_GRACE_PERIOD_MS


class Group:
    def __init__(
        self,
        gdef: GroupDef,
        *,
        storage: Storage,
        query: QueryFunc,
        interval_ms: int,
        query_offset_ms: int,
        options: GroupOptions,
        restore: bool = False,
        send: SendFunc | None = None,
        log_failures: bool = True,
    ) -> None:
        self.log_failures = log_failures
        self.name = gdef.name
        self.file = gdef.file
        self.interval_ms = gdef.interval_ms or interval_ms
        self.query_offset_ms = (
            gdef.query_offset_ms if gdef.query_offset_ms is not None else query_offset_ms
        )
        self.limit = gdef.limit
        self.definition = gdef
        self.definition_index = gdef.index
        self.storage = storage
        self.query = query
        self.options = options
        self.send = send
        self.should_restore = restore
        self.rules: list[Rule] = []
        for r in gdef.rules:
            if r.is_alert:
                self.rules.append(
                    AlertingRule(
                        r,
                        group_labels=gdef.labels,
                        external_labels=options.external_labels,
                        external_url=options.external_url,
                        restored=not restore,
                    )
                )
            else:
                self.rules.append(RecordingRule(r, group_labels=gdef.labels))
        self.previous: list[set[Labels]] = [set() for _ in self.rules]
        self.last_eval_ms = 0
        self.eval_seconds = 0.0
        self.last_eval_start_ms = 0
        self.iterations_missed = 0
        self.evaluations = 0
        self.failures = 0
        self._task: asyncio.Task[None] | None = None
        self._stopped = asyncio.Event()
        self._lock = asyncio.Lock()

    @property
    def key(self) -> tuple[str, str]:
        return (self.file, self.name)

    # ----------------------------------------------------------------- schedule

    def _hash(self) -> int:
        digest = hashlib.blake2b(f"{self.file}\xff{self.name}".encode(), digest_size=8).digest()
        return int.from_bytes(digest, "big")

    def eval_timestamp(self, start_ms: int) -> int:
        """The latest time at or before ``start_ms`` on this group's phase."""
        offset = self._hash() % self.interval_ms
        adjusted = start_ms - offset
        return adjusted - adjusted % self.interval_ms + offset

    # ----------------------------------------------------------------- evaluation

    def eval(self, ts_ms: int) -> list[tuple[str, list[Alert]]]:
        """Evaluate every rule at ``ts_ms`` (blocking); returns the alerts due for sending."""
        start = time.perf_counter()
        to_send: list[tuple[str, list[Alert]]] = []
        sample_ts = ts_ms - self.query_offset_ms
        for i, rule in enumerate(self.rules):
            t0 = time.perf_counter()
            rule.last_eval_ms = now_ms()
            try:
                samples = rule.eval(
                    ts_ms, self.query, query_offset_ms=self.query_offset_ms, limit=self.limit
                )
            except QueryError as exc:
                rule.health = "err"
                rule.last_error = exc.message
                rule.eval_seconds = time.perf_counter() - t0
                self.failures += 1
                if self.log_failures:
                    log.warning("rule %s in group %s failed: %s", rule.name, self.name, exc)
                continue
            rule.health = "ok"
            rule.last_error = ""
            if isinstance(rule, AlertingRule) and self.send is not None:
                due = rule.alerts_to_send(ts_ms, self.options.resend_delay_ms, self.interval_ms)
                if due:
                    to_send.append((rule.expr_text, due))
            self._write(i, samples, sample_ts)
            rule.eval_seconds = time.perf_counter() - t0
        self.evaluations += 1
        self.last_eval_ms = now_ms()
        self.eval_seconds = time.perf_counter() - start
        return to_send

    def _write(self, index: int, samples: list[tuple[Labels, float]], t: int) -> None:
        current = {lbls for lbls, _ in samples}
        gone = self.previous[index] - current
        self.previous[index] = current
        if not samples and not gone:
            return
        app = self.storage.appender()
        try:
            for lbls, v in samples:
                app.append(0, lbls, t, v)
            for lbls in gone:
                app.append(0, lbls, t, STALE_NAN)
            stats = app.commit()
        except StorageError as exc:
            log.warning("group %s: appending rule output failed: %s", self.name, exc)
            return
        if stats.errors:
            log.debug("group %s: %s", self.name, stats.errors[:3])

    def mark_all_stale(self, ts_ms: int) -> None:
        """When a group goes away, end every series it wrote."""
        app = self.storage.appender()
        t = ts_ms - self.query_offset_ms
        n = 0
        for series in self.previous:
            for lbls in series:
                app.append(0, lbls, t, STALE_NAN)
                n += 1
        if n:
            try:
                app.commit()
            except StorageError as exc:
                log.warning("group %s: writing staleness markers failed: %s", self.name, exc)
        else:
            app.rollback()
        self.previous = [set() for _ in self.rules]

    # ----------------------------------------------------------------- restore

    def restore_for_state(self, ts_ms: int) -> None:
        """Prometheus's RestoreForState: continue `for` from ALERTS_FOR_STATE."""
        mint = ts_ms - self.options.outage_tolerance_ms
        grace = self.options.grace_period_ms
        querier = self.storage.querier()
        try:
            for rule in self.rules:
                if not isinstance(rule, AlertingRule):
                    continue
                if rule.hold_ms < grace or not rule.active:
                    rule.restored = True
                    continue
                matchers = [
                    Matcher(MatchType.EQUAL, METRIC_NAME, ALERT_FOR_STATE_METRIC),
                    Matcher(MatchType.EQUAL, "alertname", rule.name),
                ]
                by_labels = {}
                for s in querier.select(matchers, mint, ts_ms):
                    if len(s.ts) == 0:
                        continue
                    key = from_dict({k: v for k, v in s.labels if k != METRIC_NAME})
                    by_labels[key] = (int(s.ts[-1]), float(s.values[-1]))
                for alert in rule.active.values():
                    found = by_labels.get(alert.labels)
                    if found is None or is_stale(found[1]):
                        continue
                    down_at = found[0] // 1000 * 1000
                    active_at = int(found[1]) * 1000
                    remaining = rule.hold_ms - (down_at - active_at)
                    if remaining <= 0:
                        pass  # it was firing; the next evaluation sets it firing again
                    elif remaining < grace:
                        active_at = ts_ms + grace - rule.hold_ms
                    else:
                        active_at += ts_ms - down_at
                    alert.active_at_ms = active_at
                rule.restored = True
        finally:
            querier.close()

    # ----------------------------------------------------------------- loop

    async def _eval_and_send(self, ts_ms: int) -> None:
        async with self._lock:
            due = await asyncio.to_thread(self.eval, ts_ms)
        if self.send is not None:
            for expr, alerts in due:
                try:
                    await self.send(expr, alerts)
                except Exception:  # a broken receiver must not stop evaluation
                    log.exception("group %s: sending alerts failed", self.name)

    async def _sleep_until(self, t_ms: int) -> bool:
        """False when stopped while waiting."""
        delay = max(0.0, (t_ms - now_ms()) / 1000.0)
        try:
            await asyncio.wait_for(self._stopped.wait(), timeout=delay)
        except TimeoutError:
            return True
        return False

    async def run(self) -> None:
        ts = self.eval_timestamp(now_ms()) + self.interval_ms
        restore_pending = self.should_restore
        while await self._sleep_until(ts):
            self.last_eval_start_ms = now_ms()
            await self._eval_and_send(ts)
            if restore_pending and self.evaluations >= 2:
                # Restore after a second evaluation, as Prometheus does, so
                # recording rules the alerts depend on have fresh values.
                async with self._lock:
                    await asyncio.to_thread(self.restore_for_state, now_ms())
                restore_pending = False
            missed = (now_ms() - ts) // self.interval_ms - 1
            if missed > 0:
                self.iterations_missed += missed
            ts += (max(missed, 0) + 1) * self.interval_ms

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self.run(), name=f"rules:{self.name}")

    async def stop(self, *, mark_stale: bool = True) -> None:
        self._stopped.set()
        if self._task is not None:
            await self._task
            self._task = None
        if mark_stale:
            async with self._lock:
                await asyncio.to_thread(self.mark_all_stale, now_ms())

    # ----------------------------------------------------------------- reload

    def copy_state_from(self, old: Group) -> None:
        """Keep alert state and series of rules that survive a reload unchanged."""
        old_by_key: dict[tuple[str, str, str], int] = {}
        for i, r in enumerate(old.rules):
            old_by_key.setdefault((r.kind, r.name, r.expr_text), i)
        for i, r in enumerate(self.rules):
            j = old_by_key.pop((r.kind, r.name, r.expr_text), None)
            if j is None:
                continue
            prev = old.rules[j]
            self.previous[i] = old.previous[j]
            if isinstance(r, AlertingRule) and isinstance(prev, AlertingRule):
                r.active = prev.active
                r.restored = prev.restored
            r.health, r.last_error = prev.health, prev.last_error
            r.last_eval_ms, r.eval_seconds = prev.last_eval_ms, prev.eval_seconds
        self.should_restore = False
        for r in self.rules:
            if isinstance(r, AlertingRule):
                r.restored = True
        # Series of rules that went away are ended by the old group.
        old.previous = [old.previous[j] for j in old_by_key.values()]
