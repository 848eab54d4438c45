"""``tidewatch check config FILE``: validate a tidewatch.yml or prometheus.yml."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from tidewatch.config.loader import ConfigError, load_config


def register(sub: Any) -> None:
    p = sub.add_parser("check", help="validate configuration files")
    what = p.add_subparsers(dest="what", metavar="WHAT", required=True)
    c = what.add_parser("config", help="validate tidewatch.yml / prometheus.yml files")
    c.add_argument("files", nargs="+", metavar="FILE")
    c.set_defaults(func=check_config)


def check_config(args: argparse.Namespace) -> int:
    failed = False
    for path in args.files:
        try:
            cfg = load_config(path)
        except ConfigError as exc:
            print(f"FAILED: {exc}", file=sys.stderr)
            failed = True
            continue
        except OSError as exc:
            print(f"FAILED: {path}: {exc.strerror}", file=sys.stderr)
            failed = True
            continue
        jobs = len(cfg.prometheus.scrape_configs)
        rules = len(cfg.prometheus.rule_files)
        print(f"SUCCESS: {path} is valid ({jobs} scrape jobs, {rules} rule files)")
    return 1 if failed else 0
