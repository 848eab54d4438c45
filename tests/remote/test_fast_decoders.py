"""The columnar 1.0 and 2.0 decoders agree with the general protobuf decoder, or declines."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tests.remote.helpers import V2Builder, v1_body
from tidewatch.remote import proto
from tidewatch.remote.fastv1 import decode_v1_fast
from tidewatch.remote.fastv2 import decode_v2_fast
from tidewatch.remote.write import DecodedWrite, InvalidWrite, SeriesCache, decode_v1, decode_v2


def _columns(d: DecodedWrite) -> tuple[list[object], list[int], list[int], list[int]]:
    vals = np.asarray(d.values, np.float64).view(np.uint64).tolist()
    return d.labels, np.asarray(d.sample_series).tolist(), np.asarray(d.ts).tolist(), vals


def _random_body(rng: np.random.Generator) -> bytes:
    series = []
    for i in range(int(rng.integers(1, 40))):
        pairs = [("__name__", f"m{i % 3}"), ("i", str(i))]
        if rng.random() < 0.3:
            pairs.append(("long", "x" * int(rng.choice([126, 127, 128, 300, 16_000]))))
        if rng.random() < 0.2:
            pairs.append(("z", ""))  # empty value: dropped
        n = int(rng.choice([0, 1, 1, 1, 2, 5, 130]))
        ts = rng.choice([0, 1, 127, 128, -5, 1_700_000_000_000, 2**62], size=n)
        vals = rng.choice([0.0, -0.0, 1.0, math.nan, math.inf, 2.5e-300], size=n)
        series.append((pairs, list(zip(ts.tolist(), vals.tolist(), strict=True))))
    return v1_body(series)


def test_fast_matches_general_decoder() -> None:
    rng = np.random.default_rng(3)
    used = 0
    for _ in range(150):
        body = _random_body(rng)
        fast = decode_v1_fast(body, SeriesCache())
        general = decode_v1(body, SeriesCache())
        if fast is None:
            continue
        used += 1
        assert _columns(fast) == _columns(general)
    assert used > 100  # the fast path handles the usual shapes


def test_truncated_or_corrupt_bodies_never_decode_differently() -> None:
    rng = np.random.default_rng(5)
    body = _random_body(rng)
    for cut in range(1, len(body), max(1, len(body) // 200)):
        for broken in (body[:cut], body[:cut] + b"\x12\xff" + body[cut:]):
            fast = decode_v1_fast(broken, SeriesCache())
            try:
                general = decode_v1(broken, SeriesCache())
            except InvalidWrite:
                assert fast is None
                continue
            assert fast is None or _columns(fast) == _columns(general)


def test_fast_declines_three_byte_label_lengths() -> None:
    body = v1_body([([("__name__", "a"), ("big", "x" * 20_000)], [(1, 1.0)])])
    assert decode_v1_fast(body, SeriesCache()) is None
    assert decode_v1(body, SeriesCache()).labels[0][1] == ("big", "x" * 20_000)


def test_fast_declines_metadata_and_exemplars() -> None:
    body = v1_body([([("__name__", "a")], [(1, 1.0)])], metadata=[("a", 1, "help")])
    assert decode_v1_fast(body, SeriesCache()) is None
    req = proto.WriteRequest()
    ts = req.timeseries.add()
    ts.labels.add(name="__name__", value="a")
    ts.samples.add(value=1.0, timestamp=1)
    ts.exemplars.add(value=1.0, timestamp=1)
    assert decode_v1_fast(req.SerializeToString(), SeriesCache()) is None


def test_fast_path_validates_labels() -> None:
    body = v1_body([([("job", "x"), ("__name__", "a")], [(1, 1.0)])])
    with pytest.raises(InvalidWrite, match="not sorted"):
        decode_v1_fast(body, SeriesCache())


def test_cache_reuses_entries_across_requests() -> None:
    cache = SeriesCache()
    first = decode_v1_fast(v1_body([([("__name__", "a")], [(1, 1.0)])]), cache)
    second = decode_v1_fast(v1_body([([("__name__", "a")], [(2, 2.0)])]), cache)
    assert first is not None and second is not None
    assert first.series[0] is second.series[0]


def _random_v2(rng: np.random.Generator) -> bytes:
    b = V2Builder()
    for i in range(int(rng.integers(1, 40))):
        pairs = [("__name__", f"m{i % 3}"), ("i", str(i))]
        if rng.random() < 0.3:
            pairs.append(("long", "x" * int(rng.choice([126, 127, 128, 300, 16_000]))))
        n = int(rng.choice([0, 1, 1, 1, 2, 5, 130]))
        ts = rng.choice([0, 1, 127, 128, -5, 1_700_000_000_000, 2**62], size=n)
        vals = rng.choice([0.0, -0.0, 1.0, math.nan, math.inf, 2.5e-300], size=n)
        md = None
        if rng.random() < 0.5:
            md = (int(rng.integers(0, 8)), f"help {i % 3}", str(rng.choice(["", "seconds"])))
        series = b.series(pairs, list(zip(ts.tolist(), vals.tolist(), strict=True)), metadata=md)
        if rng.random() < 0.2:
            series.created_timestamp = int(rng.integers(1, 2**40))
    return b.body()


def test_fast_v2_matches_general_decoder() -> None:
    rng = np.random.default_rng(11)
    used = 0
    for _ in range(150):
        body = _random_v2(rng)
        fast = decode_v2_fast(body, SeriesCache())
        general = decode_v2(body, SeriesCache())
        if fast is None:
            continue
        used += 1
        assert _columns(fast) == _columns(general)
        assert fast.metadata == general.metadata
    assert used > 100


def test_fast_v2_truncated_or_corrupt_never_decode_differently() -> None:
    body = _random_v2(np.random.default_rng(13))
    for cut in range(1, len(body), max(1, len(body) // 200)):
        for broken in (body[:cut], body[:cut] + b"\x0a\xff" + body[cut:]):
            try:
                fast = decode_v2_fast(broken, SeriesCache())
            except InvalidWrite:
                fast = None
            try:
                general = decode_v2(broken, SeriesCache())
            except InvalidWrite:
                assert fast is None
                continue
            assert fast is None or _columns(fast) == _columns(general)


def test_fast_v2_declines_exemplars_and_bad_refs() -> None:
    b = V2Builder()
    b.series([("__name__", "a")], [(1, 1.0)], exemplar=([("trace_id", "t")], 1.0, 1))
    assert decode_v2_fast(b.body(), SeriesCache()) is None
    b = V2Builder()
    b.series([("__name__", "a")], [(1, 1.0)]).labels_refs.extend([500, 1])
    assert decode_v2_fast(b.body(), SeriesCache()) is None
