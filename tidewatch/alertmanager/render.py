"""The configuration as the status API shows it: the user's ``alertmanager.yml`` with
every secret replaced by ``<secret>``, as Alertmanager shows it."""

from __future__ import annotations

from typing import Any

import yaml

from tidewatch.alertmanager.config import AlertmanagerConfig

SECRET = "<secret>"

# Fields Alertmanager types as Secret or SecretURL, wherever they appear.
_SECRET_FIELDS = frozenset(
    {
        "password",
        "credentials",
        "bearer_token",
        "client_secret",
        "smtp_auth_password",
        "smtp_auth_secret",
        "auth_password",
        "auth_secret",
        "slack_api_url",
        "slack_app_token",
        "app_token",
        "api_url",
        "opsgenie_api_key",
        "api_key",
        "service_key",
        "routing_key",
        "telegram_bot_token",
        "bot_token",
        "wechat_api_secret",
        "api_secret",
        "victorops_api_key",
        "rocketchat_token",
        "rocketchat_token_id",
        "token",
        "token_id",
        "user_key",
        "secret_key",
        "mattermost_webhook_url",
        "webhook_url",
        "alert_source_token",
    }
)
# ``url`` is secret in webhook and incident.io configs only; ``api_url`` only in Slack.
_SECRET_BY_PARENT = {
    "webhook_configs": {"url"},
    "incidentio_configs": {"url"},
    "tls_config": {"key"},
    "smtp_tls_config": {"key"},
}
_PUBLIC_API_URL = {
    "opsgenie_configs",
    "telegram_configs",
    "wechat_configs",
    "victorops_configs",
    "webex_configs",
    "jira_configs",
    "rocketchat_configs",
}


def _mask(value: Any, parent: str) -> Any:
    if isinstance(value, dict):
        out: dict[Any, Any] = {}
        for k, v in value.items():
            key = str(k)
            secret = key in _SECRET_FIELDS or key in _SECRET_BY_PARENT.get(parent, ())
            if key == "api_url" and parent in _PUBLIC_API_URL:
                secret = False
            if secret and v not in (None, ""):
                out[k] = SECRET
            else:
                out[k] = _mask(v, key if isinstance(v, (dict, list)) else parent)
        return out
    if isinstance(value, list):
        return [_mask(v, parent) for v in value]
    return value


def masked_yaml(cfg: AlertmanagerConfig) -> str:
    """The configuration text with secrets masked (the built-in default when none)."""
    if not cfg.source_text:
        return yaml.safe_dump(
            {"route": {"receiver": "default"}, "receivers": [{"name": "default"}]},
            sort_keys=False,
        )
    doc = yaml.load(cfg.source_text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    return yaml.safe_dump(_mask(doc, ""), sort_keys=False, allow_unicode=True, width=1 << 16)
