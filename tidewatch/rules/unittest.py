"""``promtool test rules``: rule unit tests in Prometheus's file format.

Each test group loads its input series (the ``1+2x3`` notation), evaluates every
rule group from time 0 (or ``start_timestamp``) to the last ``eval_time`` each
``evaluation_interval``, checks firing alerts at each ``alert_rule_test`` time
right after the evaluation that covers it, then runs the ``promql_expr_test``
queries over everything written. Messages and exit codes follow promtool's.
"""

from __future__ import annotations

import datetime as dt
import glob
import math
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TextIO

import re2
from yaml.nodes import Node, ScalarNode

from tidewatch.config.errors import ConfigError
from tidewatch.config.yamlnodes import compose
from tidewatch.duration import format_duration
from tidewatch.gofloat import format_float as go_format_float
from tidewatch.labels import Labels, from_dict
from tidewatch.matcher import MatchType
from tidewatch.promql.engine import Engine, QueryError
from tidewatch.promql.errors import go_labels
from tidewatch.promql.parser import ParseError, parse_metric_selector
from tidewatch.promql.printer import format_float
from tidewatch.promql.promqltest import ScriptError, parse_values
from tidewatch.rules import histnotation
from tidewatch.rules.alerting import AlertingRule, AlertState
from tidewatch.rules.group import Group, GroupOptions
from tidewatch.rules.query import QueryFunc, engine_query_func
from tidewatch.rules.rulefile import GroupDef, RuleFileError, _Reader, parse_rule_file
from tidewatch.rules.teststore import MAX_TIME, UnitTestStorage
from tidewatch.templating import GoDuration

DEFAULT_EVAL_INTERVAL_MS = 60_000

_FILE_FIELDS = ("rule_files", "evaluation_interval", "group_eval_order", "tests", "fuzzy_compare")
_GROUP_FIELDS = (
    "interval",
    "input_series",
    "alert_rule_test",
    "promql_expr_test",
    "external_labels",
    "external_url",
    "name",
    "start_timestamp",
)


class UnitTestError(Exception):
    pass


@dataclass
class InputSeries:
    series: str
    values: str


@dataclass
class ExpAlert:
    labels: dict[str, str]
    annotations: dict[str, str]


@dataclass
class AlertTest:
    eval_time_ms: int
    alertname: str
    exp_alerts: list[ExpAlert]


@dataclass
class ExpSample:
    labels: str
    value: float
    histogram: str = ""


@dataclass
class ExprTest:
    expr: str
    eval_time_ms: int
    exp_samples: list[ExpSample]


@dataclass
class TestGroup:
    interval_ms: int = 0
    input_series: list[InputSeries] = field(default_factory=list)
    alert_tests: list[AlertTest] = field(default_factory=list)
    expr_tests: list[ExprTest] = field(default_factory=list)
    external_labels: dict[str, str] = field(default_factory=dict)
    external_url: str = ""
    name: str = ""
    start_ms: int = 0

    def max_eval_time(self) -> int:
        times = [a.eval_time_ms for a in self.alert_tests] + [
            e.eval_time_ms for e in self.expr_tests
        ]
        return max(times, default=0)


@dataclass
class UnitTestFile:
    rule_files: list[str] = field(default_factory=list)
    evaluation_interval_ms: int = 0
    group_eval_order: list[str] = field(default_factory=list)
    tests: list[TestGroup] = field(default_factory=list)
    fuzzy_compare: bool = False


# --------------------------------------------------------------------- reading


def _parse_time(text: str) -> int:
    """promtool's parseTime: Unix seconds (may be fractional) or RFC 3339."""
    try:
        return round(float(text) * 1000)
    except ValueError:
        pass
    try:
        parsed = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise UnitTestError(f"cannot parse {text!r} to a valid timestamp") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)
    return int(parsed.timestamp() * 1000)


def read_test_file(text: str, file: str) -> UnitTestFile:
    try:
        root = compose(text, file)
    except ConfigError as exc:
        raise UnitTestError(exc.message) from None
    out = UnitTestFile()
    if root is None:
        return out
    r = _Reader(file, False)
    top = r.entries(root, "main.unitTestFile", _FILE_FIELDS)
    out.rule_files = [r.string(n) for n in r.seq(top.get("rule_files"), "[]string")]
    out.evaluation_interval_ms = r.duration(top.get("evaluation_interval"))
    out.group_eval_order = [r.string(n) for n in r.seq(top.get("group_eval_order"), "[]string")]
    fuzzy = top.get("fuzzy_compare")
    out.fuzzy_compare = (
        isinstance(fuzzy, ScalarNode) and fuzzy.tag.endswith(":bool") and fuzzy.value in _TRUE
    )
    for gnode in r.seq(top.get("tests"), "[]main.testGroup"):
        out.tests.append(_read_group(r, gnode))
    if r.unknown:
        raise UnitTestError("yaml: unmarshal errors:\n  " + "\n  ".join(r.unknown))
    return out


_TRUE = {"true", "True", "TRUE", "yes", "Yes", "YES", "on", "On", "ON", "y", "Y"}


def _read_group(r: _Reader, node: Node) -> TestGroup:
    g = r.entries(node, "main.testGroup", _GROUP_FIELDS)
    tg = TestGroup(
        interval_ms=r.duration(g.get("interval")),
        external_labels=r.str_map(g.get("external_labels")),
        external_url=r.string(g.get("external_url")),
        name=r.string(g.get("name")),
    )
    start = r.string(g.get("start_timestamp"))
    if start:
        tg.start_ms = _parse_time(start)
    for sn in r.seq(g.get("input_series"), "[]main.series"):
        s = r.entries(sn, "main.series", ("series", "values"))
        tg.input_series.append(InputSeries(r.string(s.get("series")), r.string(s.get("values"))))
    for an in r.seq(g.get("alert_rule_test"), "[]main.alertTestCase"):
        a = r.entries(an, "main.alertTestCase", ("eval_time", "alertname", "exp_alerts"))
        exp = []
        for en in r.seq(a.get("exp_alerts"), "[]main.alert"):
            e = r.entries(en, "main.alert", ("exp_labels", "exp_annotations"))
            exp.append(
                ExpAlert(r.str_map(e.get("exp_labels")), r.str_map(e.get("exp_annotations")))
            )
        tg.alert_tests.append(
            AlertTest(r.duration(a.get("eval_time")), r.string(a.get("alertname")), exp)
        )
    for pn in r.seq(g.get("promql_expr_test"), "[]main.promqlTestCase"):
        p = r.entries(pn, "main.promqlTestCase", ("expr", "eval_time", "exp_samples"))
        samples = []
        for sn in r.seq(p.get("exp_samples"), "[]main.sample"):
            s = r.entries(sn, "main.sample", ("labels", "value", "histogram"))
            samples.append(
                ExpSample(
                    r.string(s.get("labels")),
                    _float(r, s.get("value")),
                    r.string(s.get("histogram")),
                )
            )
        tg.expr_tests.append(
            ExprTest(r.string(p.get("expr")), r.duration(p.get("eval_time")), samples)
        )
    return tg


def _float(r: _Reader, node: Node | None) -> float:
    text = r.string(node)
    if not text:
        return 0.0
    low = text.lower()
    if low in (".nan",):
        return math.nan
    if low in (".inf", "+.inf"):
        return math.inf
    if low == "-.inf":
        return -math.inf
    try:
        return float(text)
    except ValueError:
        assert node is not None
        r.unknown.append(
            f"line {node.start_mark.line + 1}: cannot unmarshal !!str `{text}` into float64"
        )
        return 0.0


# --------------------------------------------------------------------- formatting


def _indent_lines(text: str, indent: str) -> str:
    return ("\n" + indent).join(text.split("\n"))


def _alerts_string(items: list[tuple[Labels, Labels]]) -> str:
    if not items:
        return "[]"
    parts = []
    for i, (lbls, ann) in enumerate(items):
        body = f"\nLabels:{go_labels(lbls)}\nAnnotations:{go_labels(ann)}"
        parts.append(f"{i}:" + _indent_lines(body, "  "))
    return "[\n" + ",\n".join(parts) + "\n]"


@dataclass
class _Got:
    labels: Labels
    value: float
    histogram: str = ""

    def __str__(self) -> str:
        if self.histogram:
            return f"{go_labels(self.labels)} {self.histogram}"
        return f"{go_labels(self.labels)} {go_format_float(self.value, 'E')}"


def _samples_string(samples: list[_Got]) -> str:
    return ", ".join(str(s) for s in samples) if samples else "nil"


def _floats_equal(a: float, b: float, fuzzy: bool) -> bool:
    if a == b:
        return True
    return fuzzy and (math.nextafter(a, -math.inf) == b or math.nextafter(a, math.inf) == b)


# --------------------------------------------------------------------- running


@dataclass
class RunOptions:
    run: list[str] | None = None
    ignore_unknown_fields: bool = False
    debug: bool = False


def _load_input(tg: TestGroup, store: UnitTestStorage, hstore: histnotation.HistogramStore) -> None:
    interval = tg.interval_ms
    for s in tg.input_series:
        text = s.series.strip()
        try:
            matchers = parse_metric_selector(text)
        except ParseError as exc:
            raise UnitTestError(str(exc)) from None
        d: dict[str, str] = {}
        for m in matchers:
            if m.type is not MatchType.EQUAL:
                raise UnitTestError(f"{text}: only equality matchers are allowed in a series")
            d[m.name] = m.value
        labels = from_dict(d)
        if "{{" in s.values:
            hstore.load(labels, s.values, tg.start_ms, interval)
            continue
        try:
            values = parse_values(s.values)
        except ScriptError as exc:
            raise UnitTestError(f"{text} {s.values}: {exc}") from None
        for i, v in enumerate(values):
            if v is not None:
                store.add(labels, tg.start_ms + i * interval, v)


def _order_groups(groups: list[GroupDef], order: list[str]) -> list[GroupDef]:
    rank = {name: i for i, name in enumerate(order)}
    return sorted(groups, key=lambda g: rank.get(g.name, 0))


def run_test_group(
    tg: TestGroup,
    eval_interval_ms: int,
    rule_files: list[str],
    group_order: list[str],
    *,
    fuzzy: bool,
    ignore_unknown_fields: bool,
    debug_dump: TextIO | None = None,
) -> list[str]:
    store = UnitTestStorage()
    hstore = histnotation.HistogramStore()
    try:
        _load_input(tg, store, hstore)
    except UnitTestError as exc:
        return [str(exc)]
    engine = Engine(default_subquery_step_ms=eval_interval_ms)
    query = engine_query_func(engine, store)

    gdefs: list[GroupDef] = []
    errors: list[str] = []
    for f in rule_files:
        try:
            gdefs.extend(parse_rule_file(f, ignore_unknown_fields=ignore_unknown_fields))
        except RuleFileError as exc:
            errors.extend(exc.errors)
    if errors:
        return errors
    opts = GroupOptions(external_labels=tg.external_labels, external_url=tg.external_url)
    groups = [
        Group(
            g,
            storage=store,
            query=query,
            interval_ms=tg.interval_ms,
            query_offset_ms=0,
            options=opts,
            restore=False,
            log_failures=False,
        )
        for g in _order_groups(gdefs, group_order)
    ]

    mint = tg.start_ms
    maxt = mint + tg.max_eval_time()
    alert_times = sorted({a.eval_time_ms for a in tg.alert_tests})
    for a in tg.alert_tests:
        if not a.alertname:
            where = f" (in TestGroup {tg.name})" if tg.name else ""
            return [
                "an item under alert_rule_test misses required attribute alertname "
                f"at eval_time {format_duration(a.eval_time_ms)}{where}"
            ]
    curr = 0
    ts = mint
    while ts <= maxt:
        store.till = ts
        eval_errors: list[str] = []
        for g in groups:
            g.eval(ts)
            for r in g.rules:
                if r.last_error:
                    since = str(GoDuration((ts) * 1_000_000))
                    eval_errors.append(f"    rule: {r.name}, time: {since}, err: {r.last_error}")
        errors.extend(eval_errors)
        if eval_errors:
            return errors
        while (
            curr < len(alert_times)
            and ts - mint <= alert_times[curr] < ts + eval_interval_ms - mint
        ):
            errors.extend(_check_alerts(tg, groups, alert_times[curr]))
            curr += 1
        ts += eval_interval_ms
    store.till = MAX_TIME

    for case in tg.expr_tests:
        errors.extend(_check_expr(case, query, hstore, mint, fuzzy, engine.lookback_delta_ms))
    if debug_dump is not None:
        _dump(store, mint + tg.max_eval_time(), debug_dump)
    return errors


def _dump(store: UnitTestStorage, until_ms: int, out: TextIO) -> None:
    """``--debug``: every series (input and rule output) up to the last eval time,
    in the layout of Prometheus's matrix String()."""
    # Rounded up to the next second, as promtool queries a whole-second range.
    until = (until_ms // 1000 + 1) * 1000
    print(
        f"DEBUG: Dump of all data (input_series and rules) at {format_duration(until)}:", file=out
    )
    blocks = []
    for s in store.querier().select([], 0, until):
        points = "\n".join(
            f"{format_float(float(v))} @[{int(t)}]" for t, v in zip(s.ts, s.values, strict=True)
        )
        blocks.append(f"{go_labels(s.labels)} =>\n{points}")
    print("\n".join(blocks), file=out)


def _check_alerts(tg: TestGroup, groups: list[Group], t: int) -> list[str]:
    cases = [a for a in tg.alert_tests if a.eval_time_ms == t]
    wanted = {a.alertname for a in cases}
    got: dict[str, list[tuple[Labels, Labels]]] = {}
    for g in groups:
        for r in g.rules:
            if isinstance(r, AlertingRule) and r.name in wanted:
                got.setdefault(r.name, []).extend(
                    (a.labels, a.annotations)
                    for a in r.active_alerts()
                    if a.state == AlertState.FIRING
                )
    errors = []
    for case in cases:
        got_alerts = sorted(got.get(case.alertname, []))
        exp_alerts = sorted(
            (from_dict({**e.labels, "alertname": case.alertname}), from_dict(e.annotations))
            for e in case.exp_alerts
        )
        if got_alerts != exp_alerts:
            name = f"    name: {tg.name},\n" if tg.name else ""
            exp_s = _indent_lines(_alerts_string(exp_alerts), " " * 12)
            got_s = _indent_lines(_alerts_string(got_alerts), " " * 12)
            errors.append(
                f"{name}    alertname: {case.alertname}, time: {format_duration(t)}, \n"
                f"        exp:{exp_s}, \n        got:{got_s}"
            )
    return errors


def _check_expr(
    case: ExprTest,
    query: QueryFunc,
    hstore: histnotation.HistogramStore,
    mint: int,
    fuzzy: bool,
    lookback_ms: int,
) -> list[str]:
    when = format_duration(case.eval_time_ms)
    t = mint + case.eval_time_ms
    head = f"    expr: {_go_quote(case.expr)}, time: {when}"
    try:
        result = query(case.expr, t)
        hist = hstore.instant(case.expr, t, lookback_ms)
    except (QueryError, ParseError) as exc:
        return [f"{head}, err: {exc}"]
    got = [_Got(lbls, v) for lbls, v in result] + [_Got(lbls, 0.0, text) for lbls, text in hist]
    exp: list[_Got] = []
    for s in case.exp_samples:
        try:
            lbls = _parse_metric(s.labels)
            text = histnotation.canonical(s.histogram) if s.histogram else ""
        except (ParseError, UnitTestError, histnotation.HistogramError) as exc:
            return [f"{head}, err: labels {_go_quote(s.labels)}: {exc}"]
        exp.append(_Got(lbls, s.value, text))
    exp.sort(key=lambda s: s.labels)
    got.sort(key=lambda s: s.labels)
    same = len(exp) == len(got) and all(
        e.labels == g.labels
        and e.histogram == g.histogram
        and _floats_equal(e.value, g.value, fuzzy)
        for e, g in zip(exp, got, strict=True)
    )
    if same:
        return []
    return [f"{head},\n        exp: {_samples_string(exp)}\n        got: {_samples_string(got)}"]


def _parse_metric(text: str) -> Labels:
    """Prometheus's ParseMetric: a selector of equality matchers only."""
    if text.strip() in ("", "{}"):
        return ()
    matchers = parse_metric_selector(text)
    d: dict[str, str] = {}
    for m in matchers:
        if m.type is not MatchType.EQUAL:
            raise UnitTestError(f"invalid matcher in {text}")
        d[m.name] = m.value
    return from_dict(d)


def _go_quote(s: str) -> str:
    out = s.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\t", "\\t")
    return f'"{out}"'


def rule_unit_test(path: str, options: RunOptions) -> list[str]:
    """All failures of one test file (empty: it passed)."""
    try:
        with open(path, encoding="utf-8") as fh:
            text = fh.read()
    except OSError as exc:
        return [f"open {path}: {exc.strerror}"]
    try:
        spec = read_test_file(text, path)
    except UnitTestError as exc:
        return [str(exc)]
    base = os.path.dirname(path)
    rule_files: list[str] = []
    for rf in spec.rule_files:
        full = rf if (not rf or os.path.isabs(rf)) else os.path.normpath(os.path.join(base, rf))
        matched = sorted(glob.glob(full))
        if not matched:
            print("  WARNING: no file match pattern", full, file=sys.stderr)
        rule_files.extend(matched)
    eval_interval = spec.evaluation_interval_ms or DEFAULT_EVAL_INTERVAL_MS
    seen: set[str] = set()
    for name in spec.group_eval_order:
        if name in seen:
            return [f"group name repeated in evaluation order: {name}"]
        seen.add(name)
    run_re = re2.compile("|".join(options.run)) if options.run else None
    errors: list[str] = []
    for i, tg in enumerate(spec.tests):
        if run_re is not None and run_re.search(tg.name) is None:
            continue
        if tg.interval_ms == 0:
            tg.interval_ms = eval_interval
        test_name = tg.name or f"unnamed#{i}"
        started = time.perf_counter()
        if options.debug:
            print(f"DEBUG: Starting test {test_name}", file=sys.stderr)
        errors.extend(
            run_test_group(
                tg,
                eval_interval,
                rule_files,
                spec.group_eval_order,
                fuzzy=spec.fuzzy_compare,
                ignore_unknown_fields=options.ignore_unknown_fields,
                debug_dump=sys.stderr if options.debug else None,
            )
        )
        if options.debug:
            took = time.perf_counter() - started
            print(f"DEBUG: Test {test_name} finished, took {took:.3f}s", file=sys.stderr)
    return errors


def run_unit_tests(
    files: list[str],
    options: RunOptions,
    *,
    out: TextIO | None = None,
    err: TextIO | None = None,
    progress: Callable[[str], None] | None = None,
) -> int:
    """promtool's RulesUnitTest: report per file; exit code 1 when anything failed."""
    out = out or sys.stdout
    err = err or sys.stderr
    failed = False
    for f in files:
        print("Unit Testing: ", f, file=out)
        errors = rule_unit_test(f, options)
        if errors:
            print("  FAILED:", file=err)
            for e in errors:
                print(e, file=err)
                print(file=out)
            failed = True
        else:
            print("  SUCCESS", file=out)
        print(file=out)
    return 1 if failed else 0
