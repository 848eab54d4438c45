"""Prometheus relabeling: every action, fully-anchored RE2 regexes, Go-style ``$1`` expansion.

Rules are compiled once per config load; :func:`relabel` then runs on target label sets
(per service-discovery update) and on new series (per scrape-cache miss), never per sample.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass

import re2

from tidewatch.config.model import RelabelConfig
from tidewatch.config.relabel import ACTIONS as RELABEL_ACTIONS
from tidewatch.matcher import compile_anchored, regex_predicate

ACTIONS = frozenset(RELABEL_ACTIONS)
_NEEDS_TARGET = frozenset(
    {"replace", "hashmod", "lowercase", "uppercase", "keepequal", "dropequal"}
)
_DEFAULT_REGEX = "(.*)"


class RelabelConfigError(ValueError):
    pass


def is_valid_label_name(name: str) -> bool:
    if not name or not name.isascii() or name[0].isdigit():
        return False
    return name.replace("_", "a").isalnum()


def _is_name_char(c: str) -> bool:
    return c.isascii() and (c.isalnum() or c == "_")


def _parse_template(template: str) -> list[str | int | tuple[str]]:
    """Split a Go ``Regexp.Expand`` template into literals (str) and group refs.

    Group refs are ints for numbers and 1-tuples for named groups, so expansion
    is a cheap loop. ``$1x`` names the (usually missing) group ``1x``, as in Go.
    """
    parts: list[str | int | tuple[str]] = []
    lit: list[str] = []
    i = 0
    n = len(template)
    while i < n:
        c = template[i]
        if c != "$" or i + 1 >= n:
            lit.append(c)
            i += 1
            continue
        nxt = template[i + 1]
        if nxt == "$":
            lit.append("$")
            i += 2
            continue
        if nxt == "{":
            close = template.find("}", i + 2)
            name = template[i + 2 : close] if close >= 0 else ""
            if close < 0 or not name or not all(_is_name_char(ch) for ch in name):
                lit.append("$")
                i += 1
                continue
            end = close + 1
        else:
            end = i + 1
            while end < n and _is_name_char(template[end]):
                end += 1
            name = template[i + 1 : end]
            if not name:
                lit.append("$")
                i += 1
                continue
        if lit:
            parts.append("".join(lit))
            lit = []
        parts.append(int(name) if name.isdigit() else (name,))
        i = end
    if lit:
        parts.append("".join(lit))
    return parts


@dataclass
class CompiledRelabel:
    action: str
    source_labels: tuple[str, ...]
    separator: str
    target_label: str
    replacement: str
    modulus: int
    regex_text: str
    regex: re2._Regexp
    matches: Callable[[str], bool]
    target_template: list[str | int | tuple[str]]
    replacement_template: list[str | int | tuple[str]]
    templated: bool  # target or replacement refers to regex groups
    literal_target: str  # target and replacement with ``$$`` resolved, when not templated
    literal_replacement: str

    def expand(self, template: list[str | int | tuple[str]], m: re2._Match) -> str:
        out: list[str] = []
        for part in template:
            if isinstance(part, str):
                out.append(part)
                continue
            try:
                g = m.group(part if isinstance(part, int) else part[0])
            except (IndexError, KeyError, re2.error):
                g = None
            if g:
                out.append(g)
        return "".join(out)


def compile_one(cfg: RelabelConfig) -> CompiledRelabel:
    action = cfg.action.lower()
    if action not in ACTIONS:
        raise RelabelConfigError(f"unknown relabel action {cfg.action!r}")
    if action in _NEEDS_TARGET and not cfg.target_label:
        raise RelabelConfigError(
            f"relabel configuration for {action} action requires 'target_label' value"
        )
    if action == "hashmod" and cfg.modulus <= 0:
        raise RelabelConfigError("relabel configuration for hashmod requires non-zero modulus")
    if action in ("labeldrop", "labelkeep") and (
        cfg.source_labels or cfg.target_label not in ("",) or cfg.replacement not in ("$1", "")
    ):
        raise RelabelConfigError(f"{action} action requires only 'regex', and no other fields")
    regex_text = cfg.regex if cfg.regex != "" else _DEFAULT_REGEX
    try:
        rx = compile_anchored(regex_text)
    except ValueError as exc:
        raise RelabelConfigError(str(exc)) from None
    target_t = _parse_template(cfg.target_label)
    repl_t = _parse_template(cfg.replacement)
    literal_target = all(isinstance(p, str) for p in target_t)
    if action == "replace" and literal_target and not is_valid_label_name(cfg.target_label):
        raise RelabelConfigError(
            f"{cfg.target_label!r} is invalid 'target_label' for replace action"
        )
    templated = not all(isinstance(p, str) for p in target_t + repl_t)
    return CompiledRelabel(
        action=action,
        source_labels=tuple(cfg.source_labels),
        separator=cfg.separator,
        target_label=cfg.target_label,
        replacement=cfg.replacement,
        modulus=cfg.modulus,
        regex_text=regex_text,
        regex=rx,
        matches=regex_predicate(regex_text),
        target_template=target_t,
        replacement_template=repl_t,
        templated=templated,
        literal_target="".join(p for p in target_t if isinstance(p, str)),
        literal_replacement="".join(p for p in repl_t if isinstance(p, str)),
    )


def compile_relabel(cfgs: list[RelabelConfig]) -> list[CompiledRelabel]:
    return [compile_one(c) for c in cfgs]


def hashmod(value: str, modulus: int) -> int:
    """Prometheus's hashmod: the low 8 bytes of the MD5 sum, big-endian, modulo ``modulus``."""
    digest = hashlib.md5(value.encode(), usedforsecurity=False).digest()
    return int.from_bytes(digest[8:], "big") % modulus


def relabel(labels: dict[str, str], rules: list[CompiledRelabel]) -> dict[str, str] | None:
    """Apply ``rules`` in order to a copy of ``labels``; ``None`` means the set was dropped.

    Labels set to "" are removed, as an empty value means "absent" in Prometheus.
    """
    lb = dict(labels)
    for r in rules:
        action = r.action
        if action in ("labeldrop", "labelkeep", "labelmap"):
            _apply_name_action(lb, r)
            continue
        val = r.separator.join(lb.get(n, "") for n in r.source_labels)
        if action == "replace":
            if not r.templated:
                # No group references: only whether the regex matches matters.
                if not r.matches(val):
                    continue
                target, res = r.literal_target, r.literal_replacement
            else:
                m = r.regex.match(val)
                if m is None:
                    continue
                target = r.expand(r.target_template, m)
                res = r.expand(r.replacement_template, m)
            if not is_valid_label_name(target):
                continue
            if res == "":
                lb.pop(target, None)
            else:
                lb[target] = res
        elif action == "keep":
            if not r.matches(val):
                return None
        elif action == "drop":
            if r.matches(val):
                return None
        elif action == "keepequal":
            if lb.get(r.target_label, "") != val:
                return None
        elif action == "dropequal":
            if lb.get(r.target_label, "") == val:
                return None
        elif action == "hashmod":
            lb[r.target_label] = str(hashmod(val, r.modulus))
        elif action == "lowercase":
            _set(lb, r.target_label, val.lower())
        elif action == "uppercase":
            _set(lb, r.target_label, val.upper())
    return {k: v for k, v in lb.items() if v != ""}


def _set(lb: dict[str, str], name: str, value: str) -> None:
    if value == "":
        lb.pop(name, None)
    else:
        lb[name] = value


def _apply_name_action(lb: dict[str, str], r: CompiledRelabel) -> None:
    if r.action == "labeldrop":
        for name in [n for n in lb if r.matches(n)]:
            del lb[name]
    elif r.action == "labelkeep":
        for name in [n for n in lb if not r.matches(n)]:
            del lb[name]
    else:  # labelmap
        for name, value in list(lb.items()):
            m = r.regex.match(name)
            if m is not None:
                new = r.expand(r.replacement_template, m)
                if new:
                    lb[new] = value
