"""The functions every Go template has: comparisons, logic, index/slice/len, escaping,
print/printf/println and call. Errors are raised as ValueError with Go's text; the
executor wraps them as ``error calling NAME: ...``."""

from __future__ import annotations

import urllib.parse
from collections.abc import Callable, Mapping
from typing import Any

from tidewatch.templating.gofmt import (
    as_go_number,
    go_type_name,
    render_go_value,
    sprint,
    sprintf,
    sprintln,
)
from tidewatch.templating.values import MISSING, is_true


def _kind(v: Any) -> str:
    v = as_go_number(v)
    if v is None or v is MISSING:
        return "invalid"
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, int):
        return "int"
    if isinstance(v, float):
        return "float"
    if isinstance(v, complex):
        return "complex"
    if isinstance(v, str):
        return "string"
    return "other"


def go_and(arg0: Any, *args: Any) -> Any:
    """First false argument, or the last one (the executor short-circuits the real call)."""
    if not is_true(arg0):
        return arg0
    for a in args:
        arg0 = a
        if not is_true(a):
            return a
    return arg0


def go_or(arg0: Any, *args: Any) -> Any:
    if is_true(arg0):
        return arg0
    for a in args:
        arg0 = a
        if is_true(a):
            return a
    return arg0


def go_not(arg: Any) -> bool:
    return not is_true(arg)


def _comparable(v: Any) -> bool:
    try:
        hash(v)
    except TypeError:
        return False
    return True


def go_eq(arg1: Any, *arg2: Any) -> bool:
    """arg1 == any of arg2, with Go's rule that different basic kinds do not compare."""
    if not arg2:
        raise ValueError("missing argument for comparison")
    k1 = _kind(arg1)
    for arg in arg2:
        k2 = _kind(arg)
        if k1 != k2:
            if k1 != "invalid" and k2 != "invalid":
                raise ValueError("incompatible types for comparison")
            continue
        if k1 == "invalid":
            return True
        if k1 == "other":
            for v in (arg1, arg):
                if not _comparable(v):
                    raise ValueError(f"non-comparable type {render_go_value(v)}: {go_type_name(v)}")
        if as_go_number(arg1) == as_go_number(arg):
            return True
    return False


def go_ne(arg1: Any, arg2: Any) -> bool:
    return not go_eq(arg1, arg2)


def go_lt(arg1: Any, arg2: Any) -> bool:
    k1, k2 = _kind(arg1), _kind(arg2)
    for k in (k1, k2):
        if k in ("invalid", "other"):
            raise ValueError("invalid type for comparison")
    if k1 != k2:
        raise ValueError("incompatible types for comparison")
    if k1 in ("bool", "complex"):
        raise ValueError("invalid type for comparison")
    return bool(as_go_number(arg1) < as_go_number(arg2))


def go_le(arg1: Any, arg2: Any) -> bool:
    return go_lt(arg1, arg2) or go_eq(arg1, arg2)


def go_gt(arg1: Any, arg2: Any) -> bool:
    return not go_le(arg1, arg2)


def go_ge(arg1: Any, arg2: Any) -> bool:
    return not go_lt(arg1, arg2)


def map_zero(m: Mapping[Any, Any]) -> Any:
    """The zero value a missing key of this map yields: "" for string maps (label sets)."""
    for v in m.values():
        if isinstance(v, str):
            return ""
        if isinstance(v, bool):
            return False
        if isinstance(v, (int, float)):
            return type(v)()
        return MISSING
    return ""


def _index_arg(index: Any, cap: int) -> int:
    if index is None or index is MISSING:
        raise ValueError("cannot index slice/array with nil")
    if isinstance(index, bool) or not isinstance(index, int):
        raise ValueError(f"cannot index slice/array with type {go_type_name(index)}")
    if index < 0 or index >= cap:
        raise ValueError(f"index out of range: {index}")
    return index


def go_index(item: Any, *indexes: Any) -> Any:
    if item is None or item is MISSING:
        raise ValueError("index of untyped nil")
    for index in indexes:
        if item is None or item is MISSING:
            raise ValueError("index of nil pointer")
        if isinstance(item, str):
            data = item.encode()
            item = data[_index_arg(index, len(data))]
        elif isinstance(item, (list, tuple, bytes)):
            item = item[_index_arg(index, len(item))]
        elif isinstance(item, Mapping):
            if index is None or index is MISSING:
                raise ValueError("value is nil; should be of type string")
            if not isinstance(index, str) and all(isinstance(k, str) for k in list(item)[:1]):
                raise ValueError(f"value has type {go_type_name(index)}; should be string")
            item = item[index] if index in item else map_zero(item)
        else:
            raise ValueError(f"can't index item of type {go_type_name(item)}")
    return item


def go_slice(item: Any, *indexes: Any) -> Any:
    if item is None or item is MISSING:
        raise ValueError("slice of untyped nil")
    if len(indexes) > 3:
        raise ValueError(f"too many slice indexes: {len(indexes)}")
    is_str = isinstance(item, str)
    if is_str:
        if len(indexes) == 3:
            raise ValueError("cannot 3-index slice a string")
        seq: Any = item.encode()
    elif isinstance(item, (list, tuple)):
        seq = item
    else:
        raise ValueError(f"can't slice item of type {go_type_name(item)}")
    cap = len(seq)
    idx = [0, len(seq)]
    for i, index in enumerate(indexes):
        if (
            index is None
            or index is MISSING
            or isinstance(index, bool)
            or not isinstance(index, int)
        ):
            raise ValueError(f"cannot index slice/array with type {go_type_name(index)}")
        if index < 0 or index > cap:
            raise ValueError(f"index out of range: {index}")
        if i < 2:
            idx[i] = index
    if idx[0] > idx[1]:
        raise ValueError(f"invalid slice index: {idx[0]} > {idx[1]}")
    out = seq[idx[0] : idx[1]]
    if is_str:
        return out.decode(errors="replace")
    return out


def go_len(item: Any) -> int:
    if item is None or item is MISSING:
        raise ValueError("len of nil pointer")
    if isinstance(item, str):
        return len(item.encode())
    try:
        return len(item)
    except TypeError:
        raise ValueError(f"len of type {go_type_name(item)}") from None


def _eval_args(args: tuple[Any, ...]) -> str:
    if len(args) == 1 and isinstance(args[0], str):
        return args[0]
    return sprint(*(a if a is not MISSING else "<no value>" for a in args))


_HTML_ESCAPES = str.maketrans(
    {"<": "&lt;", ">": "&gt;", "&": "&amp;", "'": "&#39;", '"': "&#34;", "\0": "\ufffd"}
)


def html_escape(s: str) -> str:
    return s.translate(_HTML_ESCAPES)


def go_html(*args: Any) -> str:
    return html_escape(_eval_args(args))


_JS_ESCAPES = {
    "\\": "\\\\",
    "'": "\\'",
    '"': '\\"',
    "<": "\\u003C",
    ">": "\\u003E",
    "&": "\\u0026",
    "=": "\\u003D",
}


def js_escape(s: str) -> str:
    out: list[str] = []
    for ch in s:
        esc = _JS_ESCAPES.get(ch)
        if esc is not None:
            out.append(esc)
        elif ch < " " or (ch > "\x7f" and not ch.isprintable()):
            out.append(f"\\u{ord(ch):04X}")
        else:
            out.append(ch)
    return "".join(out)


def go_js(*args: Any) -> str:
    return js_escape(_eval_args(args))


def query_escape(s: str) -> str:
    """Go's ``url.QueryEscape``."""
    return urllib.parse.quote_plus(s, safe="")


def go_urlquery(*args: Any) -> str:
    return query_escape(_eval_args(args))


def go_print(*args: Any) -> str:
    return sprint(*args)


def go_println(*args: Any) -> str:
    return sprintln(*args)


def go_printf(fmt: str, *args: Any) -> str:
    if not isinstance(fmt, str):
        raise ValueError(f"wrong type for value; expected string; got {go_type_name(fmt)}")
    return sprintf(fmt, *args)


def go_call(fn: Any, *args: Any) -> Any:
    if fn is None or fn is MISSING:
        raise ValueError("call of nil")
    if not callable(fn):
        raise ValueError(f"non-function of type {go_type_name(fn)}")
    return fn(*args)


BUILTINS: dict[str, Callable[..., Any]] = {
    "and": go_and,
    "or": go_or,
    "not": go_not,
    "eq": go_eq,
    "ne": go_ne,
    "lt": go_lt,
    "le": go_le,
    "gt": go_gt,
    "ge": go_ge,
    "index": go_index,
    "slice": go_slice,
    "len": go_len,
    "html": go_html,
    "js": go_js,
    "urlquery": go_urlquery,
    "print": go_print,
    "printf": go_printf,
    "println": go_println,
    "call": go_call,
}
