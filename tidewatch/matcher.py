"""Label matchers (``=``, ``!=``, ``=~``, ``!~``), the one implementation used by
PromQL, LogQL stream selectors, the series API, relabeling's cousins and silences.

Regexes use RE2 syntax and are fully anchored, as in Prometheus and Loki. RE2 calls
cost more than plain string operations, so literal patterns, literal alternations
(``a|b|c``) and ``prefix.*`` are answered without the regex engine.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Sequence

import re2

from tidewatch.labels import Labels, get

_META = set("\\.+*?()|[]{}^$")


class MatchType(enum.Enum):
    EQUAL = "="
    NOT_EQUAL = "!="
    REGEX = "=~"
    NOT_REGEX = "!~"


class RegexError(ValueError):
    pass


def _quiet_options() -> re2.Options:
    # RE2 would print every bad user pattern to stderr; the error is reported instead.
    opts = re2.Options()
    opts.log_errors = False
    return opts


_OPTIONS = _quiet_options()


def _error_text(exc: Exception) -> str:
    arg = exc.args[0] if exc.args else ""
    return arg.decode(errors="replace") if isinstance(arg, bytes) else str(arg)


def compile_regex(pattern: str) -> re2._Regexp:
    """Compile an unanchored RE2 pattern (LogQL line filters, ``|~``)."""
    try:
        return re2.compile(pattern, _OPTIONS)
    except re2.error as exc:
        raise RegexError(f"error parsing regexp: {_error_text(exc)}") from None


def compile_anchored(pattern: str) -> re2._Regexp:
    """Compile ``pattern`` fully anchored with RE2; raise :class:`RegexError` if invalid."""
    try:
        return re2.compile(f"^(?s:{pattern})$", _OPTIONS)
    except re2.error as exc:
        # RE2 says "<problem>: <fragment of the anchored pattern>"; show the user's own
        # pattern, in Go's style.
        problem = _error_text(exc).split(": ", 1)[0]
        raise RegexError(f"error parsing regexp: {problem}: `{pattern}`") from None


def _literal_alternatives(pattern: str) -> list[str] | None:
    """``a|b|c`` with no metacharacters inside: the literal alternatives, else None."""
    parts = pattern.split("|")
    for p in parts:
        if any(c in _META for c in p):
            return None
    return parts


def regex_predicate(pattern: str) -> Callable[[str], bool]:
    """A fully-anchored RE2 match function with fast paths for common shapes."""
    alts = _literal_alternatives(pattern)
    if alts is not None:
        if len(alts) == 1:
            lit = alts[0]
            return lambda s: s == lit
        alt_set = frozenset(alts)
        return alt_set.__contains__
    if pattern == ".*":
        return lambda s: True
    if pattern == ".+":
        return lambda s: s != ""
    if pattern.endswith(".*") and not any(c in _META for c in pattern[:-2]):
        prefix = pattern[:-2]
        return lambda s: s.startswith(prefix)
    rx = compile_anchored(pattern)
    return lambda s: rx.match(s) is not None


class Matcher:
    """One label matcher. ``matches(value)`` answers for a single label value."""

    __slots__ = ("_pred", "name", "type", "value")

    def __init__(self, type: MatchType, name: str, value: str) -> None:
        self.type = type
        self.name = name
        self.value = value
        if type in (MatchType.REGEX, MatchType.NOT_REGEX):
            self._pred = regex_predicate(value)
        else:
            self._pred = value.__eq__

    def matches(self, value: str) -> bool:
        if self.type is MatchType.EQUAL:
            return value == self.value
        if self.type is MatchType.NOT_EQUAL:
            return value != self.value
        if self.type is MatchType.REGEX:
            return bool(self._pred(value))
        return not self._pred(value)

    def matches_labels(self, lbls: Labels) -> bool:
        return self.matches(get(lbls, self.name))

    def matches_empty(self) -> bool:
        """Whether a series lacking this label is selected (Prometheus's empty-value rule)."""
        return self.matches("")

    def __repr__(self) -> str:
        return f"{self.name}{self.type.value}{_quote(self.value)}"

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, Matcher)
            and self.type is other.type
            and self.name == other.name
            and self.value == other.value
        )

    def __hash__(self) -> int:
        return hash((self.type, self.name, self.value))


def _quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def matches_all(matchers: Sequence[Matcher], lbls: Labels) -> bool:
    return all(m.matches_labels(lbls) for m in matchers)
