"""Typed configuration: what the loader (``tidewatch.config.loader``) produces and
every other package reads. Durations are int milliseconds; sizes are int bytes.

Field names and defaults follow Prometheus's ``prometheus.yml`` so the docs of the
real stack apply unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

DEFAULT_LISTEN = "127.0.0.1:9090"
DEFAULT_SCRAPE_INTERVAL_MS = 60_000
DEFAULT_SCRAPE_TIMEOUT_MS = 10_000
DEFAULT_EVALUATION_INTERVAL_MS = 60_000
DEFAULT_RETENTION_MS = 15 * 24 * 3600 * 1000
DEFAULT_WAL_SYNC_INTERVAL_MS = 1_000


@dataclass
class Secret:
    """A secret value; ``repr``/``str`` never reveal it (Prometheus prints <secret>)."""

    value: str

    def __repr__(self) -> str:
        return "<secret>"

    __str__ = __repr__


@dataclass
class BasicAuth:
    username: str = ""
    password: Secret | None = None
    password_file: str = ""
    username_file: str = ""


@dataclass
class Authorization:
    type: str = "Bearer"
    credentials: Secret | None = None
    credentials_file: str = ""


@dataclass
class TLSConfig:
    ca_file: str = ""
    cert_file: str = ""
    key_file: str = ""
    server_name: str = ""
    insecure_skip_verify: bool = False
    min_version: str = ""
    max_version: str = ""
    # Inline PEM alternatives to the *_file fields.
    ca: str = ""
    cert: str = ""
    key: Secret | None = None


@dataclass
class HTTPClientConfig:
    basic_auth: BasicAuth | None = None
    authorization: Authorization | None = None
    tls_config: TLSConfig = field(default_factory=TLSConfig)
    proxy_url: str = ""
    follow_redirects: bool = True
    enable_http2: bool = True
    no_proxy: str = ""
    proxy_from_environment: bool = False


@dataclass
class RelabelConfig:
    source_labels: list[str] = field(default_factory=list)
    separator: str = ";"
    regex: str = "(.*)"
    modulus: int = 0
    target_label: str = ""
    replacement: str = "$1"
    action: str = "replace"


@dataclass
class StaticConfig:
    targets: list[str] = field(default_factory=list)
    labels: dict[str, str] = field(default_factory=dict)


@dataclass
class FileSDConfig:
    files: list[str] = field(default_factory=list)
    refresh_interval_ms: int = 300_000


@dataclass
class HTTPSDConfig:
    url: str = ""
    refresh_interval_ms: int = 60_000
    http: HTTPClientConfig = field(default_factory=HTTPClientConfig)


@dataclass
class ScrapeConfig:
    job_name: str
    scrape_interval_ms: int = DEFAULT_SCRAPE_INTERVAL_MS
    scrape_timeout_ms: int = DEFAULT_SCRAPE_TIMEOUT_MS
    metrics_path: str = "/metrics"
    scheme: str = "http"
    params: dict[str, list[str]] = field(default_factory=dict)
    honor_labels: bool = False
    honor_timestamps: bool = True
    track_timestamps_staleness: bool = False
    http: HTTPClientConfig = field(default_factory=HTTPClientConfig)
    body_size_limit: int = 0  # bytes; 0 = no limit
    sample_limit: int = 0
    label_limit: int = 0
    label_name_length_limit: int = 0
    label_value_length_limit: int = 0
    target_limit: int = 0
    scrape_protocols: list[str] = field(default_factory=list)
    fallback_scrape_protocol: str = ""
    enable_compression: bool = True
    keep_dropped_targets: int = 0
    static_configs: list[StaticConfig] = field(default_factory=list)
    file_sd_configs: list[FileSDConfig] = field(default_factory=list)
    http_sd_configs: list[HTTPSDConfig] = field(default_factory=list)
    relabel_configs: list[RelabelConfig] = field(default_factory=list)
    metric_relabel_configs: list[RelabelConfig] = field(default_factory=list)


@dataclass
class GlobalConfig:
    scrape_interval_ms: int = DEFAULT_SCRAPE_INTERVAL_MS
    scrape_timeout_ms: int = DEFAULT_SCRAPE_TIMEOUT_MS
    evaluation_interval_ms: int = DEFAULT_EVALUATION_INTERVAL_MS
    external_labels: dict[str, str] = field(default_factory=dict)
    query_log_file: str = ""
    rule_query_offset_ms: int = 0
    scrape_protocols: list[str] = field(default_factory=list)
    # Defaults every scrape config inherits when it leaves the field at 0.
    body_size_limit: int = 0
    sample_limit: int = 0
    target_limit: int = 0
    label_limit: int = 0
    label_name_length_limit: int = 0
    label_value_length_limit: int = 0
    keep_dropped_targets: int = 0
    # "legacy" (classic [a-zA-Z_][a-zA-Z0-9_]* label names, the default here) or "utf8".
    metric_name_validation_scheme: str = ""


@dataclass
class PrometheusConfig:
    """The contents of a ``prometheus.yml``."""

    global_: GlobalConfig = field(default_factory=GlobalConfig)
    scrape_configs: list[ScrapeConfig] = field(default_factory=list)
    rule_files: list[str] = field(default_factory=list)
    # Kept as read; the alerting and remote-write issues give them types.
    alerting: dict[str, Any] = field(default_factory=dict)
    remote_write: list[dict[str, Any]] = field(default_factory=list)
    remote_read: list[dict[str, Any]] = field(default_factory=list)
    storage: dict[str, Any] = field(default_factory=dict)
    # Globs of extra files holding more scrape_configs (already merged into scrape_configs).
    scrape_config_files: list[str] = field(default_factory=list)
    # Sections tidewatch accepts but does not act on (runtime, tracing, otlp), as read.
    other_sections: dict[str, Any] = field(default_factory=dict)


@dataclass
class ServerConfig:
    listen: str = DEFAULT_LISTEN
    external_url: str = ""
    read_timeout_ms: int = 300_000
    max_request_bytes: int = 32 * 1024 * 1024
    query_timeout_ms: int = 120_000
    query_max_samples: int = 50_000_000
    lookback_delta_ms: int = 300_000


@dataclass
class StorageConfig:
    path: str = ""  # "" = the documented default (see tidewatch.config.defaults)
    retention_time_ms: int = DEFAULT_RETENTION_MS
    retention_size_bytes: int = 0  # 0 = no size limit
    wal_sync_interval_ms: int = DEFAULT_WAL_SYNC_INTERVAL_MS
    out_of_order_time_window_ms: int = 0
    block_duration_ms: int = 2 * 3600 * 1000


@dataclass
class Config:
    """The whole of ``tidewatch.yml`` (a bare ``prometheus.yml`` fills ``prometheus``)."""

    server: ServerConfig = field(default_factory=ServerConfig)
    storage: StorageConfig = field(default_factory=StorageConfig)
    prometheus: PrometheusConfig = field(default_factory=PrometheusConfig)
    # Where the config came from ("" for the built-in default); relative paths
    # inside it (file_sd, rule_files) resolve against this file's directory.
    source_path: str = ""
    # The original YAML text, shown (with secrets masked) by /api/v1/status/config.
    source_text: str = ""
    # Sections later parts own (alertmanager, logs, dashboards, auth, rules), as read.
    sections: dict[str, Any] = field(default_factory=dict)
