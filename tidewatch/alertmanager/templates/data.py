"""The data notification templates see, built from tidewatch alerts exactly as
Alertmanager's ``template.Data`` is: ``.Receiver`` regex-quoted, each alert's status
from its end time, common labels and annotations over all alerts of the group."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from tidewatch.alertmanager.alert import Alert
from tidewatch.alertmanager.fingerprint import fingerprint_hex
from tidewatch.labels import Labels
from tidewatch.templating import KV, Alerts, Data
from tidewatch.templating import Alert as TemplateAlert
from tidewatch.templating.alertmanager import quote_meta
from tidewatch.templating.gotime import UTC

ZERO_TIME = dt.datetime(1, 1, 1, tzinfo=UTC)
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=UTC)


def go_time(ms: int) -> dt.datetime:
    """Milliseconds since the epoch as an aware UTC datetime; 0 is Go's zero time."""
    if ms == 0:
        return ZERO_TIME
    return _EPOCH + dt.timedelta(milliseconds=ms)


def group_status(alerts: Sequence[Alert], now_ms: int) -> str:
    """``firing`` while any alert fires, else ``resolved`` (Alertmanager's ``Alerts.Status``)."""
    return "firing" if any(not a.resolved_at(now_ms) for a in alerts) else "resolved"


def _common(kvs: list[dict[str, str]]) -> KV:
    if not kvs:
        return KV()
    common = dict(kvs[0])
    for other in kvs[1:]:
        if not common:
            break
        common = {k: v for k, v in common.items() if other.get(k) == v}
    return KV(common)


def template_data(
    receiver: str,
    alerts: Sequence[Alert],
    group_labels: Labels,
    external_url: str,
    now_ms: int,
) -> Data:
    """Alertmanager's ``Template.Data(receiver, groupLabels, alerts...)``."""
    items = Alerts()
    for a in alerts:
        items.append(
            TemplateAlert(
                Status="resolved" if a.resolved_at(now_ms) else "firing",
                Labels=KV(a.labels),
                Annotations=KV(a.annotations),
                StartsAt=go_time(a.starts_at),
                EndsAt=go_time(a.ends_at),
                GeneratorURL=a.generator_url,
                Fingerprint=fingerprint_hex(a.labels),
            )
        )
    return Data(
        Receiver=quote_meta(receiver),
        Status=group_status(alerts, now_ms),
        Alerts=items,
        GroupLabels=KV(group_labels),
        CommonLabels=_common([dict(a.labels) for a in alerts]),
        CommonAnnotations=_common([a.annotations for a in alerts]),
        ExternalURL=external_url,
    )
