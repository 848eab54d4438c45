"""Byte-level helpers of the remote protocols: snappy block bodies, varints and the
CRC32C (Castagnoli) checksums of streamed remote-read frames."""

from __future__ import annotations

import cramjam

_CRC_POLY = 0x82F63B78  # CRC32C, reflected
_CRC_TABLE = []
for _n in range(256):
    _c = _n
    for _ in range(8):
        _c = (_c >> 1) ^ _CRC_POLY if _c & 1 else _c >> 1
    _CRC_TABLE.append(_c)
_SNAPPY_FRAME_MAX = 65536
_SNAPPY_MASK_DELTA = 0xA282EAD8


class BodyError(ValueError):
    """A body that cannot be decoded; the message names the problem."""


class BodyTooLarge(BodyError):
    pass


def snappy_decode(body: bytes, max_decoded: int) -> bytes:
    """Decode a snappy *block* (not framed) body, refusing to inflate past ``max_decoded``."""
    try:
        size = cramjam.snappy.decompress_raw_len(body)
    except Exception as exc:
        raise BodyError(f"snappy: corrupt input ({exc})") from None
    if size > max_decoded:
        raise BodyTooLarge(
            f"decompressed body of {size} bytes exceeds the limit of {max_decoded} bytes"
        )
    try:
        return bytes(cramjam.snappy.decompress_raw(body))
    except Exception as exc:
        raise BodyError(f"snappy: corrupt input ({exc})") from None


def snappy_encode(data: bytes) -> bytes:
    return bytes(cramjam.snappy.compress_raw(data))


def uvarint(n: int) -> bytes:
    out = bytearray()
    while n >= 0x80:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def crc32c_slow(data: bytes) -> int:
    """Table-driven CRC32C: the reference, and the fallback for large inputs."""
    crc = 0xFFFFFFFF
    table = _CRC_TABLE
    for byte in data:
        crc = table[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def crc32c(data: bytes) -> int:
    """CRC32C of ``data``.

    No CRC32C library is a dependency, but cramjam's framed snappy writer stores the
    (masked) CRC32C of each chunk of up to 64 KiB; unmasking it costs one fast
    compression instead of a Python loop per byte.
    """
    if not data or len(data) > _SNAPPY_FRAME_MAX:
        return crc32c_slow(data)
    framed = bytes(cramjam.snappy.compress(data))
    # 10-byte stream identifier, then chunk type (1), length (3), masked CRC (4, LE).
    masked = int.from_bytes(framed[14:18], "little")
    x = (masked - _SNAPPY_MASK_DELTA) & 0xFFFFFFFF
    return ((x << 15) | (x >> 17)) & 0xFFFFFFFF
