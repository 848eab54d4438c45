"""The ``global`` section of ``alertmanager.yml`` and how its settings fill in each
receiver's integrations, with Alertmanager's checks for required settings."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tidewatch.alertmanager.receivers import (
    Receiver,
    check_host_port,
    decode_http_config,
    decode_tls,
    secret,
    url_secret,
    url_string,
)
from tidewatch.config.errors import ConfigError
from tidewatch.config.model import HTTPClientConfig, Secret, TLSConfig
from tidewatch.config.yamlnodes import MapView

DEFAULT_RESOLVE_TIMEOUT_MS = 300_000


@dataclass
class GlobalConfig:
    resolve_timeout_ms: int = DEFAULT_RESOLVE_TIMEOUT_MS
    http_config: HTTPClientConfig = field(default_factory=HTTPClientConfig)
    smtp_from: str = ""
    smtp_hello: str = "localhost"
    smtp_smarthost: str = ""
    smtp_auth_username: str = ""
    smtp_auth_password: Secret | None = None
    smtp_auth_password_file: str = ""
    smtp_auth_secret: Secret | None = None
    smtp_auth_secret_file: str = ""
    smtp_auth_identity: str = ""
    smtp_require_tls: bool = True
    smtp_tls_config: TLSConfig = field(default_factory=TLSConfig)
    smtp_force_implicit_tls: bool | None = None
    slack_api_url: Secret | None = None
    slack_api_url_file: str = ""
    slack_app_token: Secret | None = None
    slack_app_token_file: str = ""
    slack_app_url: str = "https://slack.com/api/chat.postMessage"
    pagerduty_url: str = "https://events.pagerduty.com/v2/enqueue"
    opsgenie_api_url: str = "https://api.opsgenie.com/"
    opsgenie_api_key: Secret | None = None
    opsgenie_api_key_file: str = ""
    telegram_api_url: str = "https://api.telegram.org"
    telegram_bot_token: Secret | None = None
    telegram_bot_token_file: str = ""
    # Settings of integrations kept untyped (wechat, victorops, webex, jira ...).
    other: dict[str, Any] = field(default_factory=dict)


_GLOBAL_TYPED = {
    "resolve_timeout",
    "http_config",
    "smtp_from",
    "smtp_hello",
    "smtp_smarthost",
    "smtp_auth_username",
    "smtp_auth_password",
    "smtp_auth_password_file",
    "smtp_auth_secret",
    "smtp_auth_secret_file",
    "smtp_auth_identity",
    "smtp_require_tls",
    "smtp_tls_config",
    "smtp_force_implicit_tls",
    "slack_api_url",
    "slack_api_url_file",
    "slack_app_token",
    "slack_app_token_file",
    "slack_app_url",
    "pagerduty_url",
    "opsgenie_api_url",
    "opsgenie_api_key",
    "opsgenie_api_key_file",
    "telegram_api_url",
    "telegram_bot_token",
    "telegram_bot_token_file",
}
_GLOBAL_OTHER = {
    "jira_api_url",
    "wechat_api_url",
    "wechat_api_secret",
    "wechat_api_secret_file",
    "wechat_api_corp_id",
    "victorops_api_url",
    "victorops_api_key",
    "victorops_api_key_file",
    "webex_api_url",
    "rocketchat_api_url",
    "rocketchat_token",
    "rocketchat_token_file",
    "rocketchat_token_id",
    "rocketchat_token_id_file",
    "mattermost_webhook_url",
    "mattermost_webhook_url_file",
}
_GLOBAL_SECRETS = {
    "wechat_api_secret",
    "victorops_api_key",
    "rocketchat_token",
    "rocketchat_token_id",
    "mattermost_webhook_url",
}
GLOBAL_KEYS = _GLOBAL_TYPED | _GLOBAL_OTHER


def _at_most_one(v: MapView, a: str, b: str) -> None:
    if v.has(a) and v.has(b):
        raise v.error(b, f"at most one of {a} & {b} must be configured")


def decode_global(v: MapView) -> GlobalConfig:
    d = GlobalConfig()
    for key in sorted(GLOBAL_KEYS):
        if key + "_file" in GLOBAL_KEYS:
            _at_most_one(v, key, key + "_file")
    g = GlobalConfig(
        resolve_timeout_ms=v.duration("resolve_timeout", d.resolve_timeout_ms),
        http_config=(
            decode_http_config(v.ctx, v.node("http_config"), v.path_of("http_config"))
            if v.has("http_config")
            else HTTPClientConfig()
        ),
        smtp_from=v.string("smtp_from"),
        smtp_hello=v.string("smtp_hello", d.smtp_hello),
        smtp_smarthost=v.string("smtp_smarthost"),
        smtp_auth_username=v.string("smtp_auth_username"),
        smtp_auth_password=secret(v, "smtp_auth_password"),
        smtp_auth_password_file=v.string("smtp_auth_password_file"),
        smtp_auth_secret=secret(v, "smtp_auth_secret"),
        smtp_auth_secret_file=v.string("smtp_auth_secret_file"),
        smtp_auth_identity=v.string("smtp_auth_identity"),
        smtp_require_tls=v.boolean("smtp_require_tls", True),
        smtp_tls_config=decode_tls(v.map("smtp_tls_config")),
        smtp_force_implicit_tls=(
            v.boolean("smtp_force_implicit_tls", False)
            if v.has("smtp_force_implicit_tls")
            else None
        ),
        slack_api_url=url_secret(v, "slack_api_url"),
        slack_api_url_file=v.string("slack_api_url_file"),
        slack_app_token=secret(v, "slack_app_token"),
        slack_app_token_file=v.string("slack_app_token_file"),
        slack_app_url=url_string(v, "slack_app_url", d.slack_app_url),
        pagerduty_url=url_string(v, "pagerduty_url", d.pagerduty_url),
        opsgenie_api_url=url_string(v, "opsgenie_api_url", d.opsgenie_api_url),
        opsgenie_api_key=secret(v, "opsgenie_api_key"),
        opsgenie_api_key_file=v.string("opsgenie_api_key_file"),
        telegram_api_url=url_string(v, "telegram_api_url", d.telegram_api_url),
        telegram_bot_token=secret(v, "telegram_bot_token"),
        telegram_bot_token_file=v.string("telegram_bot_token_file"),
    )
    check_host_port(v, "smtp_smarthost")
    for key in _GLOBAL_OTHER:
        if v.has(key):
            g.other[key] = Secret(v.string(key)) if key in _GLOBAL_SECRETS else v.string(key)
    return g


def apply_global_defaults(file: str, g: GlobalConfig, rcv: Receiver, path: str) -> None:
    """Fill integration settings from ``global`` as Alertmanager does, failing where a
    required setting is neither local nor global."""

    def fail(kind: str, i: int, message: str) -> ConfigError:
        return ConfigError(file, rcv.line, f"{path}.{kind}_configs[{i}]", message)

    for cfgs in (
        rcv.webhook_configs,
        rcv.pagerduty_configs,
        rcv.opsgenie_configs,
        rcv.msteams_configs,
        rcv.telegram_configs,
        rcv.discord_configs,
        rcv.slack_configs,
    ):
        for c in cfgs:
            if c.http_config is None:
                c.http_config = g.http_config
    for i, e in enumerate(rcv.email_configs):
        e.smarthost = e.smarthost or g.smtp_smarthost
        if e.smarthost == "":
            raise fail("email", i, "no global SMTP smarthost set")
        e.from_ = e.from_ or g.smtp_from
        if e.from_ == "":
            raise fail("email", i, "no global SMTP from set")
        e.hello = e.hello or g.smtp_hello
        e.auth_username = e.auth_username or g.smtp_auth_username
        if e.auth_password is None and not e.auth_password_file:
            e.auth_password, e.auth_password_file = g.smtp_auth_password, g.smtp_auth_password_file
        if e.auth_secret is None and not e.auth_secret_file:
            e.auth_secret, e.auth_secret_file = g.smtp_auth_secret, g.smtp_auth_secret_file
        e.auth_identity = e.auth_identity or g.smtp_auth_identity
        if e.require_tls is None:
            e.require_tls = g.smtp_require_tls
        if e.tls_config is None:
            e.tls_config = g.smtp_tls_config
        if e.force_implicit_tls is None:
            e.force_implicit_tls = g.smtp_force_implicit_tls
    for i, s in enumerate(rcv.slack_configs):
        s.app_url = s.app_url or g.slack_app_url
        if s.app_token is None and not s.app_token_file and s.api_url is None:
            s.app_token, s.app_token_file = g.slack_app_token, g.slack_app_token_file
        if s.api_url is None and not s.api_url_file:
            s.api_url, s.api_url_file = g.slack_api_url, g.slack_api_url_file
        if (
            s.api_url is None
            and not s.api_url_file
            and s.app_token is None
            and not s.app_token_file
        ):
            raise fail("slack", i, "no Slack API URL nor App token set either inline or in a file")
    for p in rcv.pagerduty_configs:
        p.url = p.url or g.pagerduty_url
    for i, o in enumerate(rcv.opsgenie_configs):
        o.api_url = o.api_url or g.opsgenie_api_url
        if not o.api_url.endswith("/"):
            o.api_url += "/"
        if o.api_key is None and not o.api_key_file:
            o.api_key, o.api_key_file = g.opsgenie_api_key, g.opsgenie_api_key_file
        if o.api_key is None and not o.api_key_file:
            raise fail("opsgenie", i, "no global OpsGenie API Key set either inline or in a file")
    _check_untyped(rcv, g, fail)
    for i, t in enumerate(rcv.telegram_configs):
        t.api_url = t.api_url or g.telegram_api_url
        if t.bot_token is None and not t.bot_token_file:
            t.bot_token, t.bot_token_file = g.telegram_bot_token, g.telegram_bot_token_file
        if t.bot_token is None and not t.bot_token_file:
            raise fail("telegram", i, "missing bot_token or bot_token_file on telegram_config")


def _check_untyped(
    rcv: Receiver, g: GlobalConfig, fail: Callable[[str, int, str], ConfigError]
) -> None:
    """The required-setting checks Alertmanager makes on integrations tidewatch
    keeps untyped, so a config that Alertmanager rejects is rejected here too."""

    def has(c: dict[str, Any], key: str) -> bool:
        return bool(c.get(key)) or bool(c.get(key + "_file"))

    def has_global(key: str) -> bool:
        return bool(g.other.get(key)) or bool(g.other.get(key + "_file"))

    for i, c in enumerate(rcv.other_configs.get("victorops_configs", [])):
        if not has(c, "api_key") and not has_global("victorops_api_key"):
            raise fail("victorops", i, "no global VictorOps API Key set")
    for i, c in enumerate(rcv.other_configs.get("wechat_configs", [])):
        if not has(c, "api_secret") and not has_global("wechat_api_secret"):
            raise fail("wechat", i, "no global Wechat ApiSecret set")
        if not c.get("corp_id") and not g.other.get("wechat_api_corp_id"):
            raise fail("wechat", i, "no global Wechat CorpID set")
    for i, c in enumerate(rcv.other_configs.get("sns_configs", [])):
        if not any(c.get(k) for k in ("target_arn", "topic_arn", "phone_number")):
            raise fail(
                "sns",
                i,
                "must provide either a Target ARN, Topic ARN, or Phone Number for SNS config",
            )
