"""The remote write 2.0 encoder: its bodies decode with the receive side's decoders
and with an independent schema built here from the spec's ``.proto`` text (protobuf's
own parser, not ours); the queue's label store survives protocol switches."""

from __future__ import annotations

import math
import struct
from typing import Any

import numpy as np
import pytest
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

from tidewatch.labels import Labels
from tidewatch.remote.codec import snappy_decode
from tidewatch.remote.fastv2 import decode_v2_fast
from tidewatch.remote.send.encode_v2 import (
    SymbolTable,
    encode_uvarints,
    encode_v2_exemplar_request,
    encode_v2_write_request,
    family_metadata,
    metadata_ids,
)
from tidewatch.remote.send.series_labels import SeriesLabels
from tidewatch.remote.write import PROTO_V1, PROTO_V2, SeriesCache, decode_v2
from tidewatch.tsdb.interface import MetricMetadata
from tidewatch.value import STALE_NAN

F = descriptor_pb2.FieldDescriptorProto


def _spec_request_class() -> Any:
    """``io.prometheus.write.v2.Request`` as the 2.0 spec (rc.4) declares it."""
    f = descriptor_pb2.FileDescriptorProto(name="spec_v2.proto", package="spec.v2", syntax="proto3")

    def msg(
        name: str, fields: list[tuple[str, int, int, int, str]]
    ) -> descriptor_pb2.DescriptorProto:
        m = f.message_type.add(name=name)
        for fname, num, ftype, label, type_name in fields:
            fd = m.field.add(name=fname, number=num, type=ftype, label=label)
            if type_name:
                fd.type_name = type_name
        return m

    opt, rep = F.LABEL_OPTIONAL, F.LABEL_REPEATED
    msg(
        "Sample",
        [
            ("value", 1, F.TYPE_DOUBLE, opt, ""),
            ("timestamp", 2, F.TYPE_INT64, opt, ""),
            ("start_timestamp", 3, F.TYPE_INT64, opt, ""),
        ],
    )
    msg(
        "Exemplar",
        [
            ("labels_refs", 1, F.TYPE_UINT32, rep, ""),
            ("value", 2, F.TYPE_DOUBLE, opt, ""),
            ("timestamp", 3, F.TYPE_INT64, opt, ""),
        ],
    )
    md = msg(
        "Metadata",
        [
            ("type", 1, F.TYPE_ENUM, opt, ".spec.v2.Metadata.MetricType"),
            ("help_ref", 3, F.TYPE_UINT32, opt, ""),
            ("unit_ref", 4, F.TYPE_UINT32, opt, ""),
        ],
    )
    enum = md.enum_type.add(name="MetricType")
    for i, n in enumerate(
        [
            "UNSPECIFIED",
            "COUNTER",
            "GAUGE",
            "HISTOGRAM",
            "GAUGEHISTOGRAM",
            "SUMMARY",
            "INFO",
            "STATESET",
        ]
    ):
        enum.value.add(name=f"METRIC_TYPE_{n}", number=i)
    msg(
        "TimeSeries",
        [
            ("labels_refs", 1, F.TYPE_UINT32, rep, ""),
            ("samples", 2, F.TYPE_MESSAGE, rep, ".spec.v2.Sample"),
            ("exemplars", 4, F.TYPE_MESSAGE, rep, ".spec.v2.Exemplar"),
            ("metadata", 5, F.TYPE_MESSAGE, opt, ".spec.v2.Metadata"),
        ],
    )
    msg(
        "Request",
        [
            ("symbols", 4, F.TYPE_STRING, rep, ""),
            ("timeseries", 5, F.TYPE_MESSAGE, rep, ".spec.v2.TimeSeries"),
        ],
    )
    pool = descriptor_pool.DescriptorPool()
    pool.Add(f)
    return message_factory.GetMessageClass(pool.FindMessageTypeByName("spec.v2.Request"))


SpecRequest = _spec_request_class()


def _series(n: int) -> dict[int, Labels]:
    """``n`` series; enough distinct strings that symbol refs need two varint bytes."""
    out: dict[int, Labels] = {}
    for i in range(n):
        out[i + 1] = (
            ("__name__", "rpc_requests_total" if i % 2 else "queue_depth"),
            ("instance", f"host-{i}.example:9100"),
            ("job", "api"),
            ("path", f"/v1/items/{i}" + "x" * (i % 3) * 100),
        )
    return out


def _spec_decode(
    body: bytes,
) -> tuple[dict[tuple[tuple[str, str], ...], list[tuple[int, float]]], Any]:
    req = SpecRequest.FromString(snappy_decode(body, 1 << 26))
    sym = list(req.symbols)
    assert sym[0] == ""
    assert len(set(sym)) == len(sym), "symbols must be de-duplicated"
    got: dict[tuple[tuple[str, str], ...], list[tuple[int, float]]] = {}
    for ts in req.timeseries:
        refs = list(ts.labels_refs)
        assert len(refs) % 2 == 0
        lbls = tuple((sym[a], sym[b]) for a, b in zip(refs[::2], refs[1::2], strict=True))
        got.setdefault(lbls, []).extend((s.timestamp, s.value) for s in ts.samples)
    return got, req


def test_body_decodes_independently_and_with_both_receive_decoders() -> None:
    labels = _series(300)
    table = SymbolTable()
    ids = {ref: table.label_ids(lbls) for ref, lbls in labels.items()}
    rng = np.random.default_rng(7)
    refs = rng.integers(1, 301, 5000).astype(np.int64)
    # Timestamps of every varint length, negative ones included; values with NaN bits.
    ts = np.sort(rng.integers(-(1 << 40), 1 << 42, 5000)).astype(np.int64)
    vals = rng.normal(size=5000)
    vals[::97] = STALE_NAN
    md_counter = MetricMetadata("counter", "RPCs served.", "requests")
    md_gauge = MetricMetadata("gauge", "Jobs waiting.", "")
    known = {"rpc_requests": md_counter, "queue_depth": md_gauge}
    metadata = {}
    for ref, lbls in labels.items():
        found = family_metadata(lbls[0][1], known)
        assert found is not None
        metadata[ref] = metadata_ids(found, table)

    body, n_series = encode_v2_write_request(refs, ts, vals, ids, table, metadata)
    assert n_series == len(np.unique(refs))

    want: dict[Any, list[tuple[int, float]]] = {}
    for r, t, v in zip(refs.tolist(), ts.tolist(), vals.tolist(), strict=True):
        want.setdefault(labels[r], []).append((t, v))
    got, req = _spec_decode(body)
    assert got.keys() == want.keys()
    for lbls, samples in want.items():
        # Same time order per series; compare value bits so stale markers survive.
        assert [t for t, _ in got[lbls]] == [t for t, _ in samples]
        assert [struct.pack("<d", v) for _, v in got[lbls]] == [
            struct.pack("<d", v) for _, v in samples
        ]
    sym = list(req.symbols)
    for series in req.timeseries:
        name = sym[series.labels_refs[1]]
        md = series.metadata
        expect = md_counter if name == "rpc_requests_total" else md_gauge
        assert (md.type, sym[md.help_ref], sym[md.unit_ref]) == (
            1 if expect is md_counter else 2,
            expect.help,
            expect.unit,
        )

    data = snappy_decode(body, 1 << 26)
    fast = decode_v2_fast(data, SeriesCache())
    assert fast is not None, "the receive side's columnar decoder should take this shape"
    for decoded in (fast, decode_v2(data, SeriesCache())):
        assert len(decoded.ts) == 5000
        per: dict[Any, list[int]] = {}
        for i, t in zip(list(decoded.sample_series), list(decoded.ts), strict=True):
            per.setdefault(decoded.series[int(i)].labels, []).append(int(t))
        assert per == {k: [t for t, _ in v] for k, v in want.items()}
        assert dict(decoded.metadata) == {"rpc_requests_total": md_counter, "queue_depth": md_gauge}


def test_without_metadata_series_carry_none() -> None:
    table = SymbolTable()
    ids = {5: table.label_ids((("__name__", "up"), ("job", "a")))}
    body, _ = encode_v2_write_request(
        np.array([5, 5]), np.array([1, 2]), np.array([1.0, 0.0]), ids, table
    )
    _, req = _spec_decode(body)
    (series,) = req.timeseries
    assert not series.HasField("metadata")
    assert list(req.symbols) == ["", "__name__", "up", "job", "a"]


def test_exemplar_request_decodes() -> None:
    table = SymbolTable()
    ids = {3: table.label_ids((("__name__", "latency_bucket"), ("le", "0.5")))}
    rows: list[list[Any]] = [[3, [["trace_id", "abc"]], 0.42, 1700000000123], [3, [], None, 5]]
    body = encode_v2_exemplar_request(rows, ids, table)
    _, req = _spec_decode(body)
    sym = list(req.symbols)
    exemplars = [ex for series in req.timeseries for ex in series.exemplars]
    assert [[sym[r] for r in ex.labels_refs] for ex in exemplars] == [["trace_id", "abc"], []]
    assert exemplars[0].value == 0.42 and exemplars[0].timestamp == 1700000000123
    assert math.isnan(exemplars[1].value)
    decoded = decode_v2(snappy_decode(body, 1 << 20))
    assert [ex.labels for _, ex in decoded.exemplars] == [(("trace_id", "abc"),), ()]


@pytest.mark.parametrize("values", [[0, 1, 127, 128, 300, 16383, 16384, (1 << 32) - 1], []])
def test_uvarints_match_protobuf(values: list[int]) -> None:
    packed, sizes = encode_uvarints(np.array(values, np.int64))
    assert len(sizes) == len(values)
    # protobuf's own encoder of a packed uint32 field, without its tag and length.
    msg = SpecRequest.FromString(b"")
    series = msg.timeseries.add()
    series.labels_refs.extend(values)
    raw = series.SerializeToString()
    if not values:
        assert raw == b"" and packed.tobytes() == b""
        return
    start = 1  # past the tag; then past the payload length's varint
    while raw[start] & 0x80:
        start += 1
    assert raw[start + 1 :] == packed.tobytes()


def test_family_metadata_lookup() -> None:
    known = {
        "http_requests": MetricMetadata("counter", "h", ""),
        "temp": MetricMetadata("gauge", "t", "celsius"),
    }
    assert family_metadata("http_requests_total", known) == known["http_requests"]
    assert family_metadata("temp", known) == known["temp"]
    assert family_metadata("other_total", known) is None


def test_series_labels_switch_protocols_and_prune() -> None:
    store = SeriesLabels(PROTO_V1)
    labels = _series(20)
    for ref, lbls in labels.items():
        store.add(ref, lbls)
    store.switch(PROTO_V2)
    assert store.is_v2 and len(store) == 20
    assert all(store.labels(r) == lbls for r, lbls in labels.items())
    assert store.names[2] == "rpc_requests_total"
    store.switch(PROTO_V1)
    assert all(store.labels(r) == lbls for r, lbls in labels.items())


def test_symbol_table_is_rebuilt_after_churn() -> None:
    store = SeriesLabels(PROTO_V2)
    for ref in range(1, 3001):
        store.add(ref, (("__name__", "churn"), ("id", f"series-{ref}"), ("pod", f"pod-{ref}")))
    assert len(store.table) > 6000
    store.keep_only({1, 2})
    assert len(store.table) < 10
    assert store.labels(2) == (("__name__", "churn"), ("id", "series-2"), ("pod", "pod-2"))
    assert store.names[1] == "churn"
