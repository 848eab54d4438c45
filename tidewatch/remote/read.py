"""Remote read: answer a ``prometheus.ReadRequest`` with SAMPLES (one snappy
``ReadResponse``) or STREAMED_XOR_CHUNKS (CRC-framed ``ChunkedReadResponse``
messages carrying XOR chunks), as Prometheus's read handler does.

External labels: an equality matcher naming an external label with its exact value
is dropped before selecting (the data stored here does not carry it), and external
labels are added to every returned series that lacks them.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from google.protobuf.message import DecodeError

from tidewatch.labels import Labels
from tidewatch.matcher import Matcher, MatchType, RegexError
from tidewatch.remote import proto
from tidewatch.remote.codec import crc32c, snappy_encode, uvarint
from tidewatch.remote.wire import encode_samples, length_delimited
from tidewatch.remote.xorchunk import MAX_SAMPLES_PER_CHUNK, encode_xor_chunk
from tidewatch.tsdb.interface import Series, Storage

SAMPLES_CONTENT_TYPE = "application/x-protobuf"
STREAMED_CONTENT_TYPE = "application/x-streamed-protobuf; proto=prometheus.ChunkedReadResponse"
# Frames stay within 64 KiB so their checksum takes the fast path (clients accept any size).
MAX_FRAME_BYTES = 60 * 1024
_MATCH_TYPES = {
    proto.MATCH_EQ: MatchType.EQUAL,
    proto.MATCH_NEQ: MatchType.NOT_EQUAL,
    proto.MATCH_RE: MatchType.REGEX,
    proto.MATCH_NRE: MatchType.NOT_REGEX,
}


class InvalidRead(ValueError):
    pass


@dataclass
class ReadQuery:
    start_ms: int
    end_ms: int
    matchers: list[Matcher]


def parse_read_request(data: bytes) -> tuple[list[ReadQuery], int]:
    """Queries and the negotiated response type of a decoded (snappy-free) body."""
    req = proto.ReadRequest()
    try:
        req.ParseFromString(data)
    except DecodeError as exc:
        raise InvalidRead(f"cannot decode prometheus.ReadRequest: {exc}") from None
    queries = []
    for i, q in enumerate(req.queries):
        matchers = []
        for m in q.matchers:
            kind = _MATCH_TYPES.get(m.type)
            if kind is None:
                raise InvalidRead(f"queries[{i}]: unknown matcher type {m.type}")
            try:
                matchers.append(Matcher(kind, m.name, m.value))
            except RegexError as exc:
                raise InvalidRead(f"queries[{i}]: {exc}") from None
        queries.append(ReadQuery(q.start_timestamp_ms, q.end_timestamp_ms, matchers))
    return queries, negotiate(list(req.accepted_response_types))


def negotiate(accepted: list[int]) -> int:
    """The client's first supported type; SAMPLES when it lists none (older clients)."""
    if not accepted:
        return proto.RESPONSE_SAMPLES
    for kind in accepted:
        if kind in (proto.RESPONSE_SAMPLES, proto.RESPONSE_STREAMED_XOR_CHUNKS):
            return kind
    raise InvalidRead(f"server does not support any of the requested response types: {accepted}")


def _merge_external(lbls: Labels, external: Mapping[str, str]) -> Labels:
    if not external:
        return lbls
    merged = dict(external)
    merged.update(lbls)
    return tuple(sorted(merged.items()))


def select_series(storage: Storage, query: ReadQuery, external: Mapping[str, str]) -> list[Series]:
    """Matching series with samples in the query range, external labels merged in."""
    matchers = [
        m
        for m in query.matchers
        if not (m.type is MatchType.EQUAL and m.name in external and external[m.name] == m.value)
    ]
    q = storage.querier()
    try:
        found = q.select(matchers, query.start_ms, query.end_ms)
    finally:
        q.close()
    out = [Series(_merge_external(s.labels, external), s.ts, s.values) for s in found if len(s.ts)]
    out.sort(key=lambda s: s.labels)
    return out


def _add_labels(target: object, lbls: Labels) -> None:
    for name, value in lbls:
        target.labels.add(name=name, value=value)  # type: ignore[attr-defined]


def check_sample_limit(results: list[list[Series]], limit: int) -> None:
    """SAMPLES answers are built whole in memory, so they are capped as in Prometheus."""
    total = sum(len(s.ts) for series_list in results for s in series_list)
    if total > limit:
        raise InvalidRead(f"exceeded sample limit ({limit})")


def samples_response(results: list[list[Series]]) -> bytes:
    """A snappy-compressed ``ReadResponse`` with one ``QueryResult`` per query.

    Labels go through the protobuf serializer; sample columns are encoded with numpy
    (see ``tidewatch.remote.wire``), then the pieces are framed by hand.
    """
    parts: list[bytes] = []
    for series_list in results:
        result_parts: list[bytes] = []
        for s in series_list:
            head = proto.TimeSeries()
            _add_labels(head, s.labels)
            body = head.SerializeToString() + encode_samples(s.ts, s.values)
            result_parts.append(length_delimited(1, body))
        parts.append(length_delimited(1, b"".join(result_parts)))
    return snappy_encode(b"".join(parts))


def _frame(message: bytes) -> bytes:
    return uvarint(len(message)) + crc32c(message).to_bytes(4, "big") + message


def streamed_frames(query_index: int, series_list: list[Series]) -> Iterator[bytes]:
    """Frames of one query: each holds chunks of a single series, as Prometheus sends."""
    for s in series_list:
        resp = proto.ChunkedReadResponse(query_index=query_index)
        cs = resp.chunked_series.add()
        _add_labels(cs, s.labels)
        size = resp.ByteSize()
        n = len(s.ts)
        for start in range(0, n, MAX_SAMPLES_PER_CHUNK):
            end = min(start + MAX_SAMPLES_PER_CHUNK, n)
            data = encode_xor_chunk(s.ts[start:end], s.values[start:end])
            cs.chunks.add(
                min_time_ms=int(s.ts[start]),
                max_time_ms=int(s.ts[end - 1]),
                type=proto.CHUNK_XOR,
                data=data,
            )
            size += len(data) + 32
            if size >= MAX_FRAME_BYTES and end < n:
                yield _frame(resp.SerializeToString())
                resp = proto.ChunkedReadResponse(query_index=query_index)
                cs = resp.chunked_series.add()
                _add_labels(cs, s.labels)
                size = resp.ByteSize()
        yield _frame(resp.SerializeToString())
