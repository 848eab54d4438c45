"""Go's ``strconv.FormatFloat``: the one float printer for every place where
tidewatch must print numbers exactly as Prometheus, Loki or Alertmanager do
(API sample values, PromQL's ``String()``, error messages, templates, promtool output).
"""

from __future__ import annotations

import math


def shortest_digits(f: float) -> tuple[str, int]:
    """Shortest round-trip digits of ``abs(f)`` and the decimal point position
    (``"15", 1`` for 1.5; ``"0", 1`` for zero)."""
    r = float.__repr__(abs(float(f)))  # numpy scalars repr as "np.float64(..)"
    if "e" in r:
        mant, exp_s = r.split("e")
        exp = int(exp_s)
    else:
        mant, exp = r, 0
    ip, _, fp = mant.partition(".")
    digits = ip + fp
    dp = len(ip) + exp
    stripped = digits.lstrip("0")
    dp -= len(digits) - len(stripped)
    digits = stripped.rstrip("0")
    if not digits:
        return "0", 1
    return digits, dp


def format_float(f: float, fmt: str = "g", prec: int = -1) -> str:
    """``strconv.FormatFloat(f, fmt, prec, 64)`` for fmt in ``f e E g G``;
    ``prec`` -1 means the shortest digits that read back as the same float."""
    if fmt == "f" and prec < 0:
        r = float.__repr__(float(f))
        if "e" not in r and "n" not in r:  # the common case: plain digits
            return r[:-2] if r.endswith(".0") else r
    if math.isnan(f):
        return "NaN"
    if math.isinf(f):
        return "+Inf" if f > 0 else "-Inf"
    if prec >= 0:
        return f"{f:.{prec}{fmt}}"
    digits, dp = shortest_digits(f)
    sign = "-" if math.copysign(1.0, f) < 0 else ""
    exp = dp - 1
    # Shortest %g switches to an exponent outside [1e-4, 1e6), as Go's strconv does.
    if fmt in "eE" or (fmt in "gG" and (exp < -4 or exp >= 6)):
        mant = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
        e = "e" if fmt in "eg" else "E"
        return f"{sign}{mant}{e}{'-' if exp < 0 else '+'}{abs(exp):02d}"
    if dp <= 0:
        return f"{sign}0.{'0' * -dp}{digits}"
    if dp >= len(digits):
        return sign + digits + "0" * (dp - len(digits))
    return f"{sign}{digits[:dp]}.{digits[dp:]}"


def format_float_v(f: float) -> str:
    """Go's ``%v`` (and ``%g``) for a float64: ``1e+06``, ``0.5``, ``1.5e-05``."""
    return format_float(f, "g")
