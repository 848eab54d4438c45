"""The ``tidewatch`` command.

``tidewatch up`` runs the server. Prometheus's own flag names are accepted as
aliases (``--config.file``, ``--storage.tsdb.path``, ...), and a command line that
starts with a flag is taken as ``up``, so compose files and systemd units written
for Prometheus run unchanged.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from tidewatch import __version__
from tidewatch.cli import (
    cmd_agent,
    cmd_check,
    cmd_check_alertmanager,
    cmd_data,
    cmd_logs,
    cmd_query,
    cmd_rules,
    cmd_up,
)
from tidewatch.users import cli as users_cli


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tidewatch",
        description="Prometheus, Loki, Alertmanager and Grafana as one process.",
    )
    parser.add_argument("--version", action="version", version=f"tidewatch {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    cmd_up.register(sub)
    cmd_check.register(sub)
    cmd_rules.register(sub)
    cmd_check_alertmanager.register(sub)
    cmd_query.register(sub)
    cmd_logs.register(sub)
    cmd_data.register(sub)
    users_cli.register(sub)
    cmd_agent.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    if (
        args_list
        and args_list[0].startswith("-")
        and args_list[0]
        not in (
            "-h",
            "--help",
            "--version",
        )
    ):
        args_list.insert(0, "up")
    parser = build_parser()
    args = parser.parse_args(args_list)
    if args.command is None:
        parser.print_help()
        return 2
    code: int = args.func(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
