"""``tidewatch users ...``: manage users and tokens in a data directory.

Works whether the server runs or not (SQLite in WAL mode). Passwords are read from
standard input or generated and printed once, never taken as arguments, which any
local user could read from the process list. ``passwd`` is also the way back in when
the first admin password is lost.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from typing import Any, TextIO

from tidewatch.duration import DurationError, parse_duration
from tidewatch.users.passwords import generate_password
from tidewatch.users.roles import Role
from tidewatch.users.store import UserError, UserStore

ROLE_NAMES = [r.label for r in Role]


def register(sub: Any) -> None:
    p = sub.add_parser("users", help="manage users and API tokens (offline or online)")
    p.add_argument("--data-dir", "--storage.tsdb.path", dest="data_dir", default="data")
    cmds = p.add_subparsers(dest="users_command", metavar="ACTION", required=True)

    cmds.add_parser("list", help="list users and tokens").set_defaults(func=run_list)

    add = cmds.add_parser("add", help="add a user (password from stdin, else generated)")
    add.add_argument("name")
    add.add_argument("--role", choices=ROLE_NAMES, default="viewer")
    add.add_argument("--password-stdin", action="store_true")
    add.set_defaults(func=run_add)

    pw = cmds.add_parser("passwd", help="set a password (from stdin, else generated)")
    pw.add_argument("name")
    pw.add_argument("--password-stdin", action="store_true")
    pw.set_defaults(func=run_passwd)

    role = cmds.add_parser("role", help="change a user's role")
    role.add_argument("name")
    role.add_argument("role", choices=ROLE_NAMES)
    role.set_defaults(func=run_role)

    rm = cmds.add_parser("delete", help="delete a user with their tokens and sessions")
    rm.add_argument("name")
    rm.set_defaults(func=run_delete)

    tok = cmds.add_parser("token", help="create an API token (printed once)")
    tok.add_argument("token_name", metavar="NAME")
    tok.add_argument("--owner", default="admin")
    tok.add_argument("--role", choices=ROLE_NAMES, default="viewer")
    tok.add_argument("--expires-in", default="", help="e.g. 90d (default: never)")
    tok.set_defaults(func=run_token)

    revoke = cmds.add_parser("revoke", help="revoke an API token by id")
    revoke.add_argument("token_id", metavar="ID")
    revoke.set_defaults(func=run_revoke)


def _read_password(args: argparse.Namespace, stdin: TextIO) -> tuple[str, bool]:
    """(password, generated?)."""
    if args.password_stdin:
        return stdin.readline().rstrip("\r\n"), False
    if stdin.isatty():
        first = getpass.getpass("New password: ")
        if first != getpass.getpass("Again: "):
            raise UserError("the passwords differ")
        return first, False
    return generate_password(), True


def _open(args: argparse.Namespace) -> UserStore:
    return UserStore.in_data_dir(args.data_dir)


def _guard(fn: Any) -> Any:
    def wrapped(args: argparse.Namespace) -> int:
        try:
            code: int = fn(args, sys.stdin, sys.stdout)
            return code
        except UserError as exc:
            print(f"tidewatch users: {exc}", file=sys.stderr)
            return 1

    return wrapped


def list_users(args: argparse.Namespace, stdin: TextIO, out: TextIO) -> int:
    store = _open(args)
    for user in store.list_users():
        print(f"{user.name}\t{user.role.label}", file=out)
    for t in store.list_tokens():
        expires = "never" if not t.expires_at else f"{t.expires_at:.0f}"
        print(
            f"token {t.id}\t{t.name}\towner={t.owner}\t{t.role.label}\texpires={expires}", file=out
        )
    store.close()
    return 0


def add_user(args: argparse.Namespace, stdin: TextIO, out: TextIO) -> int:
    password, generated = _read_password(args, stdin)
    store = _open(args)
    try:
        store.create_user(args.name, password, Role.parse(args.role))
    finally:
        store.close()
    print(f"user {args.name!r} added as {args.role}", file=out)
    if generated:
        print(f"password (shown once): {password}", file=out)
    return 0


def set_password(args: argparse.Namespace, stdin: TextIO, out: TextIO) -> int:
    password, generated = _read_password(args, stdin)
    store = _open(args)
    try:
        store.set_password(args.name, password)
    finally:
        store.close()
    print(f"password of {args.name!r} changed; their sessions ended", file=out)
    if generated:
        print(f"password (shown once): {password}", file=out)
    return 0


def set_role(args: argparse.Namespace, stdin: TextIO, out: TextIO) -> int:
    store = _open(args)
    try:
        store.set_role(args.name, Role.parse(args.role))
    finally:
        store.close()
    print(f"{args.name!r} is now {args.role}", file=out)
    return 0


def delete_user(args: argparse.Namespace, stdin: TextIO, out: TextIO) -> int:
    store = _open(args)
    try:
        store.delete_user(args.name)
    finally:
        store.close()
    print(f"user {args.name!r} deleted", file=out)
    return 0


def create_token(args: argparse.Namespace, stdin: TextIO, out: TextIO) -> int:
    ttl_s = 0.0
    if args.expires_in:
        try:
            ttl_s = parse_duration(args.expires_in) / 1000
        except DurationError as exc:
            raise UserError(f"--expires-in: {exc}") from None
    store = _open(args)
    try:
        info, secret = store.create_token(args.owner, args.token_name, Role.parse(args.role), ttl_s)
    finally:
        store.close()
    print(f"token {info.id} ({info.role.label}, owner {info.owner}), shown once:", file=out)
    print(secret, file=out)
    return 0


def revoke_token(args: argparse.Namespace, stdin: TextIO, out: TextIO) -> int:
    store = _open(args)
    try:
        store.revoke_token(args.token_id)
    finally:
        store.close()
    print(f"token {args.token_id} revoked", file=out)
    return 0


run_list = _guard(list_users)
run_add = _guard(add_user)
run_passwd = _guard(set_password)
run_role = _guard(set_role)
run_delete = _guard(delete_user)
run_token = _guard(create_token)
run_revoke = _guard(revoke_token)
