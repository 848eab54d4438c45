"""Unix-nanosecond timestamp strings (Loki's JSON push) parsed in one numpy pass."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

I64 = npt.NDArray[np.int64]

MAX_DIGITS = 19  # 10**19 > int64; nanoseconds since 1970 have 19 digits until 2286
# Digit weights 10**18 .. 10**0, then 0 for the separator after the last digit.
_WEIGHTS = np.append(10 ** np.arange(MAX_DIGITS - 1, -1, -1, dtype=np.uint64), np.uint64(0))
_INT64_MAX = np.uint64(2**63 - 1)
_ZERO = ord("0")
_COMMA_SHIFTED = (ord(",") - _ZERO) % 256


def parse_ns_strings(items: list[str]) -> I64 | None:
    """Decimal strings of one width (at most 19 digits, no sign) as int64; ``None`` when
    any item is not like that (other widths, signs, non-digits, overflow), for the
    caller's general path.

    The items are joined with commas: the result has exactly ``width`` digits between
    commas at every ``width + 1``-th byte only when every item is ``width`` digits (a
    comma or non-ASCII character inside an item shifts or lengthens the text)."""
    n = len(items)
    if n == 0:
        return np.zeros(0, np.int64)
    width = len(items[0])
    if not 0 < width <= MAX_DIGITS:
        return None
    raw = (",".join(items) + ",").encode()
    if len(raw) != n * (width + 1):
        return None
    # Contiguous whole-buffer work only: '0'..'9' become 0..9, the comma 252.
    chars = np.frombuffer(raw, np.uint8) - np.uint8(_ZERO)
    if not (chars[width :: width + 1] == _COMMA_SHIFTED).all():
        return None
    if int(np.count_nonzero(chars <= 9)) != n * width:
        return None
    # The comma column gets weight 0, so one matrix product over the whole grid.
    values = chars.reshape(n, width + 1).astype(np.uint64) @ _WEIGHTS[MAX_DIGITS - width :]
    if width == MAX_DIGITS and not (values <= _INT64_MAX).all():
        return None
    return values.view(np.int64)
