"""Prometheus's XOR ("Gorilla") chunk encoding, bit for bit.

The wire format of STREAMED_XOR_CHUNKS remote read: a 2-byte big-endian sample
count, then a bit stream (most significant bit first): the first timestamp as a
zigzag varint and its value as 64 raw bits; the second timestamp's delta as a
uvarint and its value XORed with the first; after that delta-of-delta timestamps in
1/14/17/20/64-bit buckets and XORed values that reuse the previous
leading/trailing-zero window when it fits.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

MAX_SAMPLES_PER_CHUNK = 120  # as Prometheus cuts head chunks
_U64 = (1 << 64) - 1


def _varint(x: int) -> bytes:
    ux = (x << 1) & _U64
    if x < 0:
        ux ^= _U64
    return _uvarint(ux)


def _uvarint(n: int) -> bytes:
    out = bytearray()
    while n >= 0x80:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def encode_xor_chunk(ts: npt.NDArray[np.int64], values: npt.NDArray[np.float64]) -> bytes:
    """One chunk of at most 65535 samples (callers cut at ``MAX_SAMPLES_PER_CHUNK``)."""
    n = len(ts)
    if n > 0xFFFF:
        raise ValueError("too many samples for one chunk")
    if n == 0:
        return b"\x00\x00"
    t_list = ts.astype(np.int64).tolist()
    bits = np.ascontiguousarray(values, dtype=np.float64).view(np.uint64).tolist()
    # Bit fields are collected as "0"/"1" text and converted once at the end: this
    # loop is the hot path, so it is written out inline rather than via helpers.
    out = [format(b, "08b") for b in _varint(t_list[0])]
    out.append(format(bits[0], "064b"))
    add = out.append
    leading, trailing = 0xFF, 0
    prev_delta = 0
    for i in range(1, n):
        delta = t_list[i] - t_list[i - 1]
        if i == 1:
            out.extend(format(b, "08b") for b in _uvarint(delta & _U64))
        else:
            dod = delta - prev_delta
            if dod == 0:
                add("0")
            elif -8191 <= dod <= 8192:
                add("10" + format(dod & 0x3FFF, "014b"))
            elif -65535 <= dod <= 65536:
                add("110" + format(dod & 0x1FFFF, "017b"))
            elif -524287 <= dod <= 524288:
                add("1110" + format(dod & 0xFFFFF, "020b"))
            else:
                add("1111" + format(dod & _U64, "064b"))
        prev_delta = delta
        xor = bits[i] ^ bits[i - 1]
        if xor == 0:
            add("0")
            continue
        new_leading = 64 - xor.bit_length()
        if new_leading > 31:
            new_leading = 31
        new_trailing = (xor & -xor).bit_length() - 1
        if leading != 0xFF and new_leading >= leading and new_trailing >= trailing:
            add("10" + format(xor >> trailing, f"0{64 - leading - trailing}b"))
            continue
        leading, trailing = new_leading, new_trailing
        sig = 64 - leading - trailing
        # A width of 64 is written as 0 in the 6-bit field, as Prometheus does.
        add(f"11{leading:05b}{sig & 63:06b}" + format(xor >> trailing, f"0{sig}b"))
    text = "".join(out)
    text += "0" * (-len(text) % 8)
    return n.to_bytes(2, "big") + int(text, 2).to_bytes(len(text) // 8, "big")


class _BitReader:
    __slots__ = ("pos", "total", "value")

    def __init__(self, data: bytes) -> None:
        self.value = int.from_bytes(data, "big")
        self.total = len(data) * 8
        self.pos = 0

    def read(self, width: int) -> int:
        if self.pos + width > self.total:
            raise ValueError("chunk data ends early")
        self.pos += width
        return (self.value >> (self.total - self.pos)) & ((1 << width) - 1)

    def read_uvarint(self) -> int:
        result = shift = 0
        while True:
            b = self.read(8)
            result |= (b & 0x7F) << shift
            if b < 0x80:
                return result
            shift += 7


def decode_xor_chunk(data: bytes) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]:
    """Inverse of ``encode_xor_chunk`` (used to check chunks and by remote-read clients)."""
    n = int.from_bytes(data[:2], "big")
    r = _BitReader(data[2:])
    ts: list[int] = []
    bits: list[int] = []
    leading = trailing = 0
    delta = 0
    for i in range(n):
        if i == 0:
            ux = r.read_uvarint()
            t = (ux >> 1) ^ -(ux & 1)
            ts.append(t)
            bits.append(r.read(64))
            continue
        if i == 1:
            delta = r.read_uvarint()
            if delta >= 1 << 63:
                delta -= 1 << 64
        else:
            ones = 0
            while ones < 4 and r.read(1) == 1:
                ones += 1
            dod = 0
            if ones:
                size = (14, 17, 20, 64)[ones - 1]
                dod = r.read(size)
                if size == 64:
                    dod = dod - (1 << 64) if dod >= 1 << 63 else dod
                elif dod > 1 << (size - 1):
                    dod -= 1 << size
            delta += dod
        ts.append(ts[-1] + delta)
        if r.read(1) == 0:
            bits.append(bits[-1])
            continue
        if r.read(1) == 1:
            leading = r.read(5)
            sig = r.read(6) or 64
            trailing = 64 - leading - sig
        xor = r.read(64 - leading - trailing) << trailing
        bits.append(bits[-1] ^ xor)
    return np.array(ts, np.int64), np.array(bits, np.uint64).view(np.float64)
