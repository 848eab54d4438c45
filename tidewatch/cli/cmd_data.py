"""Data-directory commands: ``backup``, ``restore`` and ``import openmetrics``."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from tidewatch.progress import ProgressPrinter


def register(sub: Any) -> None:
    b = sub.add_parser("backup", help="write a consistent copy of the data directory to DIR")
    b.add_argument("dest", metavar="DIR")
    b.add_argument("--data-dir", "--storage.tsdb.path", dest="data_dir", default="data")
    b.set_defaults(func=backup)

    r = sub.add_parser("restore", help="restore a backup DIR into the (empty) data directory")
    r.add_argument("src", metavar="DIR")
    r.add_argument("--data-dir", "--storage.tsdb.path", dest="data_dir", default="data")
    r.set_defaults(func=restore)

    i = sub.add_parser("import", help="backfill historical data")
    fmt = i.add_subparsers(dest="format", metavar="FORMAT", required=True)
    om = fmt.add_parser("openmetrics", help="an OpenMetrics text file, as promtool takes it")
    om.add_argument("file", metavar="FILE")
    om.add_argument("--data-dir", "--storage.tsdb.path", dest="data_dir", default="data")
    om.set_defaults(func=import_openmetrics)


def backup(args: argparse.Namespace) -> int:
    from tidewatch.tsdb import backup as do_backup

    try:
        do_backup(args.data_dir, args.dest, ProgressPrinter())
    except (OSError, ValueError) as exc:
        print(f"error: backup failed: {exc}", file=sys.stderr)
        return 1
    print(f"backup of {args.data_dir} written to {args.dest}")
    return 0


def restore(args: argparse.Namespace) -> int:
    from tidewatch.tsdb import restore as do_restore

    try:
        do_restore(args.src, args.data_dir, ProgressPrinter())
    except (OSError, ValueError) as exc:
        print(f"error: restore failed: {exc}", file=sys.stderr)
        return 1
    print(
        f"restored {args.src} into {args.data_dir}; start with: tidewatch up --data-dir "
        f"{args.data_dir}"
    )
    return 0


def import_openmetrics(args: argparse.Namespace) -> int:
    try:
        from tidewatch.tsdb.importer import import_openmetrics as do_import
    except ImportError:
        print("error: this build has no OpenMetrics importer", file=sys.stderr)
        return 1
    try:
        stats = do_import(args.file, args.data_dir, ProgressPrinter())
    except (OSError, ValueError) as exc:
        print(f"error: import failed: {exc}", file=sys.stderr)
        return 1
    print(f"imported {stats} into {args.data_dir}")
    return 0
