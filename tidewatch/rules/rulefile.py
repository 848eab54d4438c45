"""Reading and validating rule files in Prometheus's format.

Errors read like Prometheus's (``rulefmt``), because ``promtool check rules`` output
is what users paste into searches: ``FILE: LINE:COL: group "g", rule 1, "name": ...``
for rule problems and ``FILE: yaml: unmarshal errors: ...`` for unknown fields.
Every problem in a file is reported, not only the first.

Loki's ruler reads the same format with LogQL expressions (``language="logql"``):
only metric queries are accepted there, as Loki's ruler accepts only those.
"""

from __future__ import annotations

import glob
import os
from dataclasses import dataclass, field

from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from tidewatch.config.errors import ConfigError
from tidewatch.config.yamlnodes import TAG_BOOL, TAG_INT, TAG_NULL, compose, line_of
from tidewatch.duration import DurationError, parse_duration
from tidewatch.labels import METRIC_NAME
from tidewatch.logs.logql import ast as logql_ast
from tidewatch.logs.logql.parser import ParseError as LogQLParseError
from tidewatch.logs.logql.parser import parse_expr as parse_logql
from tidewatch.promql.ast import Expr
from tidewatch.promql.parser import ParseError, parse_expr
from tidewatch.templating import Template, TemplateError, prometheus_funcs
from tidewatch.templating.prometheus import ALERT_TEMPLATE_DEFS

GROUP_FIELDS = ("name", "interval", "query_offset", "limit", "rules", "labels")
RULE_FIELDS = ("record", "alert", "expr", "for", "keep_firing_for", "labels", "annotations")

_TEMPLATE_FUNCS = prometheus_funcs()

PROMQL = "promql"
LOGQL = "logql"
LANGUAGES = (PROMQL, LOGQL)


class RuleFileError(Exception):
    """One or more problems in rule files; ``errors`` holds Prometheus-style lines."""

    def __init__(self, errors: list[str]) -> None:
        self.errors = errors
        super().__init__("\n".join(errors))


@dataclass
class RuleDef:
    """One rule as written; ``expr_ast`` is the parsed PromQL expression, or for a
    LogQL rule the (validated) text, which the LogQL query function parses."""

    expr: str
    expr_ast: Expr | str
    record: str = ""
    alert: str = ""
    for_ms: int = 0
    keep_firing_for_ms: int = 0
    labels: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)
    language: str = PROMQL

    @property
    def name(self) -> str:
        return self.record or self.alert

    @property
    def is_alert(self) -> bool:
        return bool(self.alert)


@dataclass
class GroupDef:
    name: str
    file: str
    rules: list[RuleDef] = field(default_factory=list)
    interval_ms: int = 0  # 0: the global evaluation_interval
    query_offset_ms: int | None = None  # None: the global rule_query_offset
    limit: int = 0
    labels: dict[str, str] = field(default_factory=dict)
    index: int = 0  # position in its file, for listing groups in file order
    language: str = PROMQL  # "logql" for a Loki ruler file


# --------------------------------------------------------------------- names


def is_valid_label_name(name: str) -> bool:
    if not name or not (name[0].isascii() and (name[0].isalpha() or name[0] == "_")):
        return False
    return all(c.isascii() and (c.isalnum() or c == "_") for c in name)


def is_valid_metric_name(name: str) -> bool:
    if not name or not (name[0].isascii() and (name[0].isalpha() or name[0] in "_:")):
        return False
    return all(c.isascii() and (c.isalnum() or c in "_:") for c in name)


# --------------------------------------------------------------------- reading


class _Reader:
    """Walks one composed file, collecting errors instead of stopping at the first."""

    def __init__(self, file: str, ignore_unknown_fields: bool) -> None:
        self.file = file
        self.ignore_unknown = ignore_unknown_fields
        self.unknown: list[str] = []  # yaml-style "line N: ..." entries
        self.errors: list[str] = []

    def entries(self, node: Node, type_name: str, allowed: tuple[str, ...]) -> dict[str, Node]:
        if not isinstance(node, MappingNode):
            self.unknown.append(
                f"line {line_of(node)}: cannot unmarshal {_kind(node)} into {type_name}"
            )
            return {}
        out: dict[str, Node] = {}
        for key_node, value in node.value:
            key = str(key_node.value) if isinstance(key_node, ScalarNode) else ""
            if key in out:
                self.unknown.append(
                    f'line {line_of(key_node)}: mapping key "{key}" already defined'
                )
                continue
            if key not in allowed:
                if not self.ignore_unknown:
                    self.unknown.append(
                        f"line {line_of(key_node)}: field {key} not found in type {type_name}"
                    )
                continue
            out[key] = value
        return out

    def string(self, node: Node | None) -> str:
        if node is None or (isinstance(node, ScalarNode) and node.tag == TAG_NULL):
            return ""
        if not isinstance(node, ScalarNode) or node.tag == TAG_BOOL:
            self.unknown.append(f"line {line_of(node)}: cannot unmarshal {_kind(node)} into string")
            return ""
        return str(node.value)

    def duration(self, node: Node | None) -> int:
        text = self.string(node)
        if not text:
            return 0
        try:
            return parse_duration(text)
        except DurationError:
            assert node is not None
            self.unknown.append(f'line {line_of(node)}: not a valid duration string: "{text}"')
            return 0

    def int_(self, node: Node | None) -> int:
        if node is None or (isinstance(node, ScalarNode) and node.tag == TAG_NULL):
            return 0
        if not isinstance(node, ScalarNode) or node.tag != TAG_INT:
            self.unknown.append(f"line {line_of(node)}: cannot unmarshal {_kind(node)} into int")
            return 0
        return int(str(node.value).replace("_", ""), 0)

    def str_map(self, node: Node | None) -> dict[str, str]:
        if node is None or (isinstance(node, ScalarNode) and node.tag == TAG_NULL):
            return {}
        if not isinstance(node, MappingNode):
            self.unknown.append(
                f"line {line_of(node)}: cannot unmarshal {_kind(node)} into map[string]string"
            )
            return {}
        return {self.string(k): self.string(v) for k, v in node.value}

    def seq(self, node: Node | None, type_name: str) -> list[Node]:
        if node is None or (isinstance(node, ScalarNode) and node.tag == TAG_NULL):
            return []
        if not isinstance(node, SequenceNode):
            self.unknown.append(
                f"line {line_of(node)}: cannot unmarshal {_kind(node)} into {type_name}"
            )
            return []
        return list(node.value)


def _kind(node: Node) -> str:
    if isinstance(node, MappingNode):
        return "!!map"
    if isinstance(node, SequenceNode):
        return "!!seq"
    return f"!!{str(node.tag).rsplit(':', 1)[-1]} `{node.value}`"


def parse_rule_text(
    text: str, file: str, *, ignore_unknown_fields: bool = False, language: str = PROMQL
) -> list[GroupDef]:
    """Parse and validate one rule file's text; raise :class:`RuleFileError`.
    ``language`` is the expressions' query language: "promql" or "logql"."""
    if language not in LANGUAGES:
        raise ValueError(f"unknown rule language {language!r}")
    try:
        root = compose(text, file)
    except ConfigError as exc:
        raise RuleFileError([f"{file}: {exc.message}"]) from None
    if root is None:
        return []
    r = _Reader(file, ignore_unknown_fields)
    top = r.entries(root, "rulefmt.RuleGroups", ("groups",))
    groups: list[tuple[GroupDef, Node | None, list[tuple[Node, dict[str, Node]]]]] = []
    for gnode in r.seq(top.get("groups"), "[]rulefmt.RuleGroup"):
        g = r.entries(gnode, "rulefmt.RuleGroup", GROUP_FIELDS)
        group = GroupDef(
            name=r.string(g.get("name")),
            file=file,
            interval_ms=r.duration(g.get("interval")),
            limit=r.int_(g.get("limit")),
            labels=r.str_map(g.get("labels")),
            index=len(groups),
            language=language,
        )
        if "query_offset" in g and not _is_null(g["query_offset"]):
            group.query_offset_ms = r.duration(g["query_offset"])
        rules = [
            (rn, r.entries(rn, "rulefmt.Rule", RULE_FIELDS))
            for rn in r.seq(g.get("rules"), "[]rulefmt.Rule")
        ]
        groups.append((group, g.get("name"), rules))
    if r.unknown:
        raise RuleFileError([f"{file}: yaml: unmarshal errors:\n  " + "\n  ".join(r.unknown)])

    errors: list[str] = []
    seen: dict[str, bool] = {}
    out: list[GroupDef] = []
    for group, name_node, rules in groups:
        where = name_node if name_node is not None else None
        pos = f"{line_of(where)}:{where.start_mark.column + 1}: " if where is not None else ""
        if not group.name:
            errors.append(f"{file}: {pos}Groupname must not be empty")
        elif group.name in seen:
            errors.append(f'{file}: {pos}groupname: "{group.name}" is repeated in the same file')
        seen[group.name] = True
        for k, v in group.labels.items():
            errors.extend(_label_errors(file, pos, k, v, f'group "{group.name}"'))
        for idx, (rnode, fields) in enumerate(rules, start=1):
            rule, errs = _read_rule(r, fields, language)
            for node, msg in errs:
                at = node if node is not None else rnode
                errors.append(
                    f"{file}: {line_of(at)}:{at.start_mark.column + 1}: "
                    f'group "{group.name}", rule {idx}, "{rule_name(fields, r)}": {msg}'
                )
            for msg in _template_errors(rule) if rule is not None and not errs else []:
                errors.append(
                    f'{file}: group "{group.name}", rule {idx}, "{rule_name(fields, r)}": {msg}'
                )
            if rule is not None:
                group.rules.append(rule)
        out.append(group)
    if r.unknown:
        errors.insert(0, f"{file}: yaml: unmarshal errors:\n  " + "\n  ".join(r.unknown))
    if errors:
        raise RuleFileError(errors)
    return out


def _is_null(node: Node) -> bool:
    return isinstance(node, ScalarNode) and node.tag == TAG_NULL


def rule_name(fields: dict[str, Node], r: _Reader) -> str:
    return r.string(fields.get("record")) or r.string(fields.get("alert"))


def _label_errors(file: str, pos: str, name: str, value: str, where: str) -> list[str]:
    errs = []
    if not is_valid_label_name(name) or name == METRIC_NAME:
        errs.append(f"{file}: {pos}{where}: invalid label name: {name}")
    return errs


def _read_rule(
    r: _Reader, f: dict[str, Node], language: str = PROMQL
) -> tuple[RuleDef | None, list[tuple[Node | None, str]]]:
    """Rule.Validate: problems with the node they concern (None: the rule itself)."""
    errs: list[tuple[Node | None, str]] = []
    record = r.string(f.get("record"))
    alert = r.string(f.get("alert"))
    expr = r.string(f.get("expr"))
    for_ms = r.duration(f.get("for"))
    keep_ms = r.duration(f.get("keep_firing_for"))
    labels = r.str_map(f.get("labels"))
    annotations = r.str_map(f.get("annotations"))
    if record and alert:
        errs.append((f.get("record"), "only one of 'record' and 'alert' must be set"))
    elif not record and not alert:
        errs.append((None, "one of 'record' or 'alert' must be set"))
    ast: Expr | str | None = None
    if not expr:
        errs.append((f.get("expr"), "field 'expr' must be set in rule"))
    elif language == LOGQL:
        problem = logql_problem(expr)
        if problem:
            errs.append((f.get("expr"), problem))
        else:
            ast = expr
    else:
        try:
            ast = parse_expr(expr)
        except ParseError as exc:
            errs.append((f.get("expr"), f"could not parse expression: {exc}"))
    if record:
        if annotations:
            errs.append((f.get("record"), "invalid field 'annotations' in recording rule"))
        if for_ms:
            errs.append((f.get("record"), "invalid field 'for' in recording rule"))
        if keep_ms:
            errs.append((f.get("record"), "invalid field 'keep_firing_for' in recording rule"))
        if not is_valid_metric_name(record):
            errs.append((f.get("record"), f"invalid recording rule name: {record}"))
    for k in labels:
        if not is_valid_label_name(k) or k == METRIC_NAME:
            errs.append((f.get("labels"), f"invalid label name: {k}"))
    for k in annotations:
        if not is_valid_label_name(k):
            errs.append((f.get("annotations"), f"invalid annotation name: {k}"))
    if errs or ast is None:
        return None, errs
    return (
        RuleDef(
            expr=expr,
            expr_ast=ast,
            record=record,
            alert=alert,
            for_ms=for_ms,
            keep_firing_for_ms=keep_ms,
            labels=labels,
            annotations=annotations,
            language=language,
        ),
        [],
    )


def logql_problem(expr: str) -> str:
    """Why a LogQL rule expression is unusable ("" if it is fine): it must parse and
    be a metric query, since a rule needs samples, not log lines."""
    try:
        parsed = parse_logql(expr)
    except LogQLParseError as exc:
        return f"could not parse expression: {exc}"
    if isinstance(parsed, logql_ast.LogQuery):
        return (
            "could not parse expression: a log query selects lines, not samples; rules "
            'need a metric query, e.g. sum(count_over_time({job="app"} |= "error" [5m]))'
        )
    return ""


def _template_errors(rule: RuleDef) -> list[str]:
    """Alerting rules' label and annotation templates must parse (as Prometheus checks)."""
    if not rule.is_alert:
        return []
    errs: list[str] = []
    name = f"__alert_{rule.alert}"
    for kind, items in (("label", rule.labels), ("annotation", rule.annotations)):
        for k, text in items.items():
            try:
                Template(name, _TEMPLATE_FUNCS, missingkey_zero=True).parse(
                    ALERT_TEMPLATE_DEFS + text
                )
            except TemplateError as exc:
                errs.append(f'{kind} "{k}": {exc}')
    return errs


def parse_rule_file(
    path: str, *, ignore_unknown_fields: bool = False, language: str = PROMQL
) -> list[GroupDef]:
    try:
        with open(path, encoding="utf-8") as fh:
            text = fh.read()
    except OSError as exc:
        raise RuleFileError([f"{path}: {exc.strerror or exc}"]) from None
    except UnicodeDecodeError as exc:
        raise RuleFileError([f"{path}: {exc}"]) from None
    return parse_rule_text(
        text, path, ignore_unknown_fields=ignore_unknown_fields, language=language
    )


def expand_rule_files(patterns: list[str], base_dir: str) -> list[str]:
    """Rule file globs, relative to the config file's directory, sorted like Go's Glob."""
    files: list[str] = []
    for pattern in patterns:
        full = pattern if os.path.isabs(pattern) else os.path.join(base_dir, pattern)
        matched = sorted(glob.glob(full))
        for m in matched:
            if m not in files:
                files.append(m)
    return files


def duplicate_rules(groups: list[GroupDef]) -> list[tuple[str, dict[str, str]]]:
    """Rules with the same name and labels, each once (promtool's lint)."""
    seen: dict[tuple[str, tuple[tuple[str, str], ...]], int] = {}
    for g in groups:
        for rule in g.rules:
            key = (rule.name, tuple(sorted(rule.labels.items())))
            seen[key] = seen.get(key, 0) + 1
    return [(name, dict(lbls)) for (name, lbls), n in sorted(seen.items()) if n > 1]
