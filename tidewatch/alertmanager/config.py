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

from tidewatch.alertmanager.globalcfg import (
    DEFAULT_RESOLVE_TIMEOUT_MS,
    GLOBAL_KEYS,
    GlobalConfig,
    apply_global_defaults,
    decode_global,
)
from tidewatch.alertmanager.matchers import MatcherParseError, is_valid_label_name, parse_matchers
from tidewatch.alertmanager.receivers import (
    Receiver,
    decode_receiver,
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
from tidewatch.config.yamlnodes import Ctx, MapView, compose, is_null
from tidewatch.matcher import Matcher, MatchType, RegexError

DEFAULT_GROUP_WAIT_MS = 30_000
DEFAULT_GROUP_INTERVAL_MS = 300_000
DEFAULT_REPEAT_INTERVAL_MS = 4 * 3600_000
__all__ = [
    "DEFAULT_RESOLVE_TIMEOUT_MS",
    "AlertmanagerConfig",
    "GlobalConfig",
    "InhibitRule",
    "RouteConfig",
    "default_config",
    "load_config",
    "load_config_file",
]


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
    cfg.global_ = decode_global(top.map("global", GLOBAL_KEYS))
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


# --- whole-config validation --------------------------------------


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
        apply_global_defaults(ctx.file, cfg.global_, rcv, f"receivers[{i}]")
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
