"""Byte sizes as Prometheus writes them (``512MB``, ``1.5GB``, ``100KiB``, ``1GB512MB``).

Prometheus parses sizes with base-2 units whether or not the ``i`` is written: ``KB``
and ``KiB`` both mean 1024 bytes. Units are case-sensitive and required (``0`` alone is
the exception), exactly as in ``body_size_limit`` and ``--storage.tsdb.retention.size``.
"""

from __future__ import annotations

_POWERS = {"": 0, "K": 1, "M": 2, "G": 3, "T": 4, "P": 5, "E": 6}
UNITS: dict[str, int] = {"B": 1}
for _prefix, _power in _POWERS.items():
    if _prefix:
        UNITS[_prefix + "B"] = 1024**_power
        UNITS[_prefix + "iB"] = 1024**_power
_DIGITS = "0123456789"


class SizeError(ValueError):
    pass


def parse_size(text: str) -> int:
    """Parse a byte size into an int number of bytes; raise :class:`SizeError` if invalid."""
    if text == "0":
        return 0
    if not text:
        raise SizeError("units: invalid size (empty string)")
    total = 0.0
    pos, n = 0, len(text)
    while pos < n:
        start = pos
        while pos < n and text[pos] in _DIGITS:
            pos += 1
        if pos < n and text[pos] == ".":
            pos += 1
            while pos < n and text[pos] in _DIGITS:
                pos += 1
        number = text[start:pos]
        if number in ("", "."):
            raise SizeError(f"units: invalid size {text}")
        unit_start = pos
        while pos < n and text[pos] not in _DIGITS and text[pos] != ".":
            pos += 1
        unit = text[unit_start:pos]
        if unit not in UNITS:
            raise SizeError(f"units: unknown unit {unit} in {text}")
        total += float(number) * UNITS[unit]
    if total >= 1 << 63:
        raise SizeError(f"units: size out of range: {text}")
    return int(total)


def format_size(size: int) -> str:
    """Render bytes with base-2 units, largest first (``1GiB512MiB``); ``0`` for zero."""
    if size <= 0:
        return "0"
    out: list[str] = []
    for prefix in ("E", "P", "T", "G", "M", "K"):
        unit = 1024 ** _POWERS[prefix]
        if size >= unit:
            count, size = divmod(size, unit)
            out.append(f"{count}{prefix}iB")
    if size:
        out.append(f"{size}B")
    return "".join(out)
