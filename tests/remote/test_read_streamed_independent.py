"""STREAMED_XOR_CHUNKS remote read, checked with readers written here from the format
descriptions only (none of tidewatch's codec, CRC or XOR-chunk code is used): the
uvarint + big-endian CRC32C (Castagnoli) framing of ``ChunkedReadResponse`` messages,
and Prometheus's XOR chunk layout (delta-of-delta timestamps, XOR'd values).

No real client here asks for streamed chunks: Prometheus 2.42's ``remote_read``
client requests SAMPLES (that path is tested against it in test_real_prometheus).
"""

from __future__ import annotations

import struct

import numpy as np

from tests.remote.conftest import Client
from tests.remote.test_read_federate import read_request
from tidewatch.labels import from_dict
from tidewatch.remote import proto
from tidewatch.tsdb import TSDB
from tidewatch.value import STALE_NAN

T0 = 1_700_000_000_123


def crc32c_bitwise(data: bytes) -> int:
    """CRC-32C, reflected polynomial 0x82F63B78, one bit at a time."""
    crc = 0xFFFFFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
    return crc ^ 0xFFFFFFFF


def frames(body: bytes) -> list[bytes]:
    out, pos = [], 0
    while pos < len(body):
        size = shift = 0
        while True:
            b = body[pos]
            pos += 1
            size |= (b & 0x7F) << shift
            shift += 7
            if b < 0x80:
                break
        (crc,) = struct.unpack_from(">I", body, pos)
        data = body[pos + 4 : pos + 4 + size]
        assert len(data) == size, "truncated frame"
        assert crc32c_bitwise(data) == crc, "frame checksum"
        out.append(data)
        pos += 4 + size
    return out


class Bits:
    def __init__(self, data: bytes) -> None:
        self.data, self.pos = data, 0

    def read(self, n: int) -> int:
        v = 0
        for _ in range(n):
            byte = self.data[self.pos >> 3]
            v = (v << 1) | ((byte >> (7 - (self.pos & 7))) & 1)
            self.pos += 1
        return v

    def uvarint(self) -> int:
        v = shift = 0
        while True:
            b = self.read(8)
            v |= (b & 0x7F) << shift
            shift += 7
            if b < 0x80:
                return v

    def varint(self) -> int:
        u = self.uvarint()
        return (u >> 1) ^ -(u & 1)


def read_xor_chunk(data: bytes) -> list[tuple[int, int]]:
    """(timestamp, value bits) of every sample in a Prometheus XOR chunk."""
    (n,) = struct.unpack_from(">H", data)
    r = Bits(data[2:])
    out: list[tuple[int, int]] = []
    t = delta = bits = leading = trailing = 0
    for i in range(n):
        if i == 0:
            t, bits = r.varint(), r.read(64)
            out.append((t, bits))
            continue
        if i == 1:
            delta = r.uvarint()
        else:
            for size in (0, 14, 17, 20, 64):
                if size == 64 or r.read(1) == 0:
                    break
            dod = r.read(size) if size else 0
            if 0 < size < 64 and dod > (1 << (size - 1)):
                dod -= 1 << size
            elif size == 64 and dod >= 1 << 63:
                dod -= 1 << 64
            delta += dod
        t += delta
        if r.read(1):  # the value changed
            if r.read(1):  # new leading/trailing zero counts
                leading = r.read(5)
                sig = r.read(6) or 64
                trailing = 64 - leading - sig
            bits ^= r.read(64 - leading - trailing) << trailing
        out.append((t, bits))
    return out


def test_reference_readers() -> None:
    assert crc32c_bitwise(b"123456789") == 0xE3069283  # the standard check value


async def test_streamed_chunks_decode_independently(client: Client, db: TSDB) -> None:
    rng = np.random.default_rng(7)
    # Irregular steps (every delta-of-delta size class) and values of every kind.
    steps = rng.choice([1, 15_000, 15_001, 14_990, 70_000, 600_000, 5_000_000], 400)
    ts = T0 + np.cumsum(steps)
    vals = rng.normal(0, 1e6, 400)
    vals[::7] = 42.0  # repeats: the "unchanged" bit
    vals[5] = -0.0
    vals[9] = float("inf")
    vals[-1] = STALE_NAN
    lbls = from_dict({"__name__": "odd_metric", "job": "x"})
    app = db.appender()
    for t, v in zip(ts.tolist(), vals.tolist(), strict=True):
        app.append(0, lbls, t, v)
    app.commit()

    body = read_request(
        0, 2**62, [(proto.MATCH_EQ, "__name__", "odd_metric")], [proto.RESPONSE_STREAMED_XOR_CHUNKS]
    )
    resp = await client.post("/api/v1/read", data=body)
    assert resp.status == 200
    got: list[tuple[int, int]] = []
    for data in frames(await resp.read()):
        msg = proto.ChunkedReadResponse()
        msg.ParseFromString(data)
        for series in msg.chunked_series:
            assert [(lb.name, lb.value) for lb in series.labels] == list(lbls)
            for chunk in series.chunks:
                assert chunk.type == proto.CHUNK_XOR
                samples = read_xor_chunk(chunk.data)
                assert (samples[0][0], samples[-1][0]) == (chunk.min_time_ms, chunk.max_time_ms)
                got.extend(samples)
    expected_bits = vals.view(np.uint64).tolist()
    assert [t for t, _ in got] == ts.tolist()
    assert [b for _, b in got] == expected_bits  # bit for bit: -0.0 and the stale NaN too
