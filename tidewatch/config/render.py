"""The effective configuration as prometheus.yml-style YAML, for
``/api/v1/status/config``: every default filled in, every secret shown as ``<secret>``,
keys in Prometheus's order so the output reads like Prometheus's own."""

from __future__ import annotations

from typing import Any

import yaml

from tidewatch.config.model import (
    Config,
    FileSDConfig,
    GlobalConfig,
    HTTPClientConfig,
    HTTPSDConfig,
    RelabelConfig,
    ScrapeConfig,
    Secret,
    StaticConfig,
    TLSConfig,
)
from tidewatch.config.size import format_size
from tidewatch.duration import format_duration

SECRET = "<secret>"
# Secret-bearing keys inside sections kept raw (alerting, remote_write, ...).
_SECRET_KEYS = frozenset(
    {"password", "credentials", "bearer_token", "client_secret", "secret_key", "secrets"}
)

try:
    _Dumper: Any = yaml.CSafeDumper
except AttributeError:  # pragma: no cover - libyaml missing
    _Dumper = yaml.SafeDumper

_LIMITS = (
    "sample_limit",
    "target_limit",
    "label_limit",
    "label_name_length_limit",
    "label_value_length_limit",
    "keep_dropped_targets",
)


def config_to_yaml(cfg: Config) -> str:
    """The prometheus section of ``cfg`` as YAML with secrets masked."""
    p = cfg.prometheus
    doc: dict[str, Any] = {"global": _global(p.global_)}
    for name, section in p.other_sections.items():
        doc[name] = mask_secrets(section)
    if p.alerting:
        doc["alerting"] = mask_secrets(p.alerting)
    if p.rule_files:
        doc["rule_files"] = list(p.rule_files)
    if p.scrape_config_files:
        doc["scrape_config_files"] = list(p.scrape_config_files)
    if p.scrape_configs:
        doc["scrape_configs"] = [_scrape(sc) for sc in p.scrape_configs]
    if p.storage:
        doc["storage"] = mask_secrets(p.storage)
    if p.remote_write:
        doc["remote_write"] = mask_secrets(p.remote_write)
    if p.remote_read:
        doc["remote_read"] = mask_secrets(p.remote_read)
    return yaml.dump(
        doc,
        Dumper=_Dumper,
        sort_keys=False,
        default_flow_style=False,
        allow_unicode=True,
        width=1 << 16,
    )


def mask_secrets(value: Any, parent: str = "") -> Any:
    """A copy of a raw section with secret values replaced by ``<secret>``."""
    if isinstance(value, dict):
        out: dict[Any, Any] = {}
        for k, v in value.items():
            secret = k in _SECRET_KEYS or (k == "key" and parent == "tls_config")
            out[k] = SECRET if secret and v not in (None, "") else mask_secrets(v, str(k))
        return out
    if isinstance(value, list):
        return [mask_secrets(v, parent) for v in value]
    return value


def _global(g: GlobalConfig) -> dict[str, Any]:
    out: dict[str, Any] = {
        "scrape_interval": format_duration(g.scrape_interval_ms),
        "scrape_timeout": format_duration(g.scrape_timeout_ms),
    }
    if g.scrape_protocols:
        out["scrape_protocols"] = list(g.scrape_protocols)
    out["evaluation_interval"] = format_duration(g.evaluation_interval_ms)
    if g.rule_query_offset_ms:
        out["rule_query_offset"] = format_duration(g.rule_query_offset_ms)
    if g.query_log_file:
        out["query_log_file"] = g.query_log_file
    if g.external_labels:
        out["external_labels"] = dict(g.external_labels)
    if g.body_size_limit:
        out["body_size_limit"] = format_size(g.body_size_limit)
    for name in _LIMITS:
        if getattr(g, name):
            out[name] = getattr(g, name)
    if g.metric_name_validation_scheme:
        out["metric_name_validation_scheme"] = g.metric_name_validation_scheme
    return out


def _scrape(sc: ScrapeConfig) -> dict[str, Any]:
    out: dict[str, Any] = {"job_name": sc.job_name}
    if sc.honor_labels:
        out["honor_labels"] = True
    out["honor_timestamps"] = sc.honor_timestamps
    out["track_timestamps_staleness"] = sc.track_timestamps_staleness
    if sc.params:
        out["params"] = {k: list(v) for k, v in sc.params.items()}
    out["scrape_interval"] = format_duration(sc.scrape_interval_ms)
    out["scrape_timeout"] = format_duration(sc.scrape_timeout_ms)
    if sc.scrape_protocols:
        out["scrape_protocols"] = list(sc.scrape_protocols)
    if sc.fallback_scrape_protocol:
        out["fallback_scrape_protocol"] = sc.fallback_scrape_protocol
    out["metrics_path"] = sc.metrics_path
    out["scheme"] = sc.scheme
    out["enable_compression"] = sc.enable_compression
    if sc.body_size_limit:
        out["body_size_limit"] = format_size(sc.body_size_limit)
    for name in _LIMITS:
        if getattr(sc, name):
            out[name] = getattr(sc, name)
    out.update(http_client_to_dict(sc.http))
    if sc.relabel_configs:
        out["relabel_configs"] = [_relabel(r) for r in sc.relabel_configs]
    if sc.metric_relabel_configs:
        out["metric_relabel_configs"] = [_relabel(r) for r in sc.metric_relabel_configs]
    if sc.file_sd_configs:
        out["file_sd_configs"] = [_file_sd(f) for f in sc.file_sd_configs]
    if sc.http_sd_configs:
        out["http_sd_configs"] = [_http_sd(h) for h in sc.http_sd_configs]
    if sc.static_configs:
        out["static_configs"] = [_static(s) for s in sc.static_configs]
    return out


def _secret(value: Secret | None) -> str:
    return SECRET if value is not None and value.value else ""


def http_client_to_dict(h: HTTPClientConfig) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if h.basic_auth is not None:
        ba: dict[str, Any] = {}
        for name, value in (
            ("username", h.basic_auth.username),
            ("username_file", h.basic_auth.username_file),
            ("password", _secret(h.basic_auth.password)),
            ("password_file", h.basic_auth.password_file),
        ):
            if value:
                ba[name] = value
        out["basic_auth"] = ba
    if h.authorization is not None:
        auth: dict[str, Any] = {"type": h.authorization.type}
        if h.authorization.credentials is not None:
            auth["credentials"] = _secret(h.authorization.credentials)
        if h.authorization.credentials_file:
            auth["credentials_file"] = h.authorization.credentials_file
        out["authorization"] = auth
    tls = _tls(h.tls_config)
    if tls:
        out["tls_config"] = tls
    if h.proxy_url:
        out["proxy_url"] = h.proxy_url
    if h.no_proxy:
        out["no_proxy"] = h.no_proxy
    if h.proxy_from_environment:
        out["proxy_from_environment"] = True
    out["follow_redirects"] = h.follow_redirects
    out["enable_http2"] = h.enable_http2
    return out


def _tls(t: TLSConfig) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in ("ca", "ca_file", "cert", "cert_file"):
        if getattr(t, name):
            out[name] = getattr(t, name)
    if t.key is not None:
        out["key"] = _secret(t.key)
    for name in ("key_file", "server_name"):
        if getattr(t, name):
            out[name] = getattr(t, name)
    if out or t.insecure_skip_verify:
        out["insecure_skip_verify"] = t.insecure_skip_verify
    for name in ("min_version", "max_version"):
        if getattr(t, name):
            out[name] = getattr(t, name)
    return out


def _relabel(r: RelabelConfig) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if r.source_labels:
        out["source_labels"] = list(r.source_labels)
    out["separator"] = r.separator
    out["regex"] = r.regex
    if r.modulus:
        out["modulus"] = r.modulus
    if r.target_label:
        out["target_label"] = r.target_label
    out["replacement"] = r.replacement
    out["action"] = r.action
    return out


def _file_sd(f: FileSDConfig) -> dict[str, Any]:
    return {"files": list(f.files), "refresh_interval": format_duration(f.refresh_interval_ms)}


def _http_sd(h: HTTPSDConfig) -> dict[str, Any]:
    out = http_client_to_dict(h.http)
    out["refresh_interval"] = format_duration(h.refresh_interval_ms)
    out["url"] = h.url
    return out


def _static(s: StaticConfig) -> dict[str, Any]:
    out: dict[str, Any] = {"targets": list(s.targets)}
    if s.labels:
        out["labels"] = dict(s.labels)
    return out
