"""PromQL back to text: the canonical one-line form, the prettified form, and JSON.

:func:`format_expr` matches Prometheus's ``String()`` (used in error messages, rule
files and tests), :func:`prettify` its ``Prettify`` (``/api/v1/format_query``), and
:func:`ast_to_json` the tree ``/api/v1/parse_query`` returns.
"""

from __future__ import annotations

from typing import Any

from tidewatch import gofloat
from tidewatch.duration import format_duration
from tidewatch.matcher import Matcher
from tidewatch.promql.ast import (
    AggregateExpr,
    BinaryExpr,
    Call,
    Cardinality,
    DurationExpr,
    DurationOperand,
    Expr,
    MatrixSelector,
    NumberLiteral,
    ParenExpr,
    StepInvariantExpr,
    StringLiteral,
    SubqueryExpr,
    UnaryExpr,
    VectorSelector,
)
from tidewatch.promql.lexer import go_quote

__all__ = ["MAX_LINE_WIDTH", "ast_to_json", "format_duration_ms", "format_expr", "prettify"]

MAX_LINE_WIDTH = 100
_INDENT = "  "


def format_duration_ms(ms: int) -> str:
    """Prometheus's ``model.Duration.String`` (the project's one duration printer)."""
    return format_duration(ms)


def format_float(value: float) -> str:
    """Go's ``strconv.FormatFloat(v, 'f', -1, 64)``: shortest digits, no exponent."""
    return gofloat.format_float(value, "f")


def format_float_v(value: float) -> str:
    """Go's ``%v`` for a float64: shortest digits, exponent form below 1e-4 or from 1e6."""
    return gofloat.format_float_v(value)


def _label_name(name: str) -> str:
    """Label names that are not legacy identifiers are quoted (UTF-8 names)."""
    legacy = name[:1] == "_" or (name[:1].isascii() and name[:1].isalpha())
    if legacy and all(c == "_" or (c.isascii() and c.isalnum()) for c in name):
        return name
    return go_quote(name)


def _labels(names: list[str]) -> str:
    return ", ".join(_label_name(n) for n in names)


def _matcher(m: Matcher) -> str:
    return f"{_label_name(m.name)}{m.type.value}{go_quote(m.value)}"


def _offset_at(
    original_offset_ms: int,
    offset_expr: DurationExpr | None,
    at_ms: int | None,
    at_modifier: str | None,
) -> tuple[str, str]:
    if offset_expr is not None:
        offset = " offset " + _duration(offset_expr)
    elif original_offset_ms > 0:
        offset = " offset " + format_duration_ms(original_offset_ms)
    elif original_offset_ms < 0:
        offset = " offset -" + format_duration_ms(-original_offset_ms)
    else:
        offset = ""
    if at_ms is not None:
        at = f" @ {at_ms / 1000.0:.3f}"
    elif at_modifier is not None:
        at = f" @ {at_modifier}()"
    else:
        at = ""
    return at, offset


def _selector_core(vs: VectorSelector) -> str:
    parts = sorted(
        _matcher(m)
        for m in vs.matchers
        if not (m.name == "__name__" and m.type.value == "=" and m.value == vs.name and m.value)
    )
    name = vs.name or ""
    return name + ("{" + ",".join(parts) + "}" if parts else "")


def _extended(vs: VectorSelector) -> str:
    if vs.anchored:
        return " anchored"
    if vs.smoothed:
        return " smoothed"
    return ""


def _duration(expr: DurationOperand) -> str:
    if isinstance(expr, NumberLiteral):
        return _number(expr)
    op = expr.op
    if op in ("step", "range"):
        text = f"{op}()"
    elif op in ("min_of", "max_of"):
        assert expr.lhs is not None and expr.rhs is not None
        text = f"{op}({_duration(expr.lhs)}, {_duration(expr.rhs)})"
    elif expr.lhs is None:
        assert expr.rhs is not None
        text = ("-" if op == "-" else "") + _duration(expr.rhs)
    else:
        assert expr.rhs is not None
        text = f"{_duration(expr.lhs)} {op} {_duration(expr.rhs)}"
    return f"({text})" if expr.wrapped else text


def _number(node: NumberLiteral) -> str:
    if node.duration:
        ms = round(node.value * 1000)
        return "-" + format_duration_ms(-ms) if node.value < 0 else format_duration_ms(ms)
    return format_float(node.value)


def _matching(node: BinaryExpr) -> str:
    vm = node.matching
    if vm is None:
        return ""
    out = ""
    grouped = vm.card in (Cardinality.MANY_TO_ONE, Cardinality.ONE_TO_MANY)
    if vm.matching_labels or vm.on or grouped:
        out = f" {'on' if vm.on else 'ignoring'} ({_labels(vm.matching_labels)})"
    if grouped:
        side = "left" if vm.card is Cardinality.MANY_TO_ONE else "right"
        out += f" group_{side} ({_labels(vm.include)})"
    lhs, rhs = vm.fill_lhs, vm.fill_rhs
    if lhs is not None and rhs is not None and lhs == rhs:
        out += f" fill ({format_float_v(lhs)})"
    else:
        if lhs is not None:
            out += f" fill_left ({format_float_v(lhs)})"
        if rhs is not None:
            out += f" fill_right ({format_float_v(rhs)})"
    return out


def _agg_head(node: AggregateExpr) -> str:
    if node.without:
        return f"{node.op} without ({_labels(node.grouping)}) "
    if node.grouping:
        return f"{node.op} by ({_labels(node.grouping)}) "
    return node.op


def _subquery_suffix(node: SubqueryExpr) -> str:
    if node.step_ms:
        step = format_duration_ms(node.step_ms)
    elif node.step_expr is not None:
        step = _duration(node.step_expr)
    else:
        step = ""
    rng = (
        _duration(node.range_expr)
        if node.range_expr is not None
        else format_duration_ms(node.range_ms)
    )
    at, offset = _offset_at(node.original_offset_ms, node.offset_expr, node.at_ms, node.at_modifier)
    return f"[{rng}:{step}]{at}{offset}"


def format_expr(node: Expr) -> str:
    """The canonical one-line text of ``node`` (Prometheus's ``String()``)."""
    if isinstance(node, NumberLiteral):
        return _number(node)
    if isinstance(node, StringLiteral):
        return go_quote(node.value)
    if isinstance(node, VectorSelector):
        at, offset = _offset_at(
            node.original_offset_ms, node.offset_expr, node.at_ms, node.at_modifier
        )
        return _selector_core(node) + at + _extended(node) + offset
    if isinstance(node, MatrixSelector):
        vs = node.vs
        at, offset = _offset_at(vs.original_offset_ms, vs.offset_expr, vs.at_ms, vs.at_modifier)
        rng = (
            _duration(node.range_expr)
            if node.range_expr is not None
            else format_duration_ms(node.range_ms)
        )
        return f"{_selector_core(vs)}[{rng}]{_extended(vs)}{at}{offset}"
    if isinstance(node, SubqueryExpr):
        return format_expr(node.expr) + _subquery_suffix(node)
    if isinstance(node, Call):
        return f"{node.func.name}({', '.join(format_expr(a) for a in node.args)})"
    if isinstance(node, AggregateExpr):
        args = format_expr(node.expr)
        if node.param is not None:
            args = f"{format_expr(node.param)}, {args}"
        return f"{_agg_head(node)}({args})"
    if isinstance(node, BinaryExpr):
        bool_text = " bool" if node.return_bool else ""
        return (
            f"{format_expr(node.lhs)} {node.op}{bool_text}{_matching(node)} {format_expr(node.rhs)}"
        )
    if isinstance(node, ParenExpr):
        return f"({format_expr(node.expr)})"
    if isinstance(node, UnaryExpr):
        return node.op + format_expr(node.expr)
    if isinstance(node, DurationExpr):
        return _duration(node)
    if isinstance(node, StepInvariantExpr):
        return format_expr(node.expr)
    raise TypeError(f"not a PromQL node: {type(node).__name__}")


# -- Prettify ---------------------------------------------------------------------


def prettify(node: Expr, max_width: int = MAX_LINE_WIDTH) -> str:
    """Prometheus's ``Prettify``: split nodes longer than ``max_width`` over lines."""
    return _pretty(node, 0, max_width)


def _pretty(node: Expr, level: int, width: int) -> str:
    pad = _INDENT * level
    text = format_expr(node)
    split = len(text) > width
    if isinstance(node, AggregateExpr):
        if not split:
            return pad + text
        out = pad + _agg_head(node) + "(\n"
        if node.param is not None:
            out += _pretty(node.param, level + 1, width) + ",\n"
        return out + _pretty(node.expr, level + 1, width) + "\n" + pad + ")"
    if isinstance(node, BinaryExpr):
        if not split:
            return pad + text
        bool_text = " bool" if node.return_bool else ""
        return (
            f"{_pretty(node.lhs, level + 1, width)}\n{pad}{node.op}{bool_text}{_matching(node)}\n"
            f"{_pretty(node.rhs, level + 1, width)}"
        )
    if isinstance(node, Call):
        if not split:
            return pad + text
        args = ",\n".join(_pretty(a, level + 1, width) for a in node.args)
        return f"{pad}{node.func.name}(\n{args}\n{pad})"
    if isinstance(node, ParenExpr):
        if not split:
            return pad + text
        return f"{pad}(\n{_pretty(node.expr, level + 1, width)}\n{pad})"
    if isinstance(node, SubqueryExpr):
        if not split:
            return text
        return _pretty(node.expr, level, width) + _subquery_suffix(node)
    if isinstance(node, UnaryExpr):
        child = _pretty(node.expr, level, width).strip()
        return f"{pad}{node.op}{child}"
    if isinstance(node, StepInvariantExpr):
        return _pretty(node.expr, level, width)
    if isinstance(node, DurationExpr):
        return _duration(node)
    return pad + text


# -- parse_query JSON -------------------------------------------------------------


def _matchers_json(matchers: list[Matcher]) -> list[dict[str, str]]:
    return [{"name": m.name, "value": m.value, "type": m.type.value} for m in matchers]


def _duration_json(node: DurationOperand | None) -> Any:
    if node is None:
        return None
    if isinstance(node, NumberLiteral):
        return {"type": "numberLiteral", "val": format_float(node.value), "duration": node.duration}
    return {
        "type": "durationExpr",
        "op": node.op,
        "lhs": _duration_json(node.lhs),
        "rhs": _duration_json(node.rhs),
        "wrapped": node.wrapped,
    }


def ast_to_json(node: Expr | None) -> Any:
    """The tree ``/api/v1/parse_query`` returns (Prometheus's ``translateAST``)."""
    if node is None:
        return None
    if isinstance(node, AggregateExpr):
        return {
            "type": "aggregation",
            "op": node.op,
            "expr": ast_to_json(node.expr),
            "param": ast_to_json(node.param),
            "grouping": list(node.grouping),
            "without": node.without,
        }
    if isinstance(node, BinaryExpr):
        vm = node.matching
        matching = None
        if vm is not None:
            matching = {
                "card": vm.card.value,
                "labels": list(vm.matching_labels),
                "on": vm.on,
                "include": list(vm.include),
                "fillValues": {"lhs": vm.fill_lhs, "rhs": vm.fill_rhs},
            }
        return {
            "type": "binaryExpr",
            "op": node.op,
            "lhs": ast_to_json(node.lhs),
            "rhs": ast_to_json(node.rhs),
            "matching": matching,
            "bool": node.return_bool,
        }
    if isinstance(node, Call):
        func = node.func
        return {
            "type": "call",
            "func": {
                "name": func.name,
                "argTypes": [t.value for t in func.arg_types],
                "variadic": func.variadic,
                "returnType": func.return_type.value,
            },
            "args": [ast_to_json(a) for a in node.args],
        }
    if isinstance(node, MatrixSelector):
        vs = node.vs
        return {
            "type": "matrixSelector",
            "name": vs.name or "",
            "range": node.range_ms,
            "rangeExpr": _duration_json(node.range_expr),
            "offset": vs.original_offset_ms,
            "offsetExpr": _duration_json(vs.offset_expr),
            "matchers": _matchers_json(vs.matchers),
            "timestamp": vs.at_ms,
            "startOrEnd": vs.at_modifier,
            "anchored": vs.anchored,
            "smoothed": vs.smoothed,
        }
    if isinstance(node, SubqueryExpr):
        return {
            "type": "subquery",
            "expr": ast_to_json(node.expr),
            "range": node.range_ms,
            "rangeExpr": _duration_json(node.range_expr),
            "offset": node.original_offset_ms,
            "offsetExpr": _duration_json(node.offset_expr),
            "step": node.step_ms,
            "stepExpr": _duration_json(node.step_expr),
            "timestamp": node.at_ms,
            "startOrEnd": node.at_modifier,
        }
    if isinstance(node, DurationExpr):
        return _duration_json(node)
    if isinstance(node, NumberLiteral):
        return {"type": "numberLiteral", "val": format_float(node.value)}
    if isinstance(node, ParenExpr):
        return {"type": "parenExpr", "expr": ast_to_json(node.expr)}
    if isinstance(node, StringLiteral):
        return {"type": "stringLiteral", "val": node.value}
    if isinstance(node, UnaryExpr):
        return {"type": "unaryExpr", "op": node.op, "expr": ast_to_json(node.expr)}
    if isinstance(node, VectorSelector):
        return {
            "type": "vectorSelector",
            "name": node.name or "",
            "offset": node.original_offset_ms,
            "offsetExpr": _duration_json(node.offset_expr),
            "matchers": _matchers_json(node.matchers),
            "timestamp": node.at_ms,
            "startOrEnd": node.at_modifier,
            "anchored": node.anchored,
            "smoothed": node.smoothed,
        }
    if isinstance(node, StepInvariantExpr):
        return ast_to_json(node.expr)
    raise TypeError(f"not a PromQL node: {type(node).__name__}")
