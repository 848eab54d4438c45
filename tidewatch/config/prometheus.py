"""Decoding a ``prometheus.yml`` as Prometheus does: its fields, defaults, inheritance
from ``global`` and validation messages, with every error at its file and line."""

from __future__ import annotations

import glob
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import re2
from yaml.nodes import Node, SequenceNode

from tidewatch.config.errors import ConfigError
from tidewatch.config.http_client import HTTP_CLIENT_FIELDS, decode_http_client
from tidewatch.config.model import (
    DEFAULT_EVALUATION_INTERVAL_MS,
    DEFAULT_SCRAPE_INTERVAL_MS,
    DEFAULT_SCRAPE_TIMEOUT_MS,
    FileSDConfig,
    GlobalConfig,
    HTTPSDConfig,
    PrometheusConfig,
    ScrapeConfig,
    StaticConfig,
)
from tidewatch.config.relabel import decode_relabel, decode_relabel_list, is_valid_label_name
from tidewatch.config.yamlnodes import Ctx, MapView, compose, is_null, kind_name, to_python

TOP_LEVEL_FIELDS = frozenset(
    {
        "global",
        "runtime",
        "alerting",
        "rule_files",
        "scrape_config_files",
        "scrape_configs",
        "storage",
        "tracing",
        "remote_write",
        "remote_read",
        "otlp",
    }
)
_GLOBAL_FIELDS = frozenset(
    {
        "scrape_interval",
        "scrape_timeout",
        "scrape_protocols",
        "evaluation_interval",
        "rule_query_offset",
        "query_log_file",
        "scrape_failure_log_file",
        "external_labels",
        "body_size_limit",
        "sample_limit",
        "target_limit",
        "label_limit",
        "label_name_length_limit",
        "label_value_length_limit",
        "keep_dropped_targets",
        "metric_name_validation_scheme",
        "metric_name_escaping_scheme",
        "scrape_native_histograms",
        "convert_classic_histograms_to_nhcb",
        "always_scrape_classic_histograms",
        "extra_scrape_metrics",
    }
)
SUPPORTED_SD = ("static_configs", "file_sd_configs", "http_sd_configs")
# Service discoveries Prometheus has and tidewatch does not (yet): named, then refused.
UNSUPPORTED_SD = tuple(
    f"{name}_sd_configs"
    for name in (
        "azure",
        "consul",
        "digitalocean",
        "docker",
        "dockerswarm",
        "dns",
        "ec2",
        "eureka",
        "gce",
        "hetzner",
        "ionos",
        "kubernetes",
        "kuma",
        "lightsail",
        "linode",
        "marathon",
        "nerve",
        "nomad",
        "openstack",
        "ovhcloud",
        "puppetdb",
        "scaleway",
        "serverset",
        "stackit",
        "triton",
        "uyuni",
        "vultr",
    )
)
_SCRAPE_FIELDS = (
    frozenset(
        {
            "job_name",
            "honor_labels",
            "honor_timestamps",
            "track_timestamps_staleness",
            "params",
            "scrape_interval",
            "scrape_timeout",
            "scrape_protocols",
            "fallback_scrape_protocol",
            "scrape_native_histograms",
            "scrape_classic_histograms",
            "always_scrape_classic_histograms",
            "convert_classic_histograms_to_nhcb",
            "native_histogram_bucket_limit",
            "native_histogram_min_bucket_factor",
            "scrape_failure_log_file",
            "metrics_path",
            "scheme",
            "enable_compression",
            "body_size_limit",
            "sample_limit",
            "target_limit",
            "label_limit",
            "label_name_length_limit",
            "label_value_length_limit",
            "keep_dropped_targets",
            "metric_name_validation_scheme",
            "metric_name_escaping_scheme",
            "extra_scrape_metrics",
            "relabel_configs",
            "metric_relabel_configs",
        }
    )
    | HTTP_CLIENT_FIELDS
    | frozenset(SUPPORTED_SD)
    | frozenset(UNSUPPORTED_SD)
)
SCRAPE_PROTOCOLS = (
    "PrometheusProto",
    "PrometheusText0.0.4",
    "PrometheusText1.0.0",
    "OpenMetricsText0.0.1",
    "OpenMetricsText1.0.0",
)
_PROTOCOL_LIST = "[" + " ".join(sorted(SCRAPE_PROTOCOLS)) + "]"  # as Go prints a slice
DEFAULT_SCRAPE_PROTOCOLS = [
    "OpenMetricsText1.0.0",
    "OpenMetricsText0.0.1",
    "PrometheusText1.0.0",
    "PrometheusText0.0.4",
]
_LIMIT_FIELDS = (
    "sample_limit",
    "target_limit",
    "label_limit",
    "label_name_length_limit",
    "label_value_length_limit",
    "keep_dropped_targets",
)
# Glob shapes Prometheus allows: a '*' only in the last path element.
_RULE_PATH = re2.compile(r"^[^*]*(\*[^/]*)?$")
_FILE_SD_PATH = re2.compile(r"^[^*]*(\*[^/]*)?\.(json|yml|yaml|JSON|YML|YAML)$")


@dataclass
class PrometheusStorageOverrides:
    """``storage.tsdb`` values from a prometheus.yml (tidewatch's own storage section wins)."""

    out_of_order_time_window_ms: int | None = None
    retention_time_ms: int | None = None
    retention_size_bytes: int | None = None


def path_resolver(base_dir: str) -> Callable[[str], str]:
    """Relative paths in a config file are relative to that file, as in Prometheus."""

    def resolve(path: str) -> str:
        if not path or not base_dir or os.path.isabs(path):
            return path
        return os.path.normpath(os.path.join(base_dir, path))

    return resolve


class PrometheusDecoder:
    """Decodes one prometheus.yml mapping; ``path`` prefixes field paths (``prometheus``
    when the mapping sits inline in a tidewatch.yml)."""

    def __init__(self, ctx: Ctx, base_dir: str) -> None:
        self.ctx = ctx
        self.base_dir = base_dir
        self.resolve = path_resolver(base_dir)
        self.utf8 = False
        self.storage = PrometheusStorageOverrides()

    def decode(self, node: Node | None, path: str = "") -> PrometheusConfig:
        top = self.ctx.as_map(node, path, TOP_LEVEL_FIELDS) if node is not None else None
        if top is None:
            return PrometheusConfig()
        cfg = PrometheusConfig(global_=self._global(top.map("global", _GLOBAL_FIELDS)))
        cfg.rule_files = self._globs(top, "rule_files", "invalid rule file path")
        cfg.scrape_config_files = self._globs(
            top, "scrape_config_files", "invalid scrape config file path"
        )
        jobs: dict[str, str] = {}
        for item, item_path in top.seq("scrape_configs"):
            if is_null(item):
                raise self.ctx.error(item, item_path, "empty or null scrape config section")
            sc = self._scrape(item, item_path, cfg.global_)
            self._add_job(cfg, jobs, sc, item, item_path, "main config file")
        for pattern in cfg.scrape_config_files:
            self._scrape_config_file(cfg, jobs, pattern)
        cfg.alerting = self._alerting(top)
        cfg.remote_write = self._raw_list(top, "remote_write")
        cfg.remote_read = self._raw_list(top, "remote_read")
        cfg.storage = self._storage(top)
        for name in ("runtime", "tracing", "otlp"):
            if top.has(name):
                top.map(name)  # must at least be a mapping
                cfg.other_sections[name] = top.raw(name)
        return cfg

    # --- global --------------------------------------------------------------

    def _global(self, g: MapView) -> GlobalConfig:
        scheme = g.string("metric_name_validation_scheme")
        if scheme not in ("", "legacy", "utf8"):
            raise g.error(
                "metric_name_validation_scheme",
                f"unknown name validation method specified, must be either 'legacy' or 'utf8', got {scheme}",
            )
        self.utf8 = scheme == "utf8"
        interval = g.duration("scrape_interval", 0) or DEFAULT_SCRAPE_INTERVAL_MS
        timeout = g.duration("scrape_timeout", 0)
        if timeout > interval:
            raise g.error("scrape_timeout", "global scrape timeout greater than scrape interval")
        if timeout == 0:
            timeout = min(DEFAULT_SCRAPE_TIMEOUT_MS, interval)
        out = GlobalConfig(
            scrape_interval_ms=interval,
            scrape_timeout_ms=timeout,
            evaluation_interval_ms=g.duration("evaluation_interval", 0)
            or DEFAULT_EVALUATION_INTERVAL_MS,
            external_labels=self._external_labels(g),
            query_log_file=self.resolve(g.string("query_log_file")),
            rule_query_offset_ms=g.duration("rule_query_offset", 0),
            scrape_protocols=self._protocols(g, "for global config"),
            body_size_limit=g.size("body_size_limit"),
            metric_name_validation_scheme=scheme,
        )
        for name in _LIMIT_FIELDS:
            setattr(out, name, g.uint(name))
        self._type_check_ignored(g)
        return out

    def _external_labels(self, g: MapView) -> dict[str, str]:
        labels = g.str_map("external_labels")
        ext = g.map("external_labels")
        for name, value in labels.items():
            if not is_valid_label_name(name, self.utf8):
                raise self.ctx.error(
                    ext.key_node(name), ext.path_of(name), f'"{name}" is not a valid label name'
                )
            labels[name] = expand_env(value)
        return labels

    def _type_check_ignored(self, view: MapView) -> None:
        """Fields accepted for compatibility but not acted on still get type errors."""
        for name in (
            "scrape_native_histograms",
            "convert_classic_histograms_to_nhcb",
            "always_scrape_classic_histograms",
            "extra_scrape_metrics",
            "scrape_classic_histograms",
        ):
            view.boolean(name, False)
        for name in ("scrape_failure_log_file", "metric_name_escaping_scheme"):
            view.string(name)

    def _protocols(self, view: MapView, where: str) -> list[str]:
        if not view.has("scrape_protocols"):
            return []
        protocols = view.str_list("scrape_protocols")
        if not protocols:
            raise view.error("scrape_protocols", f"scrape_protocols cannot be empty {where}")
        seen: set[str] = set()
        for p in protocols:
            if p.lower() in seen:
                raise view.error(
                    "scrape_protocols",
                    f"duplicated protocol in scrape_protocols, got [{' '.join(protocols)}] {where}",
                )
            seen.add(p.lower())
            if p not in SCRAPE_PROTOCOLS:
                raise view.error(
                    "scrape_protocols",
                    f"scrape_protocols: unknown scrape protocol {p}, supported: "
                    f"{_PROTOCOL_LIST} {where}",
                )
        return protocols

    def _globs(self, top: MapView, key: str, message: str) -> list[str]:
        out: list[str] = []
        for item, item_path in top.seq(key):
            text = self.ctx.as_str(item, item_path)
            if not _RULE_PATH.match(text):
                raise self.ctx.error(item, item_path, f'{message} "{text}"')
            out.append(self.resolve(text))
        return out

    # --- scrape configs ------------------------------------------------------

    def _add_job(
        self,
        cfg: PrometheusConfig,
        jobs: dict[str, str],
        sc: ScrapeConfig,
        node: Node,
        path: str,
        origin: str,
    ) -> None:
        if sc.job_name in jobs:
            view = MapView(self.ctx, node, path, None)
            msg = f'found multiple scrape configs with job name "{sc.job_name}"'
            if jobs[sc.job_name] != "main config file" or origin != "main config file":
                msg += f", first found in {jobs[sc.job_name]}"
            raise view.error("job_name", msg)
        jobs[sc.job_name] = origin
        cfg.scrape_configs.append(sc)

    def _scrape_config_file(
        self, cfg: PrometheusConfig, jobs: dict[str, str], pattern: str
    ) -> None:
        for filename in sorted(glob.glob(pattern)):
            try:
                text = Path(filename).read_text(encoding="utf-8")
            except OSError as exc:
                raise ConfigError(filename, 0, "", f"cannot read: {exc.strerror}") from None
            sub = PrometheusDecoder(Ctx(filename), os.path.dirname(filename))
            sub.utf8 = self.utf8
            root = compose(text, filename)
            view = sub.ctx.as_map(root, "", {"scrape_configs"}) if root is not None else None
            if view is None:
                continue
            for item, item_path in view.seq("scrape_configs"):
                sc = sub._scrape(item, item_path, cfg.global_)
                sub._add_job(cfg, jobs, sc, item, item_path, f'"{filename}"')

    def _scrape(self, node: Node, path: str, g: GlobalConfig) -> ScrapeConfig:
        v = self.ctx.as_map(node, path, _SCRAPE_FIELDS)
        for name in UNSUPPORTED_SD:
            if v.has(name):
                raise v.error(
                    name,
                    f"{name} is not supported by tidewatch (use static_configs, "
                    "file_sd_configs or http_sd_configs)",
                )
        job = v.string("job_name")
        if not job:
            raise v.error("job_name", "job_name is empty")
        scheme = v.string("metric_name_validation_scheme")
        if scheme not in ("", "legacy", "utf8"):
            raise v.error(
                "metric_name_validation_scheme",
                "unknown scrape config name validation method specified, must be either "
                f"'', 'legacy' or 'utf8', got {scheme}",
            )
        utf8 = scheme == "utf8" or (scheme == "" and self.utf8)
        interval = v.duration("scrape_interval", 0) or g.scrape_interval_ms
        timeout = v.duration("scrape_timeout", 0)
        if timeout > interval:
            raise v.error(
                "scrape_timeout",
                f'scrape timeout greater than scrape interval for scrape config with job name "{job}"',
            )
        where = f'for scrape config with job name "{job}"'
        sc = ScrapeConfig(
            job_name=job,
            scrape_interval_ms=interval,
            scrape_timeout_ms=timeout or min(g.scrape_timeout_ms, interval),
            metrics_path=v.string("metrics_path", "/metrics"),
            scheme=v.string("scheme", "http"),
            params=self._params(v),
            honor_labels=v.boolean("honor_labels", False),
            honor_timestamps=v.boolean("honor_timestamps", True),
            track_timestamps_staleness=v.boolean("track_timestamps_staleness", False),
            http=decode_http_client(v, self.resolve),
            body_size_limit=v.size("body_size_limit") or g.body_size_limit,
            scrape_protocols=self._protocols(v, where)
            or list(g.scrape_protocols or DEFAULT_SCRAPE_PROTOCOLS),
            fallback_scrape_protocol=v.string("fallback_scrape_protocol"),
            enable_compression=v.boolean("enable_compression", True),
        )
        for name in _LIMIT_FIELDS:
            setattr(sc, name, v.uint(name) or getattr(g, name))
        if sc.scheme not in ("http", "https"):
            raise v.error("scheme", f'unknown scrape scheme "{sc.scheme}" (use "http" or "https")')
        if sc.fallback_scrape_protocol and sc.fallback_scrape_protocol not in SCRAPE_PROTOCOLS:
            raise v.error(
                "fallback_scrape_protocol",
                f"invalid fallback_scrape_protocol {where}: unknown scrape protocol "
                f"{sc.fallback_scrape_protocol}, supported: {_PROTOCOL_LIST}",
            )
        v.uint("native_histogram_bucket_limit")
        v.number("native_histogram_min_bucket_factor")
        self._type_check_ignored(v)
        sc.relabel_configs = decode_relabel_list(self.ctx, v, "relabel_configs", utf8=utf8)
        sc.metric_relabel_configs = decode_relabel_list(
            self.ctx, v, "metric_relabel_configs", utf8=utf8
        )
        sc.static_configs = v.list_of(
            "static_configs",
            lambda n, p: self._static(n, p, utf8, check_hosts=not sc.relabel_configs),
            what="static config",
        )
        sc.file_sd_configs = v.list_of("file_sd_configs", self._file_sd, what="file_sd config")
        sc.http_sd_configs = v.list_of("http_sd_configs", self._http_sd, what="http_sd config")
        return sc

    def _params(self, v: MapView) -> dict[str, list[str]]:
        params = v.map("params")
        out: dict[str, list[str]] = {}
        for name in params.names():
            node = params.node(name)
            if not isinstance(node, SequenceNode):  # url.Values: every value is a list
                raise params.error(name, f"cannot unmarshal {kind_name(node)} into []string")
            out[name] = self.ctx.as_str_list(node, params.path_of(name))
        return out

    def _static(self, node: Node, path: str, utf8: bool, *, check_hosts: bool) -> StaticConfig:
        v = self.ctx.as_map(node, path, {"targets", "labels"})
        targets = v.str_list("targets")
        if check_hosts:
            for i, target in enumerate(targets):
                if "/" in target:
                    raise self.ctx.error(
                        v.seq("targets")[i][0],
                        f"{v.path_of('targets')}[{i}]",
                        f'"{target}" is not a valid hostname',
                    )
        labels = v.str_map("labels")
        label_view = v.map("labels")
        for name in labels:
            if not is_valid_label_name(name, utf8):
                raise self.ctx.error(
                    label_view.key_node(name),
                    label_view.path_of(name),
                    f'"{name}" is not a valid label name',
                )
        return StaticConfig(targets=targets, labels=labels)

    def _file_sd(self, node: Node, path: str) -> FileSDConfig:
        v = self.ctx.as_map(node, path, {"files", "refresh_interval"})
        files = v.str_list("files")
        if not files:
            raise v.error(
                "files", "file service discovery config must contain at least one path name"
            )
        for i, name in enumerate(files):
            if not _FILE_SD_PATH.match(name):
                raise self.ctx.error(
                    v.seq("files")[i][0],
                    f"{v.path_of('files')}[{i}]",
                    f'path name "{name}" is not valid for file discovery',
                )
        return FileSDConfig(
            files=[self.resolve(f) for f in files],
            refresh_interval_ms=v.duration("refresh_interval", 300_000),
        )

    def _http_sd(self, node: Node, path: str) -> HTTPSDConfig:
        v = self.ctx.as_map(node, path, {"url", "refresh_interval"} | HTTP_CLIENT_FIELDS)
        url = v.string("url")
        if not url:
            raise v.error("url", "URL is missing")
        scheme, sep, rest = url.partition("://")
        if not sep or scheme not in ("http", "https"):
            raise v.error("url", "URL scheme must be 'http' or 'https'")
        if not rest or rest.startswith("/"):
            raise v.error("url", "host is missing in URL")
        return HTTPSDConfig(
            url=url,
            refresh_interval_ms=v.duration("refresh_interval", 60_000),
            http=decode_http_client(v, self.resolve),
        )

    # --- sections kept raw ---------------------------------------------------

    def _alerting(self, top: MapView) -> dict[str, Any]:
        if not top.has("alerting"):
            return {}
        view = top.map("alerting", {"alertmanagers", "alert_relabel_configs"})
        decode_relabel_list(self.ctx, view, "alert_relabel_configs", utf8=self.utf8)
        for item, item_path in view.seq("alertmanagers"):
            am = self.ctx.as_map(item, item_path, None)
            for key in ("relabel_configs", "alert_relabel_configs"):
                for rule, rule_path in am.seq(key):
                    decode_relabel(self.ctx, rule, rule_path, utf8=self.utf8)
        raw = top.raw("alerting")
        return raw if isinstance(raw, dict) else {}

    def _raw_list(self, top: MapView, key: str) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for item, item_path in top.seq(key):
            if is_null(item):
                raise self.ctx.error(item, item_path, f"empty or null {key} config section")
            self.ctx.as_map(item, item_path, None)
            out.append(to_python(item))
        return out

    def _storage(self, top: MapView) -> dict[str, Any]:
        if not top.has("storage"):
            return {}
        view = top.map("storage", {"tsdb", "exemplars"})
        tsdb = view.map("tsdb", {"out_of_order_time_window", "retention"})
        if tsdb.has("out_of_order_time_window"):
            self.storage.out_of_order_time_window_ms = tsdb.duration("out_of_order_time_window", 0)
        retention = tsdb.map("retention", {"time", "size"})
        if retention.has("time"):
            self.storage.retention_time_ms = retention.duration("time", 0)
        if retention.has("size"):
            self.storage.retention_size_bytes = retention.size("size")
        exemplars = view.map("exemplars", {"max_exemplars"})
        if exemplars.has("max_exemplars"):
            self.ctx.as_int(
                exemplars.node("max_exemplars"), exemplars.path_of("max_exemplars"), unsigned=False
            )
        raw = top.raw("storage")
        return raw if isinstance(raw, dict) else {}


def expand_env(value: str) -> str:
    """Expand ``$VAR`` / ``${VAR}`` from the environment (``$$`` is a literal ``$``),
    as Prometheus does for external label values; unset variables become empty."""
    if "$" not in value:
        return value
    out: list[str] = []
    i, n = 0, len(value)
    while i < n:
        c = value[i]
        if c != "$" or i + 1 >= n:
            out.append(c)
            i += 1
            continue
        nxt = value[i + 1]
        if nxt == "$":
            out.append("$")
            i += 2
        elif nxt == "{":
            end = value.find("}", i + 2)
            if end < 0:
                out.append(value[i:])
                break
            out.append(os.environ.get(value[i + 2 : end], ""))
            i = end + 1
        elif nxt == "_" or nxt.isalnum():
            j = i + 1
            while j < n and (value[j] == "_" or value[j].isalnum()):
                j += 1
            out.append(os.environ.get(value[i + 1 : j], ""))
            i = j
        else:
            out.append(c)
            i += 1
    return "".join(out)
