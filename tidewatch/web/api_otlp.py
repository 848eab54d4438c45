"""OTLP receive over HTTP (protobuf or JSON; gzip bodies are inflated by aiohttp).

Metrics, ``POST /api/v1/otlp/v1/metrics``, as Prometheus: 200 with an
``ExportMetricsServiceResponse`` in the request's encoding (``partial_success`` naming
what was dropped), 400 with the reason for a body that can never be accepted, 415 for
an unsupported Content-Type.

Logs, ``POST /otlp/v1/logs`` (Loki's path; also under ``/api/v1/otlp`` so one OTLP
endpoint serves both signals), as Loki: translated into streams and pushed through the
log store, 204 on success, the store's status and message otherwise.
"""

from __future__ import annotations

import asyncio
import logging

from aiohttp import web

from tidewatch.config.model import Config
from tidewatch.otlp.decode import InvalidOTLP, decode_request, encode_response, media_type
from tidewatch.otlp.logs import decode_logs_request, translate_logs
from tidewatch.otlp.options import InvalidOTLPConfig, OTLPOptions, options_from_section
from tidewatch.otlp.translate import AppendResult, LabelCache, Translated, append, translate
from tidewatch.web.services import Services

log = logging.getLogger(__name__)


def _text(status: int, message: str) -> web.Response:
    return web.Response(status=status, text=message + "\n")


class OTLPAPI:
    def __init__(self, services: Services) -> None:
        self.s = services
        self._options_for: tuple[Config, OTLPOptions] | None = None
        self.label_cache = LabelCache()

    def options(self) -> OTLPOptions:
        """The ``otlp:`` options of the current config (parsed once per config)."""
        config = self.s.config
        if self._options_for is None or self._options_for[0] is not config:
            lookback = config.server.lookback_delta_ms
            try:
                opts = options_from_section(config.prometheus.other_sections.get("otlp"), lookback)
            except InvalidOTLPConfig as exc:
                log.error("ignoring the otlp section of the configuration: %s", exc)
                opts = OTLPOptions(lookback_ms=lookback)
            self._options_for = (config, opts)
        return self._options_for[1]

    def routes(self) -> list[web.RouteDef]:
        return [
            web.post("/api/v1/otlp/v1/metrics", self.metrics),
            web.post("/otlp/v1/logs", self.logs),
            web.post("/api/v1/otlp/v1/logs", self.logs),
        ]

    async def logs(self, request: web.Request) -> web.Response:
        content_type = request.headers.get("Content-Type", "")
        media = media_type(content_type)
        if media is None:
            return _text(400, f"content type: {content_type} is not supported")
        try:
            body = await request.read()
        except web.HTTPRequestEntityTooLarge as exc:
            return _text(413, f"request body too large: {exc.text or 'over the server limit'}")
        store = self.s.log_store

        def run() -> tuple[int, str]:
            streams = translate_logs(decode_logs_request(body, media))
            result = store.push(streams)
            return result.status, result.message

        try:
            status, message = await asyncio.to_thread(run)
        except InvalidOTLP as exc:
            return _text(400, str(exc))
        if status == 204:
            return web.Response(status=204)
        return _text(status, message)

    async def metrics(self, request: web.Request) -> web.Response:
        content_type = request.headers.get("Content-Type", "")
        media = media_type(content_type)
        if media is None:
            return _text(
                415,
                f"unsupported Content-Type {content_type!r}; "
                "expected application/x-protobuf or application/json",
            )
        try:
            body = await request.read()
        except web.HTTPRequestEntityTooLarge as exc:
            return _text(413, f"request body too large: {exc.text or 'over the server limit'}")

        options = self.options()

        def run() -> tuple[Translated, AppendResult]:
            batch = translate(decode_request(body, media), options, self.label_cache)
            return batch, append(self.s.storage, batch)

        try:
            batch, result = await asyncio.to_thread(run)
        except InvalidOTLP as exc:
            return _text(400, str(exc))
        reasons = list(batch.reasons) + result.errors
        rejected = batch.dropped_points + result.rejected
        payload = encode_response(rejected, "; ".join(reasons), media)
        return web.Response(body=payload, headers={"Content-Type": media})
