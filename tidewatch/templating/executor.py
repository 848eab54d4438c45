"""Tree-walking executor with Go's ``text/template`` evaluation rules."""

from __future__ import annotations

import datetime as dt
import inspect
import types
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, NamedTuple

from tidewatch.templating.builtins import go_and, go_or, map_zero
from tidewatch.templating.errors import TemplateError
from tidewatch.templating.gofmt import go_type_name, render_go_value
from tidewatch.templating.gotime import TIME_METHODS
from tidewatch.templating.lexer import go_quote
from tidewatch.templating.nodes import (
    ActionNode,
    BoolNode,
    BreakNode,
    ChainNode,
    CommandNode,
    ContinueNode,
    DotNode,
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
from tidewatch.templating.values import MISSING, SafeHTML, html_text_escape, is_true

if TYPE_CHECKING:
    from tidewatch.templating.template import Template

# Go allows 100000 nested {{template}} calls; Python's stack allows far fewer.
MAX_TEMPLATE_DEPTH = 150

_NO_FINAL: Any = object()  # "no value piped in", distinct from a piped-in missing value


class _Break(Exception):
    pass


class _Continue(Exception):
    pass


_BUILTIN_TYPES = (str, int, float, bool, bytes, list, tuple, dict, set, frozenset, complex)

# (type, name) -> is it a method templates may call
_method_cache: dict[tuple[type, str], bool] = {}


def _is_method(tp: type, name: str) -> bool:
    key = (tp, name)
    found = _method_cache.get(key)
    if found is None:
        found = False
        if not name.startswith("_"):
            for klass in tp.__mro__:
                if klass in _BUILTIN_TYPES or klass is object:
                    break
                if name in klass.__dict__:
                    attr = klass.__dict__[name]
                    found = isinstance(attr, (types.FunctionType, staticmethod, classmethod)) or (
                        callable(attr) and not isinstance(attr, (property, type))
                    )
                    break
        _method_cache[key] = found
    return found


class CallShape(NamedTuple):
    """What the executor checks before calling: argument counts and string parameters."""

    lo: int
    hi: int | None  # None: variadic
    str_params: tuple[int, ...]  # positions annotated ``str`` (Go's string parameters)
    str_rest: int | None  # first position of ``*args: str``, if any


_UNCHECKED = CallShape(0, None, (), None)
_shape_cache: dict[Any, CallShape] = {}


def _is_str_annotation(annotation: Any) -> bool:
    return annotation is str or annotation == "str"


def call_shape(fn: Callable[..., Any]) -> CallShape:
    """The :class:`CallShape` of ``fn`` (cached; bound methods by their function)."""
    bound = isinstance(fn, types.MethodType)
    key: Any = (fn.__func__, True) if bound else fn  # type: ignore[attr-defined]
    try:
        cached = _shape_cache.get(key)
    except TypeError:
        key = None
        cached = None
    if cached is not None:
        return cached
    try:
        target = fn.__func__ if bound else fn  # type: ignore[attr-defined]
        params = list(inspect.signature(target).parameters.values())
    except (TypeError, ValueError):
        return _UNCHECKED
    if bound:
        params = params[1:]
    lo = 0
    hi: int | None = 0
    str_params: list[int] = []
    str_rest: int | None = None
    for i, p in enumerate(params):
        if p.kind is p.VAR_POSITIONAL:
            hi = None
            if _is_str_annotation(p.annotation):
                str_rest = i
        elif p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD):
            if p.default is p.empty:
                lo += 1
            if hi is not None:
                hi += 1
            if _is_str_annotation(p.annotation):
                str_params.append(i)
    shape = CallShape(lo, hi, tuple(str_params), str_rest)
    if key is not None:
        _shape_cache[key] = shape
    return shape


def print_value(v: Any) -> str:
    """What ``{{pipeline}}`` writes: Go's ``printValue``."""
    if type(v) is str:
        return v
    if v is MISSING or v is None:
        return "<no value>"
    return render_go_value(v)


class Executor:
    __slots__ = (
        "autoescape",
        "depth",
        "funcs",
        "missingkey_zero",
        "node",
        "out",
        "tmpl",
        "tree",
        "vars",
    )

    def __init__(self, tmpl: Template, tree: Tree, dot: Any) -> None:
        self.tmpl = tmpl
        self.funcs = tmpl._funcs
        self.missingkey_zero = tmpl.missingkey_zero
        self.autoescape = tmpl.autoescape
        self.tree = tree
        self.node: Node | None = None
        self.vars: list[list[Any]] = [["$", dot]]
        self.out: list[str] = []
        self.depth = 0

    # -- errors -----------------------------------------------------------------------

    def error(self, msg: str) -> TemplateError:
        name = go_quote(self.tree.name)
        if self.node is None:
            return TemplateError(f"template: {self.tree.name}: {msg}")
        context = str(self.node)
        if len(context) > 20:
            context = context[:20] + "..."
        return TemplateError(
            f"template: {self.tree.location(self.node)}: executing {name} at <{context}>: {msg}"
        )

    # -- statements -------------------------------------------------------------------

    def run(self, dot: Any) -> str:
        try:
            self.walk_list(dot, self.tree.root)
        except RecursionError:
            raise self.error("exceeded maximum template depth") from None
        return "".join(self.out)

    def walk_list(self, dot: Any, lst: ListNode) -> None:
        out = self.out
        for node in lst.nodes:
            tp = type(node)
            if tp is TextNode:
                out.append(node.text)  # type: ignore[attr-defined]
            elif tp is ActionNode:
                self.node = node
                pipe = node.pipe  # type: ignore[attr-defined]
                val = self.eval_pipeline(dot, pipe)
                if not pipe.decl:
                    if type(val) is str:
                        text = val
                    else:
                        self.node = node
                        if isinstance(val, (types.FunctionType, types.BuiltinFunctionType)):
                            raise self.error(f"can't print {node} of type func")
                        text = print_value(val)
                    if self.autoescape and not isinstance(val, SafeHTML):
                        text = html_text_escape(text)
                    out.append(text)
            elif tp is IfNode or tp is WithNode:
                self.walk_if_or_with(dot, node)  # type: ignore[arg-type]
            elif tp is RangeNode:
                self.walk_range(dot, node)  # type: ignore[arg-type]
            elif tp is TemplateNode:
                self.walk_template(dot, node)  # type: ignore[arg-type]
            elif tp is BreakNode:
                raise _Break
            elif tp is ContinueNode:
                raise _Continue
            elif tp is ListNode:
                self.walk_list(dot, node)  # type: ignore[arg-type]
            else:
                self.node = node
                raise self.error(f"unknown node: {node}")

    def walk_if_or_with(self, dot: Any, node: IfNode | WithNode) -> None:
        mark = len(self.vars)
        try:
            val = self.eval_pipeline(dot, node.pipe)
            if is_true(val):
                self.walk_list(val if type(node) is WithNode else dot, node.list)
            elif node.else_list is not None:
                self.walk_list(dot, node.else_list)
        finally:
            del self.vars[mark:]

    def _range_items(self, val: Any, ndecl: int) -> Iterable[tuple[Any, Any]]:
        if val is MISSING or val is None:
            return ()
        if isinstance(val, (list, tuple)):
            return enumerate(val)
        if isinstance(val, Mapping):
            try:
                keys = sorted(val)
            except TypeError:
                keys = list(val)
            return ((k, val[k]) for k in keys)
        if isinstance(val, int) and not isinstance(val, bool):
            if ndecl > 1:
                raise self.error(f"can't use {val} to iterate over more than one variable")
            return ((i, i) for i in range(val))
        if isinstance(val, (str, bytes, bool, float)) or not isinstance(val, Iterable):
            raise self.error(f"range can't iterate over {render_go_value(val)}")
        return enumerate(val)

    def walk_range(self, dot: Any, node: RangeNode) -> None:
        self.node = node
        outer = len(self.vars)
        try:
            val = self.eval_pipeline(dot, node.pipe)
            ndecl = len(node.pipe.decl)
            mark = len(self.vars)
            ran = False
            for index, elem in self._range_items(val, ndecl):
                ran = True
                if ndecl:
                    self.vars[mark - 1] = [self.vars[mark - 1][0], elem]
                    if ndecl > 1:
                        self.vars[mark - 2] = [self.vars[mark - 2][0], index]
                try:
                    self.walk_list(elem, node.list)
                except _Continue:
                    pass
                except _Break:
                    break
                finally:
                    del self.vars[mark:]
            if not ran and node.else_list is not None:
                self.walk_list(dot, node.else_list)
        finally:
            del self.vars[outer:]

    def walk_template(self, dot: Any, node: TemplateNode) -> None:
        self.node = node
        tree = self.tmpl._trees.get(node.name)
        if tree is None:
            raise self.error(f"template {go_quote(node.name)} not defined")
        if self.depth >= MAX_TEMPLATE_DEPTH:
            raise self.error(f"exceeded maximum template depth ({MAX_TEMPLATE_DEPTH})")
        new_dot = self.eval_pipeline(dot, node.pipe) if node.pipe is not None else MISSING
        saved = (self.tree, self.vars)
        self.tree, self.vars = tree, [["$", new_dot]]
        self.depth += 1
        try:
            self.walk_list(new_dot, tree.root)
        finally:
            self.tree, self.vars = saved
            self.depth -= 1

    # -- variables --------------------------------------------------------------------

    def var_value(self, name: str) -> Any:
        for i in range(len(self.vars) - 1, -1, -1):
            if self.vars[i][0] == name:
                return self.vars[i][1]
        raise self.error(f"undefined variable: {name}")

    def set_var(self, name: str, value: Any) -> None:
        for i in range(len(self.vars) - 1, -1, -1):
            if self.vars[i][0] == name:
                self.vars[i][1] = value
                return
        raise self.error(f"undefined variable: {name}")

    # -- expressions ------------------------------------------------------------------

    def eval_pipeline(self, dot: Any, pipe: PipeNode) -> Any:
        self.node = pipe
        value = _NO_FINAL
        for cmd in pipe.cmds:
            value = self.eval_command(dot, cmd, value)
        for var in pipe.decl:
            if pipe.is_assign:
                self.set_var(var.idents[0], value)
            else:
                self.vars.append([var.idents[0], value])
        return value

    def not_a_function(self, args: list[Node], final: Any) -> None:
        if len(args) > 1 or final is not _NO_FINAL:
            raise self.error(f"can't give argument to non-function {args[0]}")

    def eval_command(self, dot: Any, cmd: CommandNode, final: Any) -> Any:
        first = cmd.args[0]
        tp = type(first)
        if tp is FieldNode:
            self.node = first
            return self.eval_field_chain(dot, dot, first, first.idents, cmd.args, final)  # type: ignore[attr-defined]
        if tp is IdentifierNode:
            return self.eval_function(dot, first, cmd, cmd.args, final)  # type: ignore[arg-type]
        if tp is VariableNode:
            return self.eval_variable(dot, first, cmd.args, final)  # type: ignore[arg-type]
        if tp is ChainNode:
            return self.eval_chain(dot, first, cmd.args, final)  # type: ignore[arg-type]
        if tp is PipeNode:
            self.not_a_function(cmd.args, final)
            return self.eval_pipeline(dot, first)  # type: ignore[arg-type]
        self.node = first
        self.not_a_function(cmd.args, final)
        if tp is StringNode or tp is NumberNode or tp is BoolNode:
            return first.value  # type: ignore[attr-defined]
        if tp is DotNode:
            return dot
        if tp is NilNode:
            raise self.error("nil is not a command")
        raise self.error(f"can't evaluate command {go_quote(str(first))}")

    def eval_variable(
        self, dot: Any, var: VariableNode, args: list[Node] | None, final: Any
    ) -> Any:
        self.node = var
        value = self.var_value(var.idents[0])
        if len(var.idents) == 1:
            self.not_a_function(args or [var], final)
            return value
        return self.eval_field_chain(dot, value, var, var.idents[1:], args, final)

    def eval_chain(self, dot: Any, chain: ChainNode, args: list[Node] | None, final: Any) -> Any:
        self.node = chain
        if isinstance(chain.node, NilNode):
            raise self.error(f"indirection through explicit nil in {chain}")
        receiver = self.eval_arg(dot, chain.node)
        self.node = chain
        return self.eval_field_chain(dot, receiver, chain, chain.fields, args, final)

    def eval_field_chain(
        self,
        dot: Any,
        receiver: Any,
        node: Node,
        idents: list[str],
        args: list[Node] | None,
        final: Any,
    ) -> Any:
        last = len(idents) - 1
        for i in range(last):
            receiver = self.eval_field(dot, idents[i], node, None, _NO_FINAL, receiver)
        return self.eval_field(dot, idents[last], node, args, final, receiver)

    def eval_field(
        self,
        dot: Any,
        name: str,
        node: Node,
        args: list[Node] | None,
        final: Any,
        receiver: Any,
    ) -> Any:
        if receiver is MISSING:
            return MISSING
        if receiver is None:
            raise self.error(f"nil pointer evaluating interface {{}}.{name}")
        has_args = (args is not None and len(args) > 1) or final is not _NO_FINAL
        tp = type(receiver)
        if tp is dict:  # the common case first: label maps and plain data
            if has_args:
                raise self.error(f"{name} is not a method but has arguments")
            try:
                return receiver[name]
            except KeyError:
                return map_zero(receiver) if self.missingkey_zero else MISSING
        if _is_method(tp, name):
            return self.eval_call(dot, getattr(receiver, name), node, name, args, final)
        if isinstance(receiver, dt.datetime):
            meth = TIME_METHODS.get(name)
            if meth is not None:
                return self.eval_call(
                    dot, types.MethodType(meth, receiver), node, name, args, final
                )
        if isinstance(receiver, Mapping):
            if has_args:
                raise self.error(f"{name} is not a method but has arguments")
            if name in receiver:
                return receiver[name]
            return map_zero(receiver) if self.missingkey_zero else MISSING
        if name.startswith("_") or isinstance(receiver, _BUILTIN_TYPES):
            raise self.error(f"can't evaluate field {name} in type {go_type_name(receiver)}")
        try:
            value = getattr(receiver, name)
        except AttributeError:
            raise self.error(
                f"can't evaluate field {name} in type {go_type_name(receiver)}"
            ) from None
        except Exception as exc:  # a property that failed, like a Go method's error
            raise self.error(f"error calling {name}: {exc}") from exc
        if has_args:
            raise self.error(f"{name} has arguments but cannot be invoked as function")
        return value

    def eval_function(
        self, dot: Any, ident: IdentifierNode, cmd: Node, args: list[Node] | None, final: Any
    ) -> Any:
        self.node = ident
        fn = self.funcs.get(ident.name)
        if fn is None:
            raise self.error(f"{go_quote(ident.name)} is not a defined function")
        return self.eval_call(dot, fn, cmd, ident.name, args, final)

    def eval_call(
        self,
        dot: Any,
        fn: Callable[..., Any],
        node: Node,
        name: str,
        args: list[Node] | None,
        final: Any,
    ) -> Any:
        arg_nodes = args[1:] if args else []
        num_in = len(arg_nodes) + (final is not _NO_FINAL)
        template_aware = getattr(fn, "template_aware", False)
        shape = call_shape(fn)
        lo, hi = shape.lo, shape.hi
        if template_aware:
            lo, hi = lo - 1, (hi - 1 if hi is not None else None)
        if num_in < lo or (hi is not None and num_in > hi):
            if hi is None:
                raise self.error(
                    f"wrong number of args for {name}: want at least {lo} got {num_in}"
                )
            raise self.error(f"wrong number of args for {name}: want {lo} got {num_in}")
        if fn is go_and or fn is go_or:
            want = fn is go_or
            v: Any = MISSING
            for a in arg_nodes:
                v = self.eval_arg(dot, a)
                if is_true(v) == want:
                    return v
            if final is not _NO_FINAL:
                v = final
            return v
        argv = [self.eval_arg(dot, a) for a in arg_nodes]
        if final is not _NO_FINAL:
            argv.append(final)
        for i, a in enumerate(argv):
            if a is MISSING:
                argv[i] = None
        if shape.str_params or shape.str_rest is not None:
            self._check_strings(argv, shape, 1 if template_aware else 0)
        try:
            if template_aware:
                return fn(self.tmpl, *argv)
            return fn(*argv)
        except (_Break, _Continue):
            raise
        except Exception as exc:
            self.node = node
            raise self.error(f"error calling {name}: {exc}") from exc

    def _check_strings(self, argv: list[Any], shape: CallShape, offset: int) -> None:
        """Go rejects a non-string where a function takes a string, before calling it."""
        for i, a in enumerate(argv):
            pos = i + offset
            wants_str = pos in shape.str_params or (
                shape.str_rest is not None and pos >= shape.str_rest
            )
            if wants_str and type(a) is not str and not isinstance(a, str):
                if a is None:
                    raise self.error("invalid value; expected string")
                raise self.error(f"wrong type for value; expected string; got {go_type_name(a)}")

    def eval_arg(self, dot: Any, n: Node) -> Any:
        self.node = n
        tp = type(n)
        if tp is FieldNode:
            return self.eval_field_chain(dot, dot, n, n.idents, [n], _NO_FINAL)  # type: ignore[attr-defined]
        if tp is StringNode or tp is NumberNode or tp is BoolNode:
            return n.value  # type: ignore[attr-defined]
        if tp is VariableNode:
            return self.eval_variable(dot, n, None, _NO_FINAL)  # type: ignore[arg-type]
        if tp is DotNode:
            return dot
        if tp is PipeNode:
            return self.eval_pipeline(dot, n)  # type: ignore[arg-type]
        if tp is IdentifierNode:
            return self.eval_function(dot, n, n, None, _NO_FINAL)  # type: ignore[arg-type]
        if tp is ChainNode:
            return self.eval_chain(dot, n, None, _NO_FINAL)  # type: ignore[arg-type]
        if tp is NilNode:
            return None
        raise self.error(f"can't handle {n} for arg")
