"""Loki's ``logproto.PushRequest`` messages, built from descriptors at import (no protoc step).

Field numbers follow Loki's ``push.proto``; ``Timestamp`` is declared locally with the
same wire layout as ``google.protobuf.Timestamp`` (seconds = 1, nanos = 2).
"""

from __future__ import annotations

from typing import Any

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

_F = descriptor_pb2.FieldDescriptorProto


def _field(msg: Any, name: str, number: int, ftype: int, label: int, type_name: str = "") -> None:
    f = msg.field.add()
    f.name = name
    f.number = number
    f.type = ftype
    f.label = label
    if type_name:
        f.type_name = type_name


def _build() -> dict[str, Any]:
    fd = descriptor_pb2.FileDescriptorProto()
    fd.name = "tidewatch_logproto_push.proto"
    fd.package = "logproto"
    fd.syntax = "proto3"
    opt, rep = _F.LABEL_OPTIONAL, _F.LABEL_REPEATED

    ts = fd.message_type.add(name="Timestamp")
    _field(ts, "seconds", 1, _F.TYPE_INT64, opt)
    _field(ts, "nanos", 2, _F.TYPE_INT32, opt)

    pair = fd.message_type.add(name="LabelPairAdapter")
    _field(pair, "name", 1, _F.TYPE_STRING, opt)
    _field(pair, "value", 2, _F.TYPE_STRING, opt)

    entry = fd.message_type.add(name="EntryAdapter")
    _field(entry, "timestamp", 1, _F.TYPE_MESSAGE, opt, ".logproto.Timestamp")
    _field(entry, "line", 2, _F.TYPE_STRING, opt)
    _field(entry, "structuredMetadata", 3, _F.TYPE_MESSAGE, rep, ".logproto.LabelPairAdapter")

    stream = fd.message_type.add(name="StreamAdapter")
    _field(stream, "labels", 1, _F.TYPE_STRING, opt)
    _field(stream, "entries", 2, _F.TYPE_MESSAGE, rep, ".logproto.EntryAdapter")
    _field(stream, "hash", 3, _F.TYPE_UINT64, opt)

    req = fd.message_type.add(name="PushRequest")
    _field(req, "streams", 1, _F.TYPE_MESSAGE, rep, ".logproto.StreamAdapter")

    pool = descriptor_pool.DescriptorPool()
    pool.Add(fd)
    return {
        name: message_factory.GetMessageClass(pool.FindMessageTypeByName(f"logproto.{name}"))
        for name in (
            "Timestamp",
            "LabelPairAdapter",
            "EntryAdapter",
            "StreamAdapter",
            "PushRequest",
        )
    }


def _build_raw() -> Any:
    """``PushRequest`` with each stream's entries left as serialized bytes (same wire
    format: an embedded message is a length-delimited field), for columnar decoding."""
    fd = descriptor_pb2.FileDescriptorProto()
    fd.name = "tidewatch_logproto_push_raw.proto"
    fd.package = "logproto_raw"
    fd.syntax = "proto3"
    opt, rep = _F.LABEL_OPTIONAL, _F.LABEL_REPEATED
    stream = fd.message_type.add(name="StreamAdapter")
    _field(stream, "labels", 1, _F.TYPE_STRING, opt)
    _field(stream, "entries", 2, _F.TYPE_BYTES, rep)
    _field(stream, "hash", 3, _F.TYPE_UINT64, opt)
    req = fd.message_type.add(name="PushRequest")
    _field(req, "streams", 1, _F.TYPE_MESSAGE, rep, ".logproto_raw.StreamAdapter")
    pool = descriptor_pool.DescriptorPool()
    pool.Add(fd)
    return message_factory.GetMessageClass(pool.FindMessageTypeByName("logproto_raw.PushRequest"))


_CLASSES = _build()
PushRequest: Any = _CLASSES["PushRequest"]
StreamAdapter: Any = _CLASSES["StreamAdapter"]
EntryAdapter: Any = _CLASSES["EntryAdapter"]
LabelPairAdapter: Any = _CLASSES["LabelPairAdapter"]
RawPushRequest: Any = _build_raw()
