"""Alertmanager's matcher strings (``foo="bar"``, ``env=~"prod|stage"``, ``{a=b, c!=d}``),
as written in ``matchers:`` lists, inhibit rules, silences and amtool queries.

The grammar accepted is the union of Alertmanager's classic parser and its UTF-8
parser in "fallback" mode: optional braces, comma-separated matchers, a trailing
comma, quoted or unquoted values (unquoted values run to the next comma), and quoted
label names. Regexes are RE2 and fully anchored, via :mod:`tidewatch.matcher`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from tidewatch.labels import Labels
from tidewatch.matcher import Matcher, MatchType, RegexError

_OPS = ("=~", "!~", "!=", "=")  # two-character operators first
_OP_ORDER = {MatchType.EQUAL: 0, MatchType.NOT_EQUAL: 1, MatchType.REGEX: 2, MatchType.NOT_REGEX: 3}
# Characters that force a label name to be quoted when printed (Alertmanager's isReserved).
_RESERVED = set("{}!=~,\\\"'`")


class MatcherParseError(ValueError):
    pass


def is_valid_label_name(name: str) -> bool:
    """Prometheus's classic label-name rule: ``[a-zA-Z_][a-zA-Z0-9_]*``."""
    if not name or not (name[0].isascii() and (name[0].isalpha() or name[0] == "_")):
        return False
    return all(c.isascii() and (c.isalnum() or c == "_") for c in name)


def parse_matchers(text: str) -> list[Matcher]:
    """Parse a comma-separated list of matchers, optionally wrapped in braces."""
    s = text.strip()
    # Each brace is optional on its own, as in Alertmanager's classic parser (which
    # its fallback mode still accepts): "{a=b" and "a=b}" both load.
    s = s.removeprefix("{").removesuffix("}")
    tokens = _split_top_level(s)
    out: list[Matcher] = []
    for i, token in enumerate(tokens):
        token = token.strip()
        if token == "":
            if i == len(tokens) - 1 and i > 0:
                continue  # a trailing comma is allowed
            if len(tokens) == 1:
                return []
            raise MatcherParseError(f"bad matcher format: {text}")
        out.append(parse_matcher(token))
    return out


def _split_top_level(s: str) -> list[str]:
    """Split on commas outside double quotes (a backslash escapes a quote)."""
    parts: list[str] = []
    buf: list[str] = []
    in_quotes = False
    escaped = False
    for ch in s:
        if escaped:
            escaped = False
        elif ch == "\\":
            escaped = True
        elif ch == '"':
            in_quotes = not in_quotes
        elif ch == "," and not in_quotes:
            parts.append("".join(buf))
            buf = []
            continue
        buf.append(ch)
    parts.append("".join(buf))
    return parts


def parse_matcher(text: str) -> Matcher:
    """Parse one ``name<op>value`` matcher."""
    s = text.strip()
    name, pos = _read_name(s, text)
    while pos < len(s) and s[pos].isspace():
        pos += 1
    for op in _OPS:
        if s.startswith(op, pos):
            break
    else:
        raise MatcherParseError(f"bad matcher format: {text}")
    raw = s[pos + len(op) :].strip()
    value = _unquote_value(raw, text)
    try:
        return Matcher(MatchType(op), name, value)
    except RegexError as exc:
        raise MatcherParseError(f"{exc}") from None


def _read_name(s: str, text: str) -> tuple[str, int]:
    if s.startswith('"'):
        end = _closing_quote(s, 0)
        if end < 0:
            raise MatcherParseError(f"bad matcher format: {text}")
        name = _unescape(s[1:end])
        if name == "":
            raise MatcherParseError(f"bad matcher format: {text}")
        return name, end + 1
    pos = 0
    while pos < len(s) and (s[pos].isascii() and (s[pos].isalnum() or s[pos] in "_:")):
        pos += 1
    name = s[:pos]
    if not name or name[0].isdigit():
        raise MatcherParseError(f"bad matcher format: {text}")
    return name, pos


def _closing_quote(s: str, start: int) -> int:
    """Index of the quote closing the one at ``start``, or -1."""
    escaped = False
    for i in range(start + 1, len(s)):
        ch = s[i]
        if escaped:
            escaped = False
        elif ch == "\\":
            escaped = True
        elif ch == '"':
            return i
    return -1


def _unquote_value(raw: str, text: str) -> str:
    quoted = raw.startswith('"')
    body = raw
    if quoted:
        end = _closing_quote(raw, 0)
        if end != len(raw) - 1:
            raise MatcherParseError(f"matcher value contains unescaped double quote: {raw}")
        body = raw[1:-1]
    elif _closing_quote('"' + raw, 0) >= 0:
        raise MatcherParseError(f"matcher value contains unescaped double quote: {raw}")
    return _unescape(body)


def _unescape(body: str) -> str:
    """Alertmanager's escapes: ``\\n``, ``\\"``, ``\\\\``; any other backslash is literal."""
    if "\\" not in body:
        return body
    out: list[str] = []
    i = 0
    while i < len(body):
        ch = body[i]
        if ch == "\\" and i + 1 < len(body):
            nxt = body[i + 1]
            if nxt == "n":
                out.append("\n")
            elif nxt in '"\\':
                out.append(nxt)
            else:
                out.append("\\" + nxt)
            i += 2
            continue
        out.append(ch)
        i += 1
    return "".join(out)


# --- printing and ordering, as Alertmanager's labels.Matchers ----------------


def _escape_value(v: str) -> str:
    return v.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def format_matcher(m: Matcher) -> str:
    if any(c.isspace() or c in _RESERVED for c in m.name):
        return f'"{_escape_value(m.name)}"{m.type.value}"{_escape_value(m.value)}"'
    return f'{m.name}{m.type.value}"{_escape_value(m.value)}"'


def sort_matchers(ms: Iterable[Matcher]) -> list[Matcher]:
    """Alertmanager's order: by name, then value, then operator."""
    return sorted(ms, key=lambda m: (m.name, m.value, _OP_ORDER[m.type]))


def format_matchers(ms: Sequence[Matcher]) -> str:
    """``{a="1",b=~"x"}`` — the form used in route keys and group keys."""
    return "{" + ",".join(format_matcher(m) for m in ms) + "}"


def matches(ms: Sequence[Matcher], lbls: Labels) -> bool:
    """All matchers hold for the label set (a missing label reads as "")."""
    if not ms:
        return True
    d = dict(lbls)
    return all(m.matches(d.get(m.name, "")) for m in ms)
