"""``remote_write`` entries of ``prometheus.yml``, decoded from the raw YAML mapping
with Prometheus's defaults; every error names the entry and the field."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

import orjson

from tidewatch.config.model import RelabelConfig
from tidewatch.duration import parse_duration
from tidewatch.ingest.relabel import CompiledRelabel, RelabelConfigError, compile_relabel
from tidewatch.remote.write import PROTO_V1, PROTO_V2

PROTOBUF_MESSAGES = (PROTO_V1, PROTO_V2)


class RemoteWriteConfigError(ValueError):
    """A bad ``remote_write`` entry; the message names the field."""


@dataclass
class QueueConfig:
    # Prometheus 2.x defaults.
    capacity: int = 10_000
    max_shards: int = 50
    min_shards: int = 1
    max_samples_per_send: int = 2_000
    batch_send_deadline_ms: int = 5_000
    min_backoff_ms: int = 30
    max_backoff_ms: int = 5_000
    retry_on_http_429: bool = True
    sample_age_limit_ms: int = 0


@dataclass
class MetadataConfig:
    send: bool = True
    send_interval_ms: int = 60_000
    max_samples_per_send: int = 500


@dataclass
class TLSClientConfig:
    ca_file: str = ""
    cert_file: str = ""
    key_file: str = ""
    server_name: str = ""
    insecure_skip_verify: bool = False


@dataclass
class RemoteWriteConfig:
    url: str
    name: str = ""
    remote_timeout_ms: int = 30_000
    headers: dict[str, str] = field(default_factory=dict)
    basic_auth: tuple[str, str] | None = None  # (username, password)
    authorization: tuple[str, str] | None = None  # (type, credentials)
    tls: TLSClientConfig = field(default_factory=TLSClientConfig)
    proxy_url: str = ""
    send_exemplars: bool = False
    write_relabel_configs: list[RelabelConfig] = field(default_factory=list)
    # Compiled from write_relabel_configs; left out of equality (regex objects).
    relabel: list[CompiledRelabel] = field(default_factory=list, compare=False)
    queue: QueueConfig = field(default_factory=QueueConfig)
    metadata: MetadataConfig = field(default_factory=MetadataConfig)
    # Which message the queue sends: remote write 1.0 or 2.0 (as Prometheus 3 names them).
    protobuf_message: str = PROTO_V1
    # Stable identity of the queue: the directory of its log, and ``remote_name``.
    hash: str = ""

    @property
    def remote_name(self) -> str:
        return self.name or self.hash[:6]


_TOP = {
    "url",
    "name",
    "remote_timeout",
    "headers",
    "write_relabel_configs",
    "send_exemplars",
    "send_native_histograms",
    "queue_config",
    "metadata_config",
    "basic_auth",
    "authorization",
    "bearer_token",
    "bearer_token_file",
    "tls_config",
    "proxy_url",
    "no_proxy",
    "proxy_from_environment",
    "proxy_connect_header",
    "follow_redirects",
    "enable_http2",
    "oauth2",
    "sigv4",
    "azuread",
    "google_iam",
    "protobuf_message",
    "round_robin_dns",
}
_QUEUE = {
    "capacity",
    "max_shards",
    "min_shards",
    "max_samples_per_send",
    "batch_send_deadline",
    "min_backoff",
    "max_backoff",
    "retry_on_http_429",
    "sample_age_limit",
}
_RELABEL = {
    "source_labels",
    "separator",
    "regex",
    "modulus",
    "target_label",
    "replacement",
    "action",
}
_TLS = {
    "ca_file",
    "cert_file",
    "key_file",
    "server_name",
    "insecure_skip_verify",
    "min_version",
    "max_version",
    "ca",
    "cert",
    "key",
}
# Headers the protocol itself sets; Prometheus refuses them in ``headers``.
_RESERVED_HEADERS = {
    "host",
    "authorization",
    "content-encoding",
    "content-type",
    "x-prometheus-remote-write-version",
    "user-agent",
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "www-authenticate",
}
# Auth and transport features a plain HTTP client cannot provide here.
_UNSUPPORTED = ("oauth2", "sigv4", "azuread", "google_iam")


class _Fields:
    """Typed access to one mapping, with errors that say where."""

    def __init__(self, raw: Any, where: str, allowed: set[str]) -> None:
        if raw is None:
            raw = {}
        if not isinstance(raw, dict):
            raise RemoteWriteConfigError(f"{where}: expected a mapping, got {type(raw).__name__}")
        unknown = sorted(str(k) for k in raw if k not in allowed)
        if unknown:
            raise RemoteWriteConfigError(f"{where}: field {unknown[0]} not found in type")
        self.raw = raw
        self.where = where

    def err(self, key: str, msg: str) -> RemoteWriteConfigError:
        return RemoteWriteConfigError(f"{self.where}.{key}: {msg}")

    def string(self, key: str, default: str = "") -> str:
        v = self.raw.get(key, default)
        if v is None:
            return default
        if not isinstance(v, str):
            raise self.err(key, f"expected a string, got {v!r}")
        return v

    def integer(self, key: str, default: int, minimum: int = 0) -> int:
        v = self.raw.get(key, default)
        if isinstance(v, bool) or not isinstance(v, int):
            raise self.err(key, f"expected an integer, got {v!r}")
        if v < minimum:
            raise self.err(key, f"must be at least {minimum}, got {v}")
        return v

    def boolean(self, key: str, default: bool) -> bool:
        v = self.raw.get(key, default)
        if not isinstance(v, bool):
            raise self.err(key, f"expected true or false, got {v!r}")
        return v

    def duration(self, key: str, default_ms: int) -> int:
        v = self.raw.get(key)
        if v is None:
            return default_ms
        try:
            return parse_duration(str(v))
        except ValueError as exc:
            raise self.err(key, str(exc)) from None

    def secret(self, key: str, file_key: str) -> str:
        value, path = self.string(key), self.string(file_key)
        if value and path:
            raise self.err(key, f"at most one of {key} & {file_key} must be configured")
        if path:
            try:
                with open(path, encoding="utf-8") as f:
                    return f.read().strip()
            except OSError as exc:
                raise self.err(file_key, f"cannot read {path}: {exc.strerror}") from None
        return value


def _decode_relabel(raw: Any, where: str) -> list[RelabelConfig]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise RemoteWriteConfigError(f"{where}: expected a list")
    out = []
    for i, item in enumerate(raw):
        f = _Fields(item, f"{where}[{i}]", _RELABEL)
        src = f.raw.get("source_labels", [])
        if not isinstance(src, list) or not all(isinstance(s, str) for s in src):
            raise f.err("source_labels", "expected a list of label names")
        out.append(
            RelabelConfig(
                source_labels=list(src),
                separator=f.string("separator", ";"),
                regex=f.string("regex", "(.*)"),
                modulus=f.integer("modulus", 0),
                target_label=f.string("target_label"),
                replacement=f.string("replacement", "$1"),
                action=f.string("action", "replace").lower(),
            )
        )
    return out


def _decode_queue(raw: Any, where: str) -> QueueConfig:
    f = _Fields(raw, where, _QUEUE)
    d = QueueConfig()
    q = QueueConfig(
        capacity=f.integer("capacity", d.capacity, 1),
        max_shards=f.integer("max_shards", d.max_shards, 1),
        min_shards=f.integer("min_shards", d.min_shards, 1),
        max_samples_per_send=f.integer("max_samples_per_send", d.max_samples_per_send, 1),
        batch_send_deadline_ms=f.duration("batch_send_deadline", d.batch_send_deadline_ms),
        min_backoff_ms=f.duration("min_backoff", d.min_backoff_ms),
        max_backoff_ms=f.duration("max_backoff", d.max_backoff_ms),
        retry_on_http_429=f.boolean("retry_on_http_429", d.retry_on_http_429),
        sample_age_limit_ms=f.duration("sample_age_limit", d.sample_age_limit_ms),
    )
    if q.min_shards > q.max_shards:
        raise f.err(
            "min_shards", f"min_shards ({q.min_shards}) exceeds max_shards ({q.max_shards})"
        )
    if q.batch_send_deadline_ms <= 0:
        raise f.err("batch_send_deadline", "must be greater than 0")
    if q.min_backoff_ms > q.max_backoff_ms:
        raise f.err("min_backoff", "must not exceed max_backoff")
    return q


def _queue_hash(url: str, name: str) -> str:
    # Only what identifies the remote: tuning the queue keeps its backlog.
    return hashlib.md5(orjson.dumps([url, name]), usedforsecurity=False).hexdigest()


def decode_config(raw: Any, index: int) -> RemoteWriteConfig:
    where = f"remote_write[{index}]"
    f = _Fields(raw, where, _TOP)
    for key in _UNSUPPORTED:
        if f.raw.get(key) is not None:
            raise f.err(key, "not supported by tidewatch")
    url = f.string("url")
    if not url:
        raise f.err("url", "url for remote_write is empty")
    if not (url.startswith("http://") or url.startswith("https://")):
        raise f.err("url", f"unsupported scheme in {url!r} (want http or https)")
    headers_raw = f.raw.get("headers") or {}
    if not isinstance(headers_raw, dict):
        raise f.err("headers", "expected a mapping of header names to values")
    headers: dict[str, str] = {}
    for k, v in headers_raw.items():
        if str(k).lower() in _RESERVED_HEADERS:
            raise f.err("headers", f"{k} is a reserved header. It must not be changed")
        headers[str(k)] = str(v)
    cfg = RemoteWriteConfig(
        url=url,
        name=f.string("name"),
        remote_timeout_ms=f.duration("remote_timeout", 30_000),
        headers=headers,
        proxy_url=f.string("proxy_url"),
        send_exemplars=f.boolean("send_exemplars", False),
    )
    if f.raw.get("basic_auth") is not None:
        ba = _Fields(
            f.raw["basic_auth"],
            f"{where}.basic_auth",
            {"username", "password", "password_file", "username_file"},
        )
        cfg.basic_auth = (
            ba.secret("username", "username_file"),
            ba.secret("password", "password_file"),
        )
    bearer = f.secret("bearer_token", "bearer_token_file")
    if f.raw.get("authorization") is not None:
        au = _Fields(
            f.raw["authorization"],
            f"{where}.authorization",
            {"type", "credentials", "credentials_file"},
        )
        cfg.authorization = (
            au.string("type", "Bearer") or "Bearer",
            au.secret("credentials", "credentials_file"),
        )
    if bearer:
        if cfg.authorization:
            raise f.err(
                "bearer_token", "at most one of bearer_token & authorization must be configured"
            )
        cfg.authorization = ("Bearer", bearer)
    if cfg.basic_auth and cfg.authorization:
        raise f.err("basic_auth", "at most one of basic_auth & authorization must be configured")
    if f.raw.get("tls_config") is not None:
        t = _Fields(f.raw["tls_config"], f"{where}.tls_config", _TLS)
        cfg.tls = TLSClientConfig(
            ca_file=t.string("ca_file"),
            cert_file=t.string("cert_file"),
            key_file=t.string("key_file"),
            server_name=t.string("server_name"),
            insecure_skip_verify=t.boolean("insecure_skip_verify", False),
        )
    cfg.write_relabel_configs = _decode_relabel(
        f.raw.get("write_relabel_configs"), f"{where}.write_relabel_configs"
    )
    try:
        cfg.relabel = compile_relabel(cfg.write_relabel_configs)
    except RelabelConfigError as exc:
        raise f.err("write_relabel_configs", str(exc)) from None
    cfg.queue = _decode_queue(f.raw.get("queue_config"), f"{where}.queue_config")
    md = _Fields(
        f.raw.get("metadata_config"),
        f"{where}.metadata_config",
        {"send", "send_interval", "max_samples_per_send"},
    )
    cfg.metadata = MetadataConfig(
        send=md.boolean("send", True),
        send_interval_ms=md.duration("send_interval", 60_000),
        max_samples_per_send=md.integer("max_samples_per_send", 500, 1),
    )
    if cfg.metadata.send_interval_ms <= 0:
        raise md.err("send_interval", "must be greater than 0")
    msg = f.string("protobuf_message", PROTO_V1) or PROTO_V1
    if msg not in PROTOBUF_MESSAGES:
        raise f.err(
            "protobuf_message",
            f"unknown remote write protobuf message {msg}, supported: {', '.join(PROTOBUF_MESSAGES)}",
        )
    cfg.protobuf_message = msg
    cfg.hash = _queue_hash(url, cfg.name)
    return cfg


def decode_configs(raw: list[Any]) -> list[RemoteWriteConfig]:
    """Decode every entry; names (given or derived) must be unique, as in Prometheus."""
    out = [decode_config(r, i) for i, r in enumerate(raw or [])]
    seen: dict[str, int] = {}
    for i, c in enumerate(out):
        if c.hash in seen:
            raise RemoteWriteConfigError(
                f"remote_write[{i}]: duplicate remote write configs are not allowed,"
                f" found duplicate for URL: {c.url}"
            )
        seen[c.hash] = i
    return out
