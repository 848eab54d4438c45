"""Loading ``tidewatch.yml`` (or a bare ``prometheus.yml``) into a :class:`Config`.

A tidewatch.yml has ``server``, ``storage`` and ``prometheus`` sections (the last one
inline or a path to a prometheus.yml), plus sections reserved for later parts
(``alertmanager``, ``logs``, ``dashboards``, ``auth``, ``rules``) that are kept as read.
Which of the two a file is follows from its top-level keys. See docs/configuration.md.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Callable, Mapping
from pathlib import Path

from yaml.nodes import Node, ScalarNode

from tidewatch.config.defaults import (
    DEFAULT_SELF_SCRAPE_INTERVAL_MS,
    DEFAULT_STORAGE_PATH,
    NODE_COLLECTOR_PATH,
)
from tidewatch.config.errors import ConfigError
from tidewatch.config.model import (
    DEFAULT_RETENTION_MS,
    Config,
    GlobalConfig,
    PrometheusConfig,
    ScrapeConfig,
    ServerConfig,
    StaticConfig,
    StorageConfig,
)
from tidewatch.config.prometheus import (
    DEFAULT_SCRAPE_PROTOCOLS,
    TOP_LEVEL_FIELDS,
    PrometheusDecoder,
    PrometheusStorageOverrides,
    path_resolver,
)
from tidewatch.config.render import config_to_yaml
from tidewatch.config.size import SizeError, parse_size
from tidewatch.config.yamlnodes import Ctx, MapView, compose, is_null
from tidewatch.duration import DurationError, parse_duration

# The CLI and the web server import these from here.
__all__ = [
    "FLAG_NAMES",
    "ConfigError",
    "apply_flag_overrides",
    "apply_retention_flag",
    "config_to_yaml",
    "default_config",
    "load_config",
    "load_config_text",
    "parse_size",
]

RESERVED_SECTIONS = ("alertmanager", "logs", "dashboards", "auth", "rules")
TIDEWATCH_FIELDS = frozenset({"server", "storage", "prometheus", *RESERVED_SECTIONS})
_SERVER_FIELDS = frozenset(
    {
        "listen",
        "external_url",
        "read_timeout",
        "query_timeout",
        "query_max_samples",
        "lookback_delta",
        "max_request_bytes",
    }
)
_STORAGE_FIELDS = frozenset(
    {
        "path",
        "retention_time",
        "retention_size",
        "wal_sync_interval",
        "out_of_order_time_window",
        "block_duration",
    }
)
# Only in a prometheus.yml ("storage" is in both, with different contents).
_PROMETHEUS_ONLY = TOP_LEVEL_FIELDS - {"storage"}
FLAG_SOURCE = "<command line>"


def load_config(path: str) -> Config:
    """Load a tidewatch.yml or a bare prometheus.yml from ``path``."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(path, 0, "", f"cannot read config file: {exc.strerror}") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(path, 0, "", f"config file is not UTF-8: {exc.reason}") from None
    return load_config_text(text, path)


def load_config_text(text: str, source_path: str = "<config>") -> Config:
    """Load config text; relative paths inside resolve against ``source_path``'s folder
    (or the working directory when ``source_path`` is a ``<placeholder>``)."""
    # Absolute, so later joins (by ingest, rules) with any base leave the paths alone.
    base_dir = "" if source_path.startswith("<") else os.path.dirname(os.path.abspath(source_path))
    ctx = Ctx(source_path)
    root = compose(text, source_path)
    cfg = Config(source_path=source_path, source_text=text)
    if _is_tidewatch_file(ctx, root):
        _decode_tidewatch(ctx, root, base_dir, cfg)
    else:
        decoder = PrometheusDecoder(ctx, base_dir)
        cfg.prometheus = decoder.decode(root)
        # retention_time 0 here so that a lone storage.tsdb.retention.size drops the time default.
        cfg.storage = _storage_from_prometheus(
            StorageConfig(retention_time_ms=0), decoder.storage, explicit=set()
        )
    if not cfg.storage.path:
        cfg.storage.path = DEFAULT_STORAGE_PATH
    return cfg


def _is_tidewatch_file(ctx: Ctx, root: Node | None) -> bool:
    if is_null(root):
        return False
    view = ctx.as_map(root, "", None)
    keys = set(view.names())
    if keys & TIDEWATCH_FIELDS - {"storage"}:
        return True
    if keys & _PROMETHEUS_ONLY:
        return False
    if "storage" in keys:
        # Prometheus's storage section holds tsdb/exemplars; tidewatch's holds path etc.
        storage_keys = set(view.map("storage").names())
        return not (storage_keys and storage_keys <= {"tsdb", "exemplars"})
    return True  # unknown keys only: report them against the tidewatch.yml fields


def _decode_tidewatch(ctx: Ctx, root: Node | None, base_dir: str, cfg: Config) -> None:
    top_probe = MapView(ctx, root, "", None)
    for key in top_probe.names():
        if key in _PROMETHEUS_ONLY:
            raise ConfigError(
                ctx.file,
                _key_line(top_probe, key),
                key,
                f'unknown field "{key}" (prometheus.yml settings go under "prometheus:")',
            )
        if key not in TIDEWATCH_FIELDS:
            # A near miss of either file's keys ("scrape_config") gets a suggestion.
            known = sorted(TIDEWATCH_FIELDS | TOP_LEVEL_FIELDS)
            close = difflib.get_close_matches(key, known, n=1, cutoff=0.75)
            hint = f' (did you mean "{close[0]}"?)' if close else ""
            raise ConfigError(
                ctx.file, _key_line(top_probe, key), key, f'unknown field "{key}"{hint}'
            )
    top = MapView(ctx, root, "", TIDEWATCH_FIELDS)
    resolve = path_resolver(base_dir)
    cfg.server = _decode_server(top.map("server", _SERVER_FIELDS))
    storage_view = top.map("storage", _STORAGE_FIELDS)
    storage, explicit = _decode_storage(storage_view, resolve)
    overrides = PrometheusStorageOverrides()
    if top.has("prometheus"):
        cfg.prometheus, overrides = _decode_prometheus_section(ctx, top, base_dir)
    cfg.storage = _storage_from_prometheus(storage, overrides, explicit=explicit)
    for name in RESERVED_SECTIONS:
        if top.has(name):
            cfg.sections[name] = top.raw(name)


def _key_line(view: MapView, key: str) -> int:
    return int(view.key_node(key).start_mark.line) + 1


def _decode_prometheus_section(
    ctx: Ctx, top: MapView, base_dir: str
) -> tuple[PrometheusConfig, PrometheusStorageOverrides]:
    node = top.node("prometheus")
    if isinstance(node, ScalarNode):  # a path to a prometheus.yml
        rel = ctx.as_str(node, "prometheus")
        path = path_resolver(base_dir)(rel)
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            raise top.error("prometheus", f"cannot read {path}: {exc.strerror}") from None
        sub_ctx = Ctx(path)
        decoder = PrometheusDecoder(sub_ctx, os.path.dirname(path))
        return decoder.decode(compose(text, path)), decoder.storage
    decoder = PrometheusDecoder(ctx, base_dir)
    return decoder.decode(node, "prometheus"), decoder.storage


def _decode_server(v: MapView) -> ServerConfig:
    d = ServerConfig()
    server = ServerConfig(
        listen=v.string("listen", d.listen),
        external_url=v.string("external_url"),
        read_timeout_ms=v.duration("read_timeout", d.read_timeout_ms),
        query_timeout_ms=v.duration("query_timeout", d.query_timeout_ms),
        query_max_samples=v.uint("query_max_samples", d.query_max_samples),
        lookback_delta_ms=v.duration("lookback_delta", d.lookback_delta_ms),
        max_request_bytes=v.size("max_request_bytes", d.max_request_bytes, bare_int_is_bytes=True),
    )
    problem = check_listen_address(server.listen)
    if problem:
        raise v.error("listen", problem)
    if server.external_url and not server.external_url.startswith(("http://", "https://")):
        raise v.error("external_url", "external_url must start with http:// or https://")
    if server.lookback_delta_ms <= 0:
        raise v.error("lookback_delta", "lookback_delta must be greater than 0")
    return server


def _decode_storage(v: MapView, resolve: Callable[[str], str]) -> tuple[StorageConfig, set[str]]:
    d = StorageConfig()
    storage = StorageConfig(
        path=resolve(v.string("path")),
        retention_time_ms=v.duration("retention_time", 0),
        retention_size_bytes=v.size("retention_size", 0, bare_int_is_bytes=True),
        wal_sync_interval_ms=v.duration("wal_sync_interval", d.wal_sync_interval_ms),
        out_of_order_time_window_ms=v.duration("out_of_order_time_window", 0),
        block_duration_ms=v.duration("block_duration", d.block_duration_ms),
    )
    if storage.block_duration_ms <= 0:
        raise v.error("block_duration", "block_duration must be greater than 0")
    explicit = {
        k for k in ("retention_time", "retention_size", "out_of_order_time_window") if v.has(k)
    }
    return storage, explicit


def _storage_from_prometheus(
    storage: StorageConfig, prom: PrometheusStorageOverrides, *, explicit: set[str]
) -> StorageConfig:
    """Fill what tidewatch's storage section left unset from prometheus.yml's
    ``storage.tsdb``, then apply Prometheus's retention default."""
    if "out_of_order_time_window" not in explicit and prom.out_of_order_time_window_ms is not None:
        storage.out_of_order_time_window_ms = prom.out_of_order_time_window_ms
    if "retention_time" not in explicit and prom.retention_time_ms is not None:
        storage.retention_time_ms = prom.retention_time_ms
    if "retention_size" not in explicit and prom.retention_size_bytes is not None:
        storage.retention_size_bytes = prom.retention_size_bytes
    apply_retention_default(storage)
    return storage


def apply_retention_default(storage: StorageConfig) -> None:
    """Prometheus: with neither a time nor a size limit, keep 15 days."""
    if storage.retention_time_ms == 0 and storage.retention_size_bytes == 0:
        storage.retention_time_ms = DEFAULT_RETENTION_MS


def check_listen_address(listen: str) -> str:
    """ "" when ``host:port`` is usable, else what is wrong with it."""
    host, sep, port = listen.rpartition(":")
    if not sep:
        return f'listen address "{listen}" needs a port (host:port)'
    if host.startswith("[") != host.endswith("]"):
        return f'listen address "{listen}" has an unbalanced IPv6 bracket'
    if not port.isdigit() or not 0 <= int(port) <= 65535:
        return f'listen address "{listen}" has an invalid port "{port}"'
    return ""


# --- the built-in config ------------------------------------------------------


def default_config(listen: str) -> Config:
    """What tidewatch runs with no config file: scrape itself and its host collector
    every 15 s, keep data in ./data for 15 days."""
    target = _scrape_target(listen)
    interval = DEFAULT_SELF_SCRAPE_INTERVAL_MS
    g = GlobalConfig(
        scrape_interval_ms=interval,
        scrape_timeout_ms=min(GlobalConfig().scrape_timeout_ms, interval),
        evaluation_interval_ms=interval,
    )

    def job(name: str, path: str) -> ScrapeConfig:
        return ScrapeConfig(
            job_name=name,
            scrape_interval_ms=g.scrape_interval_ms,
            scrape_timeout_ms=g.scrape_timeout_ms,
            metrics_path=path,
            scrape_protocols=list(DEFAULT_SCRAPE_PROTOCOLS),
            static_configs=[StaticConfig(targets=[target])],
        )

    return Config(
        server=ServerConfig(listen=listen),
        storage=StorageConfig(path=DEFAULT_STORAGE_PATH),
        prometheus=PrometheusConfig(
            global_=g,
            scrape_configs=[job("tidewatch", "/metrics"), job("node", NODE_COLLECTOR_PATH)],
        ),
    )


def _scrape_target(listen: str) -> str:
    """A wildcard listen address is scraped through localhost."""
    host, _, port = listen.rpartition(":")
    if host in ("", "0.0.0.0", "[::]", "::"):
        host = "localhost"
    return f"{host}:{port}"


# --- command-line overrides -----------------------------------------------------

# Prometheus flag name (without "--") -> what it sets.
FLAG_NAMES = (
    "web.listen-address",
    "web.external-url",
    "web.read-timeout",
    "storage.tsdb.path",
    "storage.tsdb.retention",
    "storage.tsdb.retention.time",
    "storage.tsdb.retention.size",
    "query.timeout",
    "query.max-samples",
    "query.lookback-delta",
)


def apply_flag_overrides(cfg: Config, flags: Mapping[str, str | None]) -> None:
    """Apply Prometheus-style command-line flags over a loaded config, in place.

    Keys are flag names without dashes (``storage.tsdb.retention.time``); ``None`` values
    are skipped, so an argparse namespace's ``vars()`` mapped to these names can be passed
    as is. A bad value raises ConfigError naming the flag.
    """
    for name, value in flags.items():
        if value is None:
            continue
        if name not in FLAG_NAMES:
            raise ConfigError(FLAG_SOURCE, 0, f"--{name}", "unknown flag")
        _apply_flag(cfg, name, value)
    apply_retention_default(cfg.storage)


def apply_retention_flag(cfg: Config, time: str | None = None, size: str | None = None) -> None:
    """``--storage.tsdb.retention.time`` / ``.size``: as in Prometheus, setting only a size
    drops the 15-day time default."""
    if size is not None and time is None and cfg.storage.retention_time_ms == DEFAULT_RETENTION_MS:
        cfg.storage.retention_time_ms = 0
    apply_flag_overrides(
        cfg, {"storage.tsdb.retention.time": time, "storage.tsdb.retention.size": size}
    )


def _apply_flag(cfg: Config, name: str, value: str) -> None:
    field = f"--{name}"
    try:
        if name == "web.listen-address":
            problem = check_listen_address(value)
            if problem:
                raise ConfigError(FLAG_SOURCE, 0, field, problem)
            cfg.server.listen = value
        elif name == "web.external-url":
            cfg.server.external_url = value
        elif name == "web.read-timeout":
            cfg.server.read_timeout_ms = parse_duration(value)
        elif name == "storage.tsdb.path":
            cfg.storage.path = value
        elif name in ("storage.tsdb.retention", "storage.tsdb.retention.time"):
            cfg.storage.retention_time_ms = parse_duration(value)
        elif name == "storage.tsdb.retention.size":
            cfg.storage.retention_size_bytes = parse_size(value)
        elif name == "query.timeout":
            cfg.server.query_timeout_ms = parse_duration(value)
        elif name == "query.max-samples":
            if not value.isdigit():
                raise ConfigError(FLAG_SOURCE, 0, field, f'expected a whole number, got "{value}"')
            cfg.server.query_max_samples = int(value)
        elif name == "query.lookback-delta":
            cfg.server.lookback_delta_ms = parse_duration(value)
    except (DurationError, SizeError) as exc:
        raise ConfigError(FLAG_SOURCE, 0, field, str(exc)) from None
