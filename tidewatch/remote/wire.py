"""Hand-rolled protobuf encoding of sample columns, for bulk remote-read answers.

A ``prometheus.Sample`` is ``0x09 <8-byte double> 0x10 <varint timestamp>``; building
millions of them as message objects dominates a large read, so whole columns are
laid out with numpy instead. Protobuf lets a message's fields come in any order and
repeated fields arrive in pieces, so these bytes can be concatenated with bytes from
the regular serializer.
"""

from __future__ import annotations

import itertools

import numpy as np
import numpy.typing as npt

from tidewatch.remote.codec import uvarint

_MAX_VARINT = 10


def varint_sizes(u: npt.NDArray[np.uint64]) -> npt.NDArray[np.int64]:
    sizes = np.ones(len(u), np.int64)
    for k in range(1, _MAX_VARINT):
        sizes += u >= np.uint64(1 << (7 * k))
    return sizes


def encode_samples(ts: npt.NDArray[np.int64], values: npt.NDArray[np.float64]) -> bytes:
    """Repeated field 2 (``samples``) of a ``prometheus.TimeSeries``.

    Runs of samples whose timestamps need the same varint length become one 2-D
    byte array (a row per sample); sorted timestamps make these runs few and long.
    """
    n = len(ts)
    if n == 0:
        return b""
    u = np.ascontiguousarray(ts, dtype=np.int64).view(np.uint64)
    vbytes = np.ascontiguousarray(values, dtype="<f8").view(np.uint8).reshape(n, 8)
    nb = varint_sizes(u)
    cuts = [0, *(np.flatnonzero(nb[1:] != nb[:-1]) + 1).tolist(), n]
    parts: list[bytes] = []
    for lo, hi in itertools.pairwise(cuts):
        size = int(nb[lo])
        rows = np.empty((hi - lo, 12 + size), np.uint8)
        rows[:, 0] = 0x12
        rows[:, 1] = 10 + size  # message length; always < 128
        rows[:, 2] = 0x09
        rows[:, 3:11] = vbytes[lo:hi]
        rows[:, 11] = 0x10
        uu = u[lo:hi]
        for j in range(size):
            byte = ((uu >> np.uint64(7 * j)) & np.uint64(0x7F)).astype(np.uint8)
            rows[:, 12 + j] = byte | 0x80 if j + 1 < size else byte
        parts.append(rows.tobytes())
    return b"".join(parts)


def length_delimited(field: int, payload: bytes) -> bytes:
    return bytes([(field << 3) | 2]) + uvarint(len(payload)) + payload
