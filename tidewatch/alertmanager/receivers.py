"""Receivers and their integrations (``webhook_configs``, ``slack_configs`` ...), read
from ``alertmanager.yml`` with Alertmanager's field names and defaults.

The eight integrations tidewatch sends to get typed dataclasses; the others
Alertmanager knows (pushover, victorops, wechat ...) are accepted and kept as plain
mappings in :attr:`Receiver.other_configs`, with secret-looking fields wrapped in
:class:`Secret`, so a real config loads unchanged. Secrets never print.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from yaml.nodes import Node

from tidewatch.config.http_client import HTTP_CLIENT_FIELDS, decode_http_client
from tidewatch.config.model import HTTPClientConfig, Secret, TLSConfig
from tidewatch.config.yamlnodes import Ctx, MapView


def _tpl(name: str) -> str:
    return '{{ template "' + name + '" . }}'


@dataclass
class WebhookConfig:
    send_resolved: bool = True
    http_config: HTTPClientConfig | None = None
    url: Secret | None = None
    url_file: str = ""
    max_alerts: int = 0
    timeout_ms: int = 0


@dataclass
class SlackConfig:
    send_resolved: bool = False
    http_config: HTTPClientConfig | None = None
    api_url: Secret | None = None
    api_url_file: str = ""
    app_token: Secret | None = None
    app_token_file: str = ""
    app_url: str = ""
    channel: str = ""
    username: str = _tpl("slack.default.username")
    color: str = _tpl("slack.default.color")
    title: str = _tpl("slack.default.title")
    title_link: str = _tpl("slack.default.titlelink")
    pretext: str = _tpl("slack.default.pretext")
    text: str = _tpl("slack.default.text")
    message_text: str = ""
    fields: list[dict[str, Any]] = field(default_factory=list)
    short_fields: bool = False
    footer: str = _tpl("slack.default.footer")
    fallback: str = _tpl("slack.default.fallback")
    callback_id: str = _tpl("slack.default.callbackid")
    icon_emoji: str = _tpl("slack.default.iconemoji")
    icon_url: str = _tpl("slack.default.iconurl")
    image_url: str = ""
    thumb_url: str = ""
    link_names: bool = False
    mrkdwn_in: list[str] = field(default_factory=list)
    actions: list[dict[str, Any]] = field(default_factory=list)
    update_message: bool = False
    timeout_ms: int = 0


@dataclass
class PagerdutyConfig:
    send_resolved: bool = True
    http_config: HTTPClientConfig | None = None
    routing_key: Secret | None = None
    routing_key_file: str = ""
    service_key: Secret | None = None
    service_key_file: str = ""
    url: str = ""
    client: str = _tpl("pagerduty.default.client")
    client_url: str = _tpl("pagerduty.default.clientURL")
    description: str = _tpl("pagerduty.default.description")
    details: dict[str, Any] = field(default_factory=dict)
    images: list[dict[str, Any]] = field(default_factory=list)
    links: list[dict[str, Any]] = field(default_factory=list)
    source: str = ""
    severity: str = ""
    class_: str = ""
    component: str = ""
    group: str = ""
    timeout_ms: int = 0


@dataclass
class EmailConfig:
    send_resolved: bool = False
    to: str = ""
    from_: str = ""
    hello: str = ""
    smarthost: str = ""
    auth_username: str = ""
    auth_password: Secret | None = None
    auth_password_file: str = ""
    auth_secret: Secret | None = None
    auth_secret_file: str = ""
    auth_identity: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    html: str = _tpl("email.default.html")
    text: str = ""
    require_tls: bool | None = None
    tls_config: TLSConfig | None = None
    force_implicit_tls: bool | None = None


@dataclass
class MSTeamsConfig:
    send_resolved: bool = True
    http_config: HTTPClientConfig | None = None
    webhook_url: Secret | None = None
    webhook_url_file: str = ""
    title: str = _tpl("msteams.default.title")
    summary: str = _tpl("msteams.default.summary")
    text: str = _tpl("msteams.default.text")


@dataclass
class TelegramConfig:
    send_resolved: bool = True
    http_config: HTTPClientConfig | None = None
    api_url: str = ""
    bot_token: Secret | None = None
    bot_token_file: str = ""
    chat_id: int = 0
    chat_id_file: str = ""
    message_thread_id: int = 0
    message: str = _tpl("telegram.default.message")
    disable_notifications: bool = False
    parse_mode: str = "HTML"


@dataclass
class DiscordConfig:
    send_resolved: bool = True
    http_config: HTTPClientConfig | None = None
    webhook_url: Secret | None = None
    webhook_url_file: str = ""
    content: str = ""
    title: str = _tpl("discord.default.title")
    message: str = _tpl("discord.default.message")
    username: str = ""
    avatar_url: str = ""


@dataclass
class OpsgenieConfig:
    send_resolved: bool = True
    http_config: HTTPClientConfig | None = None
    api_key: Secret | None = None
    api_key_file: str = ""
    api_url: str = ""
    message: str = _tpl("opsgenie.default.message")
    description: str = _tpl("opsgenie.default.description")
    source: str = _tpl("opsgenie.default.source")
    details: dict[str, str] = field(default_factory=dict)
    entity: str = ""
    responders: list[dict[str, Any]] = field(default_factory=list)
    actions: str = ""
    tags: str = ""
    note: str = ""
    priority: str = ""
    update_alerts: bool = False


# Integrations kept as plain mappings, and which of their fields are secrets.
OTHER_INTEGRATIONS: dict[str, frozenset[str]] = {
    "pushover_configs": frozenset({"user_key", "token"}),
    "victorops_configs": frozenset({"api_key"}),
    "wechat_configs": frozenset({"api_secret"}),
    "sns_configs": frozenset({"secret_key"}),
    "webex_configs": frozenset(),
    "msteamsv2_configs": frozenset({"webhook_url"}),
    "jira_configs": frozenset(),
    "rocketchat_configs": frozenset({"token", "token_id"}),
    "mattermost_configs": frozenset({"webhook_url"}),
    "incidentio_configs": frozenset({"url", "alert_source_token"}),
}


@dataclass
class Receiver:
    name: str
    webhook_configs: list[WebhookConfig] = field(default_factory=list)
    slack_configs: list[SlackConfig] = field(default_factory=list)
    pagerduty_configs: list[PagerdutyConfig] = field(default_factory=list)
    email_configs: list[EmailConfig] = field(default_factory=list)
    msteams_configs: list[MSTeamsConfig] = field(default_factory=list)
    telegram_configs: list[TelegramConfig] = field(default_factory=list)
    discord_configs: list[DiscordConfig] = field(default_factory=list)
    opsgenie_configs: list[OpsgenieConfig] = field(default_factory=list)
    other_configs: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    line: int = 0

    def integrations(self) -> list[tuple[str, int, Any]]:
        """``(kind, index, config)`` for every typed integration, in config order."""
        out: list[tuple[str, int, Any]] = []
        for kind in TYPED_KINDS:
            for i, cfg in enumerate(getattr(self, f"{kind}_configs")):
                out.append((kind, i, cfg))
        return out

    def send_resolved_any(self) -> bool:
        """Whether any integration wants resolved notifications (dedup keys off it)."""
        typed = any(cfg.send_resolved for _, _, cfg in self.integrations())
        others = any(
            bool(c.get("send_resolved", True)) for lst in self.other_configs.values() for c in lst
        )
        return typed or others


TYPED_KINDS = (
    "webhook",
    "email",
    "pagerduty",
    "slack",
    "opsgenie",
    "msteams",
    "telegram",
    "discord",
)

# --- decoding ------------------------------------------------------------------

_TLS_KEYS = {
    "ca",
    "ca_file",
    "cert",
    "cert_file",
    "key",
    "key_file",
    "server_name",
    "insecure_skip_verify",
    "min_version",
    "max_version",
}


def secret(view: MapView, key: str) -> Secret | None:
    return Secret(view.string(key)) if view.has(key) else None


def check_url(view: MapView, key: str) -> None:
    """Alertmanager's URL fields take absolute http(s) URLs (templates excepted).
    The error never repeats the value: it may hold a token."""
    if not view.has(key):
        return
    text = view.string(key)
    if "{{" in text:
        return
    try:
        parts = urlsplit(text)
    except ValueError as exc:
        raise view.error(key, f"invalid URL: {exc}") from None
    if parts.scheme not in ("http", "https"):
        raise view.error(key, f"unsupported scheme {parts.scheme!r} for URL")
    if not parts.netloc:
        raise view.error(key, "missing host for URL")


def check_host_port(view: MapView, key: str) -> None:
    """A ``host:port`` field (SMTP smarthosts), as Go's net.SplitHostPort wants it."""
    if not view.has(key):
        return
    hp = view.string(key)
    _, sep, port = hp.rpartition(":")
    if not sep:
        raise view.error(key, f"address {hp}: missing port in address")
    if port == "":
        raise view.error(key, f'address "{hp}": port cannot be empty')


def url_secret(view: MapView, key: str) -> Secret | None:
    check_url(view, key)
    return secret(view, key)


def url_string(view: MapView, key: str, default: str = "") -> str:
    check_url(view, key)
    return view.string(key, default)


def decode_tls(view: MapView) -> TLSConfig:
    """A ``tls_config`` outside ``http_config`` (SMTP's)."""
    for inline, file in (("ca", "ca_file"), ("cert", "cert_file"), ("key", "key_file")):
        if view.has(inline) and view.has(file):
            raise view.error(file, f"at most one of {inline} & {file} must be configured")
    return TLSConfig(
        ca=view.string("ca"),
        ca_file=view.string("ca_file"),
        cert=view.string("cert"),
        cert_file=view.string("cert_file"),
        key=secret(view, "key"),
        key_file=view.string("key_file"),
        server_name=view.string("server_name"),
        insecure_skip_verify=view.boolean("insecure_skip_verify", False),
        min_version=view.string("min_version"),
        max_version=view.string("max_version"),
    )


def decode_http_config(ctx: Ctx, node: Node, path: str) -> HTTPClientConfig:
    """prometheus/common's ``http_config`` block, read by the shared decoder."""
    view = ctx.as_map(node, path, HTTP_CLIENT_FIELDS)
    return decode_http_client(view, _same_path)


def _same_path(p: str) -> str:
    return p


def _http(v: MapView) -> HTTPClientConfig | None:
    if not v.has("http_config"):
        return None
    return decode_http_config(v.ctx, v.node("http_config"), v.path_of("http_config"))


def _raw_list(v: MapView, key: str) -> list[dict[str, Any]]:
    raw = v.raw(key)
    if raw is None:
        return []
    if not isinstance(raw, list) or not all(isinstance(x, dict) for x in raw):
        raise v.error(key, "expected a list of mappings")
    return raw


def _require_one(v: MapView, a: str, b: str) -> None:
    if v.has(a) and v.has(b):
        raise v.error(b, f"at most one of {a} & {b} must be configured")


def decode_webhook(ctx: Ctx, node: Node, path: str) -> WebhookConfig:
    keys = {"send_resolved", "http_config", "url", "url_file", "max_alerts", "timeout", "payload"}
    v = ctx.as_map(node, path, keys)
    _require_one(v, "url", "url_file")
    if not v.has("url") and not v.has("url_file"):
        raise v.error_here("one of url or url_file must be configured")
    return WebhookConfig(
        send_resolved=v.boolean("send_resolved", True),
        http_config=_http(v),
        url=url_secret(v, "url"),
        url_file=v.string("url_file"),
        max_alerts=v.uint("max_alerts"),
        timeout_ms=v.duration("timeout", 0),
    )


def decode_slack(ctx: Ctx, node: Node, path: str) -> SlackConfig:
    d = SlackConfig()
    keys = {
        "send_resolved",
        "http_config",
        "api_url",
        "api_url_file",
        "app_token",
        "app_token_file",
        "app_url",
        "channel",
        "username",
        "color",
        "title",
        "title_link",
        "pretext",
        "text",
        "message_text",
        "fields",
        "short_fields",
        "footer",
        "fallback",
        "callback_id",
        "icon_emoji",
        "icon_url",
        "image_url",
        "thumb_url",
        "link_names",
        "mrkdwn_in",
        "actions",
        "update_message",
        "timeout",
    }
    v = ctx.as_map(node, path, keys)
    _require_one(v, "api_url", "api_url_file")
    return SlackConfig(
        send_resolved=v.boolean("send_resolved", False),
        http_config=_http(v),
        api_url=url_secret(v, "api_url"),
        api_url_file=v.string("api_url_file"),
        app_token=secret(v, "app_token"),
        app_token_file=v.string("app_token_file"),
        app_url=url_string(v, "app_url"),
        channel=v.string("channel"),
        username=v.string("username", d.username),
        color=v.string("color", d.color),
        title=v.string("title", d.title),
        title_link=v.string("title_link", d.title_link),
        pretext=v.string("pretext", d.pretext),
        text=v.string("text", d.text),
        message_text=v.string("message_text"),
        fields=_raw_list(v, "fields"),
        short_fields=v.boolean("short_fields", False),
        footer=v.string("footer", d.footer),
        fallback=v.string("fallback", d.fallback),
        callback_id=v.string("callback_id", d.callback_id),
        icon_emoji=v.string("icon_emoji", d.icon_emoji),
        icon_url=v.string("icon_url", d.icon_url),
        image_url=v.string("image_url"),
        thumb_url=v.string("thumb_url"),
        link_names=v.boolean("link_names", False),
        mrkdwn_in=v.str_list("mrkdwn_in"),
        actions=_raw_list(v, "actions"),
        update_message=v.boolean("update_message", False),
        timeout_ms=v.duration("timeout", 0),
    )


def decode_pagerduty(ctx: Ctx, node: Node, path: str) -> PagerdutyConfig:
    d = PagerdutyConfig()
    keys = {
        "send_resolved",
        "http_config",
        "service_key",
        "service_key_file",
        "routing_key",
        "routing_key_file",
        "url",
        "client",
        "client_url",
        "description",
        "details",
        "images",
        "links",
        "source",
        "severity",
        "class",
        "component",
        "group",
        "timeout",
    }
    v = ctx.as_map(node, path, keys)
    _require_one(v, "routing_key", "routing_key_file")
    _require_one(v, "service_key", "service_key_file")
    has_routing = v.has("routing_key") or v.has("routing_key_file")
    has_service = v.has("service_key") or v.has("service_key_file")
    if not has_routing and not has_service:
        raise v.error_here("missing service or routing key in PagerDuty config")
    if has_routing and has_service:
        raise v.error_here("at most one of service_key & routing_key must be configured")
    details = v.raw("details")
    if details is not None and not isinstance(details, dict):
        raise v.error("details", "expected a mapping")
    return PagerdutyConfig(
        send_resolved=v.boolean("send_resolved", True),
        http_config=_http(v),
        routing_key=secret(v, "routing_key"),
        routing_key_file=v.string("routing_key_file"),
        service_key=secret(v, "service_key"),
        service_key_file=v.string("service_key_file"),
        url=url_string(v, "url"),
        client=v.string("client", d.client),
        client_url=v.string("client_url", d.client_url),
        description=v.string("description", d.description),
        details=details or {},
        images=_raw_list(v, "images"),
        links=_raw_list(v, "links"),
        source=v.string("source"),
        severity=v.string("severity"),
        class_=v.string("class"),
        component=v.string("component"),
        group=v.string("group"),
        timeout_ms=v.duration("timeout", 0),
    )


def decode_email(ctx: Ctx, node: Node, path: str) -> EmailConfig:
    keys = {
        "send_resolved",
        "to",
        "from",
        "hello",
        "smarthost",
        "auth_username",
        "auth_password",
        "auth_password_file",
        "auth_secret",
        "auth_secret_file",
        "auth_identity",
        "headers",
        "html",
        "text",
        "require_tls",
        "tls_config",
        "force_implicit_tls",
        "threading",
    }
    v = ctx.as_map(node, path, keys)
    if v.string("to") == "":
        raise v.error("to", "missing to address in email config")
    check_host_port(v, "smarthost")
    _require_one(v, "auth_password", "auth_password_file")
    _require_one(v, "auth_secret", "auth_secret_file")
    headers: dict[str, str] = {}
    for k, val in v.str_map("headers").items():
        norm = "-".join(p.capitalize() for p in k.split("-"))  # Go's canonical header key
        if norm in headers:
            raise v.error("headers", f"duplicate header {norm!r} in email config")
        headers[norm] = val
    return EmailConfig(
        send_resolved=v.boolean("send_resolved", False),
        to=v.string("to"),
        from_=v.string("from"),
        hello=v.string("hello"),
        smarthost=v.string("smarthost"),
        auth_username=v.string("auth_username"),
        auth_password=secret(v, "auth_password"),
        auth_password_file=v.string("auth_password_file"),
        auth_secret=secret(v, "auth_secret"),
        auth_secret_file=v.string("auth_secret_file"),
        auth_identity=v.string("auth_identity"),
        headers=headers,
        html=v.string("html", EmailConfig.html),
        text=v.string("text"),
        require_tls=v.boolean("require_tls", False) if v.has("require_tls") else None,
        tls_config=decode_tls(v.map("tls_config", _TLS_KEYS)) if v.has("tls_config") else None,
        force_implicit_tls=(
            v.boolean("force_implicit_tls", False) if v.has("force_implicit_tls") else None
        ),
    )


def _webhook_url_pair(v: MapView, what: str) -> None:
    _require_one(v, "webhook_url", "webhook_url_file")
    if not v.has("webhook_url") and not v.has("webhook_url_file"):
        raise v.error_here(f"one of webhook_url or webhook_url_file must be configured ({what})")


def decode_msteams(ctx: Ctx, node: Node, path: str) -> MSTeamsConfig:
    d = MSTeamsConfig()
    keys = {
        "send_resolved",
        "http_config",
        "webhook_url",
        "webhook_url_file",
        "title",
        "summary",
        "text",
    }
    v = ctx.as_map(node, path, keys)
    _webhook_url_pair(v, "msteams")
    return MSTeamsConfig(
        send_resolved=v.boolean("send_resolved", True),
        http_config=_http(v),
        webhook_url=url_secret(v, "webhook_url"),
        webhook_url_file=v.string("webhook_url_file"),
        title=v.string("title", d.title),
        summary=v.string("summary", d.summary),
        text=v.string("text", d.text),
    )


def decode_telegram(ctx: Ctx, node: Node, path: str) -> TelegramConfig:
    d = TelegramConfig()
    keys = {
        "send_resolved",
        "http_config",
        "api_url",
        "bot_token",
        "bot_token_file",
        "chat_id",
        "chat_id_file",
        "message_thread_id",
        "message",
        "disable_notifications",
        "parse_mode",
    }
    v = ctx.as_map(node, path, keys)
    _require_one(v, "bot_token", "bot_token_file")
    _require_one(v, "chat_id", "chat_id_file")
    if not v.has("chat_id") and not v.has("chat_id_file"):
        raise v.error_here("missing chat_id on telegram_config")
    parse_mode = v.string("parse_mode", d.parse_mode)
    if parse_mode not in ("", "Markdown", "MarkdownV2", "HTML"):
        raise v.error(
            "parse_mode",
            "unknown parse_mode on telegram_config, must be Markdown, MarkdownV2, HTML or empty string",
        )
    chat_id = 0
    if v.has("chat_id"):
        chat_id = v.ctx.as_int(v.node("chat_id"), v.path_of("chat_id"), unsigned=False)
    return TelegramConfig(
        send_resolved=v.boolean("send_resolved", True),
        http_config=_http(v),
        api_url=url_string(v, "api_url"),
        bot_token=secret(v, "bot_token"),
        bot_token_file=v.string("bot_token_file"),
        chat_id=chat_id,
        chat_id_file=v.string("chat_id_file"),
        message_thread_id=v.uint("message_thread_id"),
        message=v.string("message", d.message),
        disable_notifications=v.boolean("disable_notifications", False),
        parse_mode=parse_mode,
    )


def decode_discord(ctx: Ctx, node: Node, path: str) -> DiscordConfig:
    d = DiscordConfig()
    keys = {
        "send_resolved",
        "http_config",
        "webhook_url",
        "webhook_url_file",
        "content",
        "title",
        "message",
        "username",
        "avatar_url",
    }
    v = ctx.as_map(node, path, keys)
    _webhook_url_pair(v, "discord")
    return DiscordConfig(
        send_resolved=v.boolean("send_resolved", True),
        http_config=_http(v),
        webhook_url=url_secret(v, "webhook_url"),
        webhook_url_file=v.string("webhook_url_file"),
        content=v.string("content"),
        title=v.string("title", d.title),
        message=v.string("message", d.message),
        username=v.string("username"),
        avatar_url=v.string("avatar_url"),
    )


_OPSGENIE_RESPONDER_TYPES = {"team", "teams", "user", "escalation", "schedule"}


def decode_opsgenie(ctx: Ctx, node: Node, path: str) -> OpsgenieConfig:
    d = OpsgenieConfig()
    keys = {
        "send_resolved",
        "http_config",
        "api_key",
        "api_key_file",
        "api_url",
        "message",
        "description",
        "source",
        "details",
        "entity",
        "responders",
        "actions",
        "tags",
        "note",
        "priority",
        "update_alerts",
    }
    v = ctx.as_map(node, path, keys)
    _require_one(v, "api_key", "api_key_file")
    responders: list[dict[str, Any]] = []
    for item, p in v.seq("responders"):
        r = ctx.as_map(item, p, {"id", "name", "username", "type"})
        if not (r.has("id") or r.has("name") or r.has("username")):
            raise r.error_here(
                "opsGenieConfig responder must have at least an id, a name or an username defined"
            )
        rtype = r.string("type").lower()
        if rtype not in _OPSGENIE_RESPONDER_TYPES and "{{" not in rtype:
            raise r.error(
                "type", f"opsGenieConfig responder {rtype} type does not match valid options"
            )
        responders.append(
            {
                "id": r.string("id"),
                "name": r.string("name"),
                "username": r.string("username"),
                "type": rtype,
            }
        )
    return OpsgenieConfig(
        send_resolved=v.boolean("send_resolved", True),
        http_config=_http(v),
        api_key=secret(v, "api_key"),
        api_key_file=v.string("api_key_file"),
        api_url=url_string(v, "api_url"),
        message=v.string("message", d.message),
        description=v.string("description", d.description),
        source=v.string("source", d.source),
        details=v.str_map("details"),
        entity=v.string("entity"),
        responders=responders,
        actions=v.string("actions"),
        tags=v.string("tags"),
        note=v.string("note"),
        priority=v.string("priority"),
        update_alerts=v.boolean("update_alerts", False),
    )


_DECODERS: dict[str, Any] = {
    "webhook_configs": decode_webhook,
    "slack_configs": decode_slack,
    "pagerduty_configs": decode_pagerduty,
    "email_configs": decode_email,
    "msteams_configs": decode_msteams,
    "telegram_configs": decode_telegram,
    "discord_configs": decode_discord,
    "opsgenie_configs": decode_opsgenie,
}
RECEIVER_KEYS = frozenset({"name", "labels", *_DECODERS, *OTHER_INTEGRATIONS})


_ALWAYS_SECRET = frozenset(
    {"password", "credentials", "bearer_token", "secret_key", "client_secret"}
)


def _hide_secrets(raw: Any, secret_keys: frozenset[str]) -> Any:
    """Wrap secret fields (at any depth: sigv4, http_config ...) in :class:`Secret`."""
    if isinstance(raw, list):
        return [_hide_secrets(v, secret_keys) for v in raw]
    if not isinstance(raw, dict):
        return raw
    out: dict[str, Any] = {}
    for k, val in raw.items():
        if (k in secret_keys or k in _ALWAYS_SECRET) and isinstance(val, str):
            out[k] = Secret(val)
        else:
            out[k] = _hide_secrets(val, secret_keys)
    return out


def decode_receiver(ctx: Ctx, node: Node, path: str) -> Receiver:
    v = ctx.as_map(node, path, RECEIVER_KEYS)
    name = v.string("name")
    if name == "":
        raise v.error_here("missing name in receiver")
    rcv = Receiver(name=name, line=v.line)
    for key, decode in _DECODERS.items():
        what = key[:-1].replace("_", " ")
        setattr(rcv, key, v.list_of(key, functools.partial(decode, ctx), what=what))
    for key, secret_keys in OTHER_INTEGRATIONS.items():
        if v.has(key):
            rcv.other_configs[key] = [_hide_secrets(c, secret_keys) for c in _raw_list(v, key)]
    return rcv
