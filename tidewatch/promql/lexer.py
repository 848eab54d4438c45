"""PromQL lexer: query text to a list of tokens, with Prometheus's token kinds.

It follows Prometheus's lexer state by state (statements, inside ``{}``, inside
``[]`` duration expressions) because several error messages and token kinds depend
on that context: ``5m`` is a DURATION everywhere, ``:`` is a COLON only inside
brackets, ``step``/``range``/``min_of``/``max_of`` are keywords inside brackets,
``fill(`` is a keyword only when followed by a parenthesis. The first lexical error
ends the list with an ``ERROR`` token whose value is the message; the parser reports
it when it reaches it, so syntax errors earlier in the text win, as in Prometheus.
"""

from __future__ import annotations

from typing import NamedTuple, NoReturn

from tidewatch.goquote import go_quote

# Token kinds, named after Prometheus's item types.
OPERATORS = frozenset(
    {
        "ADD",
        "DIV",
        "EQLC",
        "EQL_REGEX",
        "GTE",
        "GTR",
        "TRIM_UPPER",
        "TRIM_LOWER",
        "LAND",
        "LOR",
        "LSS",
        "LTE",
        "LUNLESS",
        "MOD",
        "MUL",
        "NEQ",
        "NEQ_REGEX",
        "POW",
        "SUB",
        "AT",
        "ATAN2",
    }
)
AGGREGATORS = frozenset(
    {
        "AVG",
        "BOTTOMK",
        "COUNT",
        "COUNT_VALUES",
        "GROUP",
        "MAX",
        "MIN",
        "QUANTILE",
        "STDDEV",
        "STDVAR",
        "SUM",
        "TOPK",
        "LIMITK",
        "LIMIT_RATIO",
    }
)
KEYWORDS = frozenset(
    {
        "BOOL",
        "BY",
        "GROUP_LEFT",
        "GROUP_RIGHT",
        "FILL",
        "FILL_LEFT",
        "FILL_RIGHT",
        "IGNORING",
        "OFFSET",
        "SMOOTHED",
        "ANCHORED",
        "ON",
        "WITHOUT",
    }
)
PREPROCESSORS = frozenset(
    {
        "START",
        "END",
        "STEP",
        "RANGE",
        "MAX_OF",
        "MIN_OF",
    }
)

# Words the lexer turns into keyword tokens (case-insensitive).
KEY_WORDS: dict[str, str] = {
    "and": "LAND",
    "or": "LOR",
    "unless": "LUNLESS",
    "atan2": "ATAN2",
    **{a.lower(): a for a in AGGREGATORS},
    **{k.lower(): k for k in KEYWORDS},
    **{p.lower(): p for p in PREPROCESSORS},
    "inf": "NUMBER",
    "nan": "NUMBER",
}

# Text of fixed tokens, used in "unexpected ..." messages and by the printer.
FIXED_TEXT: dict[str, str] = {
    "LEFT_PAREN": "(",
    "RIGHT_PAREN": ")",
    "LEFT_BRACE": "{",
    "RIGHT_BRACE": "}",
    "LEFT_BRACKET": "[",
    "RIGHT_BRACKET": "]",
    "COMMA": ",",
    "EQL": "=",
    "COLON": ":",
    "SUB": "-",
    "ADD": "+",
    "MUL": "*",
    "MOD": "%",
    "DIV": "/",
    "EQLC": "==",
    "NEQ": "!=",
    "LTE": "<=",
    "LSS": "<",
    "GTE": ">=",
    "GTR": ">",
    "TRIM_UPPER": "</",
    "TRIM_LOWER": ">/",
    "EQL_REGEX": "=~",
    "NEQ_REGEX": "!~",
    "POW": "^",
    "AT": "@",
}

_DURATION_KEYWORDS = {"step": "STEP", "range": "RANGE", "max_of": "MAX_OF", "min_of": "MIN_OF"}
_SPACE = " \t\n\r"
_WORD_CHARS = frozenset("_abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
_WORD_COLON_CHARS = _WORD_CHARS | {":"}
_DIGITS = "0123456789"
_HEX = "0123456789abcdefABCDEF"
_SIMPLE_ESCAPES = {
    "a": "\a",
    "b": "\b",
    "f": "\f",
    "n": "\n",
    "r": "\r",
    "t": "\t",
    "v": "\v",
    "\\": "\\",
}


class Token(NamedTuple):
    kind: str
    val: str
    pos: int

    @property
    def end(self) -> int:
        return self.pos + len(self.val)

    def __str__(self) -> str:
        """Prometheus's ``Item.String``."""
        kind = self.kind
        if kind == "EOF":
            return "EOF"
        if kind == "ERROR":
            return self.val
        if kind in ("IDENTIFIER", "METRIC_IDENTIFIER"):
            return go_quote(self.val)
        if kind in KEYWORDS:
            return f"<{self.val}>"
        if kind in OPERATORS:
            return f"<op:{self.val}>"
        if kind in AGGREGATORS:
            return f"<aggr:{self.val}>"
        if len(self.val) > 10:
            return go_quote(self.val[:10]) + "..."
        return go_quote(self.val)

    def desc(self) -> str:
        """How "unexpected <token>" messages name this token."""
        kind = self.kind
        if kind in FIXED_TEXT or kind in KEYWORDS or kind in AGGREGATORS:
            return str(self)
        if kind in PREPROCESSORS or kind in ("LAND", "LOR", "LUNLESS", "ATAN2"):
            return str(self)
        if kind == "EOF":
            return "end of input"
        return f"{_KIND_DESC.get(kind, kind.lower())} {self}"


_KIND_DESC = {
    "ERROR": "error",
    "IDENTIFIER": "identifier",
    "METRIC_IDENTIFIER": "metric identifier",
    "STRING": "string",
    "NUMBER": "number",
    "DURATION": "duration",
}


def _rune_desc(ch: str) -> str:
    """Go's ``%#U``: ``U+0078 'x'``."""
    return f"U+{ord(ch):04X} '{ch}'"


def _go_char(ch: str) -> str:
    """Go's ``%q`` of a rune: ``'x'``."""
    if ch == "'":
        return "'\\''"
    if ch == "\\":
        return "'\\\\'"
    if ch == "\n":
        return "'\\n'"
    return f"'{ch}'"


def is_alpha(ch: str) -> bool:
    return ch == "_" or ("a" <= ch <= "z") or ("A" <= ch <= "Z")


def is_alnum(ch: str) -> bool:
    return ch == "_" or ("a" <= ch <= "z") or ("A" <= ch <= "Z") or ("0" <= ch <= "9")


class LexError(Exception):
    def __init__(self, message: str, pos: int) -> None:
        super().__init__(message)
        self.message = message
        self.pos = pos


class _Lexer:
    __slots__ = (
        "brace_open",
        "bracket_open",
        "got_colon",
        "got_duration",
        "n",
        "paren_depth",
        "pos",
        "text",
        "tokens",
    )

    def __init__(self, text: str) -> None:
        self.text = text
        self.n = len(text)
        self.pos = 0
        self.tokens: list[Token] = []
        self.paren_depth = 0
        self.brace_open = False
        self.bracket_open = False
        self.got_colon = False
        self.got_duration = False

    def emit(self, kind: str, start: int) -> None:
        self.tokens.append(Token(kind, self.text[start : self.pos], start))

    def replace_with_error(self, message: str) -> NoReturn:
        """Prometheus's lexer overwrites a just-emitted token with the error that
        follows it, positioned after that token."""
        self.tokens.pop()
        raise LexError(message, self.pos)

    def peek(self) -> str:
        return self.text[self.pos] if self.pos < self.n else ""

    def run(self) -> list[Token]:
        try:
            in_duration = False
            while True:
                if self.brace_open:
                    self.lex_inside_braces()
                elif in_duration:
                    in_duration = self.lex_duration_expr()
                else:
                    done, in_duration = self.lex_statement()
                    if done:
                        break
        except LexError as err:
            self.tokens.append(Token("ERROR", err.message, err.pos))
        return self.tokens

    # -- statements -------------------------------------------------------------

    def lex_statement(self) -> tuple[bool, bool]:
        """One token in statement context; returns (at_end, enter_duration_mode)."""
        text, start = self.text, self.pos
        if start >= self.n:
            if self.paren_depth != 0:
                raise LexError("unclosed left parenthesis", start)
            if self.bracket_open:
                raise LexError("unclosed left bracket", start)
            self.tokens.append(Token("EOF", "", start))
            return True, False
        ch = text[start]
        self.pos += 1
        if ch in _SPACE:
            while self.pos < self.n and text[self.pos] in _SPACE:
                self.pos += 1
        elif ch == "#":
            self.skip_comment()
        elif ch == ",":
            self.emit("COMMA", start)
        elif ch in "*/%+-^":
            self.emit(_SINGLE_OPS[ch], start)
        elif ch == "=":
            nxt = self.peek()
            if nxt == "=":
                self.pos += 1
                self.emit("EQLC", start)
            elif nxt == "~":
                raise LexError(f"unexpected character after '=': {_go_char(nxt)}", start)
            else:
                self.emit("EQL", start)
        elif ch == "!":
            nxt = self.peek()
            if nxt != "=":
                raise LexError(f"unexpected character after '!': {_go_char(nxt or '�')}", start)
            self.pos += 1
            self.emit("NEQ", start)
        elif ch in "<>":
            nxt = self.peek()
            if nxt == "=":
                self.pos += 1
                self.emit("LTE" if ch == "<" else "GTE", start)
            elif nxt == "/":
                self.pos += 1
                self.emit("TRIM_UPPER" if ch == "<" else "TRIM_LOWER", start)
            else:
                self.emit("LSS" if ch == "<" else "GTR", start)
        elif ("0" <= ch <= "9") or (ch == "." and "0" <= self.peek() <= "9" and self.peek()):
            self.pos = start
            self.lex_number_or_duration()
        elif ch in "\"'":
            self.lex_string(ch, start)
        elif ch == "`":
            self.lex_raw_string(start)
        elif is_alpha(ch) or ch == ":":
            if not self.bracket_open:
                self.pos = start
                self.lex_keyword_or_identifier()
            elif ch == ":":
                if self.got_colon:
                    raise LexError("unexpected colon ':'", start)
                self.emit("COLON", start)
                self.got_colon = True
            elif ch.lower() in "srm" and self.scan_duration_keyword(start):
                pass
            else:
                raise LexError(f"unexpected character: {_go_char(ch)}, expected ':'", start)
        elif ch == "(":
            self.emit("LEFT_PAREN", start)
            self.paren_depth += 1
        elif ch == ")":
            self.emit("RIGHT_PAREN", start)
            self.paren_depth -= 1
            if self.paren_depth < 0:
                self.replace_with_error("unexpected right parenthesis ')'")
        elif ch == "{":
            self.emit("LEFT_BRACE", start)
            self.brace_open = True
        elif ch == "[":
            if self.bracket_open:
                raise LexError("unexpected left bracket '['", start)
            self.got_colon = False
            self.emit("LEFT_BRACKET", start)
            while self.pos < self.n and text[self.pos] in _SPACE:
                self.pos += 1
            self.bracket_open = True
            return False, True
        elif ch == "]":
            if not self.bracket_open:
                raise LexError("unexpected right bracket ']'", start)
            self.emit("RIGHT_BRACKET", start)
            self.bracket_open = False
        elif ch == "@":
            self.emit("AT", start)
        else:
            raise LexError(f"unexpected character: {_go_char(ch)}", start)
        return False, False

    def skip_comment(self) -> None:
        text = self.text
        while self.pos < self.n and text[self.pos] not in "\r\n":
            self.pos += 1

    def lex_keyword_or_identifier(self) -> None:
        text, start = self.text, self.pos
        pos = start
        n = self.n
        while pos < n and text[pos] in _WORD_COLON_CHARS:
            pos += 1
        self.pos = pos
        word = text[start:pos]
        kind = KEY_WORDS.get(word.lower())
        if kind is not None:
            if kind in ("FILL", "FILL_LEFT", "FILL_RIGHT") and not self.followed_by_paren():
                kind = "IDENTIFIER"
            self.emit(kind, start)
        elif ":" in word:
            self.emit("METRIC_IDENTIFIER", start)
        else:
            self.emit("IDENTIFIER", start)

    def followed_by_paren(self) -> bool:
        pos = self.pos
        while pos < self.n and self.text[pos] in _SPACE:
            pos += 1
        return pos < self.n and self.text[pos] == "("

    def scan_duration_keyword(self, start: int) -> bool:
        pos = start
        while pos < self.n and is_alpha(self.text[pos]):
            pos += 1
        kind = _DURATION_KEYWORDS.get(self.text[start:pos].lower())
        if kind is None:
            return False
        self.pos = pos
        self.emit(kind, start)
        return True

    # -- inside braces -----------------------------------------------------------

    def lex_inside_braces(self) -> None:
        text, start = self.text, self.pos
        if start >= self.n:
            raise LexError("unexpected end of input inside braces", start)
        ch = text[start]
        self.pos += 1
        if ch in _SPACE:
            while self.pos < self.n and text[self.pos] in _SPACE:
                self.pos += 1
        elif ch == "#":
            self.skip_comment()
        elif is_alpha(ch):
            pos, n = self.pos, self.n
            while pos < n and text[pos] in _WORD_CHARS:
                pos += 1
            self.pos = pos
            self.emit("IDENTIFIER", start)
        elif ch == ",":
            self.emit("COMMA", start)
        elif ch in "\"'":
            self.lex_string(ch, start)
        elif ch == "`":
            self.lex_raw_string(start)
        elif ch == "=":
            if self.peek() == "~":
                self.pos += 1
                self.emit("EQL_REGEX", start)
            else:
                self.emit("EQL", start)
        elif ch == "!":
            nxt = self.peek()
            if nxt == "~":
                self.pos += 1
                self.emit("NEQ_REGEX", start)
            elif nxt == "=":
                self.pos += 1
                self.emit("NEQ", start)
            else:
                raise LexError(
                    f"unexpected character after '!' inside braces: {_go_char(nxt or '�')}",
                    start,
                )
        elif ch == "{":
            raise LexError("unexpected left brace '{'", start)
        elif ch == "}":
            self.emit("RIGHT_BRACE", start)
            self.brace_open = False
        else:
            raise LexError(f"unexpected character inside braces: {_go_char(ch)}", start)

    # -- inside brackets ---------------------------------------------------------

    def lex_duration_expr(self) -> bool:
        """One token inside ``[...]``; returns whether to stay in this mode."""
        text, start = self.text, self.pos
        if start >= self.n:
            raise LexError("unexpected end of input in duration expression", start)
        ch = text[start]
        self.pos += 1
        if ch == "]":
            self.emit("RIGHT_BRACKET", start)
            self.bracket_open = False
            self.got_colon = False
            return False
        if ch == ":":
            self.emit("COLON", start)
            if not self.got_duration:
                self.replace_with_error("unexpected colon before duration in duration expression")
            if self.got_colon:
                self.replace_with_error("unexpected repeated colon in duration expression")
            self.got_colon = True
        elif ch == "(":
            self.emit("LEFT_PAREN", start)
            self.paren_depth += 1
        elif ch == ")":
            self.emit("RIGHT_PAREN", start)
            self.paren_depth -= 1
            if self.paren_depth < 0:
                self.replace_with_error("unexpected right parenthesis ')'")
        elif ch in _SPACE:
            while self.pos < self.n and text[self.pos] in _SPACE:
                self.pos += 1
        elif ch in "*/%+-^":
            self.emit(_SINGLE_OPS[ch], start)
        elif ch == ",":
            self.emit("COMMA", start)
        elif ch.lower() in "srm" and is_alpha(ch):
            if not self.scan_duration_keyword(start):
                raise LexError(
                    f"unexpected character in duration expression: {_go_char(ch)}", start
                )
        elif ("0" <= ch <= "9") or (ch == "." and "0" <= self.peek() <= "9" and self.peek()):
            self.pos = start
            self.got_duration = True
            self.lex_number_or_duration()
            return False
        else:
            raise LexError(f"unexpected character in duration expression: {_go_char(ch)}", start)
        return True

    # -- numbers and durations ---------------------------------------------------

    def lex_number_or_duration(self) -> None:
        start = self.pos
        if self.scan_number():
            self.emit("NUMBER", start)
            return
        if self.accept_remaining_duration():
            self.emit("DURATION", start)
            return
        raise LexError(
            f"bad number or duration syntax: {go_quote(self.text[start : self.pos])}", start
        )

    def accept(self, chars: str) -> bool:
        if self.pos < self.n and self.text[self.pos] in chars:
            self.pos += 1
            return True
        return False

    def scan_number(self) -> bool:
        """Prometheus's scanNumber: decimal, hex, exponents, ``_`` separators."""
        initial = self.pos
        text = self.text
        digits = _DIGITS
        if self.accept("0") and self.accept("xX"):
            self.accept("_")
            digits = _HEX
        self.accept(".")
        self.accept(digits)
        dot = exponent = False
        allowed = digits + "._eE"
        while self.pos < self.n and text[self.pos] in allowed:
            ch = text[self.pos]
            if ch == "." and dot:
                self.pos += 1
                return False
            if ch in "eE" and exponent:
                self.pos += 1
                return False
            if ch == ".":
                self.pos += 1
                dot = True
                if self.accept("_.") or digits is _HEX:
                    return False
                continue
            if ch in "eE":
                self.pos += 1
                exponent = True
                self.accept("+-")
                if self.accept("._eE") or self.pos >= self.n:
                    return False
                continue
            if ch == "_":
                self.pos += 1
                if self.accept("._eE") or self.pos >= self.n:
                    return False
                continue
            self.accept_run(digits)
        if self.pos == initial:
            return False
        # The number must not run into letters ("5m" is a duration).
        return self.pos >= self.n or not is_alnum(text[self.pos])

    def accept_run(self, chars: str) -> None:
        text = self.text
        while self.pos < self.n and text[self.pos] in chars:
            self.pos += 1

    def accept_remaining_duration(self) -> bool:
        if not self.accept("smhdwy"):
            return False
        self.accept("s")
        while self.accept(_DIGITS):
            self.accept_run(_DIGITS)
            if not self.accept("smhdw"):
                return False
            self.accept("s")
        if self.pos < self.n and is_alnum(self.text[self.pos]):
            self.pos += 1
            return False
        return True

    # -- strings -----------------------------------------------------------------

    def lex_string(self, quote: str, start: int) -> None:
        text = self.text
        pos = self.pos
        while True:
            if pos >= self.n or text[pos] == "\n":
                raise LexError("unterminated quoted string", start)
            ch = text[pos]
            pos += 1
            if ch == quote:
                break
            if ch == "\\":
                pos = self.check_escape(pos, quote, start)
        self.pos = pos
        self.emit("STRING", start)

    def check_escape(self, pos: int, quote: str, start: int) -> int:
        """Validate one escape after a backslash; returns the position after it."""
        text = self.text
        if pos >= self.n:
            raise LexError("escape sequence not terminated", start)
        ch = text[pos]
        pos += 1
        if ch in _SIMPLE_ESCAPES or ch == quote:
            return pos
        if ch in "01234567":
            count, base, max_val, pos = 3, 8, 255, pos - 1
        elif ch == "x":
            count, base, max_val = 2, 16, 255
        elif ch == "u":
            count, base, max_val = 4, 16, 0x10FFFF
        elif ch == "U":
            count, base, max_val = 8, 16, 0x10FFFF
        else:
            raise LexError(f"unknown escape sequence {_rune_desc(ch)}", start)
        value = 0
        for _ in range(count):
            if pos >= self.n:
                raise LexError("escape sequence not terminated", start)
            d = _digit_val(text[pos])
            if d >= base:
                raise LexError(
                    f"illegal character {_rune_desc(text[pos])} in escape sequence", start
                )
            value = value * base + d
            pos += 1
        if value > max_val or 0xD800 <= value < 0xE000:
            raise LexError("escape sequence is an invalid Unicode code point", start)
        return pos

    def lex_raw_string(self, start: int) -> None:
        end = self.text.find("`", self.pos)
        if end < 0:
            raise LexError("unterminated raw string", start)
        self.pos = end + 1
        self.emit("STRING", start)


_SINGLE_OPS = {"*": "MUL", "/": "DIV", "%": "MOD", "+": "ADD", "-": "SUB", "^": "POW"}


def _digit_val(ch: str) -> int:
    if "0" <= ch <= "9":
        return ord(ch) - 48
    if "a" <= ch <= "f":
        return ord(ch) - 87
    if "A" <= ch <= "F":
        return ord(ch) - 55
    return 16


def lex(text: str) -> list[Token]:
    """All tokens of ``text``, ending with an EOF or ERROR token."""
    return _Lexer(text).run()


def unquote(raw: str) -> str:
    """Decode a STRING token (already validated by the lexer) to its value."""
    quote = raw[0]
    body = raw[1:-1]
    if quote == "`":
        return body
    if "\\" not in body:
        return body
    out = bytearray()
    i, n = 0, len(body)
    while i < n:
        ch = body[i]
        if ch != "\\":
            j = body.find("\\", i)
            if j < 0:
                j = n
            out += body[i:j].encode("utf-8", "surrogatepass")
            i = j
            continue
        esc = body[i + 1]
        i += 2
        if esc in _SIMPLE_ESCAPES:
            out += _SIMPLE_ESCAPES[esc].encode()
        elif esc in "\"'":
            out += esc.encode()
        elif esc in "01234567":
            out.append(int(body[i - 1 : i + 2], 8))
            i += 2
        elif esc == "x":
            out.append(int(body[i : i + 2], 16))
            i += 2
        elif esc in "uU":
            width = 4 if esc == "u" else 8
            out += chr(int(body[i : i + width], 16)).encode("utf-8")
            i += width
    # Invalid UTF-8 from \x or octal escapes survives as lone surrogates, so label
    # validation downstream can still reject it (Go keeps the raw bytes).
    return out.decode("utf-8", "surrogateescape")
