"""adjtimex(2) in read-only mode, for node_exporter's timex collector.

Python has no binding for adjtimex, so this calls libc through ctypes with
`modes = 0` (query only: it never changes the clock and needs no privilege).
"""

from __future__ import annotations

import ctypes
import ctypes.util
from dataclasses import dataclass
from functools import cache

TIME_ERROR = 5  # adjtimex return value: clock not synchronised
STA_NANO = 0x2000  # offset and jitter are in ns instead of µs


class _Timeval(ctypes.Structure):
    _fields_ = (("tv_sec", ctypes.c_long), ("tv_usec", ctypes.c_long))


class _Timex(ctypes.Structure):
    # struct timex from <sys/timex.h>; ctypes applies the same C alignment rules.
    _fields_ = (
        ("modes", ctypes.c_uint),
        ("offset", ctypes.c_long),
        ("freq", ctypes.c_long),
        ("maxerror", ctypes.c_long),
        ("esterror", ctypes.c_long),
        ("status", ctypes.c_int),
        ("constant", ctypes.c_long),
        ("precision", ctypes.c_long),
        ("tolerance", ctypes.c_long),
        ("time", _Timeval),
        ("tick", ctypes.c_long),
        ("ppsfreq", ctypes.c_long),
        ("jitter", ctypes.c_long),
        ("shift", ctypes.c_int),
        ("stabil", ctypes.c_long),
        ("jitcnt", ctypes.c_long),
        ("calcnt", ctypes.c_long),
        ("errcnt", ctypes.c_long),
        ("stbcnt", ctypes.c_long),
        ("tai", ctypes.c_int),
        ("_reserved", ctypes.c_int * 11),
    )


@dataclass(frozen=True, slots=True)
class Timex:
    state: int  # adjtimex's return value (TIME_OK ... TIME_ERROR)
    offset: int
    freq: int
    maxerror: int
    esterror: int
    status: int
    constant: int
    tick: int
    ppsfreq: int
    jitter: int
    shift: int
    stabil: int
    jitcnt: int
    calcnt: int
    errcnt: int
    stbcnt: int
    tai: int


@cache
def _libc() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        return ctypes.CDLL(name, use_errno=True)
    except OSError:
        return None


def read_timex() -> Timex | None:
    """The kernel clock's discipline state, or None where adjtimex is unavailable."""
    libc = _libc()
    if libc is None or not hasattr(libc, "adjtimex"):
        return None
    buf = _Timex()
    state = libc.adjtimex(ctypes.byref(buf))
    if state < 0:
        return None
    return Timex(
        state=state,
        offset=buf.offset,
        freq=buf.freq,
        maxerror=buf.maxerror,
        esterror=buf.esterror,
        status=buf.status,
        constant=buf.constant,
        tick=buf.tick,
        ppsfreq=buf.ppsfreq,
        jitter=buf.jitter,
        shift=buf.shift,
        stabil=buf.stabil,
        jitcnt=buf.jitcnt,
        calcnt=buf.calcnt,
        errcnt=buf.errcnt,
        stbcnt=buf.stbcnt,
        tai=buf.tai,
    )
