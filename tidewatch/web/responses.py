"""Prometheus-style API envelopes and errors.

Every JSON API answers ``{"status": "success", "data": ...}`` or
``{"status": "error", "errorType": ..., "error": ...}`` with the HTTP status
Prometheus uses for that error type, so clients written for Prometheus read
tidewatch's answers unchanged.
"""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web

STATUS_BY_ERROR_TYPE = {
    "bad_data": 400,
    "execution": 422,
    "canceled": 499,
    "timeout": 503,
    "internal": 500,
    "not_found": 404,
    "not_acceptable": 406,
    "unavailable": 503,
}


class APIError(Exception):
    """Raised by handlers; rendered as Prometheus's error envelope."""

    def __init__(self, error_type: str, message: str) -> None:
        super().__init__(message)
        self.error_type = error_type
        self.message = message


def bad_data(message: str) -> APIError:
    return APIError("bad_data", message)


def invalid_param(name: str, reason: str) -> APIError:
    return APIError("bad_data", f'invalid parameter "{name}": {reason}')


def _dumps(obj: Any) -> bytes:
    return orjson.dumps(obj, option=orjson.OPT_SERIALIZE_NUMPY)


def json_response(obj: Any, status: int = 200) -> web.Response:
    return web.Response(body=_dumps(obj), status=status, content_type="application/json")


def success(
    data: Any, warnings: list[str] | None = None, infos: list[str] | None = None
) -> web.Response:
    body: dict[str, Any] = {"status": "success", "data": data}
    if warnings:
        body["warnings"] = warnings
    if infos:
        body["infos"] = infos
    return json_response(body)


def error_response(err: APIError) -> web.Response:
    body = {"status": "error", "errorType": err.error_type, "error": err.message}
    return json_response(body, status=STATUS_BY_ERROR_TYPE.get(err.error_type, 500))
