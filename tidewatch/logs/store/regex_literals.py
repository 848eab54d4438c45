"""Turn a line-filter regex into literals when "the line matches" means "the line
contains one of them".

``|~ "err(or)?"`` matches a line exactly when the line contains ``err``: whatever
follows the literal can match the empty string, so any ``err`` starts a match. A
literal is found with ``memmem`` at memory speed, while each RE2 call from Python costs
a microsecond or more, so a search for a frequent word goes several times faster.

A pattern qualifies when each top-level alternative is a plain literal followed by a
suffix that can match empty and holds no anchor or word boundary (whose meaning
depends on the text around the match). Anything else returns None and runs as a regex.
"""

from __future__ import annotations

import re2

_QUANTIFIER_START = set("?*+{")
_META = set("\\.+*?()|[]{}^$")
# Zero-width assertions: an empty match of the suffix would still depend on context.
_ASSERTION_ESCAPES = set("bBAz")


def _class_end(p: str, i: int) -> int:
    """Index after the ``]`` closing the class opened at ``p[i]``, or -1."""
    j = i + 1
    if j < len(p) and p[j] == "^":
        j += 1
    if j < len(p) and p[j] == "]":
        j += 1  # a leading ']' is a literal
    while j < len(p):
        c = p[j]
        if c == "\\":
            j += 2
            continue
        if c == "[" and p.startswith("[:", j):
            end = p.find(":]", j + 2)
            if end < 0:
                return -1
            j = end + 2
            continue
        if c == "]":
            return j + 1
        j += 1
    return -1


def _top_level_split(p: str) -> list[str] | None:
    """``p`` cut at its top-level ``|``, or None when it cannot be scanned (unbalanced)."""
    parts: list[str] = []
    depth, start, i = 0, 0, 0
    while i < len(p):
        c = p[i]
        if c == "\\":
            i += 2
            continue
        if c == "[":
            end = _class_end(p, i)
            if end < 0:
                return None
            i = end
            continue
        if c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
            if depth < 0:
                return None
        elif c == "|" and depth == 0:
            parts.append(p[start:i])
            start = i + 1
        i += 1
    if depth != 0:
        return None
    parts.append(p[start:])
    return parts


def _literal_prefix(p: str) -> tuple[list[str], list[int], int]:
    """The literal characters at the start of ``p``, where each starts in ``p``, and
    where the literal ends; escaped punctuation (``\\.``) counts as literal."""
    chars: list[str] = []
    starts: list[int] = []
    i = 0
    while i < len(p):
        c = p[i]
        if c == "\\":
            if i + 1 < len(p) and not p[i + 1].isalnum() and ord(p[i + 1]) >= 0x20:
                chars.append(p[i + 1])
                starts.append(i)
                i += 2
                continue
            break
        if c in _META:
            break
        chars.append(c)
        starts.append(i)
        i += 1
    return chars, starts, i


def _has_assertion(p: str) -> bool:
    if "^" in p or "$" in p:
        return True
    i = 0
    while i < len(p):
        if p[i] == "\\":
            if i + 1 < len(p) and p[i + 1] in _ASSERTION_ESCAPES:
                return True
            i += 2
            continue
        i += 1
    return False


def _sets_flags(p: str) -> bool:
    """True when ``p`` holds a bare flag group such as ``(?i)`` (not ``(?i:...)``)."""
    at = p.find("(?")
    while at >= 0:
        j = at + 2
        while j < len(p) and (p[j].isalpha() or p[j] == "-"):
            j += 1
        if j < len(p) and p[j] == ")":
            return True
        at = p.find("(?", at + 2)
    return False


def _matches_empty(p: str) -> bool:
    opts = re2.Options()
    opts.log_errors = False
    try:
        return re2.compile(p, opts).fullmatch("") is not None
    except re2.error:
        return False


def _alternative_literal(alt: str) -> str | None:
    chars, starts, end = _literal_prefix(alt)
    rest = alt[end:]
    if rest and rest[0] in _QUANTIFIER_START and chars:
        # The quantifier binds to the literal's last character (``erro?``): that
        # character belongs to the suffix.
        chars.pop()
        rest = alt[starts.pop() :]
    if not chars:
        return None
    if rest and (_has_assertion(rest) or not _matches_empty(rest)):
        return None
    return "".join(chars)


def literal_alternatives(pattern: str) -> list[str] | None:
    """Literals such that a line matches ``pattern`` (unanchored RE2 search) exactly
    when it contains one of them, or None when the pattern is not of that shape."""
    if any(ord(c) < 0x20 for c in pattern):
        return None
    parts = _top_level_split(pattern)
    if parts is None:
        return None
    if len(parts) > 1 and _sets_flags(pattern):
        return None  # ``x(?i)|err``: a flag persists into the later alternatives
    out: list[str] = []
    for alt in parts:
        lit = _alternative_literal(alt)
        if lit is None:
            return None
        if lit not in out:
            out.append(lit)
    return out
