"""Alertmanager's label-set fingerprint: FNV-64a over the sorted label names and
values, each followed by the 0xff separator byte (prometheus/common's
``LabelSet.Fingerprint``), so alert and group ids agree with the real Alertmanager."""

from __future__ import annotations

from tidewatch.labels import Labels

_OFFSET64 = 14695981039346656037
_PRIME64 = 1099511628211
_MASK64 = (1 << 64) - 1
_SEP = 0xFF


# Alerts are re-sent with the same labels every evaluation interval; hashing bytes
# in Python costs ~30 µs per label set, a lookup ~0.1 µs.
_CACHE: dict[Labels, int] = {}
_CACHE_MAX = 200_000


def fingerprint(lbls: Labels) -> int:
    """The 64-bit fingerprint of a label set (sorted by name, as ``Labels`` are)."""
    fp = _CACHE.get(lbls)
    if fp is None:
        if len(_CACHE) >= _CACHE_MAX:
            _CACHE.clear()
        fp = _CACHE[lbls] = _fnv64a(lbls)
    return fp


def _fnv64a(lbls: Labels) -> int:
    h = _OFFSET64
    for name, value in lbls:
        for b in name.encode():
            h = ((h ^ b) * _PRIME64) & _MASK64
        h = ((h ^ _SEP) * _PRIME64) & _MASK64
        for b in value.encode():
            h = ((h ^ b) * _PRIME64) & _MASK64
        h = ((h ^ _SEP) * _PRIME64) & _MASK64
    return h


def fingerprint_hex(lbls: Labels) -> str:
    """Fingerprint as Alertmanager prints it: 16 lowercase hex digits."""
    return f"{fingerprint(lbls):016x}"
