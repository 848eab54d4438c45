"""Remote write receive (``/api/v1/write``), remote read (``/api/v1/read``) and
federation (``/federate``).

Errors are plain text, as Prometheus writes them for these endpoints: 400 for a body
that can never succeed (so senders do not retry it), 413 for one over the size
limits, 415 for an unknown content type or encoding.
"""

from __future__ import annotations

import asyncio
import logging
import time

from aiohttp import web

from tidewatch.promql.parser import ParseError, parse_metric_selector
from tidewatch.remote import federate, proto
from tidewatch.remote.codec import BodyError, BodyTooLarge, snappy_decode
from tidewatch.remote.fastv1 import decode_v1_fast
from tidewatch.remote.fastv2 import decode_v2_fast
from tidewatch.remote.read import (
    SAMPLES_CONTENT_TYPE,
    STREAMED_CONTENT_TYPE,
    InvalidRead,
    check_sample_limit,
    parse_read_request,
    samples_response,
    select_series,
    streamed_frames,
)
from tidewatch.remote.write import (
    PROTO_V1,
    PROTO_V2,
    DecodedWrite,
    InvalidWrite,
    SeriesCache,
    WriteResult,
    apply_write,
    decode_v1,
    decode_v2,
)
from tidewatch.web.services import Services

log = logging.getLogger(__name__)

# A snappy body inflates at most ~6x; these bound what one request may make us allocate.
MAX_DECODED_WRITE_BYTES = 256 * 1024 * 1024
MAX_DECODED_READ_BYTES = 32 * 1024 * 1024  # Prometheus's decode limit for read requests
READ_SAMPLE_LIMIT = 50_000_000  # Prometheus's --storage.remote.read-sample-limit default
HEADER_SAMPLES_WRITTEN = "X-Prometheus-Remote-Write-Samples-Written"
HEADER_HISTOGRAMS_WRITTEN = "X-Prometheus-Remote-Write-Histograms-Written"
HEADER_EXEMPLARS_WRITTEN = "X-Prometheus-Remote-Write-Exemplars-Written"


def _text(status: int, message: str, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(status=status, text=message + "\n", headers=headers)


def write_protocol(content_type: str) -> str | None:
    """``PROTO_V1``/``PROTO_V2`` for a remote-write Content-Type, None if unsupported."""
    fields = [f.strip() for f in content_type.split(";")]
    media = fields[0].lower()
    if media == "":
        return PROTO_V1  # 1.0 senders from before the header was required
    if media != "application/x-protobuf":
        return None
    for f in fields[1:]:
        key, _, value = f.partition("=")
        if key.strip().lower() == "proto":
            value = value.strip().strip('"')
            return value if value in (PROTO_V1, PROTO_V2) else None
    return PROTO_V1


def _written_headers(result: WriteResult | None) -> dict[str, str]:
    return {
        HEADER_SAMPLES_WRITTEN: str(result.samples_written if result else 0),
        HEADER_HISTOGRAMS_WRITTEN: str(result.histograms_written if result else 0),
        HEADER_EXEMPLARS_WRITTEN: str(result.exemplars_written if result else 0),
    }


async def _read_body(request: web.Request) -> bytes | web.Response:
    try:
        return await request.read()
    except web.HTTPRequestEntityTooLarge as exc:
        return _text(413, f"request body too large: {exc.text or 'over the server limit'}")


class RemoteAPI:
    def __init__(self, services: Services) -> None:
        self.s = services
        # Label sets and refs seen before; valid for this one storage (services.tsdb).
        self.series_cache = SeriesCache()
        self.read_sample_limit = READ_SAMPLE_LIMIT

    def routes(self) -> list[web.RouteDef]:
        return [
            web.post("/api/v1/write", self.write),
            web.post("/api/v1/read", self.read),
            web.get("/federate", self.federate),
        ]

    # -- remote write ----------------------------------------------------------------
    async def write(self, request: web.Request) -> web.Response:
        protocol = write_protocol(request.headers.get("Content-Type", ""))
        if protocol is None:
            return _text(
                415,
                f"unsupported Content-Type {request.headers.get('Content-Type', '')!r}; "
                f"expected application/x-protobuf;proto={PROTO_V1} or {PROTO_V2}",
            )
        encoding = request.headers.get("Content-Encoding", "").strip().lower()
        if encoding not in ("", "snappy"):
            return _text(415, f"unsupported Content-Encoding {encoding!r}; expected snappy")
        v2 = protocol == PROTO_V2
        headers = _written_headers(None) if v2 else None
        body = await _read_body(request)
        if isinstance(body, web.Response):
            return body

        def decode() -> DecodedWrite:
            data = snappy_decode(body, MAX_DECODED_WRITE_BYTES)
            cache = self.series_cache
            if v2:
                return decode_v2_fast(data, cache) or decode_v2(data, cache)
            return decode_v1_fast(data, cache) or decode_v1(data, cache)

        try:
            batch = await asyncio.to_thread(decode)
        except BodyTooLarge as exc:
            return _text(413, str(exc), headers)
        except (BodyError, InvalidWrite) as exc:
            return _text(400, str(exc), headers)
        result = await asyncio.to_thread(apply_write, self.s.storage, batch)
        headers = _written_headers(result) if v2 else None
        problems = list(result.errors)
        if result.rejected > len(problems):
            problems.append(f"{result.rejected} samples rejected in total")
        if batch.histograms:
            problems.append(
                f"{batch.histograms} native histogram samples dropped: not supported by this server"
            )
        if problems:
            # Not retryable: the same samples would be refused again.
            return _text(400, "; ".join(problems), headers)
        return web.Response(status=204, headers=headers)

    # -- remote read -----------------------------------------------------------------
    async def read(self, request: web.Request) -> web.StreamResponse:
        body = await _read_body(request)
        if isinstance(body, web.Response):
            return body
        try:
            data = snappy_decode(body, MAX_DECODED_READ_BYTES)
            queries, response_type = parse_read_request(data)
        except BodyTooLarge as exc:
            return _text(413, str(exc))
        except (BodyError, InvalidRead) as exc:
            return _text(400, str(exc))
        external = dict(self.s.config.prometheus.global_.external_labels)
        storage = self.s.tsdb
        if response_type == proto.RESPONSE_SAMPLES:

            def run() -> bytes:
                results = [select_series(storage, q, external) for q in queries]
                check_sample_limit(results, self.read_sample_limit)
                return samples_response(results)

            try:
                payload = await asyncio.to_thread(run)
            except InvalidRead as exc:
                return _text(400, str(exc))
            return web.Response(
                body=payload,
                headers={"Content-Type": SAMPLES_CONTENT_TYPE, "Content-Encoding": "snappy"},
            )
        resp = web.StreamResponse(headers={"Content-Type": STREAMED_CONTENT_TYPE})
        await resp.prepare(request)
        for index, query in enumerate(queries):

            def frames(index: int = index, query: object = query) -> list[bytes]:
                series = select_series(storage, query, external)  # type: ignore[arg-type]
                return list(streamed_frames(index, series))

            for frame in await asyncio.to_thread(frames):
                await resp.write(frame)
        await resp.write_eof()
        return resp

    # -- federation ------------------------------------------------------------------
    async def federate(self, request: web.Request) -> web.Response:
        matcher_sets = []
        for text in request.query.getall("match[]", []):
            try:
                matchers = parse_metric_selector(text)
            except ParseError as exc:
                return _text(400, f"bad match[] {text!r}: {exc}")
            if all(m.matches("") for m in matchers):
                return _text(400, "vector selector must contain at least one non-empty matcher")
            matcher_sets.append(matchers)
        now_ms = int(time.time() * 1000)
        lookback = self.s.config.server.lookback_delta_ms
        external = dict(self.s.config.prometheus.global_.external_labels)
        as_proto = federate.wants_protobuf(request.headers.get("Accept", ""))

        def run() -> bytes:
            samples = federate.latest_samples(self.s.tsdb, matcher_sets, now_ms, lookback, external)
            if as_proto:
                return federate.render_protobuf(samples)
            return federate.render_text(samples)

        payload = await asyncio.to_thread(run)
        resp = web.Response(
            body=payload,
            headers={
                "Content-Type": federate.PROTO_CONTENT_TYPE
                if as_proto
                else federate.TEXT_CONTENT_TYPE
            },
        )
        resp.enable_compression()
        return resp
