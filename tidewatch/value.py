"""Sample values: the staleness marker and helpers to detect it in bulk.

Prometheus marks a vanished series with one specific NaN bit pattern. Ordinary NaN
is a valid sample value, so the marker is detected by its bits, never by ``isnan``.
"""

from __future__ import annotations

import struct

import numpy as np
import numpy.typing as npt

STALE_NAN_BITS = 0x7FF0000000000002
STALE_NAN: float = struct.unpack("<d", struct.pack("<Q", STALE_NAN_BITS))[0]


def is_stale(v: float) -> bool:
    return struct.pack("<d", v) == struct.pack("<Q", STALE_NAN_BITS)


def stale_mask(values: npt.NDArray[np.float64]) -> npt.NDArray[np.bool_]:
    """Boolean mask of staleness markers in a float64 array."""
    return values.view(np.uint64) == np.uint64(STALE_NAN_BITS)
