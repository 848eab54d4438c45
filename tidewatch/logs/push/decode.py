"""Decode a ``/loki/api/v1/push`` body into columnar streams.

JSON: ``{"streams":[{"stream":{..},"values":[["<ns>","line",{metadata}]]}]}``, optionally
gzip/deflate compressed (``Content-Encoding``). Anything else is Loki's protobuf
``PushRequest`` in a snappy block, as Promtail, Alloy and the Go client send it.
Stream labels stay as text here; the store parses and validates them.
"""

from __future__ import annotations

import gc
import gzip
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from itertools import chain
from operator import attrgetter, itemgetter
from typing import Any

import cramjam
import numpy as np
import numpy.typing as npt
import orjson

from tidewatch.labels import Labels
from tidewatch.logs.push.proto import PushRequest, RawPushRequest
from tidewatch.logs.push.proto_columns import decode_entries
from tidewatch.logs.push.timestamps import parse_ns_strings
from tidewatch.logs.store.gotime import parse_rfc3339_ns

_FIRST = itemgetter(0)
_SECOND = itemgetter(1)
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
    fast = _decode_protobuf_columnar(raw)
    return fast if fast is not None else _decode_protobuf_messages(raw)


def _decode_protobuf_columnar(raw: bytes) -> list[PushStream] | None:
    """All entries of the request decoded at once (``proto_columns``), stream by stream
    when some need the full messages; ``None`` when the body does not parse at all."""
    try:
        req = RawPushRequest.FromString(raw)
    except Exception:
        return None
    streams = req.streams
    per_stream = [s.entries for s in streams]
    decoded = decode_entries(list(chain.from_iterable(per_stream)))
    if decoded is None:
        return _decode_protobuf_per_stream(raw, streams, per_stream)
    ts, lines = decoded
    out: list[PushStream] = []
    at = 0
    for s, entries in zip(streams, per_stream, strict=True):
        end = at + len(entries)
        out.append(PushStream(s.labels, ts[at:end], lines[at:end], None))
        at = end
    return out


def _decode_protobuf_per_stream(
    raw: bytes, streams: Any, per_stream: list[Any]
) -> list[PushStream]:
    """Some entries need the full messages (usually structured metadata): streams whose
    entries are plain stay columnar, the others come from the full messages (which also
    raise the error, if the body has one)."""
    full: list[PushStream] | None = None
    out: list[PushStream] = []
    for i, (s, entries) in enumerate(zip(streams, per_stream, strict=True)):
        decoded = decode_entries(list(entries))
        if decoded is None:
            if full is None:
                full = _decode_protobuf_messages(raw)
            out.append(full[i])
        else:
            out.append(PushStream(s.labels, decoded[0], decoded[1], None))
    return out


def _decode_protobuf_messages(raw: bytes) -> list[PushStream]:
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


@contextmanager
def _gc_paused() -> Iterator[None]:
    """No cyclic GC while a JSON body is in hand: its thousands of short-lived lists
    would trigger collections (and get promoted and rescanned with the whole heap) though
    reference counting frees them all when decoding ends. Re-enabled only if it was on."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def decode_json(body: bytes) -> list[PushStream]:
    with _gc_paused():
        return _decode_json(body)


def _decode_json(body: bytes) -> list[PushStream]:
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise PushDecodeError(f"loghttp.PushRequest.Streams: {exc}") from None
    if not isinstance(doc, dict):
        raise PushDecodeError("loghttp.PushRequest: expected a JSON object")
    streams = doc.get("streams") or []
    if not isinstance(streams, list):
        raise PushDecodeError("loghttp.PushRequest.Streams: expected an array")
    fast = _json_columnar(streams)
    return fast if fast is not None else [_json_stream(s) for s in streams]


def _json_columnar(streams: list[Any]) -> list[PushStream] | None:
    """Every stream of the request at once: values of all streams chained, columns built
    with C-level ``map`` calls and timestamps parsed in one numpy pass. ``None`` for
    anything unusual (metadata, the legacy shape, a bad value), which then goes through
    the per-stream path that also writes the exact errors."""
    if set(map(type, streams)) - {dict}:
        return None
    labels_maps = [s.get("stream") or {} for s in streams]
    values = [s.get("values") or [] for s in streams]
    if set(map(type, labels_maps)) - {dict} or set(map(type, values)) - {list}:
        return None
    if any("entries" in s and "values" not in s for s in streams):
        return None
    maybe_texts = [_labels_text_cached(m) for m in labels_maps]
    texts = [t for t in maybe_texts if t is not None]
    if len(texts) != len(maybe_texts):
        return None
    flat = list(chain.from_iterable(values))
    if set(map(type, flat)) - {list} or set(map(len, flat)) - {2}:
        return None
    ts_text = list(map(_FIRST, flat))
    lines: list[str] = list(map(_SECOND, flat))
    if set(map(type, lines)) - {str} or set(map(type, ts_text)) - {str}:
        return None
    ts = parse_ns_strings(ts_text)
    if ts is None:
        return None
    out: list[PushStream] = []
    at = 0
    for text, vals in zip(texts, values, strict=True):
        end = at + len(vals)
        out.append(PushStream(text, ts[at:end], lines[at:end], None))
        at = end
    return out


_LABELS_TEXT: dict[tuple[tuple[str, Any], ...], str] = {}
_LABELS_TEXT_MAX = 50_000


def _labels_text_cached(m: dict[str, Any]) -> str | None:
    """``labels_text_from_map`` remembered per label map (streams repeat every push);
    ``None`` when a value is not a string."""
    if set(map(type, m.values())) - {str}:
        return None  # checked first: an unhashable value cannot be part of the key
    key = tuple(m.items())
    text = _LABELS_TEXT.get(key)
    if text is None:
        if len(_LABELS_TEXT) >= _LABELS_TEXT_MAX:
            _LABELS_TEXT.clear()  # label churn: start over rather than grow without bound
        text = _LABELS_TEXT[key] = labels_text_from_map(m)
    return text


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
