"""Decode an ``ExportMetricsServiceRequest`` body, OTLP/protobuf or OTLP/JSON.

OTLP/JSON is the protobuf JSON mapping (camelCase names, int64 as strings, enums as
integers) except that trace and span ids are hex rather than base64; they are
converted before parsing.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

import orjson
from google.protobuf import json_format
from google.protobuf.message import DecodeError

from tidewatch.otlp import proto

PROTOBUF = "application/x-protobuf"
JSON = "application/json"


class InvalidOTLP(ValueError):
    """A body that can never be accepted; the message names the problem."""


def media_type(content_type: str) -> str | None:
    """PROTOBUF or JSON for a request's Content-Type, None when unsupported."""
    media = content_type.split(";", 1)[0].strip().lower()
    if media in (PROTOBUF, "application/protobuf"):
        return PROTOBUF
    if media == JSON:
        return JSON
    return None


def _hex_ids_to_base64(node: Any) -> None:
    """Rewrite exemplar ``traceId``/``spanId`` (hex in OTLP/JSON) as base64, in place."""
    if isinstance(node, dict):
        for key in ("traceId", "spanId", "trace_id", "span_id"):
            value = node.get(key)
            if isinstance(value, str):
                try:
                    node[key] = base64.b64encode(bytes.fromhex(value)).decode()
                except ValueError:
                    raise InvalidOTLP(f"invalid {key} {value!r}: expected hex") from None
        for child in node.values():
            if isinstance(child, dict | list):
                _hex_ids_to_base64(child)
    elif isinstance(node, list):
        for child in node:
            if isinstance(child, dict | list):
                _hex_ids_to_base64(child)


def decode_request(body: bytes, media: str) -> Any:
    """The request message; raises :class:`InvalidOTLP`."""
    return parse_message(proto.ExportMetricsServiceRequest(), body, media)


def parse_message(msg: Any, body: bytes, media: str) -> Any:
    """Fill ``msg`` from an OTLP/protobuf or OTLP/JSON body; raises :class:`InvalidOTLP`."""
    if media == PROTOBUF:
        try:
            msg.ParseFromString(body)
        except DecodeError as exc:
            raise InvalidOTLP(f"unmarshal OTLP protobuf: {exc}") from None
        return msg
    try:
        doc = orjson.loads(body) if body.strip() else {}
    except orjson.JSONDecodeError as exc:
        raise InvalidOTLP(f"unmarshal OTLP JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise InvalidOTLP("unmarshal OTLP JSON: expected an object")
    _hex_ids_to_base64(doc)
    try:
        json_format.ParseDict(doc, msg, ignore_unknown_fields=True)
    except (json_format.ParseError, binascii.Error) as exc:
        raise InvalidOTLP(f"unmarshal OTLP JSON: {exc}") from None
    return msg


def encode_response(rejected: int, message: str, media: str) -> bytes:
    """An ``ExportMetricsServiceResponse``; ``partial_success`` only when points were dropped."""
    resp = proto.ExportMetricsServiceResponse()
    if rejected or message:
        resp.partial_success.rejected_data_points = rejected
        resp.partial_success.error_message = message
    if media == PROTOBUF:
        return bytes(resp.SerializeToString())
    return json_format.MessageToJson(resp, indent=None).encode()
