"""The agent's configuration: a Promtail config file as it is (``server``, ``positions``,
``clients``, ``scrape_configs``, ``target_config``), or the ``logs:`` section of
tidewatch.yml (the same keys; there lines go to the store, and ``clients`` are where the
server forwards everything it stores, see :mod:`tidewatch.logs.forward`).

Every error names the file, the line and the field. Relative paths (positions file)
are relative to the config file.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from yaml.nodes import Node

from tidewatch.config.errors import ConfigError
from tidewatch.config.model import RelabelConfig
from tidewatch.config.prometheus import path_resolver
from tidewatch.config.relabel import decode_relabel_list
from tidewatch.config.yamlnodes import Ctx, MapView, compose
from tidewatch.logs.agent.stages import Pipeline, build_pipeline

DEFAULT_SYNC_PERIOD_MS = 10_000
DEFAULT_TARGET_SYNC_MS = 1_000  # glob re-scan (Promtail: 10s, but also inotify)
DEFAULT_POLL_MS = 250

_TOP_FIELDS = frozenset(
    {
        "server",
        "positions",
        "clients",
        "client",
        "scrape_configs",
        "target_config",
        "limits_config",
        "options",
        "tracing",
        "global",
        "wal",
    }
)
# The logs: section of tidewatch.yml also holds the log store's settings; the agent
# reads only its own keys from it.
_LOGS_AGENT_FIELDS = (
    "agent_limits_config",
    "positions",
    "clients",
    "scrape_configs",
    "target_config",
    "file_watch_config",
)
_SCRAPE_FIELDS = frozenset(
    {
        "job_name",
        "static_configs",
        "relabel_configs",
        "pipeline_stages",
        "encoding",
        "decompression",
    }
)
_UNSUPPORTED_SD = (
    "journal",
    "syslog",
    "gcplog",
    "windows_events",
    "kafka",
    "gelf",
    "cloudflare",
    "heroku_drain",
    "loki_push_api",
    "azure_event_hubs",
    "kubernetes_sd_configs",
    "docker_sd_configs",
    "consul_sd_configs",
    "consulagent_sd_configs",
    "file_sd_configs",
)
_CLIENT_FIELDS = frozenset(
    {
        "url",
        "tenant_id",
        "batchwait",
        "batchsize",
        "timeout",
        "backoff_config",
        "external_labels",
        "headers",
        "basic_auth",
        "bearer_token",
        "bearer_token_file",
        "tls_config",
        "proxy_url",
        "drop_rate_limited_batches",
        "format",
        "name",
    }
)


@dataclass
class PositionsConfig:
    filename: str = ""  # "" = the runner's default (data dir) or none
    sync_period_ms: int = DEFAULT_SYNC_PERIOD_MS
    ignore_invalid_yaml: bool = False


@dataclass
class ClientConfig:
    url: str
    tenant_id: str = ""
    batch_wait_ms: int = 1_000
    batch_size: int = 1 << 20
    timeout_ms: int = 10_000
    min_backoff_ms: int = 500
    max_backoff_ms: int = 300_000
    max_retries: int = 10
    external_labels: dict[str, str] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    basic_auth: tuple[str, str] | None = None
    bearer_token: str = ""
    insecure_skip_verify: bool = False
    ca_file: str = ""
    format: str = "protobuf"  # or "json"; Promtail always sends protobuf


@dataclass
class FileTargetGroup:
    """One ``static_configs`` entry: labels with ``__path__`` (a glob)."""

    labels: dict[str, str]


@dataclass
class AgentScrapeConfig:
    job_name: str
    groups: list[FileTargetGroup]
    relabel_configs: list[RelabelConfig]
    # Built anew for each run, so stateful stages (multiline) start empty.
    make_pipeline: Callable[[], Pipeline]
    encoding: str = "utf-8"


@dataclass
class LimitsConfig:
    """Promtail's ``limits_config`` (applied to every line after its pipeline)."""

    readline_rate_enabled: bool = False
    readline_rate: float = 10_000.0
    readline_burst: int = 10_000
    readline_rate_drop: bool = True
    max_line_size: int = 0  # bytes; 0 = no limit
    max_line_size_truncate: bool = False


@dataclass
class AgentConfig:
    scrape_configs: list[AgentScrapeConfig] = field(default_factory=list)
    positions: PositionsConfig = field(default_factory=PositionsConfig)
    clients: list[ClientConfig] = field(default_factory=list)
    limits: LimitsConfig = field(default_factory=LimitsConfig)
    target_sync_ms: int = DEFAULT_TARGET_SYNC_MS
    poll_ms: int = DEFAULT_POLL_MS
    http_listen_address: str = ""
    http_listen_port: int = 0  # Promtail's server.http_listen_port (0: none)
    file: str = ""


# ---------------------------------------------------------------- decoding


def _decode_positions(view: MapView, resolve: Callable[[str], str]) -> PositionsConfig:
    return PositionsConfig(
        filename=resolve(view.string("filename")),
        sync_period_ms=view.duration("sync_period", DEFAULT_SYNC_PERIOD_MS),
        ignore_invalid_yaml=view.boolean("ignore_invalid_yaml", False),
    )


def _decode_client(ctx: Ctx, node: Node, path: str, resolve: Callable[[str], str]) -> ClientConfig:
    view = ctx.as_map(node, path, _CLIENT_FIELDS)
    url = view.string("url")
    if not url:
        raise view.error("url", "client needs a url")
    if not url.startswith(("http://", "https://")):
        raise view.error("url", f'unsupported protocol scheme in "{url}"')
    backoff = view.map("backoff_config", {"min_period", "max_period", "max_retries"})
    basic = view.map("basic_auth", {"username", "password", "password_file"})
    auth: tuple[str, str] | None = None
    if basic.names():
        password = basic.string("password")
        if basic.has("password_file"):
            password = _read_secret(basic, "password_file", resolve)
        auth = (basic.string("username"), password)
    token = view.string("bearer_token")
    if view.has("bearer_token_file"):
        token = _read_secret(view, "bearer_token_file", resolve)
    tls = view.map(
        "tls_config", {"insecure_skip_verify", "ca_file", "cert_file", "key_file", "server_name"}
    )
    fmt = view.string("format", "protobuf")
    if fmt not in ("protobuf", "json"):
        raise view.error("format", f'format must be "protobuf" or "json", not "{fmt}"')
    return ClientConfig(
        url=url,
        tenant_id=view.string("tenant_id"),
        batch_wait_ms=view.duration("batchwait", 1_000),
        batch_size=view.uint("batchsize", 1 << 20),
        timeout_ms=view.duration("timeout", 10_000),
        min_backoff_ms=backoff.duration("min_period", 500),
        max_backoff_ms=backoff.duration("max_period", 300_000),
        max_retries=backoff.uint("max_retries", 10),
        external_labels=view.str_map("external_labels"),
        headers=view.str_map("headers"),
        basic_auth=auth,
        bearer_token=token,
        insecure_skip_verify=tls.boolean("insecure_skip_verify", False),
        ca_file=resolve(tls.string("ca_file")),
        format=fmt,
    )


def _read_secret(view: MapView, key: str, resolve: Callable[[str], str]) -> str:
    path = resolve(view.string(key))
    try:
        return Path(path).read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise view.error(key, f"cannot read {path}: {exc.strerror}") from None


def _decode_group(ctx: Ctx, node: Node, path: str) -> FileTargetGroup:
    view = ctx.as_map(node, path, {"targets", "labels"})
    view.str_list("targets")  # Promtail ignores targets for files; checked for type only
    # No __path__ is not an error: relabeling may set it (Promtail skips such targets).
    return FileTargetGroup(view.str_map("labels"))


def _decode_scrape(ctx: Ctx, node: Node, path: str) -> AgentScrapeConfig:
    probe = ctx.as_map(node, path)
    for sd in _UNSUPPORTED_SD:
        if probe.has(sd):
            raise probe.error(sd, f"{sd} is not supported by tidewatch's agent (files only)")
    view = ctx.as_map(node, path, _SCRAPE_FIELDS)
    job = view.string("job_name")
    if not job:
        raise view.error("job_name", "job_name is required")
    groups = view.list_of(
        "static_configs", lambda n, p: _decode_group(ctx, n, p), what="static config"
    )
    relabel = decode_relabel_list(ctx, view, "relabel_configs", utf8=False)
    stages_node = view.node("pipeline_stages") if view.has("pipeline_stages") else None
    stages_path = view.path_of("pipeline_stages")
    build_pipeline(ctx, stages_node, stages_path)  # validate now; errors name the line

    def make() -> Pipeline:
        return build_pipeline(ctx, stages_node, stages_path)

    encoding = view.string("encoding", "utf-8") or "utf-8"
    try:
        newline = "\n".encode(encoding)
    except LookupError:
        raise view.error("encoding", f"unknown encoding {encoding!r}") from None
    if newline != b"\n":  # lines are split on the byte 0x0A before decoding
        raise view.error(
            "encoding", f"encoding {encoding!r} is not supported (not ASCII-compatible)"
        )
    return AgentScrapeConfig(job, groups, relabel, make, encoding)


def _decode_common(
    ctx: Ctx, view: MapView, base_dir: str, cfg: AgentConfig, limits_key: str = "limits_config"
) -> None:
    resolve = path_resolver(base_dir)
    cfg.positions = _decode_positions(
        view.map("positions", {"filename", "sync_period", "ignore_invalid_yaml"}), resolve
    )
    cfg.clients = view.list_of(
        "clients", lambda n, p: _decode_client(ctx, n, p, resolve), what="client"
    )
    scrapes = view.list_of(
        "scrape_configs", lambda n, p: _decode_scrape(ctx, n, p), what="scrape config"
    )
    seen: dict[str, int] = {}
    for i, sc in enumerate(scrapes):
        if sc.job_name in seen:
            node, p = view.seq("scrape_configs")[i]
            raise ctx.error(node, p, f'found multiple scrape configs with job name "{sc.job_name}"')
        seen[sc.job_name] = i
    cfg.scrape_configs = scrapes
    limits = view.map(
        limits_key,
        {
            "readline_rate_enabled",
            "readline_rate",
            "readline_burst",
            "readline_rate_drop",
            "max_streams",
            "max_line_size",
            "max_line_size_truncate",
        },
    )
    cfg.limits = LimitsConfig(
        readline_rate_enabled=limits.boolean("readline_rate_enabled", False),
        readline_rate=limits.number("readline_rate", 10_000.0),
        readline_burst=limits.uint("readline_burst", 10_000),
        readline_rate_drop=limits.boolean("readline_rate_drop", True),
        max_line_size=limits.size("max_line_size", 0, bare_int_is_bytes=True),
        max_line_size_truncate=limits.boolean("max_line_size_truncate", False),
    )
    if cfg.limits.readline_rate_enabled and cfg.limits.readline_rate <= 0:
        raise limits.error("readline_rate", "readline_rate must be positive")
    target = view.map("target_config", {"sync_period", "stdin"})
    cfg.target_sync_ms = (
        target.duration("sync_period", DEFAULT_TARGET_SYNC_MS) or DEFAULT_TARGET_SYNC_MS
    )


def _file_watch(view: MapView, cfg: AgentConfig) -> None:
    watch = view.map("file_watch_config", {"min_poll_frequency", "max_poll_frequency"})
    cfg.poll_ms = watch.duration("min_poll_frequency", DEFAULT_POLL_MS) or DEFAULT_POLL_MS


def decode_promtail(text: str, file: str) -> AgentConfig:
    """A Promtail config file's text."""
    ctx = Ctx(file)
    root = compose(text, file)
    view = MapView(ctx, root, "", _TOP_FIELDS)
    cfg = AgentConfig(file=file)
    _decode_common(ctx, view, os.path.dirname(os.path.abspath(file)), cfg)
    server = view.map("server")
    if server.has("http_listen_port"):
        cfg.http_listen_port = server.uint("http_listen_port")
    cfg.http_listen_address = server.string("http_listen_address")
    _file_watch(view.map("global"), cfg)  # Promtail: global.file_watch_config
    if not view.has("clients") and view.has("client"):
        cfg.clients = [_decode_client(ctx, view.node("client"), "client", path_resolver(""))]
    return cfg


def load_promtail_file(path: str | Path) -> AgentConfig:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(str(path), 0, "", f"cannot read: {exc.strerror}") from None
    return decode_promtail(text, str(path))


def decode_logs_node(
    node: Node | None, file: str, base_dir: str = "", path: str = "logs"
) -> AgentConfig:
    """The ``logs:`` section of tidewatch.yml, as a composed node (keeps line numbers)."""
    ctx = Ctx(file)
    full = MapView(ctx, node, path, None)
    cfg = AgentConfig(file=file)
    # In tidewatch.yml, ``logs.limits_config`` is Loki's (the log store's limits);
    # promtail's own read limits are ``logs.agent_limits_config``.
    _decode_common(ctx, full, base_dir, cfg, limits_key="agent_limits_config")
    _file_watch(full, cfg)
    return cfg


def logs_section_from_file(path: str | Path) -> AgentConfig:
    """The agent part of a tidewatch.yml's ``logs:`` section (empty when absent)."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(str(path), 0, "", f"cannot read: {exc.strerror}") from None
    file = str(path)
    root = compose(text, file)
    top = MapView(Ctx(file), root, "", None)
    node = top.node("logs") if top.has("logs") else None
    return decode_logs_node(node, file, os.path.dirname(os.path.abspath(file)))


def logs_section_from_raw(raw: Any, file: str = "tidewatch.yml", base_dir: str = "") -> AgentConfig:
    """From ``Config.sections["logs"]`` (plain data; line numbers refer to the section
    re-serialised, so prefer :func:`logs_section_from_file` where the file is known)."""
    if not raw:
        return AgentConfig(file=file)
    if not isinstance(raw, dict):
        raise ConfigError(file, 0, "logs", "the logs section must be a mapping")
    agent_part = {k: raw[k] for k in _LOGS_AGENT_FIELDS if k in raw}
    text = yaml.safe_dump(agent_part, sort_keys=False)
    return decode_logs_node(compose(text, file), file, base_dir)
