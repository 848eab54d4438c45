"""LogQL parser: tokens to the syntax tree in ``ast``, with Loki's error messages.

Recursive descent with precedence climbing for binary operators (Loki's yacc grammar:
``or`` < ``and``/``unless`` < comparisons < ``+ -`` < ``* / %`` < ``^``, right-assoc).
Syntax errors read ``parse error at line 1, col 12: syntax error: unexpected X``;
checks after parsing (wrong aggregation, bad selector) read ``parse error : ...``.
"""

from __future__ import annotations

from typing import NoReturn

from tidewatch.logs.logql import ast
from tidewatch.logs.logql.lexer import RANGE_OPS, VECTOR_OPS, LexError, Token, tokenize
from tidewatch.logs.logql.units import parse_bytes
from tidewatch.matcher import Matcher, MatchType, RegexError

EMPTY_SELECTOR_MSG = (
    "queries require at least one regexp or equality matcher that does not have an "
    'empty-compatible value. For instance, app=~".*" does not meet this requirement, '
    'but app=~".+" will'
)

_BINOP_PREC = {
    "or": 1,
    "and": 2,
    "unless": 2,
    "==": 3,
    "!=": 3,
    ">": 3,
    ">=": 3,
    "<": 3,
    "<=": 3,
    "+": 4,
    "-": 4,
    "*": 5,
    "/": 5,
    "%": 5,
    "^": 6,
}
COMPARISONS = frozenset({"==", "!=", ">", ">=", "<", "<="})
SET_OPS = frozenset({"and", "or", "unless"})
LINE_FILTER_OPS = frozenset({"|=", "!=", "|~", "!~", "|>", "!>"})
_MATCH_OPS = {
    "=": MatchType.EQUAL,
    "!=": MatchType.NOT_EQUAL,
    "=~": MatchType.REGEX,
    "!~": MatchType.NOT_REGEX,
}
_UNWRAPPED_OPS = frozenset(
    {
        "avg_over_time",
        "sum_over_time",
        "min_over_time",
        "max_over_time",
        "stddev_over_time",
        "stdvar_over_time",
        "quantile_over_time",
        "first_over_time",
        "last_over_time",
        "rate_counter",
    }
)
_GROUPABLE_RANGE_OPS = frozenset(
    {
        "avg_over_time",
        "stddev_over_time",
        "stdvar_over_time",
        "quantile_over_time",
        "rate",
        "max_over_time",
        "min_over_time",
        "first_over_time",
        "last_over_time",
    }
)


class ParseError(Exception):
    """A query that does not parse; ``str()`` reads like Loki's errors."""

    def __init__(self, message: str, pos: int | None, query: str) -> None:
        self.message = message
        self.pos = pos
        self.query = query
        if pos is None:
            text = f"parse error : {message}"
        else:
            line, col = line_col(query, pos)
            text = f"parse error at line {line}, col {col}: {message}"
        super().__init__(text)


def line_col(query: str, pos: int) -> tuple[int, int]:
    pos = max(0, min(pos, len(query)))
    line = 1 + query.count("\n", 0, pos)
    col = pos - query.rfind("\n", 0, pos)
    return line, col


def _token_name(tok: Token) -> str:
    if tok.kind == "EOF":
        return "$end"
    return tok.kind


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        try:
            self.tokens = tokenize(text)
        except LexError as exc:
            raise ParseError(exc.message, exc.pos, text) from None
        self.i = 0

    # ------------------------------------------------------------------ helpers

    def peek(self, ahead: int = 0) -> Token:
        return self.tokens[min(self.i + ahead, len(self.tokens) - 1)]

    def advance(self) -> Token:
        tok = self.tokens[self.i]
        if self.i < len(self.tokens) - 1:
            self.i += 1
        return tok

    def unexpected(self, expecting: str = "") -> NoReturn:
        tok = self.peek()
        msg = f"syntax error: unexpected {_token_name(tok)}"
        if expecting:
            msg += f", expecting {expecting}"
        raise ParseError(msg, tok.pos, self.text)

    def expect(self, kind: str, expecting: str | None = None) -> Token:
        if self.peek().kind != kind:
            self.unexpected(expecting or kind)
        return self.advance()

    def fail(self, message: str, pos: int | None = None) -> NoReturn:
        raise ParseError(message, pos, self.text)

    # ------------------------------------------------------------------ top level

    def parse(self) -> ast.Expr:
        if self.peek().kind == "EOF":
            self.fail("syntax error: unexpected $end", 0)
        expr = self.parse_expr(0)
        if self.peek().kind != "EOF":
            self.unexpected()
        return expr

    def parse_expr(self, min_prec: int) -> ast.Expr:
        left = self.parse_unary()
        while True:
            tok = self.peek()
            prec = _BINOP_PREC.get(tok.kind)
            if prec is None or prec < min_prec:
                break
            self.advance()
            return_bool, matching = self.parse_bin_modifiers(tok.kind)
            next_min = prec if tok.kind == "^" else prec + 1
            right = self.parse_expr(next_min)
            left = self.make_binary(tok, left, right, return_bool, matching)
        return left

    def make_binary(
        self,
        tok: Token,
        left: ast.Expr,
        right: ast.Expr,
        return_bool: bool,
        matching: ast.VectorMatching | None,
    ) -> ast.BinaryExpr:
        op = tok.kind
        for leg, side in ((left, "left"), (right, "right")):
            if isinstance(leg, ast.LogQuery):
                self.fail(f"unexpected type for {side} leg of binary operation ({op}): log query")
        if op in SET_OPS:
            if isinstance(left, ast.Literal):
                self.fail(
                    f"unexpected literal for left leg of logical/set binary operation ({op}): {left.value:f}"
                )
            if isinstance(right, ast.Literal):
                self.fail(
                    f"unexpected literal for right leg of logical/set binary operation ({op}): {right.value:f}"
                )
        assert not isinstance(left, ast.LogQuery) and not isinstance(right, ast.LogQuery)
        return ast.BinaryExpr(op, left, right, return_bool, matching, getattr(left, "pos", tok.pos))

    def parse_bin_modifiers(self, op: str) -> tuple[bool, ast.VectorMatching | None]:
        return_bool = False
        if self.peek().kind == "bool":
            if op not in COMPARISONS:
                self.unexpected()
            self.advance()
            return_bool = True
        matching: ast.VectorMatching | None = None
        if self.peek().kind in ("on", "ignoring"):
            on = self.advance().kind == "on"
            matching = ast.VectorMatching(on=on, labels=self.parse_label_list())
            if self.peek().kind in ("group_left", "group_right"):
                if op in SET_OPS:
                    self.unexpected()
                card = "many-to-one" if self.advance().kind == "group_left" else "one-to-many"
                matching.card = card
                if self.peek().kind == "(":
                    matching.include = self.parse_label_list()
        return return_bool, matching

    def parse_label_list(self) -> list[str]:
        self.expect("(", "(")
        names: list[str] = []
        while self.peek().kind != ")":
            tok = self.peek()
            if tok.kind == "IDENTIFIER" or tok.kind.isidentifier():
                if tok.kind in ("EOF", "STRING", "NUMBER", "DURATION", "BYTES", "RANGE"):
                    self.unexpected("IDENTIFIER")
                names.append(self.advance().text)
            else:
                self.unexpected("IDENTIFIER")
            if self.peek().kind == ",":
                self.advance()
            elif self.peek().kind != ")":
                self.unexpected(", or )")
        self.advance()
        return names

    def parse_unary(self) -> ast.Expr:
        tok = self.peek()
        if tok.kind in ("+", "-"):
            self.advance()
            num = self.peek()
            if num.kind != "NUMBER":
                self.unexpected("NUMBER")
            self.advance()
            return ast.Literal(-num.value if tok.kind == "-" else num.value, tok.pos)
        return self.parse_primary()

    def parse_primary(self) -> ast.Expr:
        tok = self.peek()
        kind = tok.kind
        if kind == "NUMBER":
            self.advance()
            return ast.Literal(tok.value, tok.pos)
        if kind == "(":
            self.advance()
            inner = self.parse_expr(0)
            self.expect(")", ")")
            return inner
        if kind == "{":
            return self.parse_log_query()
        if kind in RANGE_OPS:
            return self.parse_range_aggregation()
        if kind in VECTOR_OPS:
            return self.parse_vector_aggregation()
        if kind == "label_replace":
            return self.parse_label_replace()
        if kind == "vector":
            self.advance()
            self.expect("(", "(")
            num = self.expect("NUMBER", "NUMBER")
            self.expect(")", ")")
            return ast.VectorExpr(num.value, tok.pos)
        self.unexpected()

    # ------------------------------------------------------------------ metric expressions

    def parse_grouping(self) -> ast.Grouping | None:
        if self.peek().kind not in ("by", "without"):
            return None
        without = self.advance().kind == "without"
        return ast.Grouping(without, self.parse_label_list())

    def parse_range_aggregation(self) -> ast.RangeAggregation:
        op_tok = self.advance()
        op = op_tok.kind
        self.expect("(", "(")
        param: float | None = None
        if op == "quantile_over_time":
            param = self.expect("NUMBER", "NUMBER").value
            self.expect(",", ",")
        rng = self.parse_log_range()
        self.expect(")", ")")
        grouping = self.parse_grouping()
        node = ast.RangeAggregation(op, rng, param, grouping, op_tok.pos)
        self.validate_range(node)
        return node

    def validate_range(self, node: ast.RangeAggregation) -> None:
        op = node.op
        groupable = op in _GROUPABLE_RANGE_OPS and (op != "rate" or node.range.unwrap is not None)
        if node.grouping is not None and not groupable:
            self.fail(f"grouping not allowed for {op} aggregation")
        if node.range.unwrap is not None:
            if op not in _UNWRAPPED_OPS and op not in ("rate", "absent_over_time"):
                self.fail(f"invalid aggregation {op} with unwrap")
        elif op in _UNWRAPPED_OPS:
            self.fail(f"invalid aggregation {op} without unwrap")

    def parse_log_range(self) -> ast.LogRange:
        """``{..} pipeline [unwrap] [r] [offset d]``, ``{..}[r] pipeline``, ``(log)[r]``."""
        if self.peek().kind == "(":
            self.advance()
            query, unwrap = self.parse_log_query_with_unwrap()
            self.expect(")", ")")
            rng = self.expect("RANGE", "RANGE")
            offset = self.parse_offset()
            return ast.LogRange(query, int(rng.value), offset, unwrap)
        if self.peek().kind != "{":
            self.unexpected("{")
        start = self.peek().pos
        matchers = self.parse_selector()
        if self.peek().kind == "RANGE":
            rng = self.advance()
            offset = self.parse_offset()
            stages, unwrap = self.parse_pipeline(allow_unwrap=True)
            query = ast.LogQuery(matchers, stages, start)
            return ast.LogRange(query, int(rng.value), offset, unwrap)
        stages, unwrap = self.parse_pipeline(allow_unwrap=True)
        rng = self.expect("RANGE", "RANGE")
        offset = self.parse_offset()
        return ast.LogRange(ast.LogQuery(matchers, stages, start), int(rng.value), offset, unwrap)

    def parse_log_query_with_unwrap(self) -> tuple[ast.LogQuery, ast.Unwrap | None]:
        if self.peek().kind == "(":
            self.advance()
            inner = self.parse_log_query_with_unwrap()
            self.expect(")", ")")
            return inner
        start = self.peek().pos
        matchers = self.parse_selector()
        stages, unwrap = self.parse_pipeline(allow_unwrap=True)
        return ast.LogQuery(matchers, stages, start), unwrap

    def parse_offset(self) -> int:
        if self.peek().kind != "offset":
            return 0
        self.advance()
        return int(self.expect("DURATION", "DURATION").value)

    def parse_vector_aggregation(self) -> ast.VectorAggregation:
        op_tok = self.advance()
        op = op_tok.kind
        grouping = self.parse_grouping()
        self.expect("(", "(")
        param: float | None = None
        if op in ("topk", "bottomk"):
            if self.peek().kind != "NUMBER":
                self.fail(f"parameter required for operation {op}", self.peek().pos)
            ptok = self.advance()
            if ptok.value != int(ptok.value):
                self.fail(f"invalid parameter {op}({ptok.text},)")
            param = ptok.value
            self.expect(",", ",")
        inner = self.parse_expr(0)
        self.expect(")", ")")
        if grouping is None:
            grouping = self.parse_grouping()
        if isinstance(inner, ast.LogQuery):
            self.fail(f"unexpected log query in {op} aggregation", op_tok.pos)
        if op in ("sort", "sort_desc") and grouping is not None:
            self.fail(f"grouping not allowed for {op} aggregation")
        return ast.VectorAggregation(op, inner, grouping, param, op_tok.pos)

    def parse_label_replace(self) -> ast.LabelReplace:
        tok = self.advance()
        self.expect("(", "(")
        inner = self.parse_expr(0)
        if isinstance(inner, ast.LogQuery):
            self.fail("unexpected log query in label_replace", tok.pos)
        args: list[str] = []
        for _ in range(4):
            self.expect(",", ",")
            args.append(self.expect("STRING", "STRING").text)
        self.expect(")", ")")
        try:
            from tidewatch.matcher import compile_anchored

            compile_anchored(args[3])
        except RegexError as exc:
            self.fail(f"invalid regex in label_replace: {exc}")
        return ast.LabelReplace(inner, args[0], args[1], args[2], args[3], tok.pos)

    # ------------------------------------------------------------------ log queries

    def parse_log_query(self) -> ast.LogQuery:
        start = self.peek().pos
        matchers = self.parse_selector()
        stages, _unwrap = self.parse_pipeline(allow_unwrap=False)
        return ast.LogQuery(matchers, stages, start)

    def parse_selector(self) -> list[Matcher]:
        self.expect("{", "{")
        matchers: list[Matcher] = []
        while self.peek().kind != "}":
            matchers.append(self.parse_matcher())
            if self.peek().kind == ",":
                self.advance()
            elif self.peek().kind != "}":
                self.unexpected(", or }")
        self.advance()
        if not any(not m.matches_empty() for m in matchers):
            self.fail(EMPTY_SELECTOR_MSG)
        return matchers

    def parse_matcher(self) -> Matcher:
        name = self.expect("IDENTIFIER", "IDENTIFIER")
        op = self.peek()
        if op.kind not in _MATCH_OPS:
            self.unexpected("=, !=, =~ or !~")
        self.advance()
        value = self.expect("STRING", "STRING")
        return self.new_matcher(_MATCH_OPS[op.kind], name.text, value.text, value.pos)

    def new_matcher(self, mt: MatchType, name: str, value: str, pos: int) -> Matcher:
        try:
            return Matcher(mt, name, value)
        except RegexError as exc:
            self.fail(f"error parsing regexp: {exc}", pos)

    def parse_pipeline(self, allow_unwrap: bool) -> tuple[list[ast.Stage], ast.Unwrap | None]:
        stages: list[ast.Stage] = []
        while True:
            tok = self.peek()
            if tok.kind in LINE_FILTER_OPS:
                stages.append(self.parse_line_filter())
                continue
            if tok.kind != "|":
                return stages, None
            nxt = self.peek(1)
            if nxt.kind == "unwrap":
                if not allow_unwrap:
                    self.advance()
                    self.unexpected()
                return stages, self.parse_unwrap()
            self.advance()
            stages.append(self.parse_stage())

    def parse_line_filter(self) -> ast.LineFilter:
        op = self.advance().kind
        values = [self.parse_filter_value(op)]
        while self.peek().kind == "or" and self.peek(1).kind in ("STRING", "ip"):
            self.advance()
            values.append(self.parse_filter_value(op))
        return ast.LineFilter(op, values)

    def parse_filter_value(self, op: str) -> ast.FilterValue:
        tok = self.peek()
        if tok.kind == "ip":
            if op in ("|~", "!~", "|>", "!>"):
                self.fail(f"ip: invalid operation {op}", tok.pos)
            self.advance()
            self.expect("(", "(")
            value = self.expect("STRING", "STRING").text
            self.expect(")", ")")
            return ast.FilterValue(value, is_ip=True)
        value = self.expect("STRING", "STRING").text
        if op in ("|>", "!>"):
            from tidewatch.logs.logql.patterns import PatternError, compile_pattern

            try:
                nodes = compile_pattern(value, need_capture=False)
            except PatternError as exc:
                self.fail(str(exc), tok.pos)
            if any(getattr(n, "name", "_") != "_" for n in nodes):
                self.fail(
                    f"named captures are not allowed in a pattern line filter: {value}", tok.pos
                )
        if op in ("|~", "!~"):
            from tidewatch.matcher import compile_regex

            try:
                compile_regex(value)
            except RegexError as exc:
                self.fail(f"error parsing regexp: {exc}", tok.pos)
        return ast.FilterValue(value)

    def parse_stage(self) -> ast.Stage:
        tok = self.peek()
        kind = tok.kind
        if kind == "json":
            self.advance()
            start = self.peek().pos
            extractions = self.parse_extractions()
            from tidewatch.logs.logql.parsers import parse_json_path

            for _, path in extractions:
                try:
                    parse_json_path(path)
                except ValueError as exc:
                    self.fail(str(exc), start)
            return ast.JSONParser(extractions)
        if kind == "logfmt":
            self.advance()
            strict = keep_empty = False
            while self.peek().kind == "FLAG":
                flag = self.advance()
                if flag.text == "--strict":
                    strict = True
                elif flag.text == "--keep-empty":
                    keep_empty = True
                else:
                    self.fail(f"syntax error: unexpected {flag.text}", flag.pos)
            return ast.LogfmtParser(strict, keep_empty, self.parse_extractions())
        if kind == "regexp":
            self.advance()
            s = self.expect("STRING", "STRING")
            self.check_regexp_parser(s)
            return ast.RegexpParser(s.text)
        if kind == "pattern":
            self.advance()
            s = self.expect("STRING", "STRING")
            from tidewatch.logs.logql.patterns import PatternError, compile_pattern

            try:
                compile_pattern(s.text, need_capture=True)
            except PatternError as exc:
                self.fail(str(exc), s.pos)
            return ast.PatternParser(s.text)
        if kind == "unpack":
            self.advance()
            return ast.UnpackParser()
        if kind == "line_format":
            self.advance()
            return ast.LineFormat(self.expect("STRING", "STRING").text)
        if kind == "label_format":
            self.advance()
            return self.parse_label_format()
        if kind in ("drop", "keep"):
            self.advance()
            return self.parse_drop_keep(kind == "keep")
        if kind == "decolorize":
            self.advance()
            return ast.Decolorize()
        if kind in ("IDENTIFIER", "("):
            return ast.LabelFilterStage(self.parse_label_filter(0))
        self.unexpected()

    def check_regexp_parser(self, s: Token) -> None:
        from tidewatch.logs.logql.parsers import RegexpParseError, compile_regexp_parser

        try:
            compile_regexp_parser(s.text)
        except RegexpParseError as exc:
            self.fail(str(exc), s.pos)

    def parse_extractions(self) -> list[tuple[str, str]]:
        out: list[tuple[str, str]] = []
        if self.peek().kind != "IDENTIFIER":
            return out
        while True:
            name = self.expect("IDENTIFIER", "IDENTIFIER").text
            if self.peek().kind == "=":
                self.advance()
                out.append((name, self.expect("STRING", "STRING").text))
            else:
                out.append((name, name))
            if self.peek().kind == "," and self.peek(1).kind == "IDENTIFIER":
                self.advance()
                continue
            return out

    def parse_label_format(self) -> ast.LabelFormat:
        items: list[ast.LabelFormatItem] = []
        seen: set[str] = set()
        while True:
            dst = self.expect("IDENTIFIER", "IDENTIFIER")
            self.expect("=", "=")
            src = self.peek()
            if src.kind == "STRING":
                items.append(ast.LabelFormatItem(dst.text, self.advance().text, True))
            elif src.kind == "IDENTIFIER":
                items.append(ast.LabelFormatItem(dst.text, self.advance().text, False))
            else:
                self.unexpected("IDENTIFIER or STRING")
            if dst.text in seen:
                self.fail(f"multiple label name '{dst.text}' in a single label_format")
            seen.add(dst.text)
            if self.peek().kind == "," and self.peek(1).kind == "IDENTIFIER":
                self.advance()
                continue
            return ast.LabelFormat(items)

    def parse_drop_keep(self, keep: bool) -> ast.DropKeep:
        names: list[str] = []
        matchers: list[Matcher] = []
        while True:
            name = self.expect("IDENTIFIER", "IDENTIFIER")
            if self.peek().kind in _MATCH_OPS:
                op = self.advance().kind
                value = self.expect("STRING", "STRING")
                matchers.append(self.new_matcher(_MATCH_OPS[op], name.text, value.text, value.pos))
            else:
                names.append(name.text)
            if self.peek().kind == "," and self.peek(1).kind == "IDENTIFIER":
                self.advance()
                continue
            return ast.DropKeep(keep, names, matchers)

    def parse_unwrap(self) -> ast.Unwrap:
        self.advance()  # |
        self.advance()  # unwrap
        tok = self.peek()
        conversion = ""
        if tok.kind in ("duration", "duration_seconds", "bytes"):
            self.advance()
            conversion = "bytes" if tok.kind == "bytes" else "duration"
            self.expect("(", "(")
            label = self.expect("IDENTIFIER", "IDENTIFIER").text
            self.expect(")", ")")
        else:
            label = self.expect("IDENTIFIER", "IDENTIFIER").text
        unwrap = ast.Unwrap(label, conversion)
        while self.peek().kind == "|" and self.peek(1).kind in ("IDENTIFIER", "("):
            self.advance()
            unwrap.post_filters.append(self.parse_label_filter(0))
        return unwrap

    # ------------------------------------------------------------------ label filters

    def parse_label_filter(self, min_prec: int) -> ast.LabelFilterExpr:
        left = self.parse_label_filter_primary()
        while True:
            tok = self.peek()
            if tok.kind in (",", "IDENTIFIER", "("):
                # Loki's grammar shifts on juxtaposition and ",": the right side takes the rest.
                if tok.kind == ",":
                    self.advance()
                right = self.parse_label_filter(0)
                left = ast.BinaryLabelFilter("and", left, right)
                continue
            if tok.kind == "and" and min_prec <= 2:
                self.advance()
                left = ast.BinaryLabelFilter("and", left, self.parse_label_filter(3))
                continue
            if tok.kind == "or" and min_prec <= 1:
                self.advance()
                left = ast.BinaryLabelFilter("or", left, self.parse_label_filter(2))
                continue
            return left

    def parse_label_filter_primary(self) -> ast.LabelFilterExpr:
        if self.peek().kind == "(":
            self.advance()
            inner = self.parse_label_filter(0)
            self.expect(")", ")")
            return inner
        name = self.expect("IDENTIFIER", "IDENTIFIER").text
        op_tok = self.peek()
        op = op_tok.kind
        if op not in ("=", "!=", "=~", "!~", "==", ">", ">=", "<", "<="):
            self.unexpected()
        self.advance()
        val = self.peek()
        if val.kind == "ip":
            if op not in ("=", "!="):
                self.unexpected()
            self.advance()
            self.expect("(", "(")
            pattern = self.expect("STRING", "STRING")
            self.expect(")", ")")
            from tidewatch.logs.logql.ipfilter import IPPatternError, parse_ip_pattern

            try:
                parse_ip_pattern(pattern.text)
            except IPPatternError as exc:
                self.fail(str(exc), pattern.pos)
            return ast.IPLabelFilter(name, op == "!=", pattern.text)
        if val.kind == "STRING":
            self.advance()
            if op in ("=", "!=", "=~", "!~"):
                return ast.StringLabelFilter(
                    self.new_matcher(_MATCH_OPS[op], name, val.text, val.pos)
                )
            self.fail("syntax error: unexpected STRING", val.pos)
        if op in ("=~", "!~"):
            self.unexpected("STRING")
        sign = 1.0
        if val.kind in ("+", "-") and self.peek(1).kind in ("NUMBER", "DURATION", "BYTES"):
            sign = -1.0 if self.advance().kind == "-" else 1.0
            val = self.peek()
        cmp_op = "==" if op == "=" else op
        if val.kind == "NUMBER":
            self.advance()
            return ast.NumericLabelFilter(name, cmp_op, sign * val.value, "number")
        if val.kind == "DURATION":
            self.advance()
            return ast.NumericLabelFilter(name, cmp_op, sign * val.value / 1e9, "duration")
        if val.kind == "BYTES":
            self.advance()
            return ast.NumericLabelFilter(
                name, cmp_op, sign * float(parse_bytes(val.text)), "bytes"
            )
        self.unexpected()


def parse_expr(text: str) -> ast.Expr:
    """Parse a LogQL query (log or metric); raises :class:`ParseError`."""
    return _Parser(text).parse()


def parse_metric(text: str) -> ast.MetricExpr:
    expr = parse_expr(text)
    if isinstance(expr, ast.LogQuery):
        raise ParseError("log query is not a metric query", None, text)
    return expr
