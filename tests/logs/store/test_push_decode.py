"""Push body decoding: protobuf + snappy with structured metadata, JSON errors."""

from __future__ import annotations

import cramjam
import orjson
import pytest

from tidewatch.logs.push.decode import PushDecodeError, decode_push
from tidewatch.logs.push.proto import PushRequest


def test_protobuf_snappy_with_metadata() -> None:
    req = PushRequest()
    s = req.streams.add(labels='{job="x"}')
    for i, line in enumerate(["a", "b"]):
        e = s.entries.add(line=line)
        e.timestamp.seconds, e.timestamp.nanos = 1_700_000_000 + i, 5
    s.entries[1].structuredMetadata.add(name="trace_id", value="t1")
    body = bytes(cramjam.snappy.compress_raw(req.SerializeToString()))
    (got,) = decode_push(body, "application/x-protobuf")
    assert got.labels_text == '{job="x"}'
    assert got.ts.tolist() == [1_700_000_000_000_000_005, 1_700_000_001_000_000_005]
    assert got.lines == ["a", "b"]
    assert got.metadata == [(), (("trace_id", "t1"),)]


def test_json_with_metadata_and_sorted_labels() -> None:
    body = orjson.dumps(
        {
            "streams": [
                {"stream": {"z": "1", "a": "2"}, "values": [["5", "l", {"k": "v"}], ["6", "m"]]}
            ]
        }
    )
    (got,) = decode_push(body, "application/json; charset=utf-8")
    assert got.labels_text == '{a="2", z="1"}'
    assert got.ts.tolist() == [5, 6]
    assert got.metadata == [(("k", "v"),), ()]


@pytest.mark.parametrize(
    ("doc", "fragment"),
    [
        ({"streams": [{"stream": {"a": "b"}, "values": [["12x", "l"]]}]}, "invalid syntax"),
        ({"streams": [{"stream": {"a": "b"}, "values": [[5, "l"]]}]}, "timestamp must be a string"),
        ({"streams": [{"stream": {"a": "b"}, "values": [["5", 7]]}]}, "log line must be a string"),
        ({"streams": [{"stream": {"a": 1}, "values": []}]}, "label values must be strings"),
        ({"streams": [{"stream": {"a": "b"}, "values": ["12"]}]}, "each value must be"),
        ({"streams": [{"stream": {"a": "b"}, "values": [["1"]]}]}, "each value must be"),
    ],
)
def test_json_errors(doc: object, fragment: str) -> None:
    with pytest.raises(PushDecodeError, match=fragment):
        decode_push(orjson.dumps(doc), "application/json")


def test_corrupt_snappy() -> None:
    with pytest.raises(PushDecodeError):
        decode_push(b"\xff\xff\xff\xff", "application/x-protobuf")


def test_legacy_json_entries() -> None:
    body = orjson.dumps(
        {
            "streams": [
                {"labels": '{a="b"}', "entries": [{"ts": "2024-01-02T03:04:05.5Z", "line": "x"}]}
            ]
        }
    )
    (got,) = decode_push(body, "application/json")
    assert got.labels_text == '{a="b"}'
    assert got.ts.tolist() == [1704164645_500_000_000]
    assert got.lines == ["x"]
