"""Sending alerts to Alertmanagers with API v2, as Prometheus's notifier does.

Alerts from rule groups are queued; a sender task posts them in batches to every
configured Alertmanager (``alerting.alertmanagers[].static_configs``). External
labels are added to each alert (without overriding its own labels) before it
leaves, and the same alerts go to the built-in Alertmanager through ``notify``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import aiohttp
import orjson
import yaml

from tidewatch.config.errors import ConfigError
from tidewatch.config.relabel import decode_relabel_list
from tidewatch.config.yamlnodes import Ctx, compose
from tidewatch.duration import DurationError, parse_duration
from tidewatch.ingest.relabel import CompiledRelabel, compile_relabel, relabel
from tidewatch.labels import Labels, from_dict
from tidewatch.templating.builtins import query_escape

log = logging.getLogger(__name__)

MAX_BATCH = 256
QUEUE_CAPACITY = 10_000
DEFAULT_TIMEOUT_MS = 10_000


@dataclass
class NotifyAlert:
    """An alert as it is sent (Alertmanager's API v2 ``postableAlert``); times in ms."""

    labels: Labels
    annotations: dict[str, str]
    starts_at: int
    ends_at: int
    generator_url: str

    def to_json(self) -> dict[str, Any]:
        return {
            "labels": dict(self.labels),
            "annotations": self.annotations,
            "startsAt": rfc3339_ms(self.starts_at),
            "endsAt": rfc3339_ms(self.ends_at),
            "generatorURL": self.generator_url,
        }


def rfc3339_ms(t_ms: int) -> str:
    d = datetime.fromtimestamp(t_ms / 1000.0, tz=UTC)
    ms = t_ms % 1000
    base = d.strftime("%Y-%m-%dT%H:%M:%S")
    return f"{base}.{ms:03d}Z" if ms else f"{base}Z"


def table_link(external_url: str, expr: str) -> str:
    """Prometheus's generator URL: the expression in the graph page's table tab."""
    return f"{external_url}/graph?g0.expr={query_escape(expr)}&g0.tab=1"


@dataclass
class AlertmanagerTarget:
    url: str  # full .../api/v2/alerts URL
    timeout_ms: int = DEFAULT_TIMEOUT_MS
    headers: dict[str, str] = field(default_factory=dict)
    auth: aiohttp.BasicAuth | None = None


class AlertmanagerConfigError(ValueError):
    pass


def targets_from_config(alerting: Mapping[str, Any]) -> list[AlertmanagerTarget]:
    """Static Alertmanager targets from the raw ``alerting`` section of prometheus.yml."""
    out: list[AlertmanagerTarget] = []
    for i, am in enumerate(alerting.get("alertmanagers") or []):
        if not isinstance(am, dict):
            raise AlertmanagerConfigError(f"alerting.alertmanagers[{i}]: must be a mapping")
        version = str(am.get("api_version", "v2"))
        if version != "v2":
            raise AlertmanagerConfigError(
                f"alerting.alertmanagers[{i}].api_version: only v2 is supported, got {version}"
            )
        scheme = str(am.get("scheme", "http"))
        prefix = str(am.get("path_prefix", "") or "").rstrip("/")
        if prefix and not prefix.startswith("/"):
            prefix = "/" + prefix
        try:
            timeout = parse_duration(str(am.get("timeout", "10s")))
        except DurationError as exc:
            raise AlertmanagerConfigError(f"alerting.alertmanagers[{i}].timeout: {exc}") from None
        headers: dict[str, str] = {}
        auth = None
        basic = am.get("basic_auth")
        if isinstance(basic, dict):
            auth = aiohttp.BasicAuth(str(basic.get("username", "")), str(basic.get("password", "")))
        authz = am.get("authorization")
        if isinstance(authz, dict) and authz.get("credentials"):
            headers["Authorization"] = f"{authz.get('type', 'Bearer')} {authz['credentials']}"
        for sc in am.get("static_configs") or []:
            for target in (sc or {}).get("targets") or []:
                out.append(
                    AlertmanagerTarget(
                        f"{scheme}://{target}{prefix}/api/v2/alerts", timeout, headers, auth
                    )
                )
    return out


def alert_relabel_rules(alerting: Mapping[str, Any]) -> list[CompiledRelabel]:
    """``alerting.alert_relabel_configs``, checked with the same decoder as scrape relabeling.

    The section is kept as plain data in the config model, so it is turned back into
    YAML nodes here to reuse the one relabel decoder and its messages.
    """
    raw = alerting.get("alert_relabel_configs")
    if not raw:
        return []
    ctx = Ctx("alerting")
    node = compose(yaml.safe_dump({"alert_relabel_configs": raw}), "alerting")
    try:
        cfgs = decode_relabel_list(ctx, ctx.as_map(node, ""), "alert_relabel_configs", utf8=False)
    except ConfigError as exc:
        raise AlertmanagerConfigError(f"alerting.{exc.field}: {exc.message}") from None
    return compile_relabel(cfgs)


class Notifier:
    """Queue + sender task; ``send`` never blocks rule evaluation."""

    def __init__(
        self,
        *,
        external_labels: Mapping[str, str] | None = None,
        local: Callable[[list[NotifyAlert]], Awaitable[None]] | None = None,
    ) -> None:
        self.external_labels = dict(external_labels or {})
        self.local = local
        self.targets: list[AlertmanagerTarget] = []
        self.relabel: list[CompiledRelabel] = []
        self.queue: list[NotifyAlert] = []
        self.sent: dict[str, int] = {}
        self.errors: dict[str, int] = {}
        self.dropped = 0
        self.latency: dict[str, float] = {}
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._session: aiohttp.ClientSession | None = None
        self._stopping = False

    def apply(self, alerting: Mapping[str, Any], external_labels: Mapping[str, str]) -> None:
        targets = targets_from_config(alerting)
        rules = alert_relabel_rules(alerting)
        self.targets, self.relabel = targets, rules
        self.external_labels = dict(external_labels)

    def _outgoing_labels(self, lbls: Labels) -> Labels | None:
        """External labels added (never overriding), then alert relabeling; None: dropped."""
        d = dict(lbls)
        for k, v in self.external_labels.items():
            if not d.get(k):
                d[k] = v
        if self.relabel:
            out = relabel(d, self.relabel)
            if out is None:
                return None
            d = out
        return from_dict(d)

    async def send(self, alerts: list[NotifyAlert]) -> None:
        outgoing: list[NotifyAlert] = []
        for a in alerts:
            lbls = self._outgoing_labels(a.labels)
            if lbls:
                outgoing.append(
                    NotifyAlert(lbls, a.annotations, a.starts_at, a.ends_at, a.generator_url)
                )
        alerts = outgoing
        if not alerts:
            return
        if self.local is not None:
            try:
                await self.local(alerts)
            except Exception:
                log.exception("built-in alertmanager refused alerts")
        if not self.targets:
            return
        self.queue.extend(alerts)
        if len(self.queue) > QUEUE_CAPACITY:
            # As Prometheus does: drop the oldest alerts, keep the newest.
            over = len(self.queue) - QUEUE_CAPACITY
            self.dropped += over
            del self.queue[:over]
        self._ensure_task()
        self._wake.set()

    def _ensure_task(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run(), name="notifier")

    async def _run(self) -> None:
        while not self._stopping:
            await self._wake.wait()
            self._wake.clear()
            while self.queue:
                batch, self.queue = self.queue[:MAX_BATCH], self.queue[MAX_BATCH:]
                await self._post_all(batch)

    async def _post_all(self, batch: list[NotifyAlert]) -> None:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession()
        body = orjson.dumps([a.to_json() for a in batch])
        await asyncio.gather(*(self._post(t, body, len(batch)) for t in self.targets))

    async def _post(self, target: AlertmanagerTarget, body: bytes, n: int) -> None:
        assert self._session is not None
        start = time.perf_counter()
        headers = {"Content-Type": "application/json", **target.headers}
        try:
            async with self._session.post(
                target.url,
                data=body,
                headers=headers,
                auth=target.auth,
                timeout=aiohttp.ClientTimeout(total=target.timeout_ms / 1000.0),
            ) as resp:
                if resp.status // 100 != 2:
                    raise aiohttp.ClientError(f"bad response status {resp.status}")
            self.sent[target.url] = self.sent.get(target.url, 0) + n
        except (aiohttp.ClientError, TimeoutError) as exc:
            self.errors[target.url] = self.errors.get(target.url, 0) + n
            log.warning("error sending alerts to %s: %s", target.url, exc)
        finally:
            self.latency[target.url] = time.perf_counter() - start

    async def flush(self) -> None:
        """Send what is queued now (tests, shutdown)."""
        while self.queue:
            batch, self.queue = self.queue[:MAX_BATCH], self.queue[MAX_BATCH:]
            await self._post_all(batch)

    async def stop(self) -> None:
        self._stopping = True
        self._wake.set()
        if self._task is not None:
            await self._task
            self._task = None
        if self._session is not None:
            await self._session.close()
            self._session = None
