"""Go's float formatting where rules output shows floats (promtool, API values)."""

from __future__ import annotations

import math
from decimal import Decimal


def format_float_e(v: float) -> str:
    """Go's ``strconv.FormatFloat(v, 'E', -1, 64)``: shortest digits, ``1.5E+00``."""
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "+Inf" if v > 0 else "-Inf"
    sign = "-" if math.copysign(1, v) < 0 else ""
    if v == 0:
        return f"{sign}0E+00"
    # repr gives the shortest round-trip digits; Decimal splits them from the exponent.
    digits, exp = _shortest_digits(abs(v))
    mant = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
    return f"{sign}{mant}E{'-' if exp < 0 else '+'}{abs(exp):02d}"


def _shortest_digits(v: float) -> tuple[str, int]:
    d = Decimal(repr(v))
    _, digit_tuple, exponent = d.as_tuple()
    digits = "".join(map(str, digit_tuple)).rstrip("0") or "0"
    assert isinstance(exponent, int)
    return digits, exponent + len(digit_tuple) - 1


def format_float_e_lower(v: float) -> str:
    """``strconv.FormatFloat(v, 'e', -1, 64)``, as alerts' ``value`` is shown."""
    return format_float_e(v).replace("E", "e")
