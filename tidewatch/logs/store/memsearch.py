"""Find every occurrence of a literal in a byte range, with C's ``memmem`` when available.

glibc's ``memmem`` scans about twice as fast as ``bytes.find`` for the short literals of
``|= "..."`` filters, which is what bounds a needle search once chunks are decompressed.
Without a usable libc the same loop runs on ``bytes.find``.
"""

from __future__ import annotations

import ctypes
import ctypes.util
from collections.abc import Callable


def _load_memmem() -> Callable[..., int | None] | None:
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        fn = libc.memmem
    except (OSError, AttributeError):
        return None
    fn.restype = ctypes.c_void_p
    fn.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_char_p, ctypes.c_size_t]
    return fn


_memmem = _load_memmem()


def find_all(buf: bytes, start: int, stop: int, needle: bytes, limit: int) -> list[int] | None:
    """Offsets (into ``buf``) of ``needle`` within ``buf[start:stop]``, or None once there
    are more than ``limit`` of them (the caller then filters line by line instead)."""
    hits: list[int] = []
    if not needle:
        return None
    if _memmem is None:
        at = buf.find(needle, start, stop)
        while at != -1:
            hits.append(at)
            if len(hits) > limit:
                return None
            at = buf.find(needle, at + 1, stop)
        return hits
    # ``buf`` is immutable and referenced for the whole call, so its address is stable.
    base = ctypes.cast(ctypes.c_char_p(buf), ctypes.c_void_p).value or 0
    n = len(needle)
    pos = start
    while stop - pos >= n:
        found = _memmem(base + pos, stop - pos, needle, n)
        if not found:
            break
        at = found - base
        hits.append(at)
        if len(hits) > limit:
            return None
        pos = at + 1
    return hits


def line_hits(buf: bytes, start: int, stop: int, needle: bytes) -> list[int]:
    """Offsets of the first ``needle`` in each line of ``buf[start:stop]`` that has one
    (lines end at ``\n``): after a hit the search resumes at the next line."""
    hits: list[int] = []
    n = len(needle)
    find_nl = buf.find
    if _memmem is None:
        find = buf.find
        at = find(needle, start, stop)
        while at != -1:
            hits.append(at)
            nl = find_nl(b"\n", at + n, stop)
            if nl == -1:
                break
            at = find(needle, nl + 1, stop)
        return hits
    base = ctypes.cast(ctypes.c_char_p(buf), ctypes.c_void_p).value or 0
    pos = start
    while stop - pos >= n:
        found = _memmem(base + pos, stop - pos, needle, n)
        if not found:
            break
        at = found - base
        hits.append(at)
        nl = find_nl(b"\n", at + n, stop)
        if nl == -1:
            break
        pos = nl + 1
    return hits
