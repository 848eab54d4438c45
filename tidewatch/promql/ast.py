"""The PromQL syntax tree, as produced by :func:`tidewatch.promql.parser.parse_expr`.

Every node is a mutable dataclass (the engine may fill in execution-time fields such
as ``offset_ms`` or wrap nodes in :class:`StepInvariantExpr`) with ``pos = (start,
end)``: character offsets into the query text, end exclusive. Every expression has a
``type`` property returning its :class:`ValueType`. Times and durations are int ms.

Nodes
-----
``NumberLiteral(value, pos, duration=False)``
    A float literal (``1``, ``0x1f``, ``1e3``, ``Inf``, ``NaN``). ``duration`` is True
    when written as a duration (``1h30m`` as a number is 5400.0 seconds).
``StringLiteral(value, pos)``
    A string literal with escapes decoded.
``VectorSelector(name, matchers, pos, ...)``
    ``foo{job="x"}``. ``name`` is the metric name or None; ``matchers`` includes the
    ``__name__`` equality matcher when a name is given. ``original_offset_ms`` is the
    offset as written (negative allowed), ``offset_ms`` the offset the engine uses
    (the parser sets both equal). ``at_ms`` is the ``@ <time>`` value, ``at_modifier``
    is ``"start"``/``"end"`` for ``@ start()``/``@ end()``. ``offset_expr`` holds a
    duration expression (``offset (1h + step())``) the engine must evaluate; when it
    is constant the parser has already stored its value in the ms fields.
    ``anchored``/``smoothed`` are the experimental extended range-selector modifiers.
    ``bypass_empty_matcher_check`` is set for ``info()``'s second argument.
``MatrixSelector(vs, range_ms, pos, range_expr=None)``
    ``foo[5m]``; ``vs`` is the VectorSelector (which carries offset/@/anchored).
    ``range_expr`` is a duration expression (``foo[step()*2]``); see DurationExpr.
``SubqueryExpr(expr, range_ms, step_ms, pos, ...)``
    ``<expr>[30m:1m]``; ``step_ms == 0`` means the query's default resolution. Offset
    and ``@`` fields as in VectorSelector; ``range_expr``/``step_expr``/``offset_expr``
    as in MatrixSelector.
``Call(func, args, pos)``
    A function call; ``func`` is a :class:`Function` from ``functions_table``.
``AggregateExpr(op, expr, param, grouping, without, pos)``
    ``sum by (a) (x)``, ``topk(3, x)``; ``op`` is the lowercase name, ``param`` the
    parameter expression (topk/bottomk/quantile/count_values/limitk/limit_ratio) or
    None. ``grouping`` lists labels in written order; ``without`` selects the sense.
    ``by_given`` records whether ``by ()`` was written (for faithful printing).
``BinaryExpr(op, lhs, rhs, pos, return_bool=False, matching=None)``
    ``op`` is the operator text (``+ - * / % ^ == != > < >= <= and or unless atan2``
    and the native-histogram trims ``</`` ``>/``). ``matching`` is a
    :class:`VectorMatching` when both sides are vectors, else None.
``VectorMatching(card, matching_labels, on, include, fill_lhs, fill_rhs)``
    ``card`` is a :class:`Cardinality`; ``on`` distinguishes ``on(...)`` from
    ``ignoring(...)``; ``include`` lists the ``group_left/right(...)`` labels;
    ``fill_lhs``/``fill_rhs`` the experimental ``fill*()`` values (None = no fill).
``ParenExpr(expr, pos)``
    Parentheses kept for printing; semantically transparent.
``UnaryExpr(op, expr, pos)``
    ``-x`` / ``+x``.
``DurationExpr(op, lhs, rhs, pos, wrapped=False)``
    Arithmetic on durations in ranges, steps and offsets (experimental in
    Prometheus): ``op`` is ``+ - * / % ^``, or ``step``/``range`` (no operands),
    ``min_of``/``max_of`` (two operands); unary minus has ``lhs is None``. Operands
    are NumberLiteral (seconds) or DurationExpr. :func:`eval_duration_expr`
    computes the value given the query's step and range.
``StepInvariantExpr(expr)``
    Never produced by the parser; the engine wraps step-invariant subtrees with it.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Iterator
from dataclasses import dataclass, field

from tidewatch.matcher import Matcher
from tidewatch.promql.functions_table import Function, ValueType

__all__ = [
    "AggregateExpr",
    "BinaryExpr",
    "Call",
    "Cardinality",
    "DurationEvalError",
    "DurationExpr",
    "DurationOperand",
    "Expr",
    "MatrixSelector",
    "NumberLiteral",
    "ParenExpr",
    "Pos",
    "StepInvariantExpr",
    "StringLiteral",
    "SubqueryExpr",
    "UnaryExpr",
    "ValueType",
    "VectorMatching",
    "VectorSelector",
    "children",
    "eval_duration_expr",
    "walk",
]

Pos = tuple[int, int]


class Cardinality(enum.Enum):
    ONE_TO_ONE = "one-to-one"
    MANY_TO_ONE = "many-to-one"
    ONE_TO_MANY = "one-to-many"
    MANY_TO_MANY = "many-to-many"


@dataclass(slots=True)
class NumberLiteral:
    value: float
    pos: Pos = (0, 0)
    duration: bool = False

    @property
    def type(self) -> ValueType:
        return ValueType.SCALAR


@dataclass(slots=True)
class StringLiteral:
    value: str
    pos: Pos = (0, 0)

    @property
    def type(self) -> ValueType:
        return ValueType.STRING


@dataclass(slots=True)
class DurationExpr:
    op: str
    lhs: DurationOperand | None
    rhs: DurationOperand | None
    pos: Pos = (0, 0)
    wrapped: bool = False

    @property
    def type(self) -> ValueType:
        return ValueType.SCALAR


DurationOperand = NumberLiteral | DurationExpr


@dataclass(slots=True)
class VectorSelector:
    name: str | None
    matchers: list[Matcher]
    pos: Pos = (0, 0)
    offset_ms: int = 0
    original_offset_ms: int = 0
    offset_expr: DurationExpr | None = None
    at_ms: int | None = None
    at_modifier: str | None = None  # "start" | "end"
    anchored: bool = False
    smoothed: bool = False
    bypass_empty_matcher_check: bool = False

    @property
    def type(self) -> ValueType:
        return ValueType.VECTOR


@dataclass(slots=True)
class MatrixSelector:
    vs: VectorSelector
    range_ms: int
    pos: Pos = (0, 0)
    range_expr: DurationExpr | None = None

    @property
    def type(self) -> ValueType:
        return ValueType.MATRIX


@dataclass(slots=True)
class SubqueryExpr:
    expr: Expr
    range_ms: int
    step_ms: int = 0
    pos: Pos = (0, 0)
    offset_ms: int = 0
    original_offset_ms: int = 0
    at_ms: int | None = None
    at_modifier: str | None = None
    range_expr: DurationExpr | None = None
    step_expr: DurationExpr | None = None
    offset_expr: DurationExpr | None = None

    @property
    def type(self) -> ValueType:
        return ValueType.MATRIX


@dataclass(slots=True)
class Call:
    func: Function
    args: list[Expr]
    pos: Pos = (0, 0)

    @property
    def type(self) -> ValueType:
        return self.func.return_type


@dataclass(slots=True)
class AggregateExpr:
    op: str
    expr: Expr
    param: Expr | None = None
    grouping: list[str] = field(default_factory=list)
    without: bool = False
    pos: Pos = (0, 0)
    by_given: bool = False

    @property
    def type(self) -> ValueType:
        return ValueType.VECTOR


@dataclass(slots=True)
class VectorMatching:
    card: Cardinality = Cardinality.ONE_TO_ONE
    matching_labels: list[str] = field(default_factory=list)
    on: bool = False
    include: list[str] = field(default_factory=list)
    fill_lhs: float | None = None
    fill_rhs: float | None = None


@dataclass(slots=True)
class BinaryExpr:
    op: str
    lhs: Expr
    rhs: Expr
    pos: Pos = (0, 0)
    return_bool: bool = False
    matching: VectorMatching | None = None

    @property
    def type(self) -> ValueType:
        if self.lhs.type is ValueType.SCALAR and self.rhs.type is ValueType.SCALAR:
            return ValueType.SCALAR
        return ValueType.VECTOR


@dataclass(slots=True)
class ParenExpr:
    expr: Expr
    pos: Pos = (0, 0)

    @property
    def type(self) -> ValueType:
        return self.expr.type


@dataclass(slots=True)
class UnaryExpr:
    op: str
    expr: Expr
    pos: Pos = (0, 0)

    @property
    def type(self) -> ValueType:
        return self.expr.type


@dataclass(slots=True)
class StepInvariantExpr:
    expr: Expr

    @property
    def pos(self) -> Pos:
        return self.expr.pos

    @property
    def type(self) -> ValueType:
        return self.expr.type


Expr = (
    NumberLiteral
    | StringLiteral
    | VectorSelector
    | MatrixSelector
    | SubqueryExpr
    | Call
    | AggregateExpr
    | BinaryExpr
    | ParenExpr
    | UnaryExpr
    | DurationExpr
    | StepInvariantExpr
)


def children(node: Expr) -> list[Expr]:
    """Direct sub-expressions in evaluation order (Prometheus's ``Children``)."""
    if isinstance(node, AggregateExpr):
        return [node.param, node.expr] if node.param is not None else [node.expr]
    if isinstance(node, BinaryExpr):
        return [node.lhs, node.rhs]
    if isinstance(node, Call):
        return list(node.args)
    if isinstance(node, SubqueryExpr | ParenExpr | UnaryExpr | StepInvariantExpr):
        return [node.expr]
    if isinstance(node, MatrixSelector):
        return [node.vs]
    return []


def walk(node: Expr) -> Iterator[Expr]:
    """Every node of the tree, depth first, parents before children."""
    stack = [node]
    while stack:
        n = stack.pop()
        yield n
        stack.extend(reversed(children(n)))


class DurationEvalError(ValueError):
    """A duration expression that cannot be used (zero/negative range, NaN, ...)."""


def eval_duration_expr(
    expr: DurationOperand, step_ms: int, range_ms: int, *, allow_negative: bool = False
) -> int:
    """Value of a duration expression in ms, as Prometheus's engine computes it.

    ``step_ms``/``range_ms`` are the query's step and (end - start); offsets pass
    ``allow_negative=True``. Errors carry ``start:end`` offsets like Prometheus.
    """
    seconds = _eval_seconds(expr, step_ms / 1000.0, range_ms / 1000.0)
    where = f"{expr.pos[0]}:{expr.pos[1]}"
    if math.isnan(seconds) or math.isinf(seconds):
        raise DurationEvalError(f"{where}: duration is NaN or infinite")
    if seconds <= 0 and not allow_negative:
        raise DurationEvalError(f"{where}: duration must be greater than 0")
    if abs(seconds) > (1 << 63) / 1e9:
        raise DurationEvalError(f"{where}: duration is out of range")
    return int(seconds * 1000)


def _eval_seconds(expr: DurationOperand | None, step: float, rng: float) -> float:
    if expr is None:
        return 0.0
    if isinstance(expr, NumberLiteral):
        return expr.value
    op = expr.op
    if op == "step":
        return step
    if op == "range":
        return rng
    lhs = _eval_seconds(expr.lhs, step, rng)
    rhs = _eval_seconds(expr.rhs, step, rng)
    where = f"{expr.pos[0]}:{expr.pos[1]}"
    if op == "min_of":
        return min(lhs, rhs)
    if op == "max_of":
        return max(lhs, rhs)
    if op == "+":
        return lhs + rhs
    if op == "-":
        return -rhs if expr.lhs is None else lhs - rhs
    if op == "*":
        return lhs * rhs
    if op == "/":
        if rhs == 0:
            raise DurationEvalError(f"{where}: division by zero")
        return lhs / rhs
    if op == "%":
        if rhs == 0:
            raise DurationEvalError(f"{where}: modulo by zero")
        return math.fmod(lhs, rhs)
    if op == "^":
        return math.pow(lhs, rhs)
    raise DurationEvalError(f"unexpected duration expression operator {op!r}")
