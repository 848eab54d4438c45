"""Go's ``fmt`` printing rules applied to Python values: ``%v`` of floats (``1e+06``),
maps (``map[a:1 b:2]``), slices (``[a b]``), nil (``<nil>``), and ``Sprintf`` verbs."""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
import numbers
from collections.abc import Mapping
from typing import Any

from tidewatch import gofloat
from tidewatch.templating.gotime import GoDuration, go_time_string
from tidewatch.templating.lexer import go_quote


def as_go_number(v: Any) -> Any:
    """Other numeric types (numpy scalars, Decimal ...) as Python int or float; else ``v``."""
    if isinstance(v, (int, float)) or not isinstance(v, numbers.Real):
        return v
    if isinstance(v, numbers.Integral):
        return int(v)
    return float(v)


def go_type_name(v: Any) -> str:
    """The Go type a value stands for, as ``%T`` and error messages print it."""
    v = as_go_number(v)
    if v is None:
        return "<nil>"
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, int):
        return "int"
    if isinstance(v, float):
        return "float64"
    if isinstance(v, str):
        return "string"
    if isinstance(v, bytes):
        return "[]uint8"
    if isinstance(v, dt.datetime):
        return "time.Time"
    if isinstance(v, GoDuration):
        return "time.Duration"
    if type(v) in (dict, list, tuple):
        return "map[string]interface {}" if isinstance(v, dict) else "[]interface {}"
    return type(v).__name__


def _stringer(v: Any) -> str | None:
    """Go's Stringer/error interfaces: a ``String()`` or ``Error()`` method on the value."""
    for name in ("String", "Error"):
        meth = getattr(type(v), name, None)
        if meth is not None and callable(meth):
            return str(getattr(v, name)())
    return None


def format_float(f: float, verb: str = "g", prec: int = -1, sharp: bool = False) -> str:
    """strconv.FormatFloat-style formatting; ``prec`` -1 means shortest."""
    if prec >= 0 and sharp and not (math.isnan(f) or math.isinf(f)):
        return f"{f:#.{prec}{verb}}"
    return gofloat.format_float(f, verb, prec)


def render_go_value(v: Any) -> str:
    """``fmt.Sprint(v)`` for one value: Go's ``%v``."""
    if isinstance(v, str):
        return v
    if v is None:
        return "<nil>"
    if v is True:
        return "true"
    if v is False:
        return "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return format_float(v)
    if isinstance(v, numbers.Real):
        return render_go_value(as_go_number(v))
    return _format_v(v, "v")


def _format_v(v: Any, verb: str) -> str:
    """%v (or another verb applied element-wise) for composite and foreign values."""
    if isinstance(v, dt.datetime):
        return go_time_string(v)
    if isinstance(v, GoDuration):
        return str(v)
    s = _stringer(v)
    if s is not None:
        return s
    if isinstance(v, Mapping):
        items = sorted(v.items(), key=lambda kv: _sort_key(kv[0]))
        return (
            "map["
            + " ".join(f"{_format_one(k, verb)}:{_format_one(x, verb)}" for k, x in items)
            + "]"
        )
    if isinstance(v, (list, tuple)):
        return "[" + " ".join(_format_one(x, verb) for x in v) + "]"
    if isinstance(v, bytes):
        return "[" + " ".join(str(b) for b in v) + "]"
    if dataclasses.is_dataclass(v) and not isinstance(v, type):
        return (
            "{"
            + " ".join(_format_one(getattr(v, f.name), verb) for f in dataclasses.fields(v))
            + "}"
        )
    return str(v)


def _sort_key(k: Any) -> tuple[int, Any]:
    if isinstance(k, (int, float)) and not isinstance(k, bool):
        return (0, k)
    if isinstance(k, str):
        return (1, k)
    return (2, str(k))


def _format_one(v: Any, verb: str) -> str:
    if verb == "v":
        return render_go_value(v)
    return format_value(v, verb, _Spec())


# -- Sprint / Sprintln / Sprintf -------------------------------------------------------


def sprint(*args: Any) -> str:
    """``fmt.Sprint``: spaces between operands when neither side is a string."""
    out: list[str] = []
    prev_string = True
    for i, a in enumerate(args):
        is_string = isinstance(a, str)
        if i > 0 and not is_string and not prev_string:
            out.append(" ")
        out.append(render_go_value(a))
        prev_string = is_string
    return "".join(out)


def sprintln(*args: Any) -> str:
    return " ".join(render_go_value(a) for a in args) + "\n"


class _Spec:
    __slots__ = ("minus", "plus", "prec", "sharp", "space", "width", "zero")

    def __init__(self) -> None:
        self.minus = self.plus = self.sharp = self.space = self.zero = False
        self.width = -1
        self.prec = -1


def _bad(verb: str, v: Any) -> str:
    if v is None:
        return f"%!{verb}(<nil>)"
    return f"%!{verb}({go_type_name(v)}={render_go_value(v)})"


def _pad(s: str, spec: _Spec, numeric: bool = False) -> str:
    width = spec.width
    if width < 0 or len(s) >= width:
        return s
    fill = width - len(s)
    if spec.minus:
        return s + " " * fill
    if spec.zero:
        if numeric and s[:1] in "+- ":
            return s[0] + "0" * fill + s[1:]
        return "0" * fill + s
    return " " * fill + s


def _sign(s: str, negative: bool, spec: _Spec) -> str:
    if negative:
        return "-" + s
    if spec.plus:
        return "+" + s
    if spec.space:
        return " " + s
    return s


def _format_int(v: int, verb: str, spec: _Spec) -> str:
    neg = v < 0
    a = abs(v)
    if verb in "dv":
        s = str(a)
    elif verb == "x":
        s = f"{a:x}"
        if spec.sharp:
            s = "0x" + s
    elif verb == "X":
        s = f"{a:X}"
        if spec.sharp:
            s = "0X" + s
    elif verb == "o":
        s = f"{a:o}"
        if spec.sharp:
            s = "0" + s
    elif verb == "O":
        s = "0o" + f"{a:o}"
    elif verb == "b":
        s = f"{a:b}"
    elif verb == "c":
        return _pad(chr(v), spec)
    elif verb == "q":
        return _pad(
            "'" + go_quote(chr(v))[1:-1].replace("'", "\\'").replace('\\"', '"') + "'", spec
        )
    elif verb == "U":
        s = f"U+{a:04X}"
        if spec.sharp:
            s += f" '{chr(v)}'"
        return _pad(s, spec)
    elif verb in "eEfFgG":
        return _bad(verb, v)
    else:
        return _bad(verb, v)
    if spec.prec >= 0:
        s = s.rjust(spec.prec, "0")
    if spec.zero and spec.prec < 0 and not spec.minus and spec.width > 0:
        body = _sign(s, neg, spec)
        return _pad(body, spec, numeric=True)
    return _pad(_sign(s, neg, spec), spec)


def _format_float_verb(v: float, verb: str, spec: _Spec) -> str:
    if verb == "v":
        verb = "g"
    if verb == "F":
        verb = "f"
    if verb not in "eEfgG":
        return _bad(verb, v)
    prec = spec.prec
    if prec < 0 and verb in "eEf":
        prec = 6
    s = format_float(v, verb, prec, spec.sharp)
    if math.isinf(v) or math.isnan(v):
        spec.zero = False  # Go pads infinities and NaN with spaces only
        return _pad(s, spec)
    if spec.plus and not s.startswith("-"):
        s = "+" + s
    elif spec.space and not s.startswith("-"):
        s = " " + s
    return _pad(s, spec, numeric=True)


def _format_str(s: str, verb: str, spec: _Spec) -> str:
    if verb in "sv":
        if spec.prec >= 0:
            s = s[: spec.prec]
        return _pad(s, spec)
    if verb == "q":
        if spec.sharp and "`" not in s and all(c.isprintable() or c == "\t" for c in s):
            return _pad("`" + s + "`", spec)
        q = go_quote(s)
        if spec.plus:
            q = q.encode("ascii", "backslashreplace").decode().replace("\\x", "\\u00")
        return _pad(q, spec)
    if verb in "xX":
        data = s.encode()
        if spec.prec >= 0:
            data = data[: spec.prec]
        h = data.hex()
        if verb == "X":
            h = h.upper()
        if spec.sharp:
            h = ("0X" if verb == "X" else "0x") + h
        return _pad(h, spec)
    return _bad(verb, s)


def format_value(v: Any, verb: str, spec: _Spec) -> str:
    """One operand under one verb, Go style (including ``%!d(string=x)`` for mismatches)."""
    if verb == "T":
        return _pad(go_type_name(v), spec)
    v = as_go_number(v)
    if v is None:
        return _pad("<nil>", spec) if verb == "v" else _bad(verb, v)
    if isinstance(v, bool):
        if verb in "vt":
            return _pad("true" if v else "false", spec)
        return _bad(verb, v)
    if isinstance(v, int):
        return _format_int(v, verb, spec)
    if isinstance(v, float):
        return _format_float_verb(v, verb, spec)
    if isinstance(v, str):
        return _format_str(v, verb, spec)
    if isinstance(v, GoDuration):
        if verb in "vsq":
            return _format_str(str(v), "s" if verb == "v" else verb, spec)
        return _format_int(v.ns, verb, spec)
    s = _stringer(v) if not isinstance(v, dt.datetime) else go_time_string(v)
    if s is not None and verb in "vsqxX":
        return _format_str(s, "s" if verb == "v" else verb, spec)
    if isinstance(v, (Mapping, list, tuple)) or dataclasses.is_dataclass(v):
        return _pad(_format_v(v, verb), spec)
    if verb in "vs":
        return _pad(str(v), spec)
    return _bad(verb, v)


def sprintf(fmt: str, *args: Any) -> str:
    """``fmt.Sprintf`` for the verbs templates use (flags, width, precision, ``*``, ``%[n]``)."""
    out: list[str] = []
    n = len(fmt)
    i = 0
    argi = 0
    reordered = False
    while i < n:
        j = fmt.find("%", i)
        if j < 0:
            out.append(fmt[i:])
            break
        out.append(fmt[i:j])
        i = j + 1
        spec = _Spec()
        while i < n and fmt[i] in "+-# 0":
            c = fmt[i]
            if c == "+":
                spec.plus = True
            elif c == "-":
                spec.minus = True
            elif c == "#":
                spec.sharp = True
            elif c == " ":
                spec.space = True
            else:
                spec.zero = True
            i += 1
        # Explicit argument index "%[2]d".
        if i < n and fmt[i] == "[":
            close = fmt.find("]", i)
            if close > i and fmt[i + 1 : close].isdigit():
                argi = int(fmt[i + 1 : close]) - 1
                reordered = True
                i = close + 1
        if i < n and fmt[i] == "*":
            i += 1
            if argi < len(args) and isinstance(args[argi], int):
                spec.width = args[argi]
                if spec.width < 0:
                    spec.minus = True
                    spec.width = -spec.width
            else:
                out.append("%!(BADWIDTH)")
            argi += 1
        else:
            start = i
            while i < n and fmt[i].isdigit():
                i += 1
            if i > start:
                spec.width = int(fmt[start:i])
        if i < n and fmt[i] == ".":
            i += 1
            if i < n and fmt[i] == "*":
                i += 1
                if argi < len(args) and isinstance(args[argi], int):
                    spec.prec = max(args[argi], -1)
                else:
                    out.append("%!(BADPREC)")
                argi += 1
            else:
                start = i
                while i < n and fmt[i].isdigit():
                    i += 1
                spec.prec = int(fmt[start:i]) if i > start else 0
        if i >= n:
            out.append("%!(NOVERB)")
            break
        verb = fmt[i]
        i += 1
        if verb == "%":
            out.append("%")
            continue
        if argi >= len(args):
            out.append(f"%!{verb}(MISSING)")
            continue
        arg = args[argi]
        argi += 1
        out.append(format_value(arg, verb, spec))
    if not reordered and argi < len(args):
        extra = ", ".join(
            "<nil>" if a is None else f"{go_type_name(a)}={render_go_value(a)}" for a in args[argi:]
        )
        out.append(f"%!(EXTRA {extra})")
    return "".join(out)
