"""Tokenizer for Go ``text/template`` source.

The whole text is scanned up front into a list of tokens. A lexical error becomes
an ``ERROR`` token and ends the list, so the parser reports it only when it gets
there (an earlier syntax error wins, as in Go).
"""

from __future__ import annotations

from typing import NamedTuple

from tidewatch.goquote import go_quote

# Token kinds.
TEXT = "text"
LEFT_DELIM = "{{"
RIGHT_DELIM = "}}"
SPACE = "space"
FIELD = "field"
VARIABLE = "variable"
IDENTIFIER = "identifier"
KEYWORD = "keyword"
BOOL = "bool"
NUMBER = "number"
CHAR_CONSTANT = "charconst"
STRING = "string"
RAW_STRING = "rawstring"
CHAR = "char"
PIPE = "|"
LEFT_PAREN = "("
RIGHT_PAREN = ")"
ASSIGN = "="
DECLARE = ":="
DOT = "."
NIL = "nil"
EOF = "EOF"
ERROR = "error"

KEYWORDS = frozenset(
    ("block", "break", "continue", "define", "else", "end", "if", "range", "template", "with")
)

_SPACE_CHARS = " \t\r\n"
_DIGITS = "0123456789"


class Token(NamedTuple):
    kind: str
    pos: int
    val: str

    def describe(self) -> str:
        """The token as Go's parser quotes it in error messages."""
        if self.kind == EOF:
            return "EOF"
        if self.kind == ERROR:
            return self.val
        if self.kind == KEYWORD:
            return f"<{self.val}>"
        if len(self.val) > 10:
            return go_quote(self.val[:10]) + "..."
        return go_quote(self.val)


def _is_alnum(ch: str) -> bool:
    return ch == "_" or ch.isalnum()


def _left_trim_len(s: str, start: int) -> int:
    i = start
    n = len(s)
    while i < n and s[i] in _SPACE_CHARS:
        i += 1
    return i - start


class Lexer:
    def __init__(self, text: str, left: str = "{{", right: str = "}}") -> None:
        self.text = text
        self.left = left
        self.right = right
        self.tokens: list[Token] = []
        self.paren_depth = 0

    # A right delimiter, possibly with a " -" trim marker before it.
    def _at_right_delim(self, pos: int) -> tuple[bool, bool]:
        t = self.text
        if (
            pos + 1 < len(t)
            and t[pos] in _SPACE_CHARS
            and t[pos + 1] == "-"
            and t.startswith(self.right, pos + 2)
        ):
            return True, True
        return t.startswith(self.right, pos), False

    def _has_left_trim(self, pos: int) -> bool:
        t = self.text
        return pos + 1 < len(t) and t[pos] == "-" and t[pos + 1] in _SPACE_CHARS

    def _error(self, pos: int, msg: str) -> None:
        self.tokens.append(Token(ERROR, pos, msg))

    def run(self) -> list[Token]:
        t = self.text
        pos = 0
        n = len(t)
        emit = self.tokens.append
        while True:
            x = t.find(self.left, pos)
            if x < 0:
                if pos < n:
                    emit(Token(TEXT, pos, t[pos:]))
                emit(Token(EOF, n, ""))
                return self.tokens
            after = x + len(self.left)
            trim = self._has_left_trim(after)
            end_text = x
            if trim:
                end_text = len(t[pos:x].rstrip(_SPACE_CHARS)) + pos
            if end_text > pos:
                emit(Token(TEXT, pos, t[pos:end_text]))
            body = after + (2 if trim else 0)
            if t.startswith("/*", body):
                close = t.find("*/", body + 2)
                if close < 0:
                    self._error(x, "unclosed comment")
                    return self.tokens
                pos = close + 2
                delim, rtrim = self._at_right_delim(pos)
                if not delim:
                    self._error(x, "comment ends before closing delimiter")
                    return self.tokens
                pos += (2 if rtrim else 0) + len(self.right)
                if rtrim:
                    pos += _left_trim_len(t, pos)
                continue
            emit(Token(LEFT_DELIM, x, self.left))
            self.paren_depth = 0
            pos = self._lex_action(body)
            if pos < 0:
                return self.tokens

    def _lex_action(self, pos: int) -> int:
        """Lex one action starting at ``pos``; the position after it, or -1 on error."""
        t = self.text
        n = len(t)
        emit = self.tokens.append
        while True:
            delim, rtrim = self._at_right_delim(pos)
            if delim:
                if self.paren_depth:
                    self._error(pos, "unclosed left paren")
                    return -1
                start = pos
                if rtrim:
                    pos += 2
                emit(Token(RIGHT_DELIM, start, self.right))
                pos += len(self.right)
                if rtrim:
                    pos += _left_trim_len(t, pos)
                return pos
            if pos >= n:
                self._error(pos, "unclosed action")
                return -1
            ch = t[pos]
            if ch in _SPACE_CHARS:
                end = pos
                while end < n and t[end] in _SPACE_CHARS:
                    end += 1
                # A lone space before "-}}" belongs to the trim marker.
                if t.startswith("-" + self.right, end) and end - pos >= 1:
                    if end - pos > 1:
                        emit(Token(SPACE, pos, t[pos : end - 1]))
                    pos = end - 1
                    continue
                emit(Token(SPACE, pos, t[pos:end]))
                pos = end
            elif ch == "=":
                emit(Token(ASSIGN, pos, "="))
                pos += 1
            elif ch == ":":
                if not t.startswith(":=", pos):
                    self._error(pos, "expected :=")
                    return -1
                emit(Token(DECLARE, pos, ":="))
                pos += 2
            elif ch == "|":
                emit(Token(PIPE, pos, "|"))
                pos += 1
            elif ch == '"':
                pos = self._lex_quote(pos)
            elif ch == "`":
                end = t.find("`", pos + 1)
                if end < 0:
                    self._error(pos, "unterminated raw quoted string")
                    return -1
                emit(Token(RAW_STRING, pos, t[pos : end + 1]))
                pos = end + 1
            elif ch == "'":
                pos = self._lex_char(pos)
            elif ch == "$":
                pos = self._lex_field_or_var(pos, VARIABLE)
            elif ch == "." and not (pos + 1 < n and t[pos + 1] in _DIGITS):
                pos = self._lex_field_or_var(pos, FIELD)
            elif ch in "+-." or ch in _DIGITS:
                pos = self._lex_number(pos)
            elif _is_alnum(ch):
                pos = self._lex_identifier(pos)
            elif ch == "(":
                emit(Token(LEFT_PAREN, pos, "("))
                self.paren_depth += 1
                pos += 1
            elif ch == ")":
                self.paren_depth -= 1
                if self.paren_depth < 0:
                    self._error(pos, "unexpected right paren")
                    return -1
                emit(Token(RIGHT_PAREN, pos, ")"))
                pos += 1
            elif ch.isascii() and ch.isprintable():
                emit(Token(CHAR, pos, ch))
                pos += 1
            else:
                self._error(pos, f"unrecognized character in action: U+{ord(ch):04X} {ch!r}")
                return -1
            if pos < 0:
                return -1

    def _at_terminator(self, pos: int) -> bool:
        t = self.text
        if pos >= len(t):
            return True
        ch = t[pos]
        # Go also accepts the first character of the right delimiter, so "{{.X}" lexes.
        return ch in _SPACE_CHARS or ch in ".,|:()" or ch == self.right[0]

    def _bad_char(self, pos: int) -> int:
        ch = self.text[pos]
        self._error(pos, f"bad character U+{ord(ch):04X} {ch!r}")
        return -1

    def _lex_field_or_var(self, pos: int, kind: str) -> int:
        t = self.text
        end = pos + 1
        n = len(t)
        if self._at_terminator(end):
            # A bare "." or "$".
            self.tokens.append(Token(DOT if kind == FIELD else VARIABLE, pos, t[pos]))
            return end
        while end < n and _is_alnum(t[end]):
            end += 1
        if not self._at_terminator(end):
            return self._bad_char(end)
        self.tokens.append(Token(kind, pos, t[pos:end]))
        return end

    def _lex_identifier(self, pos: int) -> int:
        t = self.text
        end = pos
        n = len(t)
        while end < n and _is_alnum(t[end]):
            end += 1
        if not self._at_terminator(end):
            return self._bad_char(end)
        word = t[pos:end]
        if word in KEYWORDS:
            kind = KEYWORD
        elif word in ("true", "false"):
            kind = BOOL
        elif word == "nil":
            kind = NIL
        else:
            kind = IDENTIFIER
        self.tokens.append(Token(kind, pos, word))
        return end

    def _lex_number(self, pos: int) -> int:
        t = self.text
        n = len(t)
        end = pos
        if end < n and t[end] in "+-":
            end += 1
        digits = _DIGITS + "_"
        if t.startswith(("0x", "0X"), end):
            end += 2
            digits = "0123456789abcdefABCDEF_"
        elif t.startswith(("0o", "0O"), end):
            end += 2
            digits = "01234567_"
        elif t.startswith(("0b", "0B"), end):
            end += 2
            digits = "01_"
        exp_chars = "pP" if digits.startswith("0123456789abcdef") else "eE"
        while end < n and t[end] in digits:
            end += 1
        if end < n and t[end] == ".":
            end += 1
            while end < n and t[end] in digits:
                end += 1
        if end < n and t[end] in exp_chars:
            end += 1
            if end < n and t[end] in "+-":
                end += 1
            while end < n and t[end] in _DIGITS + "_":
                end += 1
        if end < n and t[end] == "i":
            end += 1
        if end < n and _is_alnum(t[end]):
            self._error(pos, f"bad number syntax: {go_quote(t[pos : end + 1])}")
            return -1
        self.tokens.append(Token(NUMBER, pos, t[pos:end]))
        return end

    def _lex_quote(self, pos: int) -> int:
        t = self.text
        n = len(t)
        end = pos + 1
        while True:
            if end >= n or t[end] == "\n":
                self._error(pos, "unterminated quoted string")
                return -1
            ch = t[end]
            if ch == "\\":
                end += 2
                continue
            end += 1
            if ch == '"':
                break
        self.tokens.append(Token(STRING, pos, t[pos:end]))
        return end

    def _lex_char(self, pos: int) -> int:
        t = self.text
        n = len(t)
        end = pos + 1
        while True:
            if end >= n or t[end] == "\n":
                self._error(pos, "unterminated character constant")
                return -1
            ch = t[end]
            if ch == "\\":
                end += 2
                continue
            end += 1
            if ch == "'":
                break
        self.tokens.append(Token(CHAR_CONSTANT, pos, t[pos:end]))
        return end


def lex(text: str) -> list[Token]:
    return Lexer(text).run()
