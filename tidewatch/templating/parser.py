"""Recursive-descent parser for Go ``text/template``, following the grammar and the
error messages of Go's ``text/template/parse`` package."""

from __future__ import annotations

from collections.abc import Container

from tidewatch.templating import lexer as lx
from tidewatch.templating.errors import TemplateError
from tidewatch.templating.lexer import Token
from tidewatch.templating.nodes import (
    ActionNode,
    BoolNode,
    BranchNode,
    BreakNode,
    ChainNode,
    CommandNode,
    ContinueNode,
    DotNode,
    ElseNode,
    EndNode,
    FieldNode,
    IdentifierNode,
    IfNode,
    ListNode,
    NilNode,
    Node,
    NumberNode,
    PipeNode,
    RangeNode,
    StringNode,
    TemplateNode,
    TextNode,
    Tree,
    VariableNode,
    WithNode,
)

_OPERAND_START = frozenset(
    (
        lx.BOOL,
        lx.CHAR_CONSTANT,
        lx.DOT,
        lx.FIELD,
        lx.IDENTIFIER,
        lx.NUMBER,
        lx.NIL,
        lx.RAW_STRING,
        lx.STRING,
        lx.VARIABLE,
        lx.LEFT_PAREN,
    )
)

_SIMPLE_ESCAPES = {
    "a": "\a",
    "b": "\b",
    "f": "\f",
    "n": "\n",
    "r": "\r",
    "t": "\t",
    "v": "\v",
    "\\": "\\",
    "'": "'",
    '"': '"',
}


def go_unquote(quoted: str) -> str:
    """Go's ``strconv.Unquote`` for "...", `...` and '...' literals; ValueError if invalid."""
    if len(quoted) < 2 or quoted[0] != quoted[-1]:
        raise ValueError("invalid syntax")
    q = quoted[0]
    body = quoted[1:-1]
    if q == "`":
        if "`" in body:
            raise ValueError("invalid syntax")
        return body.replace("\r", "")
    if q not in "\"'":
        raise ValueError("invalid syntax")
    out: list[str] = []
    i = 0
    n = len(body)
    while i < n:
        ch = body[i]
        if ch == q or ch == "\n":
            raise ValueError("invalid syntax")
        if ch != "\\":
            out.append(ch)
            i += 1
            continue
        if i + 1 >= n:
            raise ValueError("invalid syntax")
        e = body[i + 1]
        if e in _SIMPLE_ESCAPES:
            if (e == "'" and q == '"') or (e == '"' and q == "'"):
                raise ValueError("invalid syntax")
            out.append(_SIMPLE_ESCAPES[e])
            i += 2
        elif e in "xuU":
            width = {"x": 2, "u": 4, "U": 8}[e]
            digits = body[i + 2 : i + 2 + width]
            if len(digits) != width or any(c not in "0123456789abcdefABCDEF" for c in digits):
                raise ValueError("invalid syntax")
            out.append(chr(int(digits, 16)))
            i += 2 + width
        elif e in "01234567":
            digits = body[i + 1 : i + 4]
            if len(digits) != 3 or any(c not in "01234567" for c in digits):
                raise ValueError("invalid syntax")
            out.append(chr(int(digits, 8)))
            i += 4
        else:
            raise ValueError("invalid syntax")
    s = "".join(out)
    if q == "'" and len(s) != 1:
        raise ValueError("invalid syntax")
    return s


def parse_number(text: str) -> int | float:
    """A number constant as Go's ``idealConstant`` types it: int unless it has a point or exponent."""
    t = text.replace("_", "")
    if t.endswith("i"):
        raise ValueError(f"complex constants are not supported: {text}")
    sign = 1
    body = t
    if body[:1] in "+-":
        sign = -1 if body[0] == "-" else 1
        body = body[1:]
    low = body.lower()
    if low.startswith("0x"):
        if "." in low or "p" in low:
            return sign * float.fromhex(body)
        return sign * int(body[2:], 16)
    if low.startswith("0o"):
        return sign * int(body[2:], 8)
    if low.startswith("0b"):
        return sign * int(body[2:], 2)
    if any(c in low for c in ".e"):
        return sign * float(body)
    if len(body) > 1 and body[0] == "0":
        return sign * int(body, 8)  # Go's legacy octal "017"
    return sign * int(body)


class Parser:
    """Parses one source text into its main tree plus any {{define}}d/{{block}} trees."""

    def __init__(
        self, name: str, text: str, funcs: Container[str], left: str = "{{", right: str = "}}"
    ) -> None:
        self.name = name
        self.text = text
        self.funcs = funcs
        self.tokens = lx.Lexer(text, left, right).run()
        # The stream ends with EOF or ERROR; repeat it so look-ahead never runs off the end.
        self.tokens.extend([self.tokens[-1]] * 4)
        self.i = 0
        self.cur: Token = self.tokens[0]
        self.vars: list[str] = ["$"]
        self.range_depth = 0
        self.action_pos = -1
        self.trees: dict[str, Tree] = {}

    # -- errors ---------------------------------------------------------------------

    def _line(self, pos: int) -> int:
        return self.text.count("\n", 0, pos) + 1

    def error(self, msg: str) -> TemplateError:
        return TemplateError(f"template: {self.name}:{self._line(self.cur.pos)}: {msg}")

    def unexpected(self, tok: Token, context: str) -> TemplateError:
        if tok.kind == lx.ERROR:
            extra = ""
            if self.action_pos >= 0:
                start_line = self._line(self.action_pos)
                if start_line != self._line(tok.pos):
                    extra = f" in action started at {self.name}:{start_line}"
                    if tok.val.endswith(" action"):
                        extra = extra[len(" in action") :]
            return self.error(tok.val + extra)
        return self.error(f"unexpected {tok.describe()} in {context}")

    # -- token stream ---------------------------------------------------------------

    def next(self) -> Token:
        tok = self.tokens[self.i]
        self.i += 1
        self.cur = tok
        return tok

    def backup(self, count: int = 1) -> None:
        self.i -= count

    def peek(self) -> Token:
        return self.tokens[self.i]

    def next_non_space(self) -> Token:
        tok = self.next()
        while tok.kind == lx.SPACE:
            tok = self.next()
        return tok

    def peek_non_space(self) -> Token:
        while self.tokens[self.i].kind == lx.SPACE:
            self.i += 1
        return self.tokens[self.i]

    def expect(self, kind: str, context: str) -> Token:
        tok = self.next_non_space()
        if tok.kind != kind:
            raise self.unexpected(tok, context)
        return tok

    # -- top level --------------------------------------------------------------------

    def parse(self) -> dict[str, Tree]:
        """All trees from the text, keyed by template name; the main body under ``name``."""
        try:
            return self._parse()
        except RecursionError:
            raise self.error("max expression depth exceeded") from None

    def _parse(self) -> dict[str, Tree]:
        root = ListNode(self.peek().pos)
        while self.peek().kind != lx.EOF:
            if self.peek().kind == lx.LEFT_DELIM:
                start = self.i
                delim = self.next()
                tok = self.next_non_space()
                if tok.kind == lx.KEYWORD and tok.val == "define":
                    self.action_pos = delim.pos
                    self._definition()
                    self.action_pos = -1
                    continue
                self.i = start
            node = self._text_or_action()
            if isinstance(node, (EndNode, ElseNode)):
                raise self.error(f"unexpected {node}")
            if node is not None:
                root.nodes.append(node)
        self._add(Tree(self.name, self.name, root, self.text))
        return self.trees

    def _add(self, tree: Tree) -> None:
        old = self.trees.get(tree.name)
        if old is None or old.root.is_empty():
            self.trees[tree.name] = tree
        elif not tree.root.is_empty():
            raise self.error(f"template: multiple definition of template {lx.go_quote(tree.name)}")

    def _template_name(self, tok: Token, context: str) -> str:
        if tok.kind not in (lx.STRING, lx.RAW_STRING):
            raise self.unexpected(tok, context)
        try:
            return go_unquote(tok.val)
        except ValueError as exc:
            raise self.error(str(exc)) from None

    def _definition(self) -> None:
        context = "define clause"
        name = self._template_name(self.next_non_space(), context)
        self.expect(lx.RIGHT_DELIM, context)
        outer_vars, self.vars = self.vars, ["$"]
        body, end = self._item_list()
        self.vars = outer_vars
        if not isinstance(end, EndNode):
            raise self.error(f"unexpected {end} in {context}")
        self._add(Tree(name, self.name, body, self.text))

    def _item_list(self) -> tuple[ListNode, Node]:
        lst = ListNode(self.peek_non_space().pos)
        while self.peek_non_space().kind != lx.EOF:
            node = self._text_or_action()
            if isinstance(node, (EndNode, ElseNode)):
                return lst, node
            if node is not None:
                lst.nodes.append(node)
        self.next()
        raise self.error("unexpected EOF")

    def _text_or_action(self) -> Node | None:
        tok = self.next_non_space()
        if tok.kind == lx.TEXT:
            return TextNode(tok.pos, tok.val)
        if tok.kind == lx.LEFT_DELIM:
            saved = self.action_pos
            self.action_pos = tok.pos
            try:
                return self._action()
            finally:
                self.action_pos = saved
        raise self.unexpected(tok, "input")

    def _action(self) -> Node:
        tok = self.next_non_space()
        if tok.kind == lx.KEYWORD:
            kw = tok.val
            if kw == "if":
                return self._branch(IfNode, "if")
            if kw == "range":
                return self._branch(RangeNode, "range")
            if kw == "with":
                return self._branch(WithNode, "with")
            if kw == "end":
                return EndNode(self.expect(lx.RIGHT_DELIM, "end").pos)
            if kw == "else":
                nxt = self.peek_non_space()
                if nxt.kind == lx.KEYWORD and nxt.val in ("if", "with"):
                    return ElseNode(nxt.pos)
                return ElseNode(self.expect(lx.RIGHT_DELIM, "else").pos)
            if kw in ("break", "continue"):
                nxt = self.next_non_space()
                if nxt.kind != lx.RIGHT_DELIM:
                    raise self.unexpected(nxt, "{{" + kw + "}}")
                if self.range_depth == 0:
                    raise self.error("{{" + kw + "}} outside {{range}}")
                return BreakNode(tok.pos) if kw == "break" else ContinueNode(tok.pos)
            if kw == "template":
                return self._template_call()
            if kw == "block":
                return self._block()
        self.backup()
        start = self.peek_non_space()
        # Variables declared here live until the enclosing {{end}}.
        return ActionNode(start.pos, self._pipeline("command", lx.RIGHT_DELIM))

    def _branch(self, cls: type[BranchNode], context: str) -> BranchNode:
        mark = len(self.vars)
        try:
            pipe = self._pipeline(context, lx.RIGHT_DELIM)
            if context == "range":
                self.range_depth += 1
            lst, nxt = self._item_list()
            if context == "range":
                self.range_depth -= 1
            else_list: ListNode | None = None
            if isinstance(nxt, ElseNode):
                peek = self.peek_non_space()
                if context in ("if", "with") and peek.kind == lx.KEYWORD and peek.val == context:
                    # "{{else if x}}" is "{{else}}{{if x}}...{{end}}{{end}}" sharing one end.
                    self.next()
                    else_list = ListNode(nxt.pos)
                    else_list.nodes.append(self._branch(cls, context))
                else:
                    else_list, nxt = self._item_list()
                    if not isinstance(nxt, EndNode):
                        raise self.error(f"expected end; found {nxt}")
            return cls(pipe.pos, pipe, lst, else_list)
        finally:
            del self.vars[mark:]

    def _template_call(self) -> TemplateNode:
        context = "template clause"
        tok = self.next_non_space()
        name = self._template_name(tok, context)
        pipe: PipeNode | None = None
        if self.next_non_space().kind != lx.RIGHT_DELIM:
            self.backup()
            pipe = self._pipeline(context, lx.RIGHT_DELIM)
        return TemplateNode(tok.pos, name, pipe)

    def _block(self) -> TemplateNode:
        context = "block clause"
        tok = self.next_non_space()
        name = self._template_name(tok, context)
        pipe = self._pipeline(context, lx.RIGHT_DELIM)
        outer_vars, self.vars = self.vars, ["$"]
        outer_depth, self.range_depth = self.range_depth, 0
        body, end = self._item_list()
        self.vars, self.range_depth = outer_vars, outer_depth
        if not isinstance(end, EndNode):
            raise self.error(f"unexpected {end} in {context}")
        self._add(Tree(name, self.name, body, self.text))
        return TemplateNode(tok.pos, name, pipe)

    # -- pipelines --------------------------------------------------------------------

    def _pipeline(self, context: str, end: str) -> PipeNode:
        pipe = PipeNode(self.peek_non_space().pos)
        self._declarations(pipe, context)
        while True:
            tok = self.next_non_space()
            if tok.kind == end:
                self._check_pipeline(pipe, context)
                return pipe
            if tok.kind in _OPERAND_START:
                self.backup()
                pipe.cmds.append(self._command())
            else:
                raise self.unexpected(tok, context)

    def _declarations(self, pipe: PipeNode, context: str) -> None:
        while True:
            v = self.peek_non_space()
            if v.kind != lx.VARIABLE:
                return
            start = self.i
            self.next()
            nxt = self.peek_non_space()
            if nxt.kind in (lx.ASSIGN, lx.DECLARE):
                pipe.is_assign = nxt.kind == lx.ASSIGN
                self.next_non_space()
                # As Go, an assignment to an undeclared variable fails only when run.
                pipe.decl.append(VariableNode(v.pos, [v.val]))
                self.vars.append(v.val)
                return
            if nxt.kind == lx.CHAR and nxt.val == ",":
                self.next_non_space()
                pipe.decl.append(VariableNode(v.pos, [v.val]))
                self.vars.append(v.val)
                if context == "range" and len(pipe.decl) < 2:
                    if self.peek_non_space().kind in (lx.VARIABLE, lx.RIGHT_DELIM, lx.RIGHT_PAREN):
                        continue
                    raise self.error("range can only initialize variables")
                raise self.error(f"too many declarations in {context}")
            self.i = start
            return

    def _check_pipeline(self, pipe: PipeNode, context: str) -> None:
        if not pipe.cmds:
            raise self.error(f"missing value for {context}")
        for i, cmd in enumerate(pipe.cmds[1:]):
            if isinstance(cmd.args[0], (BoolNode, DotNode, NilNode, NumberNode, StringNode)):
                raise self.error(f"non executable command in pipeline stage {i + 2}")

    def _command(self) -> CommandNode:
        cmd = CommandNode(self.peek_non_space().pos)
        while True:
            self.peek_non_space()
            operand = self._operand()
            if operand is not None:
                cmd.args.append(operand)
            tok = self.next()
            if tok.kind == lx.SPACE:
                continue
            if tok.kind in (lx.RIGHT_DELIM, lx.RIGHT_PAREN):
                self.backup()
            elif tok.kind != lx.PIPE:
                raise self.unexpected(tok, "operand")
            break
        if not cmd.args:
            raise self.error("empty command")
        return cmd

    def _operand(self) -> Node | None:
        node = self._term()
        if node is None:
            return None
        if self.peek().kind == lx.FIELD:
            pos = self.peek().pos
            fields: list[str] = []
            while self.peek().kind == lx.FIELD:
                fields.append(self.next().val[1:])
            if isinstance(node, FieldNode):
                return FieldNode(node.pos, node.idents + fields)
            if isinstance(node, VariableNode):
                return VariableNode(node.pos, node.idents + fields)
            if isinstance(node, (BoolNode, StringNode, NumberNode, NilNode, DotNode)):
                raise self.error(f"unexpected . after term {lx.go_quote(str(node))}")
            return ChainNode(pos, node, fields)
        return node

    def _term(self) -> Node | None:
        tok = self.next_non_space()
        kind = tok.kind
        if kind == lx.FIELD:
            return FieldNode(tok.pos, [tok.val[1:]])
        if kind == lx.IDENTIFIER:
            if tok.val not in self.funcs:
                raise self.error(f"function {lx.go_quote(tok.val)} not defined")
            return IdentifierNode(tok.pos, tok.val)
        if kind == lx.VARIABLE:
            if tok.val not in self.vars:
                raise self.error(f"undefined variable {lx.go_quote(tok.val)}")
            return VariableNode(tok.pos, [tok.val])
        if kind == lx.DOT:
            return DotNode(tok.pos)
        if kind == lx.STRING or kind == lx.RAW_STRING:
            try:
                return StringNode(tok.pos, tok.val, go_unquote(tok.val))
            except ValueError as exc:
                raise self.error(str(exc)) from None
        if kind == lx.NUMBER:
            try:
                return NumberNode(tok.pos, tok.val, parse_number(tok.val))
            except ValueError:
                raise self.error(f"illegal number syntax: {lx.go_quote(tok.val)}") from None
        if kind == lx.CHAR_CONSTANT:
            try:
                return NumberNode(tok.pos, tok.val, ord(go_unquote(tok.val)))
            except ValueError:
                raise self.error(f"malformed character constant: {tok.val}") from None
        if kind == lx.BOOL:
            return BoolNode(tok.pos, tok.val == "true")
        if kind == lx.NIL:
            return NilNode(tok.pos)
        if kind == lx.LEFT_PAREN:
            return self._pipeline("parenthesized pipeline", lx.RIGHT_PAREN)
        self.backup()
        return None


def parse(name: str, text: str, funcs: Container[str] = ()) -> dict[str, Tree]:
    """Parse ``text`` as template ``name``; raises :class:`TemplateError`."""
    return Parser(name, text, funcs).parse()
