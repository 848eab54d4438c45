"""``tidewatch check config FILE``: validate a tidewatch.yml or prometheus.yml."""

from __future__ import annotations

import argparse
from typing import Any

from tidewatch.config import check_config_files


def register(sub: Any) -> None:
    p = sub.add_parser("check", help="validate configuration files")
    what = p.add_subparsers(dest="what", metavar="WHAT", required=True)
    c = what.add_parser("config", help="validate tidewatch.yml / prometheus.yml files")
    c.add_argument("files", nargs="+", metavar="FILE")
    c.set_defaults(func=check_config)


def check_config(args: argparse.Namespace) -> int:
    return check_config_files(list(args.files))
