"""``Template``: a named set of parsed trees plus a function map, like Go's
``*template.Template`` (its associated templates share one namespace)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from tidewatch.templating.builtins import BUILTINS
from tidewatch.templating.errors import TemplateError
from tidewatch.templating.executor import Executor
from tidewatch.templating.lexer import go_quote
from tidewatch.templating.nodes import Tree
from tidewatch.templating.parser import Parser
from tidewatch.templating.values import MISSING

_TEXT_CACHE_SIZE = 1024


class Template:
    """Parse with :meth:`parse` (repeatable: later texts add or replace ``{{define}}``s),
    run with :meth:`execute`.

    ``funcs`` extend (and may override) the builtins, like Go's ``Funcs``. A function
    with an attribute ``template_aware = True`` receives this template as its first
    argument (how Prometheus's ``tmpl`` reaches other definitions).

    ``autoescape`` approximates ``html/template`` (Alertmanager's e-mail bodies, Prometheus
    consoles): every action's output is HTML-escaped as element text unless it is
    :class:`SafeHTML` (what ``safeHtml`` returns). Unlike Go, the escaping does not vary
    with the HTML context (attributes, URLs, scripts).
    """

    def __init__(
        self,
        name: str,
        funcs: Mapping[str, Callable[..., Any]] | None = None,
        *,
        missingkey_zero: bool = False,
        autoescape: bool = False,
    ) -> None:
        self.name = name
        self.missingkey_zero = missingkey_zero
        self.autoescape = autoescape
        self._funcs: dict[str, Callable[..., Any]] = dict(BUILTINS)
        if funcs:
            self._funcs.update(funcs)
        self._trees: dict[str, Tree] = {}
        self._delims = ("{{", "}}")
        # Texts run through execute_string, parsed once (cleared when definitions change).
        self._text_cache: dict[str, Template] = {}

    def funcs(self, funcs: Mapping[str, Callable[..., Any]]) -> Template:
        """Add functions (before parsing texts that use them); returns self."""
        self._funcs.update(funcs)
        self._text_cache.clear()
        return self

    def delims(self, left: str = "{{", right: str = "}}") -> Template:
        """Action delimiters for later parses (Go's ``Delims``); returns self."""
        self._delims = (left or "{{", right or "}}")
        return self

    def parse(self, text: str) -> Template:
        """Parse ``text`` as the body of this template; raises :class:`TemplateError`."""
        trees = Parser(self.name, text, self._funcs, *self._delims).parse()
        for name, tree in trees.items():
            old = self._trees.get(name)
            # As Go: a body of only whitespace never replaces an existing definition.
            if old is None or not tree.root.is_empty():
                self._trees[name] = tree
        self._text_cache.clear()
        return self

    def lookup(self, name: str) -> bool:
        return name in self._trees

    def templates(self) -> list[str]:
        return sorted(self._trees)

    def execute(self, data: Any, name: str | None = None) -> str:
        """Run the main template (or the ``{{define}}``d ``name``) with dot = ``data``."""
        target = self.name if name is None else name
        tree = self._trees.get(target)
        if tree is None:
            if name is None:
                raise TemplateError(
                    f"template: {self.name}: {go_quote(self.name)} is an incomplete or empty template"
                )
            raise TemplateError(
                f"template: no template {go_quote(name)} associated with template {go_quote(self.name)}"
            )
        dot = MISSING if data is None else data
        return Executor(self, tree, dot).run(dot)

    def execute_string(self, text: str, data: Any) -> str:
        """Alertmanager's ``ExecuteTextString``: run ``text`` as a new unnamed template that
        sees this one's definitions and functions; "" for empty text. Parses are cached."""
        if text == "":
            return ""
        tmpl = self._text_cache.get(text)
        if tmpl is None:
            tmpl = self.new("").parse(text)
            if len(self._text_cache) >= _TEXT_CACHE_SIZE:
                self._text_cache.clear()
            self._text_cache[text] = tmpl
        return tmpl.execute(data)

    def clone(self) -> Template:
        """A copy sharing parsed trees; parsing into it leaves the original unchanged."""
        other = Template(
            self.name, missingkey_zero=self.missingkey_zero, autoescape=self.autoescape
        )
        other._funcs = dict(self._funcs)
        other._trees = dict(self._trees)
        other._delims = self._delims
        return other

    def new(self, name: str) -> Template:
        """A template named ``name`` sharing this one's definitions and functions (Go's ``New``)."""
        other = self.clone()
        other.name = name
        return other


def execute_text(
    text: str,
    data: Any,
    *,
    name: str = "",
    funcs: Mapping[str, Callable[..., Any]] | None = None,
    missingkey_zero: bool = True,
) -> str:
    """Parse and run one text in a single call (alert annotations, ``line_format``)."""
    return Template(name, funcs, missingkey_zero=missingkey_zero).parse(text).execute(data)
