"""``ReceiverNotifier``: the dispatcher's :class:`Notifier`. One notification for a
receiver fans out to all its integrations at once; each retries with exponential
backoff until it succeeds, fails for good, or the dispatcher's deadline cancels it.

Like Alertmanager, an integration without ``send_resolved`` gets only the firing
alerts (nothing at all when none fire). Alertmanager dedups per integration; the
dispatcher's notification log is per receiver, so after a partial failure this
class remembers what each integration last delivered and skips re-sending it.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable, Iterator
from typing import Any

import aiohttp
from prometheus_client.core import Metric

from tidewatch.alertmanager.alert import Alert, Clock, wall_clock_ms
from tidewatch.alertmanager.config import AlertmanagerConfig
from tidewatch.alertmanager.notify.base import Integration, NotifyContext
from tidewatch.alertmanager.notify.discord import Discord
from tidewatch.alertmanager.notify.email import Email
from tidewatch.alertmanager.notify.errors import CANCELED, NotifyError
from tidewatch.alertmanager.notify.metrics import NotifierMetrics
from tidewatch.alertmanager.notify.msteams import MSTeams
from tidewatch.alertmanager.notify.opsgenie import Opsgenie
from tidewatch.alertmanager.notify.pagerduty import PagerDuty
from tidewatch.alertmanager.notify.slack import Slack
from tidewatch.alertmanager.notify.telegram import Telegram
from tidewatch.alertmanager.notify.webhook import Webhook
from tidewatch.alertmanager.receivers import Receiver
from tidewatch.alertmanager.templates import NotificationTemplates, template_data
from tidewatch.labels import Labels
from tidewatch.templating import TemplateError

log = logging.getLogger("tidewatch.alertmanager.notify")

_MAX_REMEMBERED = 10_000
_DeliveryKey = tuple[str, str, str, int]  # receiver, group key, integration, index
_Sent = tuple[frozenset[int], frozenset[int]]  # firing and resolved fingerprints


class Backoff:
    """cenkalti/backoff's defaults as Alertmanager uses them: 0.5 s, ×1.5, ±50 %
    jitter, at most 60 s between attempts, no overall limit."""

    def __init__(
        self,
        initial_s: float = 0.5,
        multiplier: float = 1.5,
        max_s: float = 60.0,
        jitter: float = 0.5,
    ) -> None:
        self.current = initial_s
        self.multiplier = multiplier
        self.max_s = max_s
        self.jitter = jitter

    def next(self) -> float:
        delta = self.jitter * self.current
        wait = random.uniform(self.current - delta, self.current + delta)
        self.current = min(self.current * self.multiplier, self.max_s)
        return wait


class NotificationFailed(Exception):
    """Some integration of a receiver could not deliver; the flush is retried."""


IntegrationFactory = Callable[[Any, int, aiohttp.ClientSession], Integration]

# By Alertmanager's integration name; e-mail speaks SMTP and needs no HTTP session.
_FACTORIES: dict[str, IntegrationFactory] = {
    "webhook": Webhook,
    "email": lambda cfg, i, _session: Email(cfg, i),
    "pagerduty": PagerDuty,
    "slack": Slack,
    "opsgenie": Opsgenie,
    "msteams": MSTeams,
    "telegram": Telegram,
    "discord": Discord,
}


def build_integrations(rcv: Receiver, session: aiohttp.ClientSession) -> list[Integration]:
    """The receiver's typed integrations, in configuration order."""
    return [_FACTORIES[kind](cfg, i, session) for kind, i, cfg in rcv.integrations()]


class ReceiverNotifier:
    def __init__(
        self,
        config: AlertmanagerConfig,
        http_session: aiohttp.ClientSession,
        metrics: NotifierMetrics | None = None,
        *,
        external_url: str = "",
        clock: Clock = wall_clock_ms,
        backoff: Callable[[], Backoff] = Backoff,
    ) -> None:
        self.session = http_session
        self.metrics = metrics if metrics is not None else NotifierMetrics()
        self.clock = clock
        self._backoff = backoff
        self.external_url = external_url
        self._integrations: dict[str, list[Integration]] = {}
        # What each integration last delivered for a group, while its receiver's
        # notification as a whole has not yet succeeded.
        self._delivered: dict[_DeliveryKey, _Sent] = {}
        self.set_config(config, external_url=external_url)

    def set_config(self, config: AlertmanagerConfig, *, external_url: str | None = None) -> None:
        """Use a new configuration (after a reload); templates are parsed again."""
        if external_url is not None:
            self.external_url = external_url
        self.config = config
        self.templates = NotificationTemplates(config.templates, self.external_url)
        self._integrations = {r.name: build_integrations(r, self.session) for r in config.receivers}
        for r in config.receivers:
            for kind in r.other_configs:
                log.warning("receiver %s: %s are accepted but not sent by tidewatch", r.name, kind)
        self._delivered.clear()

    def self_metrics(self) -> Iterator[Metric]:
        yield from self.metrics.collect()

    async def notify(
        self, receiver: str, group_key: str, alerts: list[Alert], group_labels: Labels
    ) -> None:
        integrations = self._integrations.get(receiver, [])
        if not integrations:
            return
        now = self.clock()
        firing = [a for a in alerts if not a.resolved_at(now)]
        firing_fps = frozenset(a.fingerprint for a in firing)
        resolved_fps = frozenset(a.fingerprint for a in alerts) - firing_fps
        contexts: dict[bool, NotifyContext] = {}

        def context(send_resolved: bool) -> NotifyContext:
            if send_resolved not in contexts:
                subset = alerts if send_resolved else firing
                data = template_data(
                    receiver, subset, group_labels, self.templates.external_url, now
                )
                contexts[send_resolved] = NotifyContext(
                    receiver, group_key, group_labels, subset, data, self.templates, now
                )
            return contexts[send_resolved]

        jobs = []
        for integ in integrations:
            if not integ.send_resolved and not firing:
                continue  # only resolved alerts, and this integration does not want them
            key = (receiver, group_key, integ.name, integ.index)
            sent = (firing_fps, resolved_fps if integ.send_resolved else frozenset())
            if self._delivered.get(key) == sent:
                continue  # delivered on an earlier attempt whose sibling failed
            jobs.append((key, sent, integ, context(integ.send_resolved)))
        if not jobs:
            return
        results = await asyncio.gather(
            *(self._deliver_and_remember(*job) for job in jobs), return_exceptions=True
        )
        errors = [
            f"{receiver}/{integ.name}[{integ.index}]: {res}"
            for (_, _, integ, _), res in zip(jobs, results, strict=True)
            if isinstance(res, BaseException)
        ]
        if errors:
            raise NotificationFailed("; ".join(errors))
        # The whole receiver succeeded: the notification log now dedups it.
        for key, _, _, _ in jobs:
            self._delivered.pop(key, None)

    async def _deliver_and_remember(
        self, key: _DeliveryKey, sent: _Sent, integ: Integration, ctx: NotifyContext
    ) -> None:
        """Deliver, and note the success at once: if the dispatcher's deadline
        cancels a sibling still retrying, the next flush skips this one."""
        self._delivered.pop(key, None)
        await self._deliver(ctx.receiver, integ, ctx)
        if len(self._delivered) >= _MAX_REMEMBERED:
            self._delivered.clear()  # entries of groups that vanished after a failure
        self._delivered[key] = sent

    async def _deliver(self, receiver: str, integ: Integration, ctx: NotifyContext) -> None:
        """One integration's retry loop (Alertmanager's ``RetryStage``)."""
        name = integ.name
        self.metrics.notification(name)
        backoff = self._backoff()
        attempt = 0
        last: NotifyError | None = None
        try:
            while True:
                attempt += 1
                started = time.perf_counter()
                try:
                    await integ.notify(ctx)
                except TemplateError as exc:
                    self.metrics.request(name, time.perf_counter() - started, ok=False)
                    raise NotifyError(f"template: {exc}", retry=False) from None
                except NotifyError as exc:
                    self.metrics.request(name, time.perf_counter() - started, ok=False)
                    if not exc.retry:
                        raise
                    if last is None or str(last) != str(exc):
                        log.warning(
                            "notify attempt failed, will retry: receiver=%s integration=%s[%d] attempts=%d err=%s",
                            receiver,
                            name,
                            integ.index,
                            attempt,
                            exc,
                        )
                    last = exc
                    await asyncio.sleep(backoff.next())
                    continue
                self.metrics.request(name, time.perf_counter() - started, ok=True)
                return
        except NotifyError as exc:
            self.metrics.failure(name, exc.reason)
            raise
        except asyncio.CancelledError:
            self.metrics.failure(name, last.reason if last is not None else CANCELED)
            raise
        except Exception as exc:
            self.metrics.failure(name, "other")
            raise NotifyError(f"{type(exc).__name__}: {exc}", retry=False) from exc
