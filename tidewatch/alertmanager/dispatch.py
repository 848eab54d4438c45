"""The dispatcher: routes incoming alerts into aggregation groups, runs each group's
timers (``group_wait`` before the first notification, ``group_interval`` between
later ones) and sends each flush through Alertmanager's pipeline:

    inhibition → active/mute time intervals → silences → dedup (notification log)
    → :class:`Notifier`

A group whose alerts have all resolved and been notified is destroyed; the next
alert with its labels starts a new group.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterable
from typing import Protocol

from tidewatch.alertmanager.alert import Alert, Clock, prepare_incoming, sort_alerts, wall_clock_ms
from tidewatch.alertmanager.config import AlertmanagerConfig
from tidewatch.alertmanager.inhibit import Inhibitor
from tidewatch.alertmanager.nflog import NotificationLog, needs_update
from tidewatch.alertmanager.route import Route, build_route_tree
from tidewatch.alertmanager.silence import Silences
from tidewatch.alertmanager.store import AlertStore
from tidewatch.alertmanager.timeinterval import in_any
from tidewatch.labels import Labels

log = logging.getLogger("tidewatch.alertmanager")

DEFAULT_GC_INTERVAL_MS = 30 * 60 * 1000  # Alertmanager's --alerts.gc-interval


class Notifier(Protocol):
    async def notify(
        self, receiver: str, group_key: str, alerts: list[Alert], group_labels: Labels
    ) -> None:
        """Deliver one notification; raise to have the flush retried next interval."""


class AggregationGroup:
    """Alerts sharing a route and the values of its ``group_by`` labels."""

    def __init__(self, dispatcher: Dispatcher, route: Route, labels: Labels) -> None:
        self._dispatcher = dispatcher
        self.route = route
        self.labels = labels
        self.key = route.group_key(labels)
        self.alerts: dict[int, Alert] = {}
        self.destroyed = False
        self._wake = asyncio.Event()
        loop = asyncio.get_running_loop()
        self._deadline = loop.time() + route.opts.group_wait_ms / 1000.0
        self._task: asyncio.Task[None] | None = None

    @property
    def receiver(self) -> str:
        return self.route.opts.receiver

    def insert(self, alert: Alert) -> None:
        self.alerts[alert.fingerprint] = alert

    def flush_now(self) -> None:
        """Fire the timer at once (an alert old enough to skip group_wait)."""
        self._deadline = asyncio.get_running_loop().time()
        self._wake.set()

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name=self.key)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        interval = self.route.opts.group_interval_ms / 1000.0
        while not self.destroyed:
            delay = self._deadline - loop.time()
            if delay > 0:
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), delay)
                continue
            # Schedule the next flush before this one, as Alertmanager does, so a
            # slow notification does not push every later one back.
            self._deadline = loop.time() + interval
            await self._dispatcher._flush(self)


class Dispatcher:
    def __init__(
        self,
        config: AlertmanagerConfig,
        notifier: Notifier,
        *,
        silences: Silences,
        nflog: NotificationLog,
        store: AlertStore | None = None,
        clock: Clock = wall_clock_ms,
        gc_interval_ms: int = DEFAULT_GC_INTERVAL_MS,
    ) -> None:
        self.config = config
        self.notifier = notifier
        self.silences = silences
        self.nflog = nflog
        self.store = store if store is not None else AlertStore()
        self.clock = clock
        self._gc_interval_ms = gc_interval_ms
        self.root: Route = build_route_tree(config.route)
        self.inhibitor = Inhibitor(config.inhibit_rules)
        self._groups: dict[tuple[int, Labels], AggregationGroup] = {}
        self._running = False
        self._gc_task: asyncio.Task[None] | None = None

    # --- lifecycle ---------------------------------------------------------------

    async def start(self) -> None:
        self._running = True
        for alert in self.store:
            self.inhibitor.observe(alert)
            self._route(alert)
        self._gc_task = asyncio.get_running_loop().create_task(self._gc_loop())

    async def stop(self) -> None:
        self._running = False
        if self._gc_task is not None:
            self._gc_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._gc_task
            self._gc_task = None
        groups = list(self._groups.values())
        self._groups.clear()
        for ag in groups:
            await ag.stop()

    async def reload(self, config: AlertmanagerConfig) -> None:
        """Apply a new configuration: groups are rebuilt from the stored alerts; the
        notification log keeps them from notifying again what was already sent."""
        await self.stop()
        self.config = config
        self.root = build_route_tree(config.route)
        self.inhibitor = Inhibitor(config.inhibit_rules)
        await self.start()

    # --- intake ------------------------------------------------------------------

    def receive(self, alerts: Iterable[Alert]) -> None:
        """Alerts from a client (API v2 POST): stamp them, store them, route them."""
        now = self.clock()
        timeout = self.config.global_.resolve_timeout_ms
        for alert in alerts:
            self.put(prepare_incoming(alert, now, timeout))

    def put(self, alert: Alert) -> None:
        """Store and route an already-stamped alert."""
        stored = self.store.put(alert, self.clock())
        self.inhibitor.observe(stored)
        if self._running:
            self._route(stored)

    def _route(self, alert: Alert) -> None:
        for route in self.root.match_labels(alert.labels):
            labels = route.group_labels(alert.labels)
            gid = (route.idx, labels)
            ag = self._groups.get(gid)
            if ag is not None and not ag.destroyed:
                ag.insert(alert)
                continue
            ag = AggregationGroup(self, route, labels)
            ag.insert(alert)
            self._groups[gid] = ag
            if alert.starts_at + route.opts.group_wait_ms < self.clock():
                ag.flush_now()
            ag.start()

    # --- reads for the API --------------------------------------------------------

    def groups(self) -> list[AggregationGroup]:
        return [ag for ag in self._groups.values() if not ag.destroyed]

    def alerts(self) -> list[Alert]:
        return list(self.store)

    def silenced_by(self, alert: Alert) -> list[str]:
        return self.silences.mutes(alert.labels, self.clock())

    def inhibited_by(self, alert: Alert) -> list[str]:
        fp = self.inhibitor.inhibited_by(alert.labels, self.clock())
        return [fp] if fp is not None else []

    def receivers_of(self, alert: Alert) -> list[str]:
        return [r.opts.receiver for r in self.root.match_labels(alert.labels)]

    # --- the flush pipeline ---------------------------------------------------------

    async def _flush(self, ag: AggregationGroup) -> None:
        if not ag.alerts:
            return
        now = self.clock()
        snapshot = dict(ag.alerts)
        batch: list[Alert] = []
        for a in snapshot.values():
            # Alerts must not resolve while the notification is under way.
            batch.append(a if a.resolved_at(now) else a.copy(ends_at=0))
        ok = await self._notify(ag, sort_alerts(batch), now)
        if not ok:
            return
        # Drop resolved alerts we just told about, unless they changed meanwhile.
        for fp, a in snapshot.items():
            if a.resolved_at(now) and ag.alerts.get(fp) is a:
                del ag.alerts[fp]
        if not ag.alerts:
            ag.destroyed = True
            gid = (ag.route.idx, ag.labels)
            if self._groups.get(gid) is ag:
                del self._groups[gid]

    def _muted_by_time(self, route: Route, now: int) -> bool:
        intervals = self.config.time_intervals
        active = route.opts.active_time_intervals
        if active and not in_any([intervals[n] for n in active if n in intervals], now):
            return True
        mute = route.opts.mute_time_intervals
        return bool(mute) and in_any([intervals[n] for n in mute if n in intervals], now)

    async def _notify(self, ag: AggregationGroup, alerts: list[Alert], now: int) -> bool:
        """Run the pipeline; False means "failed, keep the alerts and retry"."""
        alerts = [a for a in alerts if not self.inhibitor.mutes(a.labels, now)]
        if not alerts:
            return True
        if self._muted_by_time(ag.route, now):
            return True
        alerts = [a for a in alerts if not self.silences.mutes(a.labels, now)]
        if not alerts:
            return True
        firing = frozenset(a.fingerprint for a in alerts if not a.resolved_at(now))
        resolved = frozenset(a.fingerprint for a in alerts if a.resolved_at(now))
        receiver = ag.receiver
        rcv = self.config.receiver(receiver)
        send_resolved = rcv.send_resolved_any() if rcv is not None else True
        entry = self.nflog.get(receiver, ag.key)
        if not needs_update(
            entry, firing, resolved, send_resolved, ag.route.opts.repeat_interval_ms, now
        ):
            return True
        timeout = ag.route.opts.group_interval_ms / 1000.0
        try:
            await asyncio.wait_for(
                self.notifier.notify(receiver, ag.key, alerts, ag.labels), timeout
            )
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("notify for alerts failed: receiver=%s group=%s", receiver, ag.key)
            return False
        self.nflog.log(receiver, ag.key, firing, resolved, now)
        return True

    # --- housekeeping -----------------------------------------------------------------

    def gc(self) -> None:
        now = self.clock()
        for a in self.store.gc(now):
            self.inhibitor.forget(a.fingerprint)
        self.silences.gc()
        self.nflog.gc(now)

    async def _gc_loop(self) -> None:
        while True:
            await asyncio.sleep(self._gc_interval_ms / 1000.0)
            try:
                self.gc()
            except Exception:  # keep collecting; one bad pass must not stop alerting
                log.exception("alertmanager gc failed")
