"""The columnar push decoders agree with the per-entry ones, and fall back where they must."""

from __future__ import annotations

import random
from typing import Any

import cramjam
import numpy as np
import orjson
import pytest

from tidewatch.logs.push import decode
from tidewatch.logs.push.decode import PushDecodeError, PushStream, decode_push
from tidewatch.logs.push.proto import PushRequest
from tidewatch.logs.push.timestamps import parse_ns_strings

LINES = ["GET /x 200", "ünïcödé ✓ 日本語", "tab\tand\nnewline", "x" * 70_000, "\x01", "}{"]


def _rows(streams: list[PushStream]) -> list[tuple[str, list[int], list[str], Any]]:
    return [(s.labels_text, s.ts.tolist(), s.lines, s.metadata) for s in streams]


def _request(seed: int, n_streams: int = 7) -> Any:
    rng = random.Random(seed)
    req = PushRequest()
    for k in range(n_streams):
        s = req.streams.add(labels=f'{{job="j{k}"}}')
        for _ in range(rng.randrange(0, 40)):
            e = s.entries.add(line=rng.choice(LINES) + str(rng.random()))
            e.timestamp.seconds = rng.choice([0, 1, 1_700_000_000 + rng.randrange(10**6), 2**40])
            e.timestamp.nanos = rng.choice([0, 1, 127, 128, 999_999_999, rng.randrange(10**9)])
    return req


@pytest.mark.parametrize("seed", range(20))
def test_protobuf_columnar_matches_messages(seed: int) -> None:
    raw = _request(seed).SerializeToString()
    fast = decode._decode_protobuf_columnar(raw)
    assert fast is not None, "plain entries must take the columnar path"
    assert _rows(fast) == _rows(decode._decode_protobuf_messages(raw))


def test_protobuf_negative_and_epoch_timestamps() -> None:
    req = PushRequest()
    s = req.streams.add(labels='{a="b"}')
    for secs, nanos in ((-5, 7), (0, 0), (-1, -3), (2**62 // 10**9, 5)):
        e = s.entries.add(line="l")
        e.timestamp.seconds, e.timestamp.nanos = secs, nanos
    raw = req.SerializeToString()
    fast = decode._decode_protobuf_columnar(raw)
    assert fast is not None
    assert fast[0].ts.tolist() == [-5 * 10**9 + 7, 0, -(10**9) - 3, 2**62 // 10**9 * 10**9 + 5]
    assert _rows(fast) == _rows(decode._decode_protobuf_messages(raw))


def test_protobuf_metadata_and_empty_lines_fall_back() -> None:
    req = PushRequest()
    s = req.streams.add(labels='{a="b"}')
    s.entries.add(line="plain").timestamp.seconds = 10
    e = s.entries.add(line="with metadata")
    e.timestamp.seconds = 11
    e.structuredMetadata.add(name="trace_id", value="abc")
    s.entries.add(line="").timestamp.seconds = 12
    plain = req.streams.add(labels='{a="plain"}')
    plain.entries.add(line="fast").timestamp.seconds = 13
    raw = req.SerializeToString()
    assert decode.decode_entries([e.SerializeToString() for e in s.entries]) is None
    assert _rows(decode._decode_protobuf_columnar(raw) or []) == _rows(
        decode._decode_protobuf_messages(raw)
    )
    got, fast = decode_push(bytes(cramjam.snappy.compress_raw(raw)), "application/x-protobuf")
    assert got.lines == ["plain", "with metadata", ""]
    assert got.metadata == [(), (("trace_id", "abc"),), ()]
    assert got.ts.tolist() == [10 * 10**9, 11 * 10**9, 12 * 10**9]
    assert (fast.lines, fast.ts.tolist(), fast.metadata) == (["fast"], [13 * 10**9], None)


def _entry(ts: bytes, line: bytes) -> bytes:
    return b"\x0a" + bytes([len(ts)]) + ts + b"\x12" + bytes([len(line)]) + line


def test_protobuf_invalid_utf8_is_an_error() -> None:
    entry = _entry(b"\x08\x01", b"ok\xff")
    stream = b'\x0a\x07{a="b"}' + b"\x12" + bytes([len(entry)]) + entry
    raw = b"\x0a" + bytes([len(stream)]) + stream
    with pytest.raises(PushDecodeError, match="proto"):
        decode_push(bytes(cramjam.snappy.compress_raw(raw)), "application/x-protobuf")


def test_protobuf_truncated_entry_falls_back_to_the_error() -> None:
    entry = _entry(b"\x08\x01", b"line")[:-2]  # line shorter than its length says
    stream = b"\x12" + bytes([len(entry)]) + entry
    raw = b"\x0a" + bytes([len(stream)]) + stream
    with pytest.raises(PushDecodeError):
        decode_push(bytes(cramjam.snappy.compress_raw(raw)), "application/x-protobuf")


def _json_doc(seed: int) -> dict[str, Any]:
    rng = random.Random(seed)
    streams = []
    for k in range(rng.randrange(1, 9)):
        values = [
            [str(rng.randrange(10**18, 2 * 10**18)), rng.choice(LINES)]
            for _ in range(rng.randrange(0, 30))
        ]
        streams.append({"stream": {"job": f"j{k}", "a": 'q"\\'}, "values": values})
    return {"streams": streams}


@pytest.mark.parametrize("seed", range(10))
def test_json_columnar_matches_per_stream(seed: int) -> None:
    doc = _json_doc(seed)
    fast = decode._json_columnar(doc["streams"])
    assert fast is not None
    slow = [decode._json_stream(s) for s in doc["streams"]]
    assert _rows(fast) == _rows(slow)
    assert _rows(decode_push(orjson.dumps(doc), "application/json")) == _rows(slow)


@pytest.mark.parametrize(
    "values",
    [
        [["5", "l", {"k": "v"}]],  # structured metadata
        [["5", "l"], ["12x", "m"]],  # a bad timestamp: the slow path words the error
        [["5", "l"], ["123", "m"]],  # timestamps of different widths
        [["+5", "l"]],
    ],
)
def test_json_unusual_values_take_the_per_stream_path(values: list[Any]) -> None:
    streams = [{"stream": {"a": "b"}, "values": values}]
    assert decode._json_columnar(streams) is None


@pytest.mark.parametrize("value", [["list"], {"d": 1}, 5, None])
def test_json_bad_label_values_are_a_400_message(value: Any) -> None:
    doc = {"streams": [{"stream": {"a": value}, "values": [["5", "l"]]}]}
    with pytest.raises(PushDecodeError, match="label values must be strings"):
        decode_push(orjson.dumps(doc), "application/json")


def test_json_mixed_widths_still_decode() -> None:
    doc = {"streams": [{"stream": {"a": "b"}, "values": [["5", "l"], ["123", "m"]]}]}
    (got,) = decode_push(orjson.dumps(doc), "application/json")
    assert got.ts.tolist() == [5, 123]


@pytest.mark.parametrize(
    ("items", "want"),
    [
        (["1700000000000000005", "9223372036854775807"], [1700000000000000005, 2**63 - 1]),
        (["0001", "0420"], [1, 420]),
        ([], []),
    ],
)
def test_parse_ns_strings(items: list[str], want: list[int]) -> None:
    got = parse_ns_strings(items)
    assert got is not None and got.dtype == np.int64 and got.tolist() == want


@pytest.mark.parametrize(
    "items",
    [
        ["9223372036854775808"],  # overflows int64
        ["12", "3"],
        ["1,", "23"],
        ["1,2", "345"],
        ["-1"],
        ["1a"],
        ["é1", "23"],
        ["１２"],  # fullwidth digits: int() takes them, Go does not
        ["12345678901234567890"],
    ],
)
def test_parse_ns_strings_declines(items: list[str]) -> None:
    assert parse_ns_strings(items) is None
