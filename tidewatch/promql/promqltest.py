"""A runner for Prometheus's PromQL test language (``load`` / ``clear`` / ``eval``).

It follows Prometheus's ``promqltest`` closely: each instant eval is also re-run
with ``@ <eval time>`` on every selector at several other evaluation times, and
each instant eval (and variant) is re-run as a range query around the eval time,
whose middle step must give the same answer. Cases that need native histograms or
experimental features are reported as not applicable, by category.
"""

from __future__ import annotations

import copy
import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

import re2

from tidewatch.duration import parse_duration
from tidewatch.labels import METRIC_NAME, Labels, format_labels, from_dict
from tidewatch.matcher import MatchType
from tidewatch.promql.ast import (
    AggregateExpr,
    BinaryExpr,
    Call,
    DurationExpr,
    Expr,
    SubqueryExpr,
    VectorSelector,
    children,
    walk,
)
from tidewatch.promql.engine import Engine, QueryError, QueryResult
from tidewatch.promql.histograms import almost_equal
from tidewatch.promql.memstore import MemoryStorage
from tidewatch.promql.parser import ParseError, parse_expr, parse_metric_selector
from tidewatch.promql.values import Matrix, Scalar, String, Vector
from tidewatch.value import STALE_NAN

if TYPE_CHECKING:
    from tidewatch.tsdb.interface import Querier

EPSILON = 1e-6
_PAT_INSTANT = re2.compile(
    r"^eval(?:_(fail|ordered|warn|info))?\s+instant\s+(?:at\s+(.+?))?\s+(.+)$"
)
_PAT_RANGE = re2.compile(
    r"^eval(?:_(fail|warn|info))?\s+range\s+from\s+(.+)\s+to\s+(.+)\s+step\s+(.+?)\s+(.+)$"
)
_PAT_EXPECT = re2.compile(
    r"^expect\s+(ordered|fail|warn|no_warn|info|no_info)(?:\s+(regex|msg):(.+))?$"
)
_PAT_RANGE_VECTOR = re2.compile(r"^expect range vector from\s+(.+?)\s+to\s+(.+?)\s+step\s+(.+)$")
_CONTEXT_FUNCS = re2.compile(r"(start|end|range|step)\(\)")
_AT_UNSAFE = {
    "days_in_month",
    "day_of_month",
    "day_of_week",
    "day_of_year",
    "end",
    "hour",
    "minute",
    "month",
    "year",
    "predict_linear",
    "range",
    "start",
    "step",
    "time",
    "timestamp",
}
_NATIVE_FUNCS = {
    "histogram_count",
    "histogram_sum",
    "histogram_avg",
    "histogram_stddev",
    "histogram_stdvar",
}
_EXPERIMENTAL_AGGS = {"limitk", "limit_ratio"}
# Experimental functions the engine implements; their cases run like any other.
SUPPORTED_EXPERIMENTAL = {
    "sort_by_label",
    "sort_by_label_desc",
    "double_exponential_smoothing",
    "mad_over_time",
    "ts_of_first_over_time",
    "ts_of_last_over_time",
    "ts_of_max_over_time",
    "ts_of_min_over_time",
    "min_of",
    "max_of",
    "limitk",
    "limit_ratio",
    "start",
    "end",
    "range",
    "step",
    "histogram_quantiles",
    "info",
}
SUPPORTED_DURATION_EXPRESSIONS = True

Values = list[float | None]  # None = omitted point


class ScriptError(Exception):
    pass


@dataclass
class Expectation:
    message: str | None = None
    regex: str | None = None

    def matches(self, text: str) -> bool:
        if self.regex is not None:
            # Raw bytes (surrogate escapes) read as U+FFFD, as Go's regexp does.
            data = text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
            return re2.search(self.regex, data) is not None
        return self.message == text

    def __str__(self) -> str:
        return self.regex if self.regex is not None else (self.message or "")


@dataclass
class LoadCmd:
    line: int
    interval_ms: int
    series: list[tuple[Labels, Values]] = field(default_factory=list)
    histogram_series: list[Labels] = field(default_factory=list)
    experimental: bool = False  # @st lines (start timestamps)
    with_nhcb: bool = False


@dataclass
class ClearCmd:
    line: int


@dataclass
class EvalCmd:
    line: int
    expr: str
    is_range: bool
    start: int = 0
    end: int = 0
    step: int = 0
    eval_t: int = 0
    fail: bool = False
    ordered: bool = False
    warn_flag: bool = False
    info_flag: bool = False
    expects: dict[str, list[Expectation]] = field(default_factory=dict)
    expected: dict[Labels, tuple[int, Values]] = field(default_factory=dict)
    expect_scalar: float | None = None
    expected_string: str | None = None
    exclude_from_range: bool = False
    histogram_expectation: bool = False

    @property
    def is_fail(self) -> bool:
        return self.fail or bool(self.expects.get("fail"))

    @property
    def is_ordered(self) -> bool:
        return self.ordered or "ordered" in self.expects


Command = LoadCmd | ClearCmd | EvalCmd


# ------------------------------------------------------------------ parsing


def _split_series(line: str) -> tuple[str, str]:
    """Split ``metric{a="b"} 1 2 3`` into the selector and the values text."""
    i = 0
    in_quote = ""
    depth = 0
    while i < len(line):
        c = line[i]
        if in_quote:
            if c == "\\":
                i += 2
                continue
            if c == in_quote:
                in_quote = ""
        elif c in "\"'`":
            in_quote = c
        elif c == "{":
            depth += 1
        elif c == "}":
            depth -= 1
            if depth == 0:
                return line[: i + 1], line[i + 1 :].strip()
        elif c.isspace() and depth == 0:
            return line[:i], line[i:].strip()
        i += 1
    return line, ""


def parse_labels(selector: str) -> Labels:
    sel = selector.strip()
    if sel.replace(" ", "") == "{}":
        return ()
    try:
        matchers = parse_metric_selector(sel)
    except ParseError as exc:
        raise ScriptError(f"bad series {selector!r}: {exc}") from None
    d: dict[str, str] = {}
    for m in matchers:
        if m.type is not MatchType.EQUAL:
            raise ScriptError(f"bad series {selector!r}: only = matchers allowed")
        d[m.name] = m.value
    return from_dict(d)


_NUM = r"(?:[0-9]*\.?[0-9]+(?:[eE][+-]?[0-9]+)?|[0-9]+\.|[Ii]nf|NaN|nan)"
_ITEM = re2.compile(rf"^([+-]?{_NUM})(?:([+-]{_NUM}))?(?:x([0-9]+))?$")


def _number(text: str) -> float:
    t = text.lower().lstrip("+")
    neg = t.startswith("-")
    body = t.lstrip("-")
    if body.startswith("0x"):
        v = float(int(body, 16))
    elif body == "inf":
        v = math.inf
    elif body == "nan":
        v = math.nan
    else:
        v = float(body)
    return -v if neg else v


def parse_values(text: str) -> Values:
    out: Values = []
    for item in text.split():
        if item == "_":
            out.append(None)
        elif item.startswith("_x"):
            out.extend([None] * int(item[2:]))
        elif item == "stale":
            out.append(STALE_NAN)
        else:
            m = _ITEM.match(item)
            if m is None:
                raise ScriptError(f"bad series value {item!r}")
            base = _number(m.group(1))
            if m.group(3) is None:
                if m.group(2) is not None:
                    raise ScriptError(f"bad series value {item!r}")
                out.append(base)
                continue
            times = int(m.group(3))
            inc = _number(m.group(2)) if m.group(2) else 0.0
            v = base
            for _ in range(times + 1):
                out.append(v)
                v += inc
    return out


def _duration(text: str) -> int:
    return parse_duration(text.strip())


def parse_test(text: str) -> list[Command]:
    raw = text.split("\n")
    lines = []
    for line in raw:
        s = line.strip()
        lines.append("" if s.startswith("#") else s)
    cmds: list[Command] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        if not line:
            i += 1
            continue
        word = line.split()[0].lower()
        if word == "clear":
            cmds.append(ClearCmd(i + 1))
            i += 1
        elif word.startswith("load"):
            i = _parse_load(lines, i, cmds)
        elif word.startswith("eval"):
            i = _parse_eval(lines, i, cmds)
        else:
            raise ScriptError(f"line {i + 1}: invalid command {line!r}")
    return cmds


def _parse_load(lines: list[str], i: int, cmds: list[Command]) -> int:
    parts = lines[i].split()
    cmd = LoadCmd(i + 1, _duration(parts[1]), with_nhcb=parts[0] == "load_with_nhcb")
    i += 1
    while i < len(lines) and lines[i]:
        sel, vals = _split_series(lines[i])
        if sel.endswith("@st") or vals.startswith("@st"):
            cmd.experimental = True
        elif "{{" in vals:
            cmd.histogram_series.append(parse_labels(sel))
        else:
            cmd.series.append((parse_labels(sel), parse_values(vals)))
        i += 1
    cmds.append(cmd)
    return i


def _parse_eval(lines: list[str], i: int, cmds: list[Command]) -> int:
    header = lines[i]
    mi = _PAT_INSTANT.match(header)
    mr = _PAT_RANGE.match(header)
    if mi is not None:
        mod, at, expr = mi.group(1), mi.group(2), mi.group(3)
        t = _duration(at)
        cmd = EvalCmd(i + 1, expr, False, t, t, 0, t)
    elif mr is not None:
        mod = mr.group(1)
        cmd = EvalCmd(
            i + 1,
            mr.group(5),
            True,
            _duration(mr.group(2)),
            _duration(mr.group(3)),
            _duration(mr.group(4)),
        )
    else:
        raise ScriptError(f"line {i + 1}: invalid eval command")
    cmd.fail = mod == "fail"
    cmd.ordered = mod == "ordered"
    cmd.warn_flag = mod == "warn"
    cmd.info_flag = mod == "info"
    pos = 0
    i += 1
    while i < len(lines) and lines[i]:
        line = lines[i]
        i += 1
        if cmd.fail and line.startswith("expected_fail_message"):
            msg = line[len("expected_fail_message") :].strip()
            cmd.expects.setdefault("fail", []).append(Expectation(message=msg))
            break
        if cmd.fail and line.startswith("expected_fail_regexp"):
            rx = line[len("expected_fail_regexp") :].strip()
            cmd.expects.setdefault("fail", []).append(Expectation(regex=rx))
            break
        if line.startswith("expect range vector"):
            m = _PAT_RANGE_VECTOR.match(line)
            if m is None:
                raise ScriptError(f"line {i}: bad range vector expectation")
            cmd.start, cmd.end, cmd.step = (_duration(m.group(k)) for k in (1, 2, 3))
            cmd.eval_t = cmd.end
            cmd.exclude_from_range = True
            pos += 1
            continue
        if line.startswith("expect string"):
            cmd.expected_string = _unquote(line[len("expect string") :].strip())
            cmd.exclude_from_range = True
            pos += 1
            continue
        if line.split(" ")[0] == "expect":
            m = _PAT_EXPECT.match(line)
            if m is None:
                raise ScriptError(f"line {i}: invalid expect statement")
            kind, mtype, text = m.group(1), m.group(2), m.group(3)
            if mtype == "msg":
                exp = Expectation(message=text.strip())
            elif mtype == "regex":
                exp = Expectation(regex=text.strip())
            else:
                exp = Expectation(regex="^.*$")
            cmd.expects.setdefault(kind, []).append(exp)
            continue
        try:
            cmd.expect_scalar = _number(line)
            break
        except ValueError:
            pass
        sel, vals = _split_series(line)
        pos += 1
        if "{{" in vals:
            cmd.histogram_expectation = True
            continue
        cmd.expected[parse_labels(sel)] = (pos, parse_values(vals))
    cmds.append(cmd)
    return i


def _unquote(text: str) -> str:
    if len(text) >= 2 and text[0] == text[-1] and text[0] in '"`':
        if text[0] == "`":
            return text[1:-1]
        return bytes(text[1:-1], "utf-8").decode("unicode_escape")
    raise ScriptError(f"bad string literal {text!r}")


# ------------------------------------------------------------------ classification


def _experimental_reason(expr: Expr) -> str | None:
    for node in walk(expr):
        if isinstance(node, Call):
            if node.func.name in _NATIVE_FUNCS:
                return "native histograms"
            if node.func.experimental and node.func.name not in SUPPORTED_EXPERIMENTAL:
                return f"experimental function {node.func.name}"
        elif (
            isinstance(node, AggregateExpr)
            and node.op in _EXPERIMENTAL_AGGS - SUPPORTED_EXPERIMENTAL
        ):
            return f"experimental aggregation {node.op}"
        elif isinstance(node, DurationExpr) and not SUPPORTED_DURATION_EXPRESSIONS:
            return "experimental duration expressions"
        elif isinstance(node, BinaryExpr) and node.op in ("</", ">/"):
            return "native histograms"
    return None


def _touches(expr: Expr, series: list[Labels]) -> bool:
    if not series:
        return False
    for node in walk(expr):
        if isinstance(node, VectorSelector):
            for lbls in series:
                if all(m.matches_labels(lbls) for m in node.matchers):
                    return True
    return False


# ------------------------------------------------------------------ running


@dataclass
class FileReport:
    name: str
    passed: int = 0
    failed: list[tuple[int, str, str]] = field(default_factory=list)
    not_applicable: Counter[str] = field(default_factory=Counter)

    def summary(self) -> str:
        na = sum(self.not_applicable.values())
        cats = ", ".join(f"{k} {v}" for k, v in sorted(self.not_applicable.items()))
        return (
            f"{self.name}: passed {self.passed}, failed {len(self.failed)}, "
            f"not-applicable {na}" + (f" ({cats})" if cats else "")
        )


class CaseFailure(Exception):
    pass


class ScriptStorage(Protocol):
    """What the runner needs from a store: bulk load, wipe, and a read view."""

    def add_many(self, labels: Labels, ts: Sequence[int], values: Sequence[float]) -> None: ...

    def clear(self) -> None: ...

    def querier(self) -> Querier: ...


class ScriptRunner:
    def __init__(self, engine: Engine | None = None, storage: ScriptStorage | None = None) -> None:
        self.engine = engine or Engine(lookback_delta_ms=300_000, timeout_ms=100_000)
        self.storage: ScriptStorage = storage if storage is not None else MemoryStorage()
        self.hist_series: list[Labels] = []
        self.experimental_data = False

    def run_file(self, name: str, text: str) -> FileReport:
        report = FileReport(name)
        for cmd in parse_test(text):
            if isinstance(cmd, ClearCmd):
                self.storage.clear()
                self.hist_series = []
                self.experimental_data = False
            elif isinstance(cmd, LoadCmd):
                self._load(cmd)
            else:
                reason = self._not_applicable(cmd)
                if reason is not None:
                    report.not_applicable[reason] += 1
                    continue
                try:
                    self.run_eval(cmd)
                    report.passed += 1
                except CaseFailure as exc:
                    report.failed.append((cmd.line, cmd.expr, str(exc)))
                except Exception as exc:  # an engine crash is a failed case, not a runner crash
                    report.failed.append((cmd.line, cmd.expr, f"{type(exc).__name__}: {exc}"))
        return report

    def _load(self, cmd: LoadCmd) -> None:
        if cmd.experimental:
            self.experimental_data = True
        self.hist_series.extend(cmd.histogram_series)
        if cmd.with_nhcb:
            # The NHCB copies are native histograms named after the base metric.
            for lbls, _ in cmd.series:
                name = dict(lbls).get(METRIC_NAME, "")
                for suffix in ("_bucket", "_count", "_sum"):
                    if name.endswith(suffix):
                        base = dict(lbls)
                        base[METRIC_NAME] = name[: -len(suffix)]
                        base.pop("le", None)
                        self.hist_series.append(from_dict(base))
        # A series defined twice in one load keeps its last definition, as upstream.
        for lbls, values in dict(cmd.series).items():
            ts = [i * cmd.interval_ms for i, v in enumerate(values) if v is not None]
            vals = [v for v in values if v is not None]
            self.storage.add_many(lbls, ts, vals)

    def _not_applicable(self, cmd: EvalCmd) -> str | None:
        if cmd.histogram_expectation:
            return "native histograms"
        try:
            expr = parse_expr(cmd.expr)
        except ParseError:
            return None
        reason = _experimental_reason(expr)
        if reason is not None:
            return "native histograms" if reason == "native histograms" else "experimental"
        if _touches(expr, self.hist_series):
            return "native histograms"
        if self.experimental_data:
            return "experimental"
        return None

    # -------------------------------------------------------------- one eval

    def run_eval(self, cmd: EvalCmd) -> None:
        q = self.storage.querier()
        if cmd.is_range:
            try:
                res = self.engine.range_query(q, cmd.expr, cmd.start, cmd.end, cmd.step)
            except QueryError as exc:
                if cmd.is_fail:
                    self._check_failure(cmd, exc)
                    return
                raise CaseFailure(f"error evaluating range query: {exc}") from None
            if cmd.is_fail:
                raise CaseFailure("expected error but got none")
            self._check_annotations(cmd, res)
            self._compare(cmd, res.value)
            return
        try:
            base = parse_expr(cmd.expr)
        except ParseError as exc:
            if cmd.is_fail:
                self._check_failure(cmd, QueryError("bad_data", str(exc)))
                return
            raise CaseFailure(f"parse error: {exc}") from None
        variants: list[tuple[Expr, int]] = [(base, cmd.eval_t)]
        variants.extend(_at_variants(base, cmd.eval_t))
        for expr, t in variants:
            self._run_instant(cmd, expr, t)

    def _run_instant(self, cmd: EvalCmd, expr: Expr, t: int) -> None:
        q = self.storage.querier()
        try:
            res = self.engine.instant_query(q, copy.deepcopy(expr), t, query_text=cmd.expr)
        except QueryError as exc:
            if cmd.is_fail:
                self._check_failure(cmd, exc)
                return
            raise CaseFailure(f"error evaluating query at {t}: {exc}") from None
        if cmd.is_fail:
            raise CaseFailure(f"expected error evaluating query at {t} but got none")
        self._check_annotations(cmd, res)
        self._compare(cmd, res.value)
        if cmd.exclude_from_range or _CONTEXT_FUNCS.search(cmd.expr):
            return
        try:
            rres = self.engine.range_query(q, copy.deepcopy(expr), t - 60_000, t + 60_000, 60_000)
        except QueryError as exc:
            raise CaseFailure(f"error evaluating query at {t} in range mode: {exc}") from None
        if cmd.is_ordered:
            return
        assert isinstance(rres.value, Matrix)
        samples = []
        for s in rres.value.series:
            hit = (s.ts == t).nonzero()[0]
            if len(hit):
                samples.append((s.labels, float(s.values[hit[0]])))
        if isinstance(res.value, Scalar):
            if not samples:
                raise CaseFailure("range mode returned no scalar point")
            self._compare(cmd, Scalar(t, samples[0][1]), where=" (range mode)")
        else:
            from tidewatch.promql.values import Sample

            self._compare(
                cmd, Vector([Sample(lbls, t, v) for lbls, v in samples]), where=" (range mode)"
            )

    def _check_failure(self, cmd: EvalCmd, exc: QueryError) -> None:
        for exp in cmd.expects.get("fail", [])[:1]:
            if not exp.matches(str(exc)):
                raise CaseFailure(f"expected error matching {exp!s} but got: {exc}")

    def _check_annotations(self, cmd: EvalCmd, res: QueryResult) -> None:
        warnings, infos = res.warnings, res.infos
        if cmd.warn_flag and not warnings:
            raise CaseFailure("expected warnings but got none")
        if cmd.info_flag and not infos:
            raise CaseFailure("expected info annotations but got none")
        for kind, actual in (("warn", warnings), ("info", infos)):
            expected = cmd.expects.get(kind, [])
            if not expected:
                continue
            if not actual:
                raise CaseFailure(f"expected {kind} annotations but none were found")
            for e in expected:
                if not any(e.matches(a) for a in actual):
                    raise CaseFailure(f"expected {kind} annotation matching {e!s}, found: {actual}")
            for a in actual:
                if not any(e.matches(a) for e in expected):
                    raise CaseFailure(f"unexpected {kind} annotation {a!r}")
        if "no_warn" in cmd.expects and warnings:
            raise CaseFailure(f"unexpected warning annotations: {warnings}")
        if "no_info" in cmd.expects and infos:
            raise CaseFailure(f"unexpected info annotations: {infos}")

    def _compare(self, cmd: EvalCmd, value: object, where: str = "") -> None:
        if isinstance(value, String):
            if cmd.expected_string != value.value:
                raise CaseFailure(
                    f'expected string "{cmd.expected_string}" but got "{value.value}"'
                )
            return
        if isinstance(value, Scalar):
            if cmd.expect_scalar is None:
                raise CaseFailure(
                    f"expected vector or matrix result, but got scalar {value.value}{where}"
                )
            if not almost_equal(cmd.expect_scalar, value.value, EPSILON):  # type: ignore[arg-type]
                raise CaseFailure(
                    f"expected scalar {cmd.expect_scalar} but got {value.value}{where}"
                )
            return
        if cmd.expect_scalar is not None:
            raise CaseFailure(f"expected scalar result, but got {type(value).__name__}{where}")
        if isinstance(value, Vector):
            seen = set()
            for i, s in enumerate(value.samples):
                exp = cmd.expected.get(s.labels)
                if exp is None:
                    raise CaseFailure(
                        f"unexpected metric {format_labels(s.labels)} in result, has value {s.value}{where}"
                    )
                if cmd.is_ordered and exp[0] != i + 1:
                    raise CaseFailure(
                        f"expected metric {format_labels(s.labels)} at position {exp[0]} but was at {i + 1}"
                    )
                ev = exp[1][0] if exp[1] else None
                if ev is None or not almost_equal(ev, s.value, EPSILON):  # type: ignore[arg-type]
                    raise CaseFailure(
                        f"expected {ev} for {format_labels(s.labels)} but got {s.value}{where}"
                    )
                seen.add(s.labels)
            for lbls in cmd.expected:
                if lbls not in seen:
                    raise CaseFailure(f"expected metric {format_labels(lbls)} not found{where}")
            return
        if isinstance(value, Matrix):
            if cmd.is_ordered:
                raise CaseFailure("expected ordered result, but query returned a matrix")
            labels = [s.labels for s in value.series]
            if labels != sorted(labels):
                raise CaseFailure("matrix results should always be sorted by labels")
            seen = set()
            for ms in value.series:
                exp = cmd.expected.get(ms.labels)
                if exp is None:
                    raise CaseFailure(
                        f"unexpected metric {format_labels(ms.labels)} in result{where}"
                    )
                seen.add(ms.labels)
                exp_t, exp_v = [], []
                for i, v in enumerate(exp[1]):
                    t = cmd.start + i * cmd.step
                    if t > cmd.end and cmd.step > 0:
                        raise CaseFailure("expected more points than the time range can return")
                    if v is not None:
                        exp_t.append(t)
                        exp_v.append(v)
                if len(exp_t) != len(ms.ts):
                    raise CaseFailure(
                        f"expected {len(exp_t)} points for {format_labels(ms.labels)}, got "
                        f"{list(zip(ms.ts.tolist(), ms.values.tolist(), strict=True))}{where}"
                    )
                for t_e, v_e, t_a, v_a in zip(
                    exp_t, exp_v, ms.ts.tolist(), ms.values.tolist(), strict=True
                ):
                    if t_e != t_a:
                        raise CaseFailure(
                            f"expected timestamp {t_e} for {format_labels(ms.labels)}, got {t_a}"
                        )
                    if not almost_equal(v_e, v_a, EPSILON):  # type: ignore[arg-type]
                        raise CaseFailure(
                            f"expected {v_e} at t={t_a} for {format_labels(ms.labels)}, got {v_a}{where}"
                        )
            for lbls in cmd.expected:
                if lbls not in seen:
                    raise CaseFailure(f"expected metric {format_labels(lbls)} not found{where}")
            return
        raise CaseFailure(f"unexpected result type {type(value).__name__}")


def _at_variants(expr: Expr, t: int) -> list[tuple[Expr, int]]:
    """Prometheus's ``atModifierTestCases``: ``@ t`` on every selector (not inside
    a subquery that has ``@``) evaluated at other times; none for time-dependent
    functions."""
    for node in walk(expr):
        if isinstance(node, Call) and node.func.name in _AT_UNSAFE:
            return []
    modified = copy.deepcopy(expr)
    _set_at(modified, t)
    times = [-1000, 0, 1000] if t == 0 else [-10 * t, 0, int(t / 5), t, 10 * t]
    return [(modified, et) for et in times]


def _set_at(node: Expr, t: int) -> None:
    if isinstance(node, VectorSelector | SubqueryExpr):
        # An explicit timestamp wins over @ start()/end() when Prometheus reprints it.
        if node.at_ms is None:
            node.at_ms = t
            node.at_modifier = None
        if isinstance(node, SubqueryExpr):
            return
        return
    for child in children(node):
        _set_at(child, t)
