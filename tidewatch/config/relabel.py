"""Relabel rules (``relabel_configs``, ``metric_relabel_configs``, alert relabeling):
decoding and Prometheus's validation, with its messages. Regexes are checked with
RE2, the engine that will run them."""

from __future__ import annotations

import functools

import re2
from yaml.nodes import Node

from tidewatch.config.model import RelabelConfig
from tidewatch.config.yamlnodes import Ctx, MapView
from tidewatch.matcher import RegexError, compile_anchored

ACTIONS = (
    "replace",
    "keep",
    "drop",
    "keepequal",
    "dropequal",
    "hashmod",
    "labelmap",
    "labeldrop",
    "labelkeep",
    "lowercase",
    "uppercase",
)
_FIELDS = frozenset(
    {"source_labels", "separator", "regex", "modulus", "target_label", "replacement", "action"}
)
_DEFAULT = RelabelConfig()
# A target label that may hold $1 / ${name} references (replace) or a labelmap replacement.
_RELABEL_TARGET = re2.compile(r"^(?:(?:[a-zA-Z_]|\$(?:\{\w+\}|\w+))+\w*)+$")
_NEEDS_TARGET = ("replace", "hashmod", "lowercase", "uppercase", "keepequal", "dropequal")


def is_legacy_label_name(name: str) -> bool:
    """``[a-zA-Z_][a-zA-Z0-9_]*``: the label names Prometheus accepts without UTF-8 mode."""
    if not name or not (name[0] == "_" or (name[0].isascii() and name[0].isalpha())):
        return False
    return all(c == "_" or (c.isascii() and c.isalnum()) for c in name)


def is_valid_label_name(name: str, utf8: bool = False) -> bool:
    return bool(name) if utf8 else is_legacy_label_name(name)


def decode_relabel(ctx: Ctx, node: Node, path: str, *, utf8: bool = False) -> RelabelConfig:
    """Decode and validate one relabel rule."""
    view = ctx.as_map(node, path, _FIELDS)
    action_text = view.string("action", _DEFAULT.action)
    action = action_text.lower()  # Prometheus accepts any case
    if action not in ACTIONS:
        raise view.error("action", f'unknown relabel action "{action_text}"')
    cfg = RelabelConfig(
        source_labels=view.str_list("source_labels"),
        separator=view.string("separator", _DEFAULT.separator),
        regex=view.string("regex", _DEFAULT.regex),
        modulus=view.uint("modulus"),
        target_label=view.string("target_label"),
        replacement=view.string("replacement", _DEFAULT.replacement),
        action=action,
    )
    for i, name in enumerate(cfg.source_labels):
        if not is_valid_label_name(name, utf8):
            raise ctx.error(
                view.node("source_labels").value[i],
                f"{view.path_of('source_labels')}[{i}]",
                f'"{name}" is not a valid label name',
            )
    problem = regex_problem(cfg.regex)
    if problem:
        raise view.error("regex", problem)
    _validate(cfg, view, utf8)
    return cfg


def _validate(cfg: RelabelConfig, view: MapView, utf8: bool) -> None:
    action = cfg.action
    if action == "hashmod" and cfg.modulus == 0:
        raise view.error("modulus", "relabel configuration for hashmod requires non-zero modulus")
    if action in _NEEDS_TARGET and not cfg.target_label:
        raise view.error(
            "action", f"relabel configuration for {action} action requires 'target_label' value"
        )
    if action == "replace" and cfg.target_label:
        ok = bool(cfg.target_label) if utf8 else _RELABEL_TARGET.match(cfg.target_label)
        if not ok:
            raise view.error(
                "target_label",
                f"\"{cfg.target_label}\" is invalid 'target_label' for {action} action",
            )
    if action in ("lowercase", "uppercase", "hashmod", "keepequal", "dropequal") and (
        not is_valid_label_name(cfg.target_label, utf8)
    ):
        raise view.error(
            "target_label", f"\"{cfg.target_label}\" is invalid 'target_label' for {action} action"
        )
    if action == "labelmap" and not (utf8 or _RELABEL_TARGET.match(cfg.replacement)):
        raise view.error(
            "replacement", f"\"{cfg.replacement}\" is invalid 'replacement' for {action} action"
        )
    if action in ("keepequal", "dropequal") and (
        cfg.regex != _DEFAULT.regex
        or cfg.modulus != 0
        or cfg.separator != _DEFAULT.separator
        or cfg.replacement != _DEFAULT.replacement
    ):
        raise view.error(
            "action",
            f"{action} action requires only 'source_labels' and `target_label`, and no other fields",
        )
    if action in ("labeldrop", "labelkeep") and (
        cfg.source_labels
        or cfg.target_label
        or cfg.modulus != 0
        or cfg.separator != _DEFAULT.separator
        or cfg.replacement != _DEFAULT.replacement
    ):
        raise view.error("action", f"{action} action requires only 'regex', and no other fields")


@functools.lru_cache(maxsize=4096)  # configs repeat the same few patterns across jobs
def regex_problem(pattern: str) -> str:
    """ "" if ``pattern`` compiles fully anchored under RE2, else Go's style of message."""
    try:
        compile_anchored(pattern)  # the engine relabeling will use
    except RegexError as exc:
        return str(exc)
    return ""


def decode_relabel_list(ctx: Ctx, view: MapView, key: str, *, utf8: bool) -> list[RelabelConfig]:
    return view.list_of(
        key,
        lambda node, path: decode_relabel(ctx, node, path, utf8=utf8),
        what="relabeling rule",
    )
