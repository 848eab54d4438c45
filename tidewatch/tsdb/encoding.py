"""Frame codec: many series' samples compressed together, decoded with numpy.

A *frame* holds up to a few thousand samples of one or more series laid end to end
(series boundaries are "restarts"). Timestamps become delta-of-delta, values become
integer deltas when every value is a (scaled) integer, else XOR with the previous
value's bits (so every NaN, including the staleness marker, round-trips bit-exactly).
Both columns are zigzagged, split into byte planes (all low bytes, then the next...)
and compressed with zstd: regular series turn into long runs of zero bytes.

Everything is whole-array numpy work; nothing loops per sample in Python.
"""

from __future__ import annotations

import struct

import numpy as np
import numpy.typing as npt
import zstandard

I64 = npt.NDArray[np.int64]
U64 = npt.NDArray[np.uint64]
F64 = npt.NDArray[np.float64]

_HEADER = struct.Struct("<IIBBB")  # samples, restarts, ts planes, value mode, value planes
_XOR_MODE = 255
_MAX_SCALE = 6  # value modes 0..6: integers after multiplying by 10**mode
_EXACT_INT_LIMIT = float(2**53)


def _compressor(level: int) -> zstandard.ZstdCompressor:
    # zstandard (de)compressor objects are not thread-safe; they are cheap to make.
    return zstandard.ZstdCompressor(level=level)


def segment_cumsum(x: I64, restarts: I64) -> I64:
    """Cumulative sum restarting at each index in ``restarts`` (which starts with 0)."""
    c = np.cumsum(x, dtype=np.int64)
    if len(restarts) <= 1:
        return c
    base = np.zeros(len(restarts), dtype=np.int64)
    base[1:] = c[restarts[1:] - 1]
    lens = np.diff(np.append(restarts, len(x)))
    return c - np.repeat(base, lens)


def segment_xor_accumulate(x: U64, restarts: I64) -> U64:
    acc: U64 = np.bitwise_xor.accumulate(x)
    if len(restarts) <= 1:
        return acc
    base = np.zeros(len(restarts), dtype=np.uint64)
    base[1:] = acc[restarts[1:] - 1]
    lens = np.diff(np.append(restarts, len(x)))
    return acc ^ np.repeat(base, lens)


def _restart_mask(n: int, restarts: I64) -> npt.NDArray[np.bool_]:
    mask = np.zeros(n, dtype=bool)
    mask[restarts] = True
    return mask


def _delta(x: I64, mask: npt.NDArray[np.bool_]) -> I64:
    d = np.empty_like(x)
    d[0] = x[0]
    np.subtract(x[1:], x[:-1], out=d[1:])
    d[mask] = x[mask]
    return d


def _zigzag(x: I64) -> U64:
    return ((x << 1) ^ (x >> 63)).view(np.uint64)


def _unzigzag(u: U64) -> I64:
    return ((u >> np.uint64(1)) ^ (np.uint64(0) - (u & np.uint64(1)))).view(np.int64)


def _planes(u: U64) -> tuple[int, bytes]:
    """Low-to-high byte planes of ``u``, dropping high planes that are all zero."""
    top = int(u.max()) if len(u) else 0
    width = (top.bit_length() + 7) // 8
    if width == 0:
        return 0, b""
    as_bytes = u.astype("<u8", copy=False).view(np.uint8).reshape(-1, 8)
    return width, as_bytes[:, :width].T.tobytes()


def _from_planes(buf: bytes | memoryview, width: int, n: int) -> U64:
    out = np.zeros((n, 8), dtype=np.uint8)
    if width:
        out[:, :width] = np.frombuffer(buf, dtype=np.uint8, count=width * n).reshape(width, n).T
    return out.view("<u8").reshape(n).astype(np.uint64, copy=False)


def _integer_mode(values: F64) -> tuple[int, I64] | None:
    """Smallest decimal scale turning every value into an exact integer, if any."""
    bits = values.view(np.uint64)
    with np.errstate(invalid="ignore", over="ignore"):
        for mode in range(_MAX_SCALE + 1):
            scale = 10.0**mode
            scaled = np.rint(values * scale) if mode else values
            if not np.all(np.abs(scaled) < _EXACT_INT_LIMIT):
                return None
            ints = scaled.astype(np.int64)
            back = ints.astype(np.float64) / scale if mode else ints.astype(np.float64)
            if np.array_equal(back.view(np.uint64), bits):
                return mode, ints
            if mode == 0 and not np.all(np.isfinite(values)):
                return None
    return None


def encode_frame(ts: I64, values: F64, restarts: I64, level: int = 1) -> bytes:
    """Compress samples; ``restarts`` are the (ascending, 0-first) series starts."""
    n = len(ts)
    if n == 0:
        raise ValueError("empty frame")
    restarts = np.asarray(restarts, dtype=np.int64)
    mask = _restart_mask(n, restarts)
    delta = _delta(ts, mask)
    mask2 = mask.copy()
    mask2[restarts[restarts + 1 < n] + 1] = True
    dod = _delta(delta, mask2)
    ts_width, ts_planes = _planes(_zigzag(dod))

    found = _integer_mode(values) if n else None
    if found is not None:
        mode, ints = found
        val_width, val_planes = _planes(_zigzag(_delta(ints, mask)))
    else:
        mode = _XOR_MODE
        bits = values.view(np.uint64)
        x = np.empty_like(bits)
        x[0] = bits[0]
        np.bitwise_xor(bits[1:], bits[:-1], out=x[1:])
        x[mask] = bits[mask]
        # Byte-planes of the XOR; high planes are rarely all zero, keep all 8.
        val_planes = x.astype("<u8", copy=False).view(np.uint8).reshape(-1, 8).T.tobytes()
        val_width = 8
    header = _HEADER.pack(n, len(restarts), ts_width, mode, val_width)
    body = restarts.astype("<u4").tobytes() + ts_planes + val_planes
    return header + _compressor(level).compress(body)


def decode_frame(frame: bytes | memoryview) -> tuple[I64, F64, I64]:
    """Inverse of :func:`encode_frame`: ``(ts, values, restarts)``."""
    n, nrest, ts_width, mode, val_width = _HEADER.unpack_from(frame, 0)
    body = memoryview(zstandard.ZstdDecompressor().decompress(frame[_HEADER.size :]))
    restarts = np.frombuffer(body, dtype="<u4", count=nrest).astype(np.int64)
    pos = 4 * nrest
    dod = _unzigzag(_from_planes(body[pos:], ts_width, n))
    pos += ts_width * n
    restarts2 = np.union1d(restarts, restarts[restarts + 1 < n] + 1)
    ts = segment_cumsum(segment_cumsum(dod, restarts2), restarts)
    if mode == _XOR_MODE:
        x = np.frombuffer(body[pos:], dtype=np.uint8, count=8 * n).reshape(8, n).T
        bits = np.ascontiguousarray(x).view("<u8").reshape(n).astype(np.uint64, copy=False)
        values = segment_xor_accumulate(bits, restarts).view(np.float64)
    else:
        ints = segment_cumsum(_unzigzag(_from_planes(body[pos:], val_width, n)), restarts)
        values = ints.astype(np.float64)
        if mode:
            values = values / (10.0**mode)
    return ts, values, restarts
