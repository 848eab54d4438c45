"""Line parsers: ``json``, ``logfmt``, ``regexp``, ``unpack`` (pattern is in ``patterns``).

Each returns the extracted ``(name, value)`` pairs of one line, names already
sanitized as Loki does; a malformed line raises :class:`LineParseError` whose text
becomes ``__error_details__``.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from typing import Any

import orjson
import re2

from tidewatch.matcher import RegexError, compile_regex

_LABEL_NAME = re2.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")


class LineParseError(ValueError):
    pass


class RegexpParseError(ValueError):
    pass


@functools.lru_cache(maxsize=8192)
def sanitize_key(key: str) -> str:
    key = key.strip()
    if not key:
        return key
    if key[0].isdigit():
        key = "_" + key
    if key.isascii() and key.replace("_", "a").isalnum():
        return key
    return "".join(c if (c.isascii() and (c.isalnum() or c == "_")) else "_" for c in key)


# --------------------------------------------------------------------------- json


def _first_wins(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in pairs:
        if k not in out:
            out[k] = v
    return out


def _loads(line: str) -> Any:
    # Numbers stay as their source text ("1.5", "200"), as Loki copies raw bytes.
    return json.loads(
        line, object_pairs_hook=_first_wins, parse_int=str, parse_float=str, parse_constant=str
    )


def _json_error(exc: Exception) -> LineParseError:
    return LineParseError(f"{type(exc).__name__}: {exc}")


def _scalar_text(v: Any) -> str | None:
    if isinstance(v, str):
        return v
    if v is True:
        return "true"
    if v is False:
        return "false"
    return None


class _NotFast(Exception):
    pass


def _flatten_fast(prefix: str, obj: dict[str, Any], out: list[tuple[str, str]]) -> int:
    """Like :func:`_flatten` over an orjson document; returns the number of keys seen.
    Raises _NotFast for a float (its source text may differ from ``repr``)."""
    n = 0
    for k, v in obj.items():
        n += 1
        key = f"{prefix}_{_sanitize_part(k)}" if prefix else sanitize_key(k)
        if isinstance(v, str):
            out.append((key, v))
        elif v is True:
            out.append((key, "true"))
        elif v is False:
            out.append((key, "false"))
        elif isinstance(v, int):
            out.append((key, str(v)))
        elif isinstance(v, dict):
            n += _flatten_fast(key, v, out)
        elif isinstance(v, float):
            raise _NotFast
        elif isinstance(v, list):
            n += _count_keys(v)
    return n


def _count_keys(v: Any) -> int:
    if isinstance(v, dict):
        return len(v) + sum(_count_keys(x) for x in v.values())
    if isinstance(v, list):
        return sum(_count_keys(x) for x in v)
    return 0


def _parse_json_fast(line: str) -> list[tuple[str, str]] | None:
    """orjson keeps the last of duplicate keys and reformats floats; use it only when
    neither can matter: every key accounted for by a ``":`` and no float values."""
    try:
        doc = orjson.loads(line)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(doc, dict):
        return None
    out: list[tuple[str, str]] = []
    try:
        n_keys = _flatten_fast("", doc, out)
    except _NotFast:
        return None
    if line.count('":') != n_keys:
        return None  # a duplicate key, spaced colons, or '":' inside a string
    if line.count('"') != _quote_count(doc):
        return None  # a duplicate key written as '"k" :' (its quotes are extra)
    return out


def _quote_count(v: Any) -> int:
    """Quote characters a document's strings take when written without escapes."""
    if isinstance(v, str):
        return 2 + v.count('"')
    if isinstance(v, dict):
        return sum(2 + k.count('"') + _quote_count(x) for k, x in v.items())
    if isinstance(v, list):
        return sum(_quote_count(x) for x in v)
    return 0


def parse_json_all(line: str) -> list[tuple[str, str]]:
    fast = _parse_json_fast(line)
    if fast is not None:
        return fast
    try:
        doc = _loads(line)
    except ValueError as exc:
        raise _json_error(exc) from None
    if not isinstance(doc, dict):
        raise LineParseError("Value looks like object, but can't find closing '}' symbol")
    out: list[tuple[str, str]] = []
    _flatten("", doc, out)
    return out


def _flatten(prefix: str, obj: dict[str, Any], out: list[tuple[str, str]]) -> None:
    for k, v in obj.items():
        key = f"{prefix}_{_sanitize_part(k)}" if prefix else sanitize_key(k)
        if isinstance(v, dict):
            _flatten(key, v, out)
            continue
        text = _scalar_text(v)
        if text is not None:
            out.append((key, text))


def _sanitize_part(k: str) -> str:
    return "".join(c if (c.isascii() and (c.isalnum() or c == "_")) else "_" for c in k.strip())


JSONPath = list[str | int]


def parse_json_path(expr: str) -> JSONPath:
    """``a.b[0]["c d"]`` to path parts; raises ValueError as Loki's "cannot parse expression"."""
    parts: JSONPath = []
    i = 0
    n = len(expr)
    err = ValueError(f"cannot parse expression [{expr}]: syntax error")
    if n == 0:
        raise err
    expect_field = True
    while i < n:
        c = expr[i]
        if c == "[":
            end = expr.find("]", i)
            if end < 0:
                raise err
            inner = expr[i + 1 : end].strip()
            if inner.startswith('"') and inner.endswith('"') and len(inner) >= 2:
                parts.append(inner[1:-1])
            elif inner.isdigit():
                parts.append(int(inner))
            else:
                raise err
            i = end + 1
            expect_field = False
            continue
        if c == ".":
            if expect_field:
                raise err
            i += 1
            expect_field = True
            continue
        j = i
        while j < n and expr[j] not in ".[]":
            j += 1
        if j == i or not expect_field:
            raise err
        parts.append(expr[i:j])
        i = j
        expect_field = False
    if expect_field:
        raise err
    return parts


def json_extract(line: str, paths: list[tuple[str, JSONPath]]) -> list[tuple[str, str]]:
    try:
        doc = _loads(line)
    except ValueError as exc:
        raise _json_error(exc) from None
    out: list[tuple[str, str]] = []
    for name, path in paths:
        cur: Any = doc
        for part in path:
            if isinstance(part, int):
                cur = cur[part] if isinstance(cur, list) and part < len(cur) else None
            else:
                cur = cur.get(part) if isinstance(cur, dict) else None
            if cur is None:
                break
        if cur is None:
            out.append((name, ""))
        elif isinstance(cur, dict | list):
            out.append((name, json.dumps(cur, separators=(",", ":"))))
        else:
            text = _scalar_text(cur)
            out.append((name, text if text is not None else ""))
    return out


def parse_unpack(line: str) -> tuple[list[tuple[str, str]], str | None]:
    """String fields become labels; ``_entry`` replaces the line."""
    try:
        doc = json.loads(line, object_pairs_hook=_first_wins)
    except ValueError as exc:
        raise _json_error(exc) from None
    if not isinstance(doc, dict):
        raise LineParseError("Value looks like object, but can't find closing '}' symbol")
    out: list[tuple[str, str]] = []
    entry: str | None = None
    for k, v in doc.items():
        if not isinstance(v, str) or k == "":
            continue
        if k == "_entry":
            entry = v
            continue
        out.append((sanitize_key(k), v))
    return out, entry


# --------------------------------------------------------------------------- logfmt

_LOGFMT_ESC = {
    '"': '"',
    "\\": "\\",
    "/": "/",
    "b": "\b",
    "f": "\f",
    "n": "\n",
    "r": "\r",
    "t": "\t",
}


def _plain_pairs(seg: str) -> list[tuple[str, str | None]] | None:
    """``k=v`` / bare ``k`` tokens of an unquoted segment, or None if one is malformed."""
    parts = [t.partition("=") for t in seg.split(" ") if t]
    if seg.count("=") != sum(1 for p in parts if p[1]) or not all(p[0] for p in parts):
        return None  # "a=b=c" or "=x"
    return [(k, v if eq else None) for k, eq, v in parts]


def _logfmt_fast(line: str) -> list[tuple[str, str | None]] | None:
    """Pairs of a well-formed line using ``split``/``partition`` only; None if irregular
    (escapes, tabs, stray ``=`` or ``"``), which the exact scanner then handles."""
    if "\\" in line or "\t" in line or "\n" in line or "\r" in line:
        return None
    if '"' not in line:
        return _plain_pairs(line)
    # Even parts lie outside quotes, odd parts are quoted values.
    parts = line.split('"')
    if len(parts) % 2 == 0:
        return None
    out: list[tuple[str, str | None]] = []
    last = len(parts) - 1
    for idx in range(0, len(parts), 2):
        seg = parts[idx]
        if idx > 0 and seg and seg[0] != " ":
            return None  # text glued to a closing quote
        quoted_key = None
        if idx < last:
            cut = seg.rfind(" ") + 1
            tail = seg[cut:]
            if len(tail) < 2 or tail[-1] != "=" or "=" in tail[:-1]:
                return None
            quoted_key = tail[:-1]
            seg = seg[:cut]
        plain = _plain_pairs(seg)
        if plain is None:
            return None
        out.extend(plain)
        if quoted_key is not None:
            out.append((quoted_key, parts[idx + 1]))
    return out


def parse_logfmt(line: str, strict: bool) -> list[tuple[str, str | None]]:
    """Pairs of ``line``; a key without ``=`` or with an empty value gives None/"".

    Non-strict mode skips a malformed pair and goes on; strict mode raises.
    """
    fast = _logfmt_fast(line)
    if fast is not None:
        return fast
    out: list[tuple[str, str | None]] = []
    i = 0
    n = len(line)
    while i < n:
        while i < n and line[i] <= " ":
            i += 1
        if i >= n:
            break
        start = i
        while i < n and line[i] > " " and line[i] not in '="':
            i += 1
        key = line[start:i]
        if not key:
            err = f"logfmt syntax error at pos {i + 1} : unexpected '{line[i]}'"
            if strict:
                raise LineParseError(err)
            i = _skip_token(line, i)
            continue
        if i >= n or line[i] <= " ":
            out.append((key, None))
            continue
        if line[i] == '"':
            err = f"logfmt syntax error at pos {i + 1} : unexpected '\"'"
            if strict:
                raise LineParseError(err)
            i = _skip_token(line, i)
            continue
        i += 1  # '='
        if i < n and line[i] == '"':
            value, i, ok = _quoted(line, i + 1)
            if not ok:
                if strict:
                    raise LineParseError(
                        f"logfmt syntax error at pos {n + 1} : unterminated quoted value"
                    )
                break
            out.append((key, value))
            continue
        vstart = i
        while i < n and line[i] > " " and line[i] not in '="':
            i += 1
        if i < n and line[i] in '="':
            if strict:
                raise LineParseError(f"logfmt syntax error at pos {i + 1} : unexpected '{line[i]}'")
            i = _skip_token(line, i)
            continue
        out.append((key, line[vstart:i]))
    return out


def _skip_token(line: str, i: int) -> int:
    while i < len(line) and line[i] > " ":
        i += 1
    return i


def _quoted(line: str, i: int) -> tuple[str, int, bool]:
    buf: list[str] = []
    n = len(line)
    while i < n:
        c = line[i]
        if c == '"':
            return "".join(buf), i + 1, True
        if c == "\\" and i + 1 < n:
            e = line[i + 1]
            if e == "u" and i + 5 < n:
                try:
                    buf.append(chr(int(line[i + 2 : i + 6], 16)))
                    i += 6
                    continue
                except ValueError:
                    pass
            buf.append(_LOGFMT_ESC.get(e, e))
            i += 2
            continue
        buf.append(c)
        i += 1
    return "".join(buf), n, False


# --------------------------------------------------------------------------- regexp


def compile_regexp_parser(pattern: str) -> tuple[Any, list[tuple[int, str]]]:
    """The compiled regex and its named groups ``(group index, name)``."""
    names: list[str] = []
    # RE2 rejects duplicate names itself; find them first for Loki's message.
    for m in re2.finditer(r"\(\?P?<([^>]*)>", pattern):
        names.append(m.group(1))
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise RegexpParseError(f"duplicate extracted label name '{name}'")
        seen.add(name)
    try:
        rx = compile_regex(pattern)
    except RegexError as exc:
        raise RegexpParseError(f"error parsing regexp: {exc}") from None
    groups = sorted((idx, name) for name, idx in rx.groupindex.items())
    if not groups:
        raise RegexpParseError("at least one named capture must be supplied")
    for _, name in groups:
        if not _LABEL_NAME.match(name):
            raise RegexpParseError(f"invalid extracted label name '{name}'")
    return rx, groups


def regexp_extractor(pattern: str) -> Callable[[str], list[tuple[str, str]]]:
    rx, groups = compile_regexp_parser(pattern)

    def extract(line: str) -> list[tuple[str, str]]:
        m = rx.search(line)
        if m is None:
            return []
        out = []
        for idx, name in groups:
            v = m.group(idx)
            if v is not None:
                out.append((name, v))
        return out

    return extract
