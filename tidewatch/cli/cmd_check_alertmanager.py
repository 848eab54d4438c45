"""``tidewatch check alertmanager FILE...``: validate alertmanager.yml as ``amtool check-config``.

Each file is loaded exactly as the running Alertmanager part loads it, then the
templates it names are parsed, so a typo in either fails here rather than at reload.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any, TextIO

from tidewatch.alertmanager.config import AlertmanagerConfig, load_config_file
from tidewatch.alertmanager.templates.loader import NotificationTemplates
from tidewatch.config.errors import ConfigError
from tidewatch.templating import TemplateError


def register(sub: Any) -> None:
    """Add ``alertmanager`` under the existing ``check`` command (created if absent)."""
    check = sub.choices.get("check")
    if check is None:
        check = sub.add_parser("check", help="validate configuration files")
        check.add_subparsers(dest="what", metavar="WHAT", required=True)
    what = next(a for a in check._actions if isinstance(a, argparse._SubParsersAction))
    c = what.add_parser(
        "alertmanager", help="validate alertmanager.yml files (amtool check-config)"
    )
    c.add_argument("files", nargs="+", metavar="FILE")
    c.set_defaults(func=check_alertmanager)


def check_alertmanager(args: argparse.Namespace) -> int:
    return check_alertmanager_files(list(args.files))


def check_alertmanager_files(
    files: list[str], out: TextIO | None = None, err: TextIO | None = None
) -> int:
    """amtool's output: one block per file; 1 when any file or its templates failed."""
    failed = 0
    for f in files:
        if not _check_one(f, out):
            failed += 1
    if failed:
        print(f"error: failed to validate {failed} file(s)", file=err or sys.stderr)
        return 1
    return 0


def _check_one(path: str, out: TextIO | None) -> bool:
    print(f"Checking '{path}'", end="", file=out)
    try:
        cfg = load_config_file(path)
    except ConfigError as exc:
        print(f"  FAILED: {exc}", file=out)
        print(file=out)
        return False
    print("  SUCCESS", file=out)
    _print_summary(cfg, out)
    ok = True
    if cfg.templates:
        try:
            NotificationTemplates(cfg.templates)
        except (TemplateError, OSError, UnicodeDecodeError) as exc:
            print(f"  FAILED: {exc}", file=out)
            ok = False
        else:
            print("  SUCCESS", file=out)
    print(file=out)
    return ok


def _print_summary(cfg: AlertmanagerConfig, out: TextIO | None) -> None:
    print("Found:", file=out)
    print(" - global config", file=out)
    print(" - route", file=out)
    print(f" - {len(cfg.inhibit_rules)} inhibit rules", file=out)
    print(f" - {len(cfg.receivers)} receivers", file=out)
    print(f" - {len(cfg.templates)} templates", file=out)
