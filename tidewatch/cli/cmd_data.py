"""Data-directory commands: ``backup``, ``restore`` and ``import openmetrics``.

``backup`` works on a stopped data directory directly, and on a running server's
through its snapshot API (the server pauses compaction for a consistent copy), then
moves the snapshot to the destination.
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import shutil
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from tidewatch.config.model import DEFAULT_LISTEN
from tidewatch.progress import ProgressPrinter


def register(sub: Any) -> None:
    b = sub.add_parser(
        "backup",
        help="write a consistent copy of the metrics store to DIR (works while running)",
    )
    b.add_argument("dest", metavar="DIR")
    b.add_argument("--data-dir", "--storage.tsdb.path", dest="data_dir", default="data")
    b.add_argument(
        "--url",
        default=f"http://{DEFAULT_LISTEN}",
        help="the running server that holds --data-dir (asked for a snapshot)",
    )
    b.add_argument("--token", default="", help="admin API token when auth is on")
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


def data_dir_in_use(data_dir: str) -> bool:
    """Whether a running server holds the data directory's lock."""
    lock = Path(data_dir) / "lock"
    if not lock.exists():
        return False
    with open(lock, "a+b") as f:
        try:
            fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            return True
        fcntl.flock(f.fileno(), fcntl.LOCK_UN)
    return False


def _snapshot_via_server(url: str, token: str) -> str:
    req = urllib.request.Request(url.rstrip("/") + "/api/v1/admin/tsdb/snapshot", method="POST")
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(req, timeout=3600) as resp:
        body: dict[str, Any] = json.loads(resp.read())
    name: str = body["data"]["name"]
    return name


def backup(args: argparse.Namespace) -> int:
    from tidewatch.tsdb import backup as do_backup

    try:
        if data_dir_in_use(args.data_dir):
            print(
                f"{args.data_dir} is in use; asking the server at {args.url} for a snapshot",
                file=sys.stderr,
            )
            name = _snapshot_via_server(args.url, args.token)
            snap = Path(args.data_dir) / "snapshots" / name
            if Path(args.dest).exists() and any(Path(args.dest).iterdir()):
                raise ValueError(f"{args.dest} is not empty")
            Path(args.dest).parent.mkdir(parents=True, exist_ok=True)
            if Path(args.dest).exists():
                os.rmdir(args.dest)
            shutil.move(str(snap), args.dest)
        else:
            do_backup(args.data_dir, args.dest, ProgressPrinter())
    except urllib.error.HTTPError as exc:
        print(
            f"error: backup failed: the server answered {exc.code}: {exc.read()[:300]!r}\n"
            "With auth on, pass an admin token with --token.",
            file=sys.stderr,
        )
        return 1
    except urllib.error.URLError as exc:
        print(
            f"error: backup failed: cannot reach {args.url} ({exc.reason}); pass the running "
            "server's address with --url",
            file=sys.stderr,
        )
        return 1
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
    from tidewatch.tsdb.importer import import_openmetrics as do_import

    try:
        stats = do_import(args.file, args.data_dir, ProgressPrinter())
    except (OSError, ValueError) as exc:
        print(f"error: import failed: {exc}", file=sys.stderr)
        return 1
    print(f"imported {stats} into {args.data_dir}")
    return 0
