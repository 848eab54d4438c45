"""PromQL parser: recursive descent over the lexer's tokens, producing :mod:`ast` nodes.

Operator precedence (lowest first) as in Prometheus: ``or``; ``and``/``unless``;
comparisons and the histogram trims ``</`` ``>/``; ``+ -``; ``* / % atan2``; ``^``
(right-associative). Unary ``+``/``-`` binds like ``*`` (so ``-a^b`` is ``-(a^b)``).
Postfix modifiers (``[range]``, ``[range:step]``, ``offset``, ``@``, ``anchored``,
``smoothed``) bind to the operand right before them.

Errors raise :class:`ParseError` with Prometheus's wording and the position of the
offending text; as in Prometheus, type checks (``checkAST``) run only once the whole
query has parsed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NoReturn

from tidewatch.matcher import Matcher, MatchType, RegexError
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
    Pos,
    StringLiteral,
    SubqueryExpr,
    UnaryExpr,
    VectorMatching,
    VectorSelector,
    children,
)
from tidewatch.promql.functions_table import AGGREGATIONS, FUNCTIONS, ValueType
from tidewatch.promql.lexer import AGGREGATORS, KEYWORDS, Token, go_quote, lex, unquote
from tidewatch.promql.printer import ast_to_json, format_expr, prettify

__all__ = [
    "ParseError",
    "ParserOptions",
    "ast_to_json",
    "format_expr",
    "parse_expr",
    "parse_metric_selector",
    "prettify",
]

_MAX_DURATION_SECONDS = (1 << 63) / 1e9


class ParseError(Exception):
    """A query that does not parse; ``str()`` reads like Prometheus's errors."""

    def __init__(self, message: str, pos_start: int, pos_end: int, query: str) -> None:
        self.message = message
        self.pos_start = pos_start
        self.pos_end = pos_end
        self.query = query
        super().__init__(f"{position_text(query, pos_start)}: parse error: {message}")


def position_text(query: str, pos: int) -> str:
    """``line:col`` (1-based column) of ``pos``, as Prometheus prints it."""
    if query == "":
        return "unknown position"
    if pos < 0 or pos > len(query):
        return "invalid position"
    line = 1 + query.count("\n", 0, pos)
    col = pos - query.rfind("\n", 0, pos)
    return f"{line}:{col}"


@dataclass(frozen=True, slots=True)
class ParserOptions:
    """Prometheus's feature flags; tidewatch enables them all by default."""

    experimental_functions: bool = True
    duration_expressions: bool = True
    extended_range_selectors: bool = True
    binop_fill_modifiers: bool = True


_DEFAULT_OPTIONS = ParserOptions()

# Binary operators: token kind -> (operator text, precedence, right-associative).
_BINARY: dict[str, tuple[str, int, bool]] = {
    "LOR": ("or", 1, False),
    "LAND": ("and", 2, False),
    "LUNLESS": ("unless", 2, False),
    "EQLC": ("==", 3, False),
    "NEQ": ("!=", 3, False),
    "LTE": ("<=", 3, False),
    "LSS": ("<", 3, False),
    "GTE": (">=", 3, False),
    "GTR": (">", 3, False),
    "TRIM_UPPER": ("</", 3, False),
    "TRIM_LOWER": (">/", 3, False),
    "ADD": ("+", 4, False),
    "SUB": ("-", 4, False),
    "MUL": ("*", 5, False),
    "DIV": ("/", 5, False),
    "MOD": ("%", 5, False),
    "ATAN2": ("atan2", 5, False),
    "POW": ("^", 6, True),
}
_UNARY_OPERAND_PREC = 6  # unary minus binds like "*": only "^" binds tighter
_DURATION_BINARY: dict[str, tuple[str, int, bool]] = {
    k: _BINARY[k] for k in ("ADD", "SUB", "MUL", "DIV", "MOD", "POW")
}
COMPARISON_OPS = frozenset({"==", "!=", "<=", "<", ">=", ">"})
SET_OPS = frozenset({"and", "or", "unless"})

_MATCH_OPS = {
    "EQL": MatchType.EQUAL,
    "NEQ": MatchType.NOT_EQUAL,
    "EQL_REGEX": MatchType.REGEX,
    "NEQ_REGEX": MatchType.NOT_REGEX,
}
# Keywords that may also name a metric (Prometheus's metric_identifier).
_METRIC_NAME_KINDS = frozenset(
    {"IDENTIFIER", "METRIC_IDENTIFIER", "BY", "WITHOUT", "OFFSET", "LAND", "LOR", "LUNLESS"}
    | {"FILL", "FILL_LEFT", "FILL_RIGHT", "ANCHORED", "SMOOTHED"}
    | {"START", "END", "STEP", "RANGE", "MAX_OF", "MIN_OF"}
    | AGGREGATORS
)
_FILL_KINDS = frozenset({"FILL", "FILL_LEFT", "FILL_RIGHT"})
# Tokens that can begin an expression.
_EXPR_START = _METRIC_NAME_KINDS | {
    "NUMBER",
    "DURATION",
    "STRING",
    "LEFT_PAREN",
    "LEFT_BRACE",
    "ADD",
    "SUB",
}
# Keywords that may also name a label in grouping lists (Prometheus's maybe_label).
_LABEL_KINDS = _METRIC_NAME_KINDS | KEYWORDS | {"ATAN2"}
_FUNCTION_NAME_KINDS = frozenset(
    {"IDENTIFIER", "START", "END", "STEP", "RANGE", "MAX_OF", "MIN_OF"}
)
_DURATION_UNITS_MS = {
    "y": (1, 365 * 24 * 3600 * 1000),
    "w": (2, 7 * 24 * 3600 * 1000),
    "d": (3, 24 * 3600 * 1000),
    "h": (4, 3600 * 1000),
    "m": (5, 60 * 1000),
    "s": (6, 1000),
    "ms": (7, 1),
}
_INT64_MAX = (1 << 63) - 1
_DURATION_EXPECTED = "number, duration, step(), or range()"
_STEP_EXPECTED = 'number, duration, step(), range(), or "]"'


class _Parser:
    __slots__ = ("context", "i", "last_end", "options", "text", "tokens")

    def __init__(self, text: str, options: ParserOptions) -> None:
        self.text = text
        self.tokens = lex(text)
        self.i = 0
        self.last_end = 0  # end of the last consumed token
        self.options = options
        # (context, expected) of the innermost enclosing construct that Prometheus's
        # grammar has an error rule for ("in aggregation", "in offset", ...): errors
        # with no more specific wording are reported in its terms.
        self.context = ("", "")

    # -- token helpers -----------------------------------------------------------

    def peek(self) -> Token:
        return self.tokens[self.i]

    def peek_kind(self, ahead: int = 0) -> str:
        idx = min(self.i + ahead, len(self.tokens) - 1)
        return self.tokens[idx].kind

    def advance(self) -> Token:
        tok = self.tokens[self.i]
        if tok.kind == "ERROR":
            self.fail_at(tok.val, tok.pos, len(self.text))
        self.i += 1
        self.last_end = tok.end
        return tok

    def expect(self, kind: str, context: str, expected: str) -> Token:
        if self.peek().kind != kind:
            self.unexpected(context, expected)
        return self.advance()

    def lexer_error_first(self) -> None:
        """Where Prometheus's parser reads the next token before acting on what it
        has, a lexical error in that token is reported first."""
        tok = self.peek()
        if tok.kind == "ERROR":
            self.fail_at(tok.val, tok.pos, len(self.text))

    def fail_at(self, message: str, start: int, end: int) -> NoReturn:
        raise ParseError(message, start, end, self.text)

    def fail(self, message: str, pos: Pos) -> NoReturn:
        raise ParseError(message, pos[0], pos[1], self.text)

    def unexpected(self, context: str = "", expected: str = "") -> NoReturn:
        if not context and not expected:
            context, expected = self.context
        tok = self.peek()
        if tok.kind == "ERROR":
            self.fail_at(tok.val, tok.pos, len(self.text))
        msg = "unexpected " + tok.desc()
        if context:
            msg += " in " + context
        if expected:
            msg += ", expected " + expected
        self.fail_at(msg, tok.pos, tok.end)

    # -- expressions -------------------------------------------------------------

    def parse_top(self) -> Expr:
        if self.peek().kind == "EOF":
            self.fail_at("no expression found in input", 0, 0)
        expr = self.parse_binary(0)
        if self.peek().kind != "EOF":
            self.unexpected()
        return expr

    def parse_binary(self, min_prec: int) -> Expr:
        lhs = self.parse_unary()
        while True:
            info = _BINARY.get(self.peek().kind)
            if info is None or info[1] < min_prec:
                return lhs
            op, prec, right = info
            self.advance()
            return_bool, matching = self.parse_bin_modifiers()
            rhs = self.parse_binary(prec if right else prec + 1)
            lhs = BinaryExpr(op, lhs, rhs, (lhs.pos[0], rhs.pos[1]), return_bool, matching)

    def parse_unary(self) -> Expr:
        tok = self.peek()
        if tok.kind not in ("ADD", "SUB"):
            return self.parse_postfix(self.parse_primary())
        self.advance()
        operand = self.parse_binary(_UNARY_OPERAND_PREC)
        if isinstance(operand, NumberLiteral):
            # Signs fold into number literals, as Prometheus does.
            if tok.kind == "SUB":
                operand.value = -operand.value
            operand.pos = (tok.pos, operand.pos[1])
            return operand
        return UnaryExpr(FIXED_OP[tok.kind], operand, (tok.pos, operand.pos[1]))

    def parse_primary(self) -> Expr:
        tok = self.peek()
        kind = tok.kind
        if kind in ("NUMBER", "DURATION"):
            return self.number_literal(self.advance())
        if kind == "STRING":
            self.advance()
            return StringLiteral(unquote(tok.val), (tok.pos, tok.end))
        if kind == "LEFT_PAREN":
            self.advance()
            inner = self.parse_binary(0)
            if self.peek().kind != "RIGHT_PAREN":
                self.unexpected()
            self.advance()
            return ParenExpr(inner, (tok.pos, self.last_end))
        if kind == "LEFT_BRACE":
            return self.parse_vector_selector(None)
        if kind in AGGREGATORS and self.peek_kind(1) in ("LEFT_PAREN", "BY", "WITHOUT"):
            return self.parse_aggregate()
        if kind in _FUNCTION_NAME_KINDS and self.peek_kind(1) == "LEFT_PAREN":
            return self.parse_call()
        if kind in _METRIC_NAME_KINDS:
            return self.parse_vector_selector(self.advance())
        self.unexpected()

    def number_literal(self, tok: Token) -> NumberLiteral:
        pos = (tok.pos, tok.end)
        if tok.kind == "DURATION":
            return NumberLiteral(self.duration_ms(tok) / 1000.0, pos, duration=True)
        return NumberLiteral(self.parse_number(tok), pos)

    def parse_number(self, tok: Token) -> float:
        text = tok.val
        try:
            return float(_go_parse_int(text))
        except ValueError:
            pass
        try:
            value = float(text)
        except ValueError:
            self.fail_at(
                f'error parsing number: strconv.ParseFloat: parsing "{text}": invalid syntax',
                tok.pos,
                tok.end,
            )
        if math.isinf(value) and text.lower().lstrip("+-") not in ("inf", "infinity"):
            self.fail_at(
                f'error parsing number: strconv.ParseFloat: parsing "{text}": value out of range',
                tok.pos,
                tok.end,
            )
        return value

    def duration_ms(self, tok: Token) -> int:
        try:
            return parse_promql_duration(tok.val)
        except ValueError as err:
            self.fail_at(str(err), tok.pos, tok.end)

    # -- postfix modifiers -------------------------------------------------------

    def parse_postfix(self, expr: Expr) -> Expr:
        while True:
            kind = self.peek().kind
            if kind == "LEFT_BRACKET":
                expr = self.parse_range_or_subquery(expr)
            elif kind == "OFFSET":
                self.parse_offset(expr)
            elif kind == "AT":
                self.parse_at(expr)
            elif kind in ("ANCHORED", "SMOOTHED"):
                self.advance()
                self.set_extended(expr, kind.lower())
            else:
                return expr

    def parse_range_or_subquery(self, expr: Expr) -> Expr:
        open_tok = self.advance()
        if self.peek().kind in ("RIGHT_BRACKET", "COLON", "EOF"):
            self.unexpected("subquery or range selector", _DURATION_EXPECTED)
        outer = self.context
        self.context = ("subquery or range selector", _DURATION_EXPECTED)
        rng = self.parse_positive_duration()
        self.context = outer
        kind = self.peek().kind
        if kind == "RIGHT_BRACKET":
            close = self.advance()
            if not isinstance(expr, VectorSelector):
                message = "ranges only allowed for vector selectors"
            elif expr.original_offset_ms != 0 or expr.offset_expr is not None:
                message = "no offset modifiers allowed before range"
            elif expr.at_ms is not None or expr.at_modifier is not None:
                message = "no @ modifiers allowed before range"
            else:
                message = ""
            if message:
                self.fail_at(message, open_tok.pos, close.end)
            assert isinstance(expr, VectorSelector)
            range_ms, range_expr = self.duration_value(rng)
            return MatrixSelector(expr, range_ms, (expr.pos[0], close.end), range_expr)
        if kind != "COLON":
            self.unexpected("subquery or range", '":" or "]"')
        self.advance()
        step: DurationOperand | None = None
        if self.peek().kind != "RIGHT_BRACKET":
            if self.peek().kind == "EOF":
                self.unexpected("subquery selector", _STEP_EXPECTED)
            self.context = ("subquery selector", _STEP_EXPECTED)
            step = self.parse_positive_duration()
            self.context = outer
            if self.peek().kind != "RIGHT_BRACKET":
                self.unexpected("subquery selector", '"]"')
        close = self.advance()
        range_ms, range_expr = self.duration_value(rng)
        step_ms, step_expr = self.duration_value(step) if step is not None else (0, None)
        return SubqueryExpr(
            expr,
            range_ms,
            step_ms,
            (expr.pos[0], close.end),
            range_expr=range_expr,
            step_expr=step_expr,
        )

    def duration_value(self, value: DurationOperand) -> tuple[int, DurationExpr | None]:
        """(ms, None) for a literal, (0, expr) for an expression left to the engine."""
        if isinstance(value, NumberLiteral):
            return seconds_to_ms(value.value), None
        return 0, value

    def parse_positive_duration(self) -> DurationOperand:
        value = self.parse_duration_expr(0)
        if isinstance(value, NumberLiteral) and value.value <= 0:
            self.fail("duration must be greater than 0", value.pos)
        return value

    def parse_offset(self, expr: Expr) -> None:
        self.advance()
        outer = self.context
        self.context = ("offset", _DURATION_EXPECTED)
        value = self.parse_offset_value()
        self.context = outer
        self.lexer_error_first()
        target = _modifier_target(expr)
        if target is None:
            self.fail(
                "offset modifier must be preceded by an instant vector selector or range "
                "vector selector or a subquery",
                expr.pos,
            )
        if target.original_offset_ms != 0 or target.offset_expr is not None:
            self.fail("offset may not be set multiple times", expr.pos)
        if isinstance(value, NumberLiteral):
            ms = seconds_to_ms(value.value)
            target.original_offset_ms = target.offset_ms = ms
        else:
            target.offset_expr = value
        _extend_end(expr, self.last_end)

    def parse_offset_value(self) -> DurationOperand:
        """Prometheus's offset_duration_expr: a signed literal, step(), range(),
        min_of/max_of(...), or a parenthesised duration expression; arithmetic after
        it belongs to the enclosing expression (``foo offset 5m + 1``)."""
        tok = self.peek()
        sign = None
        if tok.kind in ("ADD", "SUB"):
            sign = self.advance()
            tok = self.peek()
        kind = tok.kind
        if kind in ("NUMBER", "DURATION"):
            lit = self.number_literal(self.advance())
            if sign is not None:
                if sign.kind == "SUB":
                    lit.value = -lit.value
                lit.pos = (sign.pos, lit.pos[1])
            if abs(lit.value) > _MAX_DURATION_SECONDS:
                self.fail(
                    "duration out of range", lit.pos if sign is None else (sign.pos, sign.end)
                )
            return lit
        if kind in ("STEP", "RANGE", "MAX_OF", "MIN_OF"):
            value: DurationOperand = self.parse_duration_call()
        elif kind == "LEFT_PAREN":
            if sign is None:
                # An unsigned "(...)" is a full duration expression (yacc shifts).
                return self.parse_duration_expr(0)
            # Prometheus positions this wrapper at the inner expression.
            value = self.parse_duration_paren(inner_pos=True)
        else:
            self.unexpected("offset", _DURATION_EXPECTED)
        if sign is not None:
            return self.apply_duration_sign(sign, value)
        return value

    def parse_at(self, expr: Expr) -> None:
        self.advance()
        tok = self.peek()
        if tok.kind in ("START", "END"):
            self.advance()
            self.expect("LEFT_PAREN", "@", "timestamp")
            self.expect("RIGHT_PAREN", "@", "timestamp")
            target = self.at_target(expr)
            target.at_modifier = tok.kind.lower()
            _extend_end(expr, self.last_end)
            return
        negative = False
        if tok.kind in ("ADD", "SUB"):
            negative = tok.kind == "SUB"
            self.advance()
            tok = self.peek()
        if tok.kind not in ("NUMBER", "DURATION"):
            self.unexpected("@", "timestamp")
        value = self.number_literal(self.advance()).value
        if negative:
            value = -value
        if math.isinf(value) or math.isnan(value) or value >= 2.0**63 or value <= -(2.0**63):
            self.fail(f"timestamp out of bounds for @ modifier: {_go_float_f(value)}", expr.pos)
        target = self.at_target(expr)
        target.at_ms = _go_round(value * 1000)
        _extend_end(expr, self.last_end)

    def at_target(self, expr: Expr) -> VectorSelector | SubqueryExpr:
        target = _modifier_target(expr)
        if target is None:
            self.fail(
                "@ modifier must be preceded by an instant vector selector or range vector "
                "selector or a subquery",
                expr.pos,
            )
        if target.at_ms is not None or target.at_modifier is not None:
            self.fail("@ <timestamp> may not be set multiple times", expr.pos)
        return target

    def set_extended(self, expr: Expr, which: str) -> None:
        if not self.options.extended_range_selectors:
            self.fail(f"{which} modifier is experimental and not enabled", expr.pos)
        if isinstance(expr, SubqueryExpr):
            self.fail(f"{which} modifier is not supported for subqueries", expr.pos)
        vs = expr.vs if isinstance(expr, MatrixSelector) else expr
        if not isinstance(vs, VectorSelector):
            self.fail(f"{which} modifier not implemented", expr.pos)
        if which == "anchored":
            vs.anchored = True
        else:
            vs.smoothed = True
        if vs.anchored and vs.smoothed:
            self.fail("anchored and smoothed modifiers cannot be used together", expr.pos)

    # -- duration expressions ----------------------------------------------------

    def parse_duration_expr(self, min_prec: int) -> DurationOperand:
        lhs = self.parse_duration_unary()
        while True:
            info = _DURATION_BINARY.get(self.peek().kind)
            if info is None or info[1] < min_prec:
                return lhs
            op, prec, right = info
            op_tok = self.advance()
            self.check_duration_enabled((lhs.pos[0], op_tok.end))
            rhs = self.parse_duration_expr(prec if right else prec + 1)
            if op in ("/", "%") and isinstance(rhs, NumberLiteral) and rhs.value == 0:
                self.fail_at(
                    "division by zero" if op == "/" else "modulo by zero", op_tok.pos, op_tok.end
                )
            lhs = DurationExpr(op, lhs, rhs, (lhs.pos[0], rhs.pos[1]))

    def parse_duration_unary(self) -> DurationOperand:
        tok = self.peek()
        if tok.kind in ("ADD", "SUB"):
            self.advance()
            return self.apply_duration_sign(tok, self.parse_duration_expr(_UNARY_OPERAND_PREC))
        return self.parse_duration_primary()

    def parse_duration_primary(self) -> DurationOperand:
        tok = self.peek()
        kind = tok.kind
        if kind in ("NUMBER", "DURATION"):
            lit = self.number_literal(self.advance())
            if abs(lit.value) > _MAX_DURATION_SECONDS:
                self.fail("duration out of range", lit.pos)
            return lit
        if kind in ("STEP", "RANGE", "MAX_OF", "MIN_OF"):
            return self.parse_duration_call()
        if kind == "LEFT_PAREN":
            return self.parse_duration_paren()
        self.unexpected()

    def parse_duration_call(self) -> DurationExpr:
        tok = self.advance()
        op = tok.kind.lower()
        self.expect("LEFT_PAREN", "", "")
        if op in ("step", "range"):
            self.expect("RIGHT_PAREN", "", "")
            expr = DurationExpr(op, None, None, (tok.pos, self.last_end))
        else:
            lhs = self.parse_duration_expr(0)
            self.expect("COMMA", "", "")
            rhs = self.parse_duration_expr(0)
            self.expect("RIGHT_PAREN", "", "")
            expr = DurationExpr(op, lhs, rhs, (tok.pos, self.last_end))
        self.check_duration_enabled(expr.pos)
        return expr

    def parse_duration_paren(self, inner_pos: bool = False) -> DurationOperand:
        open_tok = self.advance()
        inner = self.parse_duration_expr(0)
        self.expect("RIGHT_PAREN", "", "")
        self.check_duration_enabled(inner.pos)
        if isinstance(inner, DurationExpr):
            inner.wrapped = True
            return inner
        pos = inner.pos if inner_pos else (open_tok.pos, self.last_end)
        return DurationExpr("+", None, inner, pos, wrapped=True)

    def apply_duration_sign(self, sign: Token, value: DurationOperand) -> DurationOperand:
        if isinstance(value, NumberLiteral):
            if sign.kind == "SUB":
                value.value = -value.value
            if abs(value.value) > _MAX_DURATION_SECONDS:
                self.fail_at("duration out of range", sign.pos, sign.end)
            value.pos = (sign.pos, value.pos[1])
            return value
        if sign.kind == "SUB":
            return DurationExpr("-", None, value, (sign.pos, value.pos[1]))
        return value

    def check_duration_enabled(self, pos: Pos) -> None:
        if not self.options.duration_expressions:
            self.fail("experimental duration expression is not enabled", pos)

    # -- binary operator modifiers -----------------------------------------------

    def parse_bin_modifiers(self) -> tuple[bool, VectorMatching]:
        matching = VectorMatching(Cardinality.ONE_TO_ONE)
        return_bool = False
        if self.peek().kind == "BOOL":
            self.advance()
            return_bool = True
        kind = self.peek().kind
        if kind in ("ON", "IGNORING"):
            self.advance()
            matching.on = kind == "ON"
            matching.matching_labels = self.parse_grouping_labels()
            kind = self.peek().kind
            if kind in ("GROUP_LEFT", "GROUP_RIGHT"):
                self.advance()
                matching.card = (
                    Cardinality.MANY_TO_ONE if kind == "GROUP_LEFT" else Cardinality.ONE_TO_MANY
                )
                kind = self.peek().kind
                if kind == "LEFT_PAREN":
                    matching.include = self.parse_grouping_labels()
                elif kind not in _EXPR_START and kind not in _FILL_KINDS:
                    # Prometheus's grammar reports this inside the optional label list.
                    self.unexpected("grouping opts", '"("')
        kind = self.peek().kind
        if kind in _FILL_KINDS:
            start = self.peek().pos
            self.parse_fill(matching)
            if not self.options.binop_fill_modifiers:
                self.fail_at(
                    "binop fill modifiers are experimental and not enabled", start, self.last_end
                )
        return return_bool, matching

    def parse_fill(self, matching: VectorMatching) -> None:
        kind = self.advance().kind
        value = self.parse_fill_value()
        if kind == "FILL":
            matching.fill_lhs = matching.fill_rhs = value
            return
        if kind == "FILL_LEFT":
            matching.fill_lhs = value
            if self.peek().kind == "FILL_RIGHT":
                self.advance()
                matching.fill_rhs = self.parse_fill_value()
        else:
            matching.fill_rhs = value
            if self.peek().kind == "FILL_LEFT":
                self.advance()
                matching.fill_lhs = self.parse_fill_value()

    def parse_fill_value(self) -> float:
        self.expect("LEFT_PAREN", "", "")
        negative = False
        if self.peek().kind in ("ADD", "SUB"):
            negative = self.advance().kind == "SUB"
        if self.peek().kind not in ("NUMBER", "DURATION"):
            self.unexpected()
        value = self.number_literal(self.advance()).value
        self.expect("RIGHT_PAREN", "", "")
        return -value if negative else value

    def parse_grouping_labels(self) -> list[str]:
        if self.peek().kind != "LEFT_PAREN":
            self.unexpected("grouping opts", '"("')
        self.advance()
        labels: list[str] = []
        if self.peek().kind == "RIGHT_PAREN":
            self.advance()
            return labels
        while True:
            tok = self.peek()
            if tok.kind == "STRING":
                self.advance()
                name = unquote(tok.val)
            elif tok.kind in _LABEL_KINDS:
                self.advance()
                name = tok.val
            else:
                self.unexpected("grouping opts", "label")
            if name == "":
                self.fail_at(f"invalid label name for grouping: {go_quote(name)}", tok.pos, tok.end)
            labels.append(name)
            kind = self.peek().kind
            if kind == "RIGHT_PAREN":
                self.advance()
                return labels
            if kind != "COMMA":
                self.unexpected("grouping opts", '"," or ")"')
            self.advance()
            if self.peek().kind == "RIGHT_PAREN":
                self.advance()
                return labels

    # -- aggregations and calls --------------------------------------------------

    def parse_aggregate(self) -> AggregateExpr:
        op_tok = self.advance()
        op = op_tok.kind.lower()
        outer = self.context
        self.context = ("aggregation", "")
        grouping: list[str] = []
        without = by_given = False
        kind = self.peek().kind
        if kind in ("BY", "WITHOUT"):
            self.advance()
            without, by_given = kind == "WITHOUT", kind == "BY"
            grouping = self.parse_grouping_labels()
            if self.peek().kind != "LEFT_PAREN":
                self.unexpected()
            args = self.parse_call_body()
            self.context = outer
        else:
            args = self.parse_call_body()
            self.context = outer
            self.lexer_error_first()
            kind = self.peek().kind
            if kind in ("BY", "WITHOUT"):
                self.advance()
                without, by_given = kind == "WITHOUT", kind == "BY"
                grouping = self.parse_grouping_labels()
        pos = (op_tok.pos, self.last_end)
        agg = AGGREGATIONS[op]
        if not args:
            self.fail("no arguments for aggregate expression provided", pos)
        wanted = 1
        param: Expr | None = None
        if agg.param_type is not None:
            if agg.experimental and not self.options.experimental_functions:
                self.fail(
                    f"{op}() is experimental and must be enabled with "
                    "--enable-feature=promql-experimental-functions",
                    pos,
                )
            wanted = 2
            param = args[0]
        if len(args) != wanted:
            self.fail(
                "wrong number of arguments for aggregate expression provided, "
                f"expected {wanted}, got {len(args)}",
                pos,
            )
        return AggregateExpr(op, args[-1], param, grouping, without, pos, by_given)

    def parse_call(self) -> Call:
        name_tok = self.advance()
        args = self.parse_call_body()
        name = name_tok.val if name_tok.kind == "IDENTIFIER" else name_tok.kind.lower()
        func = FUNCTIONS.get(name)
        if func is None:
            self.fail_at(f"unknown function with name {go_quote(name)}", name_tok.pos, name_tok.end)
        if func.experimental and not self.options.experimental_functions:
            self.fail_at(f"function {go_quote(name)} is not enabled", name_tok.pos, name_tok.end)
        return Call(func, args, (name_tok.pos, self.last_end))

    def parse_call_body(self) -> list[Expr]:
        self.advance()  # "("
        args: list[Expr] = []
        if self.peek().kind == "RIGHT_PAREN":
            self.advance()
            return args
        while True:
            args.append(self.parse_binary(0))
            kind = self.peek().kind
            if kind == "RIGHT_PAREN":
                self.advance()
                return args
            if kind != "COMMA":
                self.unexpected()
            comma = self.advance()
            if self.peek().kind not in _EXPR_START and self.peek().kind != "ERROR":
                # Prometheus reduces "args ," here before looking at what follows.
                self.fail_at(
                    "trailing commas not allowed in function call args", comma.pos, comma.end
                )

    # -- selectors ---------------------------------------------------------------

    def parse_vector_selector(self, name_tok: Token | None) -> VectorSelector:
        name = name_tok.val if name_tok is not None else None
        start = name_tok.pos if name_tok is not None else self.peek().pos
        matchers: list[Matcher] = []
        end = name_tok.end if name_tok is not None else start
        if self.peek().kind == "LEFT_BRACE":
            matchers = self.parse_label_matchers()
            end = self.last_end
        if name is not None:
            matchers.append(Matcher(MatchType.EQUAL, "__name__", name))
        return VectorSelector(name, matchers, (start, end))

    def parse_label_matchers(self) -> list[Matcher]:
        self.advance()  # "{"
        matchers: list[Matcher] = []
        if self.peek().kind == "RIGHT_BRACE":
            self.advance()
            return matchers
        while True:
            matchers.append(self.parse_label_matcher())
            kind = self.peek().kind
            if kind == "RIGHT_BRACE":
                self.advance()
                return matchers
            if kind != "COMMA":
                self.unexpected("label matching", '"," or "}"')
            self.advance()
            if self.peek().kind == "RIGHT_BRACE":
                self.advance()
                return matchers

    def parse_label_matcher(self) -> Matcher:
        tok = self.peek()
        if tok.kind == "STRING":
            self.advance()
            label = unquote(tok.val)
            if self.peek().kind not in _MATCH_OPS:
                # A quoted name alone is the metric name: {"my.metric"}.
                return self.new_matcher(MatchType.EQUAL, "__name__", label, tok, tok)
        elif tok.kind == "IDENTIFIER":
            self.advance()
            label = tok.val
            if self.peek().kind not in _MATCH_OPS:
                self.unexpected("label matching", "label matching operator")
        else:
            self.unexpected("label matching", 'identifier or "}"')
        op = _MATCH_OPS[self.advance().kind]
        value_tok = self.peek()
        if value_tok.kind != "STRING":
            self.unexpected("label matching", "string")
        self.advance()
        return self.new_matcher(op, label, unquote(value_tok.val), tok, value_tok)

    def new_matcher(
        self, op: MatchType, name: str, value: str, first: Token, last: Token
    ) -> Matcher:
        try:
            return Matcher(op, name, value)
        except RegexError as err:
            self.fail_at(str(err), first.pos, last.end)


FIXED_OP = {"ADD": "+", "SUB": "-"}


def _modifier_target(expr: Expr) -> VectorSelector | SubqueryExpr | None:
    """The node that carries offset/@ for ``expr`` (a matrix's inner selector)."""
    if isinstance(expr, VectorSelector | SubqueryExpr):
        return expr
    if isinstance(expr, MatrixSelector):
        return expr.vs
    return None


def _extend_end(expr: Expr, end: int) -> None:
    if isinstance(expr, VectorSelector | MatrixSelector | SubqueryExpr):
        expr.pos = (expr.pos[0], end)


def _go_parse_int(text: str) -> int:
    """Go's ``strconv.ParseInt(text, 0, 64)``: decimal, ``0x`` hex, leading-0 octal."""
    body = text.replace("_", "") if "_" in text else text
    if len(body) > 1 and body[0] == "0" and body[1] not in "xX":
        value = int(body, 8)
    else:
        value = int(text, 0)
    if value > _INT64_MAX:
        raise ValueError("out of range")
    return value


def _go_round(x: float) -> int:
    """Go's ``math.Round``: halves away from zero (Python's round() goes to even)."""
    whole = math.trunc(x)
    if abs(x - whole) >= 0.5:
        whole += 1 if x > 0 else -1
    return whole


def seconds_to_ms(seconds: float) -> int:
    """A literal duration in ms as Prometheus derives it: rounded to ns, then
    truncated to ms."""
    ns = _go_round(seconds * 1e9)
    return ns // 1_000_000 if ns >= 0 else -(-ns // 1_000_000)


def _go_float_f(value: float) -> str:
    """Go's ``%f``."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return f"{value:.6f}"


def parse_promql_duration(text: str) -> int:
    """A duration literal in ms, with the error messages of Prometheus's ParseDuration."""
    if text == "0":
        return 0
    if text == "":
        raise ValueError("empty duration string")
    total = 0
    last_rank = 0
    i, n = 0, len(text)
    while i < n:
        if not text[i].isdigit():
            raise ValueError(f"not a valid duration string: {go_quote(text)}")
        j = i
        while j < n and "0" <= text[j] <= "9":
            j += 1
        number = int(text[i:j])
        k = j
        while k < n and not ("0" <= text[k] <= "9"):
            k += 1
        unit = text[j:k]
        if unit == "":
            raise ValueError(f"not a valid duration string: {go_quote(text)}")
        if unit not in _DURATION_UNITS_MS:
            raise ValueError(f"unknown unit {go_quote(unit)} in duration {go_quote(text)}")
        rank, mult = _DURATION_UNITS_MS[unit]
        if rank <= last_rank:
            raise ValueError(f"not a valid duration string: {go_quote(text)}")
        last_rank = rank
        total += number * mult
        if total * 1_000_000 > _INT64_MAX:
            raise ValueError("duration out of range")
        i = k
    return total


# -- checkAST: type checks once the query has parsed -----------------------------


class _Checker:
    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text

    def fail(self, message: str, pos: Pos) -> NoReturn:
        raise ParseError(message, pos[0], pos[1], self.text)

    def check(self, node: Expr) -> ValueType:
        if isinstance(node, AggregateExpr):
            self.expect_type(node.expr, ValueType.VECTOR, "aggregation expression")
            agg = AGGREGATIONS[node.op]
            if agg.param_type is not None and node.param is not None:
                self.expect_type(node.param, agg.param_type, "aggregation parameter")
        elif isinstance(node, BinaryExpr):
            self.check_binary(node)
        elif isinstance(node, Call):
            self.check_call(node)
        elif isinstance(node, UnaryExpr):
            t = self.check(node.expr)
            if t not in (ValueType.SCALAR, ValueType.VECTOR):
                self.fail(
                    "unary expression only allowed on expressions of type scalar or instant "
                    f'vector, got "{t.documented()}"',
                    node.pos,
                )
        elif isinstance(node, SubqueryExpr):
            t = self.check(node.expr)
            if t is not ValueType.VECTOR:
                self.fail(
                    f"subquery is only allowed on instant vector, got {t.value} instead", node.pos
                )
        elif isinstance(node, VectorSelector):
            self.check_selector(node)
        else:
            for child in children(node):
                self.check(child)
        return node.type

    def expect_type(self, node: Expr, want: ValueType, context: str) -> None:
        t = self.check(node)
        if t is not want:
            self.fail(
                f"expected type {want.documented()} in {context}, got {t.documented()}", node.pos
            )

    def op_pos(self, node: BinaryExpr) -> Pos:
        """The operator's text between the operands, as Prometheus reports it."""
        start, end = node.lhs.pos[1], node.rhs.pos[0] - 1
        text = self.text
        while start < len(text) and text[start] in " \t\r\n":
            start += 1
        while end > start and text[end] in " \t\r\n":
            end -= 1
        return (start, end)

    def check_binary(self, node: BinaryExpr) -> None:
        lt = self.check(node.lhs)
        rt = self.check(node.rhs)
        op = node.op
        matching = node.matching
        if node.return_bool and op not in COMPARISON_OPS:
            self.fail("bool modifier can only be used on comparison operators", self.op_pos(node))
        if (
            op in COMPARISON_OPS
            and not node.return_bool
            and lt is ValueType.SCALAR
            and rt is ValueType.SCALAR
        ):
            self.fail("comparisons between scalars must use BOOL modifier", self.op_pos(node))
        if matching is not None:
            if op in SET_OPS and matching.card is Cardinality.ONE_TO_ONE:
                matching.card = Cardinality.MANY_TO_MANY
            if matching.on:
                for label in matching.matching_labels:
                    if label in matching.include:
                        self.fail(
                            f"label {go_quote(label)} must not occur in ON and GROUP clause at once",
                            self.op_pos(node),
                        )
        for side, t in ((node.lhs, lt), (node.rhs, rt)):
            if t not in (ValueType.SCALAR, ValueType.VECTOR):
                self.fail(
                    "binary expression must contain only scalar and instant vector types", side.pos
                )
        filled = matching is not None and (
            matching.fill_lhs is not None or matching.fill_rhs is not None
        )
        if matching is not None and (lt is not ValueType.VECTOR or rt is not ValueType.VECTOR):
            if matching.matching_labels:
                self.fail("vector matching only allowed between instant vectors", node.pos)
            if filled:
                self.fail(
                    "filling in missing series only allowed between instant vectors", node.pos
                )
            node.matching = None
        elif matching is not None and op in SET_OPS:
            if matching.card in (Cardinality.ONE_TO_MANY, Cardinality.MANY_TO_ONE):
                self.fail(f'no grouping allowed for "{op}" operation', node.pos)
            if matching.card is not Cardinality.MANY_TO_MANY:
                self.fail("set operations must always be many-to-many", node.pos)
            if filled:
                self.fail("filling in missing series not allowed for set operators", node.pos)
        if (lt is ValueType.SCALAR or rt is ValueType.SCALAR) and op in SET_OPS:
            self.fail(f'set operator "{op}" not allowed in binary scalar expression', node.pos)

    def check_call(self, node: Call) -> None:
        func = node.func
        nargs = len(func.arg_types)
        got = len(node.args)
        name = go_quote(func.name)
        if func.variadic == 0:
            if got != nargs:
                self.fail(f"expected {nargs} argument(s) in call to {name}, got {got}", node.pos)
        else:
            if got < nargs - 1:
                self.fail(
                    f"expected at least {nargs - 1} argument(s) in call to {name}, got {got}",
                    node.pos,
                )
            most = nargs - 1 + func.variadic
            if func.variadic > 0 and got > most:
                self.fail(
                    f"expected at most {most} argument(s) in call to {name}, got {got}", node.pos
                )
        if func.name == "info" and got > 1:
            second = node.args[1]
            if second.type is not ValueType.VECTOR:
                self.fail(
                    f"expected type instant vector in call to function {name}, "
                    f"got {second.type.documented()}",
                    node.pos,
                )
            if isinstance(second, VectorSelector) and second.name:
                self.fail("expected label selectors only, got vector selector instead", second.pos)
            if not isinstance(second, VectorSelector):
                self.fail("expected label selectors only", second.pos)
            second.bypass_empty_matcher_check = True
        for i, arg in enumerate(node.args):
            if i >= nargs and func.variadic == 0:
                break
            want = func.arg_types[min(i, nargs - 1)]
            t = self.check(arg)
            if t is not want:
                self.fail(
                    f"expected type {want.documented()} in call to function {name}, "
                    f"got {t.documented()}",
                    arg.pos,
                )

    def check_selector(self, node: VectorSelector) -> None:
        if node.name:
            for m in node.matchers[:-1]:
                if m.name == "__name__":
                    self.fail(
                        f"metric name must not be set twice: {go_quote(node.name)} or "
                        f"{go_quote(m.value)}",
                        node.pos,
                    )
            return
        if node.bypass_empty_matcher_check:
            return
        if not any(not m.matches_empty() for m in node.matchers):
            self.fail("vector selector must contain at least one non-empty matcher", node.pos)


def parse_expr(text: str, options: ParserOptions | None = None) -> Expr:
    """Parse a PromQL expression; raises :class:`ParseError`."""
    parser = _Parser(text, options or _DEFAULT_OPTIONS)
    try:
        expr = parser.parse_top()
        _Checker(text).check(expr)
    except RecursionError:
        # Hundreds of nested levels: refuse cleanly instead of failing the request.
        raise ParseError("expression nested too deeply", 0, len(text), text) from None
    return expr


def parse_metric_selector(text: str) -> list[Matcher]:
    """Parse a series selector (``match[]`` of the series/labels APIs) to its matchers."""
    parser = _Parser(text, _DEFAULT_OPTIONS)
    tok = parser.peek()
    if tok.kind == "LEFT_BRACE":
        vs = parser.parse_vector_selector(None)
    elif tok.kind in _METRIC_NAME_KINDS:
        vs = parser.parse_vector_selector(parser.advance())
    else:
        parser.unexpected()
    if parser.peek().kind != "EOF":
        parser.unexpected()
    return vs.matchers
