"""Reading ``alertmanager.yml`` as it is: global settings, templates, the route tree,
inhibit rules, receivers and time intervals, validated as Alertmanager validates
them. Every error names the file, line and field (:class:`ConfigError`); unknown
fields are errors; secrets are :class:`Secret` and never print.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from yaml.nodes import Node

from tidewatch.alertmanager.matchers import MatcherParseError, is_valid_label_name, parse_matchers
from tidewatch.alertmanager.receivers import (
    Receiver,
    check_host_port,
    decode_http_config,
    decode_receiver,
    decode_tls,
    secret,
    url_secret,
    url_string,
)
from tidewatch.alertmanager.timeinterval import (
    NamedTimeInterval,
    TimeInterval,
    TimeIntervalError,
    load_location,
    parse_day_of_month_range,
    parse_month_range,
    parse_time_range,
    parse_weekday_range,
    parse_year_range,
)
from tidewatch.config.errors import ConfigError
from tidewatch.config.model import HTTPClientConfig, Secret, TLSConfig
from tidewatch.config.yamlnodes import Ctx, MapView, compose, is_null
from tidewatch.matcher import Matcher, MatchType, RegexError

DEFAULT_GROUP_WAIT_MS = 30_000
DEFAULT_GROUP_INTERVAL_MS = 300_000
DEFAULT_REPEAT_INTERVAL_MS = 4 * 3600_000
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


@dataclass
class RouteConfig:
    """One node of the route tree as written; ``None`` means "inherit from parent"."""

    receiver: str = ""
    group_by: list[str] | None = None  # None = inherit; ["..."] = group by all labels
    matchers: list[Matcher] = field(default_factory=list)  # match + match_re + matchers
    continue_: bool = False
    group_wait_ms: int | None = None
    group_interval_ms: int | None = None
    repeat_interval_ms: int | None = None
    mute_time_intervals: list[str] = field(default_factory=list)
    active_time_intervals: list[str] = field(default_factory=list)
    routes: list[RouteConfig] = field(default_factory=list)
    line: int = 0


@dataclass
class InhibitRule:
    source_matchers: list[Matcher] = field(default_factory=list)
    target_matchers: list[Matcher] = field(default_factory=list)
    equal: list[str] = field(default_factory=list)
    line: int = 0


@dataclass
class AlertmanagerConfig:
    global_: GlobalConfig = field(default_factory=GlobalConfig)
    route: RouteConfig = field(default_factory=lambda: RouteConfig(receiver="default"))
    inhibit_rules: list[InhibitRule] = field(default_factory=list)
    receivers: list[Receiver] = field(default_factory=lambda: [Receiver(name="default")])
    templates: list[str] = field(default_factory=list)
    time_intervals: dict[str, NamedTimeInterval] = field(default_factory=dict)
    source_path: str = ""
    source_text: str = field(default="", repr=False)

    def receiver(self, name: str) -> Receiver | None:
        for r in self.receivers:
            if r.name == name:
                return r
        return None


def default_config() -> AlertmanagerConfig:
    """What runs when no ``alertmanager.yml`` is given: everything goes to one
    receiver, "default", that has no integrations."""
    return AlertmanagerConfig()


def load_config_file(path: str | Path) -> AlertmanagerConfig:
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(str(p), 0, "", f"cannot read file: {exc.strerror or exc}") from None
    cfg = load_config(text, str(p))
    # Template globs are relative to the config file, as in Alertmanager.
    cfg.templates = [t if Path(t).is_absolute() else str(p.parent / t) for t in cfg.templates]
    cfg.source_path = str(p)
    return cfg


_TOP_KEYS = {
    "global",
    "route",
    "inhibit_rules",
    "receivers",
    "templates",
    "mute_time_intervals",
    "time_intervals",
    "tracing",
}


def load_config(text: str, file: str = "alertmanager.yml") -> AlertmanagerConfig:
    ctx = Ctx(file)
    root = compose(text, file)
    top = ctx.as_map(root, "", _TOP_KEYS) if root is not None else MapView(ctx, None, "", None)
    cfg = AlertmanagerConfig(source_text=text)
    cfg.global_ = _decode_global(top.map("global", _GLOBAL_KEYS))
    cfg.templates = top.str_list("templates")
    cfg.receivers = top.list_of(
        "receivers", lambda n, p: decode_receiver(ctx, n, p), what="receiver"
    )
    cfg.inhibit_rules = top.list_of(
        "inhibit_rules", _make_inhibit_decoder(ctx), what="inhibit rule"
    )
    cfg.time_intervals = _decode_time_intervals(top)
    if not top.has("route"):
        raise top.error_here("no routes provided")
    cfg.route = _decode_route(ctx, top.node("route"), "route")
    _validate(ctx, top, cfg)
    return cfg


# --- global --------------------------------------------------------------------

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
_GLOBAL_KEYS = _GLOBAL_TYPED | _GLOBAL_OTHER


def _at_most_one(v: MapView, a: str, b: str) -> None:
    if v.has(a) and v.has(b):
        raise v.error(b, f"at most one of {a} & {b} must be configured")


def _decode_global(v: MapView) -> GlobalConfig:
    d = GlobalConfig()
    for key in sorted(_GLOBAL_KEYS):
        if key + "_file" in _GLOBAL_KEYS:
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


# --- matchers (new and legacy forms) -------------------------------------------


def _matcher_strings(ctx: Ctx, v: MapView, key: str) -> list[Matcher]:
    out: list[Matcher] = []
    for item, p in v.seq(key):
        text = ctx.as_str(item, p)
        try:
            out.extend(parse_matchers(text))
        except MatcherParseError as exc:
            raise ctx.error(item, p, str(exc)) from None
    return out


def _legacy_matchers(ctx: Ctx, v: MapView, key: str, mtype: MatchType) -> list[Matcher]:
    out: list[Matcher] = []
    sub = v.map(key)
    for name in sub.names():
        path = sub.path_of(name)
        if not is_valid_label_name(name):
            raise ctx.error(sub.key_node(name), path, f"invalid label name {name!r}")
        value_node = sub.node(name)
        if is_null(value_node):
            # Alertmanager: a null match_re value is an error, not "match anything".
            raise ctx.error(value_node, path, "invalid_regex: nil regex")
        value = ctx.as_str(value_node, path)
        try:
            out.append(Matcher(mtype, name, value))
        except RegexError as exc:
            raise ctx.error(value_node, path, str(exc)) from None
    return out


def _all_matchers(ctx: Ctx, v: MapView, prefix: str) -> list[Matcher]:
    return (
        _legacy_matchers(ctx, v, prefix + "match", MatchType.EQUAL)
        + _legacy_matchers(ctx, v, prefix + "match_re", MatchType.REGEX)
        + _matcher_strings(ctx, v, prefix + "matchers")
    )


# --- route -----------------------------------------------------------------------

_ROUTE_KEYS = {
    "receiver",
    "group_by",
    "match",
    "match_re",
    "matchers",
    "mute_time_intervals",
    "active_time_intervals",
    "continue",
    "routes",
    "group_wait",
    "group_interval",
    "repeat_interval",
}


def _decode_route(ctx: Ctx, node: Node, path: str) -> RouteConfig:
    v = ctx.as_map(node, path, _ROUTE_KEYS)
    r = RouteConfig(
        receiver=v.string("receiver"),
        matchers=_all_matchers(ctx, v, ""),
        continue_=v.boolean("continue", False),
        mute_time_intervals=v.str_list("mute_time_intervals"),
        active_time_intervals=v.str_list("active_time_intervals"),
        line=v.line,
    )
    if "group_by" in v.names() and not is_null(v.node("group_by")):
        r.group_by = _decode_group_by(v)
    for key in ("group_wait", "group_interval", "repeat_interval"):
        if v.has(key):
            ms = v.duration(key, 0)
            if ms == 0 and key != "group_wait":
                raise v.error(key, f"{key} cannot be zero")
            setattr(r, key + "_ms", ms)
    r.routes = v.list_of("routes", lambda n, p: _decode_route(ctx, n, p), what="route")
    return r


def _decode_group_by(v: MapView) -> list[str]:
    names = v.str_list("group_by")
    seen: set[str] = set()
    for name in names:
        if name == "...":
            continue
        if not is_valid_label_name(name):
            raise v.error("group_by", f"invalid label name {name!r} in group_by list")
        if name in seen:
            raise v.error("group_by", f"duplicated label {name!r} in group_by")
        seen.add(name)
    if "..." in names and len(names) > 1:
        raise v.error(
            "group_by", "cannot have wildcard group_by (`...`) and other labels at the same time"
        )
    return names


# --- inhibit rules -------------------------------------------------------------------

_INHIBIT_KEYS = {
    "source_match",
    "source_match_re",
    "source_matchers",
    "target_match",
    "target_match_re",
    "target_matchers",
    "equal",
}


def _make_inhibit_decoder(ctx: Ctx) -> Callable[[Node, str], InhibitRule]:
    def decode(node: Node, path: str) -> InhibitRule:
        v = ctx.as_map(node, path, _INHIBIT_KEYS)
        equal = v.str_list("equal")
        for name in equal:
            if not is_valid_label_name(name):
                raise v.error("equal", f"invalid label name {name!r} in equal list")
        return InhibitRule(
            source_matchers=_all_matchers(ctx, v, "source_"),
            target_matchers=_all_matchers(ctx, v, "target_"),
            equal=equal,
            line=v.line,
        )

    return decode


# --- time intervals ------------------------------------------------------------------

_TI_KEYS = {"times", "weekdays", "days_of_month", "months", "years", "location"}


def _decode_time_interval(ctx: Ctx, node: Node, path: str) -> TimeInterval:
    v = ctx.as_map(node, path, _TI_KEYS)
    ti = TimeInterval()

    def ranges(key: str, parse: Callable[[str], Any]) -> list[Any] | None:
        if not v.has(key):
            return None
        out = []
        for item, p in v.seq(key):
            try:
                out.append(parse(ctx.as_str(item, p)))
            except TimeIntervalError as exc:
                raise ctx.error(item, p, str(exc)) from None
        return out

    if v.has("times"):
        ti.times = []
        for item, p in v.seq("times"):
            t = ctx.as_map(item, p, {"start_time", "end_time"})
            try:
                ti.times.append(parse_time_range(t.string("start_time"), t.string("end_time")))
            except TimeIntervalError as exc:
                raise t.error_here(str(exc)) from None
    ti.weekdays = ranges("weekdays", parse_weekday_range)
    ti.days_of_month = ranges("days_of_month", parse_day_of_month_range)
    ti.months = ranges("months", parse_month_range)
    ti.years = ranges("years", parse_year_range)
    if v.has("location"):
        ti.location = v.string("location")
        try:
            load_location(ti.location)
        except TimeIntervalError as exc:
            raise v.error("location", str(exc)) from None
    return ti


def _decode_time_intervals(top: MapView) -> dict[str, NamedTimeInterval]:
    ctx = top.ctx
    out: dict[str, NamedTimeInterval] = {}
    for key, what in (
        ("mute_time_intervals", "mute time interval"),
        ("time_intervals", "time interval"),
    ):
        for item, p in top.seq(key):
            v = ctx.as_map(item, p, {"name", "time_intervals"})
            name = v.string("name")
            if name == "":
                raise v.error_here(f"missing name in {what}")
            if name in out:
                raise v.error("name", f"{what} {name!r} is not unique")
            intervals = v.list_of(
                "time_intervals",
                lambda n, pp: _decode_time_interval(ctx, n, pp),
                what="time interval",
            )
            out[name] = NamedTimeInterval(name, intervals)
    return out


# --- whole-config validation and global defaults --------------------------------------


def _validate(ctx: Ctx, top: MapView, cfg: AlertmanagerConfig) -> None:
    names: set[str] = set()
    for i, rcv in enumerate(cfg.receivers):
        if rcv.name in names:
            raise ConfigError(
                ctx.file,
                rcv.line,
                f"receivers[{i}].name",
                f"notification config name {rcv.name!r} is not unique",
            )
        names.add(rcv.name)
        _apply_global_defaults(ctx, cfg.global_, rcv, f"receivers[{i}]")
    root = cfg.route
    rv = top.map("route")
    if root.receiver == "":
        raise rv.error_here("root route must specify a default receiver")
    if root.matchers:
        raise rv.error_here("root route must not have any matchers")
    if root.mute_time_intervals:
        raise rv.error("mute_time_intervals", "root route must not have any mute time intervals")
    if root.active_time_intervals:
        raise rv.error(
            "active_time_intervals", "root route must not have any active time intervals"
        )
    if root.continue_:
        raise rv.error("continue", "cannot have continue in root route")
    _check_route_refs(ctx, root, "route", names, set(cfg.time_intervals))


def _check_route_refs(
    ctx: Ctx, r: RouteConfig, path: str, receivers: set[str], intervals: set[str]
) -> None:
    for i, child in enumerate(r.routes):
        _check_route_refs(ctx, child, f"{path}.routes[{i}]", receivers, intervals)
    if r.receiver and r.receiver not in receivers:
        raise ConfigError(
            ctx.file, r.line, path + ".receiver", f"undefined receiver {r.receiver!r} used in route"
        )
    for name in [*r.active_time_intervals, *r.mute_time_intervals]:
        if name not in intervals:
            raise ConfigError(
                ctx.file, r.line, path, f"undefined time interval {name!r} used in route"
            )


def _apply_global_defaults(ctx: Ctx, g: GlobalConfig, rcv: Receiver, path: str) -> None:
    """Fill integration settings from ``global`` as Alertmanager does, failing where a
    required setting is neither local nor global."""

    def fail(kind: str, i: int, message: str) -> ConfigError:
        return ConfigError(ctx.file, rcv.line, f"{path}.{kind}_configs[{i}]", message)

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
