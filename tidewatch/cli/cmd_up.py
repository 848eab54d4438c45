"""``tidewatch up``: run the server."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from typing import Any

from tidewatch.config import (
    ConfigError,
    ReloadRefused,
    apply_flag_overrides,
    apply_retention_flag,
    default_config,
    load_config,
)
from tidewatch.config.model import DEFAULT_LISTEN, Config

DEFAULT_DATA_DIR = "data"


def register(sub: Any) -> None:
    p = sub.add_parser(
        "up",
        help="run tidewatch (scrape, store, query) on one port",
        description="Run tidewatch. Without --config it scrapes itself and this host every 15s.",
    )
    p.add_argument(
        "--config",
        "--config.file",
        dest="config",
        default="",
        help="tidewatch.yml or prometheus.yml (default: built-in config)",
    )
    p.add_argument(
        "--data-dir",
        "--storage.tsdb.path",
        dest="data_dir",
        default="",
        help=f"data directory (default: ./{DEFAULT_DATA_DIR}, as Prometheus)",
    )
    p.add_argument(
        "--listen",
        "--web.listen-address",
        dest="listen",
        default="",
        help=f"address to serve every API on (default {DEFAULT_LISTEN})",
    )
    p.add_argument(
        "--alertmanager.config.file",
        dest="alertmanager_config",
        default="",
        help="alertmanager.yml for the built-in Alertmanager (default: the alertmanager "
        "section of tidewatch.yml, else one receiver with no integrations)",
    )
    p.add_argument(
        "--web.config.file",
        dest="web_config_file",
        default="",
        help="Prometheus web-config file: TLS and basic-auth users (see docs/security.md)",
    )
    p.add_argument("--storage.tsdb.retention.time", dest="retention_time", default="")
    p.add_argument("--storage.tsdb.retention.size", dest="retention_size", default="")
    p.add_argument("--web.external-url", dest="external_url", default="")
    p.add_argument("--query.timeout", dest="query_timeout", default="")
    p.add_argument("--query.max-samples", dest="query_max_samples", type=int, default=0)
    p.add_argument("--query.lookback-delta", dest="lookback_delta", default="")
    p.add_argument(
        "--log.level", dest="log_level", default="info", choices=["debug", "info", "warn", "error"]
    )
    # Accepted for command-line compatibility with Prometheus; they change nothing here.
    for flag in ("--web.console.templates", "--web.console.libraries"):
        p.add_argument(flag, default="", help=argparse.SUPPRESS)
    for flag in (
        "--web.enable-lifecycle",
        "--web.enable-admin-api",
        "--web.enable-remote-write-receiver",
    ):
        p.add_argument(flag, action="store_true", help=argparse.SUPPRESS)
    p.set_defaults(func=run)


def resolve_config(args: argparse.Namespace) -> Config:
    """The effective config: file (or default), then command-line overrides."""
    listen = args.listen or DEFAULT_LISTEN
    cfg = load_config(args.config) if args.config else default_config(listen)
    overrides = {
        "web.listen-address": args.listen,
        "storage.tsdb.path": args.data_dir,
        "web.external-url": args.external_url,
        "query.timeout": args.query_timeout,
        "query.max-samples": str(args.query_max_samples) if args.query_max_samples else "",
        "query.lookback-delta": args.lookback_delta,
    }
    apply_flag_overrides(cfg, {k: v for k, v in overrides.items() if v})
    apply_retention_flag(cfg, args.retention_time or None, args.retention_size or None)
    if not cfg.storage.path:
        cfg.storage.path = DEFAULT_DATA_DIR
    return cfg


def flags_of(args: argparse.Namespace, cfg: Config) -> dict[str, str]:
    """What /api/v1/status/flags shows, under Prometheus's flag names."""
    return {
        "config.file": args.config,
        "storage.tsdb.path": cfg.storage.path,
        "storage.tsdb.retention.time": args.retention_time or "15d",
        "storage.tsdb.retention.size": args.retention_size or "0B",
        "web.listen-address": cfg.server.listen,
        "web.external-url": cfg.server.external_url,
        "query.timeout": args.query_timeout or "2m",
        "query.max-samples": str(cfg.server.query_max_samples),
        "query.lookback-delta": args.lookback_delta or "5m",
        "log.level": args.log_level,
        "alertmanager.config.file": args.alertmanager_config,
        "web.config.file": args.web_config_file,
    }


def run(args: argparse.Namespace) -> int:
    logging.basicConfig(
        level=getattr(logging, args.log_level.upper().replace("WARN", "WARNING")),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        cfg = resolve_config(args)
    except ConfigError as exc:
        print(
            f"error: {exc}\nFix the file, then check it with: tidewatch check config {args.config}",
            file=sys.stderr,
        )
        return 1
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2

    from tidewatch.server import Tidewatch

    server = Tidewatch(
        config=cfg,
        config_path=args.config,
        flags=flags_of(args, cfg),
        alertmanager_config_path=args.alertmanager_config,
        web_config_file=args.web_config_file,
    )
    try:
        import uvloop

        uvloop.install()
    except ImportError:  # pragma: no cover - uvloop is a dependency, but stay runnable
        pass
    try:
        asyncio.run(server.run_forever())
    except ReloadRefused as exc:
        print(
            f"error: {exc}\nFix it, then check with: tidewatch check config / tidewatch check rules",
            file=sys.stderr,
        )
        return 1
    except OSError as exc:
        print(
            f"error: {exc}\nIs another process using {cfg.server.listen}? "
            "Pick another address with --listen.",
            file=sys.stderr,
        )
        return 1
    except KeyboardInterrupt:
        pass
    return 0
