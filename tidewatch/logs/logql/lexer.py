"""LogQL lexer: query text to tokens, with Loki's token names and context rules.

Token kinds are named as Loki's grammar reports them in errors: fixed tokens by their
text (``|=``, ``bool``, ``count_over_time``), the rest as ``IDENTIFIER``, ``STRING``,
``NUMBER``, ``DURATION``, ``BYTES`` and ``RANGE`` (a whole ``[5m]``). Function names
are keywords only when a ``(`` (or ``by``/``without`` for aggregations) follows, so
``bytes > 1MB`` and ``duration > 1m`` still name labels, as in Loki.
"""

from __future__ import annotations

from typing import NamedTuple

from tidewatch.logs.logql.units import parse_bytes, parse_query_duration_ns

RANGE_OPS = frozenset(
    {
        "count_over_time",
        "rate",
        "rate_counter",
        "bytes_over_time",
        "bytes_rate",
        "avg_over_time",
        "sum_over_time",
        "min_over_time",
        "max_over_time",
        "stdvar_over_time",
        "stddev_over_time",
        "quantile_over_time",
        "first_over_time",
        "last_over_time",
        "absent_over_time",
    }
)
VECTOR_OPS = frozenset(
    {
        "sum",
        "avg",
        "min",
        "max",
        "count",
        "stddev",
        "stdvar",
        "topk",
        "bottomk",
        "sort",
        "sort_desc",
    }
)
# Functions that are keywords only when a "(" follows.
FUNCTIONS = (
    RANGE_OPS
    | VECTOR_OPS
    | {"bytes", "duration", "duration_seconds", "ip", "label_replace", "vector"}
)
KEYWORDS = frozenset(
    {
        "by",
        "without",
        "bool",
        "on",
        "ignoring",
        "group_left",
        "group_right",
        "offset",
        "or",
        "and",
        "unless",
        "json",
        "logfmt",
        "regexp",
        "pattern",
        "unpack",
        "line_format",
        "label_format",
        "unwrap",
        "drop",
        "keep",
        "decolorize",
    }
)
# Longest first so "|=" wins over "|" and "==" over "=".
SYMBOLS = [
    "|=",
    "|~",
    "|>",
    "!=",
    "!~",
    "!>",
    "=~",
    "==",
    ">=",
    "<=",
    "|",
    "=",
    ">",
    "<",
    "+",
    "-",
    "*",
    "/",
    "%",
    "^",
    ",",
    "(",
    ")",
    "{",
    "}",
]
_IDENT_START = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_")
_IDENT_REST = _IDENT_START | set("0123456789")
_DURATION_RUNES = frozenset("0123456789.nsumhµdwy")
_BYTES_RUNES = frozenset("0123456789.BikKMGTP")
_ESCAPES = {"a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v", "\\": "\\"}


class LexError(Exception):
    def __init__(self, message: str, pos: int) -> None:
        super().__init__(message)
        self.message = message
        self.pos = pos


class Token(NamedTuple):
    kind: str
    text: str  # decoded value for STRING, raw text otherwise
    pos: int
    value: float = 0.0  # NUMBER value, DURATION/RANGE nanoseconds, BYTES count


def _unquote(text: str, start: int, quote: str) -> tuple[str, int]:
    """Decode a Go double-quoted string starting after the quote; returns (value, end)."""
    out: list[str] = []
    i = start
    n = len(text)
    while i < n:
        c = text[i]
        if c == quote:
            return "".join(out), i + 1
        if c == "\n":
            break
        if c == "\\":
            i += 1
            if i >= n:
                break
            e = text[i]
            if e in _ESCAPES:
                out.append(_ESCAPES[e])
            elif e == quote:
                out.append(e)
            elif e in "xuU":
                width = {"x": 2, "u": 4, "U": 8}[e]
                digits = text[i + 1 : i + 1 + width]
                try:
                    code = int(digits, 16)
                except ValueError:
                    raise LexError("invalid char escape", i) from None
                out.append(chr(code) if e != "x" else bytes([code]).decode("latin-1"))
                i += width
            elif e in "01234567":
                digits = text[i : i + 3]
                try:
                    out.append(chr(int(digits, 8)))
                except ValueError:
                    raise LexError("invalid char escape", i) from None
                i += 2
            else:
                raise LexError("invalid char escape", i)
            i += 1
            continue
        out.append(c)
        i += 1
    raise LexError("literal not terminated", start - 1)


def _scan_number_end(text: str, i: int) -> int:
    """End of a Go-scanner number at ``i`` (digits, hex/octal/binary, fraction, exponent)."""
    n = len(text)
    j = i
    if text.startswith(("0x", "0X"), i):
        j += 2
        while j < n and (text[j] in "0123456789abcdefABCDEF_." or (text[j] in "pP")):
            if text[j] in "pP":
                j += 1
                if j < n and text[j] in "+-":
                    j += 1
                while j < n and text[j].isdigit():
                    j += 1
                return j
            j += 1
        return j
    if text.startswith(("0b", "0B", "0o", "0O"), i):
        j += 2
        while j < n and text[j].isalnum():
            j += 1
        return j
    while j < n and (text[j].isdigit() or text[j] in "_."):
        j += 1
    if j < n and text[j] in "eE":
        k = j + 1
        if k < n and text[k] in "+-":
            k += 1
        if k < n and text[k].isdigit():
            j = k
            while j < n and text[j].isdigit():
                j += 1
    return j


def go_parse_float(text: str) -> float:
    """Go's ``strconv.ParseFloat``: decimal, or hex only with a ``p`` exponent."""
    t = text.lower()
    body = t.lstrip("+-")
    if body.startswith("0x"):
        if "p" not in body:
            raise ValueError(text)
        return float.fromhex(t)
    if body.startswith(("0b", "0o")) or "_" in body:
        raise ValueError(text)
    if body in ("inf", "infinity", "nan"):
        return float(t)
    if not body or not (body[0].isdigit() or body[0] == "."):
        raise ValueError(text)
    return float(t)


class Lexer:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens: list[Token] = []

    def run(self) -> list[Token]:
        text = self.text
        n = len(text)
        i = 0
        while i < n:
            c = text[i]
            if c in " \t\r\n":
                i += 1
                continue
            if c == "#":
                nl = text.find("\n", i)
                i = n if nl < 0 else nl + 1
                continue
            if c == '"':
                value, end = _unquote(text, i + 1, '"')
                self.tokens.append(Token("STRING", value, i))
                i = end
                continue
            if c == "`":
                end = text.find("`", i + 1)
                if end < 0:
                    raise LexError("literal not terminated", i)
                self.tokens.append(Token("STRING", text[i + 1 : end], i))
                i = end + 1
                continue
            if c == "[":
                i = self._range(i)
                continue
            if text.startswith("--", i) and i + 2 < n and text[i + 2].isalpha():
                # logfmt flags: --strict, --keep-empty
                j = i + 2
                while j < n and (text[j].isalnum() or text[j] in "-_"):
                    j += 1
                self.tokens.append(Token("FLAG", text[i:j], i))
                i = j
                continue
            if c.isdigit() or (c == "." and i + 1 < n and text[i + 1].isdigit()):
                i = self._number(i)
                continue
            if c in _IDENT_START:
                i = self._ident(i)
                continue
            for sym in SYMBOLS:
                if text.startswith(sym, i):
                    self.tokens.append(Token(sym, sym, i))
                    i += len(sym)
                    break
            else:
                raise LexError(f"unexpected character: {c!r}", i)
        self.tokens.append(Token("EOF", "", n))
        return self.tokens

    def _range(self, i: int) -> int:
        end = self.text.find("]", i)
        if end < 0:
            raise LexError("missing closing ']' in duration", i)
        body = self.text[i + 1 : end].strip()
        try:
            ns = parse_query_duration_ns(body)
        except ValueError:
            raise LexError(f'time: invalid duration "{body}"', i) from None
        self.tokens.append(Token("RANGE", self.text[i : end + 1], i, float(ns)))
        return end + 1

    def _number(self, i: int) -> int:
        text = self.text
        j = _scan_number_end(text, i)
        # As Loki: a duration continues with duration runes (1m30s, 1.5s), a byte size with
        # size runes (20MB, 2KiB); "1mb" is the duration 1m followed by "b".
        for kind, runes in (("DURATION", _DURATION_RUNES), ("BYTES", _BYTES_RUNES)):
            k = j
            while k < len(text) and text[k] in runes:
                k += 1
            if k == j:
                continue
            word = text[i:k]
            try:
                value = float(
                    parse_query_duration_ns(word) if kind == "DURATION" else parse_bytes(word)
                )
            except ValueError:
                continue
            self.tokens.append(Token(kind, word, i, value))
            return k
        word = text[i:j]
        try:
            value = go_parse_float(word)
        except ValueError:
            raise LexError("unable to parse literal as a float", i) from None
        self.tokens.append(Token("NUMBER", word, i, value))
        return j

    def _ident(self, i: int) -> int:
        text = self.text
        j = i + 1
        while j < len(text) and text[j] in _IDENT_REST:
            j += 1
        word = text[i:j]
        if (word in FUNCTIONS and self._function_follows(j, word)) or word in KEYWORDS:
            self.tokens.append(Token(word, word, i))
        else:
            self.tokens.append(Token("IDENTIFIER", word, i))
        return j

    def _function_follows(self, j: int, word: str) -> bool:
        rest = self.text[j:].lstrip(" \t\r\n")
        if rest.startswith("("):
            return True
        if word in VECTOR_OPS or word in RANGE_OPS:
            for kw in ("by", "without"):
                if rest.startswith(kw):
                    after = rest[len(kw) :].lstrip(" \t\r\n")
                    if after.startswith("("):
                        return True
        return False


def tokenize(text: str) -> list[Token]:
    return Lexer(text).run()
