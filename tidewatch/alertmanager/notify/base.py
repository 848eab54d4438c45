"""What every integration gets to render and send one notification, and the
interface each implements."""

from __future__ import annotations

from dataclasses import dataclass
from hashlib import sha256
from typing import Protocol

from tidewatch.alertmanager.alert import Alert
from tidewatch.alertmanager.templates import NotificationTemplates, template_data
from tidewatch.labels import Labels
from tidewatch.templating import Data


@dataclass
class NotifyContext:
    receiver: str
    group_key: str
    group_labels: Labels
    alerts: list[Alert]  # what this integration sends (resolved dropped if unwanted)
    data: Data
    templates: NotificationTemplates
    now_ms: int

    @property
    def status(self) -> str:
        return self.data.Status

    def data_for(self, alerts: list[Alert]) -> Data:
        """Template data over a subset of the alerts (webhook ``max_alerts``)."""
        return template_data(
            self.receiver, alerts, self.group_labels, self.templates.external_url, self.now_ms
        )

    def key_hash(self) -> str:
        """The group key's SHA-256 (PagerDuty dedup keys, Opsgenie aliases)."""
        return sha256(self.group_key.encode()).hexdigest()

    def text(self, template: str) -> str:
        return self.templates.execute_text(template, self.data)

    def html(self, template: str) -> str:
        return self.templates.execute_html(template, self.data)


class Integration(Protocol):
    """One configured integration (``slack_configs[0]`` of a receiver)."""

    name: str  # Alertmanager's integration name: "webhook", "slack" ...
    index: int
    send_resolved: bool

    async def notify(self, ctx: NotifyContext) -> None:
        """Send once; raise ``NotifyError`` (``retry`` says whether to try again)."""


def truncate_runes(s: str, n: int) -> str:
    """Alertmanager's ``TruncateInRunes``: cut to ``n`` code points ending in "…"."""
    if len(s) <= n:
        return s
    if n <= 3:
        return s[:n]
    return s[: n - 1] + "…"


def read_secret_file(path: str) -> str:
    with open(path, encoding="utf-8") as f:
        return f.read()
