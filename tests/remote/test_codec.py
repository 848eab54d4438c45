"""Byte-level pieces: CRC32C, snappy limits, and XOR chunks against hand-built bytes."""

from __future__ import annotations

import os

import numpy as np
import pytest

from tidewatch.remote import proto
from tidewatch.remote.codec import (
    BodyError,
    BodyTooLarge,
    crc32c,
    crc32c_slow,
    snappy_decode,
    snappy_encode,
    uvarint,
)
from tidewatch.remote.wire import encode_samples
from tidewatch.remote.xorchunk import decode_xor_chunk, encode_xor_chunk
from tidewatch.value import STALE_NAN


def test_crc32c_known_vector_and_fast_path() -> None:
    assert crc32c(b"123456789") == 0xE3069283  # the standard CRC-32C check value
    for n in (1, 7, 4096, 65536, 65537, 100_000):
        data = os.urandom(n)
        assert crc32c(data) == crc32c_slow(data)


def test_snappy_limits_and_corruption() -> None:
    data = b"x" * 10_000
    assert snappy_decode(snappy_encode(data), 10_000) == data
    with pytest.raises(BodyTooLarge):
        snappy_decode(snappy_encode(data), 9_999)
    # A header claiming 2 GiB is refused before anything is allocated.
    with pytest.raises(BodyTooLarge):
        snappy_decode(uvarint(2**31) + b"\x00", 1 << 20)
    with pytest.raises(BodyError, match="snappy"):
        snappy_decode(b"\x10\xff\xff\xff\xff", 1 << 20)


def test_xor_chunk_matches_hand_encoded_bytes() -> None:
    # count=2; zigzag varint(1000)=d0 0f; 1.0's bits; uvarint(1000)=e8 07; "same value" bit 0.
    data = encode_xor_chunk(np.array([1000, 2000], np.int64), np.array([1.0, 1.0]))
    assert data.hex() == "0002" + "d00f" + "3ff0000000000000" + "e807" + "00"


def test_xor_chunk_third_sample_bits() -> None:
    data = encode_xor_chunk(np.array([0, 10, 20], np.int64), np.array([1.0, 1.0, 3.0]))
    # 2nd value equal: "0". 3rd: dod 0 -> "0"; 3.0 ^ 1.0 = 0x7ff8000000000000 (leading 1,
    # trailing 51): "1" nonzero, "1" new window, leading 00001, 12 significant bits, 0xfff.
    bits = "0" + "0" + "1" + "1" + "00001" + "001100" + "1" * 12
    bits += "0" * (-len(bits) % 8)
    tail = int(bits, 2).to_bytes(len(bits) // 8, "big").hex()
    assert data.hex() == "0003" + "00" + "3ff0000000000000" + "0a" + tail
    # A 4th sample reusing the window: dod 0, "1" nonzero, "0" same window, 12 bits.
    data = encode_xor_chunk(np.array([0, 10, 20, 30], np.int64), np.array([1.0, 1.0, 3.0, 1.0]))
    bits = "0" + "0" + "1" + "1" + "00001" + "001100" + "1" * 12
    bits += "0" + "1" + "0" + "1" * 12
    bits += "0" * (-len(bits) % 8)
    tail = int(bits, 2).to_bytes(len(bits) // 8, "big").hex()
    assert data.hex() == "0004" + "00" + "3ff0000000000000" + "0a" + tail


def test_xor_chunk_round_trip_edge_cases() -> None:
    rng = np.random.default_rng(7)
    deltas = [15_000, 15_001, 14_000, 1, 0, 100_000, 10**7, 3 * 10**9, -5]
    values = [0.0, -0.0, 1.0, 1.5, np.nan, STALE_NAN, np.inf, -2.5e300, 1e-300]
    for _ in range(200):
        n = int(rng.integers(1, 121))
        ts = np.cumsum(rng.choice(deltas, size=n)).astype(np.int64) + int(
            rng.integers(-(10**12), 10**12)
        )
        vals = np.array(rng.choice([*values, float(rng.random())], size=n), np.float64)
        t2, v2 = decode_xor_chunk(encode_xor_chunk(ts, vals))
        assert t2.tolist() == ts.tolist()
        assert v2.view(np.uint64).tolist() == vals.view(np.uint64).tolist()


def test_hand_encoded_samples_parse_as_protobuf() -> None:
    ts = np.array([-(2**63), -1, 0, 1, 127, 128, 1_700_000_000_000, 2**62], np.int64)
    vals = np.array([0.0, 1.5, np.nan, STALE_NAN, -0.0, 1e300, 3.0, -1.0])
    msg = proto.TimeSeries()
    msg.MergeFromString(encode_samples(ts, vals))
    assert [s.timestamp for s in msg.samples] == ts.tolist()
    got = np.array([s.value for s in msg.samples])
    assert got.view(np.uint64).tolist() == vals.view(np.uint64).tolist()
    assert encode_samples(ts[:0], vals[:0]) == b""
