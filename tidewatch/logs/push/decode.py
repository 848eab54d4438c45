"""Decode a ``/loki/api/v1/push`` body into columnar streams.

JSON: ``{"streams":[{"stream":{..},"values":[["<ns>","line",{metadata}]]}]}``, optionally
gzip/deflate compressed (``Content-Encoding``). Anything else is Loki's protobuf
``PushRequest`` in a snappy block, as Promtail, Alloy and the Go client send it.
Stream labels stay as text here; the store parses and validates them.
"""

from __future__ import annotations

import gzip
import zlib
from dataclasses import dataclass
from operator import attrgetter
from typing import Any

import cramjam
import numpy as np
import numpy.typing as npt
import orjson

from tidewatch.labels import Labels
from tidewatch.logs.push.proto import PushRequest
from tidewatch.logs.store.gotime import parse_rfc3339_ns

_TIMESTAMP = attrgetter("timestamp")
_SECONDS = attrgetter("seconds")
_NANOS = attrgetter("nanos")
_LINE = attrgetter("line")
_METADATA = attrgetter("structuredMetadata")

I64 = npt.NDArray[np.int64]


class PushDecodeError(Exception):
    """A body that cannot be read at all; answered with 400 and this message."""


@dataclass
class PushStream:
    """One stream of a push: entries in request order (not necessarily sorted)."""

    labels_text: str
    ts: I64
    lines: list[str]
    metadata: list[Labels] | None = None  # one (possibly empty) label set per entry


def decode_push(
    body: bytes, content_type: str = "", content_encoding: str = ""
) -> list[PushStream]:
    media = content_type.split(";", 1)[0].strip().lower()
    encoding = content_encoding.strip().lower()
    if encoding == "snappy" and media != "application/json":
        encoding = ""  # protobuf pushes are snappy-framed anyway
    body = _decompress(body, encoding)
    if media == "application/json":
        return decode_json(body)
    try:
        raw = bytes(cramjam.snappy.decompress_raw(body))
    except Exception as exc:  # cramjam raises its own DecompressionError
        raise PushDecodeError(f"snappy: corrupt input ({exc})") from None
    return decode_protobuf(raw)


def _decompress(body: bytes, encoding: str) -> bytes:
    try:
        if encoding in ("", "identity"):
            return body
        if encoding in ("gzip", "x-gzip"):
            return gzip.decompress(body)
        if encoding == "deflate":
            return zlib.decompress(body)
        if encoding == "snappy":
            return bytes(cramjam.snappy.decompress_raw(body))
        if encoding == "zstd":
            import zstandard

            return zstandard.ZstdDecompressor().decompress(body, max_output_size=1 << 30)
    except Exception as exc:
        raise PushDecodeError(f"{encoding}: invalid compressed body ({exc})") from None
    raise PushDecodeError(f"Content-Encoding {encoding!r} not supported")


# ---------------------------------------------------------------------- protobuf


def decode_protobuf(raw: bytes) -> list[PushStream]:
    try:
        req = PushRequest.FromString(raw)
    except Exception as exc:
        raise PushDecodeError(f"proto: cannot parse PushRequest ({exc})") from None
    out: list[PushStream] = []
    for s in req.streams:
        entries = s.entries
        n = len(entries)
        # operator.attrgetter mapped in C: no Python bytecode per entry.
        stamps = list(map(_TIMESTAMP, entries))
        secs = np.fromiter(map(_SECONDS, stamps), np.int64, n)
        nanos = np.fromiter(map(_NANOS, stamps), np.int64, n)
        lines = list(map(_LINE, entries))
        metadata: list[Labels] | None = None
        if any(map(len, map(_METADATA, entries))):
            metadata = [
                tuple(sorted((p.name, p.value) for p in e.structuredMetadata)) for e in entries
            ]
        out.append(PushStream(s.labels, secs * 1_000_000_000 + nanos, lines, metadata))
    return out


# ---------------------------------------------------------------------- JSON


def _go_quote(v: str) -> str:
    return '"' + v.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def labels_text_from_map(m: dict[str, Any]) -> str:
    return "{" + ", ".join(f"{k}={_go_quote(v)}" for k, v in sorted(m.items())) + "}"


def decode_json(body: bytes) -> list[PushStream]:
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise PushDecodeError(f"loghttp.PushRequest.Streams: {exc}") from None
    if not isinstance(doc, dict):
        raise PushDecodeError("loghttp.PushRequest: expected a JSON object")
    streams = doc.get("streams") or []
    if not isinstance(streams, list):
        raise PushDecodeError("loghttp.PushRequest.Streams: expected an array")
    return [_json_stream(s) for s in streams]


def _json_stream(s: Any) -> PushStream:
    if not isinstance(s, dict):
        raise PushDecodeError("loghttp.PushRequest.Streams: expected an object per stream")
    if "entries" in s and "values" not in s:
        return _legacy_json_stream(s)
    labels = s.get("stream") or {}
    if not isinstance(labels, dict) or not all(isinstance(v, str) for v in labels.values()):
        raise PushDecodeError("loghttp.Stream.Labels: label values must be strings")
    values = s.get("values") or []
    if not isinstance(values, list):
        raise PushDecodeError("loghttp.Stream.Values: expected an array")
    if values and set(map(type, values)) != {list}:
        raise PushDecodeError(
            "loghttp.Stream.Values: each value must be [timestamp, line(, metadata)]"
        )
    try:
        ts_text = [v[0] for v in values]
        lines = [v[1] for v in values]
    except (TypeError, IndexError, KeyError):
        raise PushDecodeError(
            "loghttp.Stream.Values: each value must be [timestamp, line(, metadata)]"
        ) from None
    if lines and set(map(type, lines)) != {str}:
        raise PushDecodeError("loghttp.Stream.Values: log line must be a string")
    ts = _parse_ns(ts_text)
    metadata: list[Labels] | None = None
    if values and max(map(len, values)) > 2:
        metadata = [_json_metadata(v[2]) if len(v) > 2 else () for v in values]
    return PushStream(labels_text_from_map(labels), ts, lines, metadata)


def _legacy_json_stream(s: dict[str, Any]) -> PushStream:
    """``/api/prom/push``'s old shape: ``{"labels": "{..}", "entries": [{"ts": RFC3339, "line"}]}``."""
    labels = s.get("labels")
    entries = s.get("entries") or []
    if not isinstance(labels, str) or not isinstance(entries, list):
        raise PushDecodeError("logproto.Stream: labels must be a string and entries a list")
    ts: list[int] = []
    lines: list[str] = []
    for e in entries:
        if not isinstance(e, dict) or not isinstance(e.get("line"), str):
            raise PushDecodeError("logproto.Entry: each entry needs ts and line")
        try:
            ts.append(parse_rfc3339_ns(str(e.get("ts", ""))))
        except ValueError:
            raise PushDecodeError(f"logproto.Entry: cannot parse ts {e.get('ts')!r}") from None
        lines.append(e["line"])
    return PushStream(labels, np.asarray(ts, dtype=np.int64), lines, None)


def _parse_ns(items: list[Any]) -> I64:
    if items and set(map(type, items)) != {str}:
        raise PushDecodeError(
            "loghttp.Stream.Values: timestamp must be a string of unix epoch nanoseconds"
        )
    try:
        return np.array(items, dtype=np.int64) if items else np.zeros(0, np.int64)
    except (ValueError, OverflowError):
        bad = next((x for x in items if not _is_int(x)), items[0])
        raise PushDecodeError(f'strconv.ParseInt: parsing "{bad}": invalid syntax') from None


def _is_int(x: str) -> bool:
    try:
        int(x)
    except ValueError:
        return False
    return True


def _json_metadata(m: Any) -> Labels:
    if not m:
        return ()
    if not isinstance(m, dict):
        raise PushDecodeError("loghttp.Stream.Values: structured metadata must be an object")
    for v in m.values():
        if not isinstance(v, str):
            raise PushDecodeError(
                "loghttp.Stream.Values: structured metadata values must be strings"
            )
    return tuple(sorted(m.items()))
