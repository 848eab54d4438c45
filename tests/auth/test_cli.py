"""``tidewatch users ...`` against a real data directory."""

from __future__ import annotations

import argparse
import io
from pathlib import Path

import pytest

from tidewatch.users.cli import register
from tidewatch.users.store import UserStore


def run(args: list[str], monkeypatch: pytest.MonkeyPatch, stdin: str = "") -> int:
    parser = argparse.ArgumentParser(prog="tidewatch")
    register(parser.add_subparsers(dest="command"))
    ns = parser.parse_args(args)
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    code: int = ns.func(ns)
    return code


def test_users_cli_round_trip(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    d = ["users", "--data-dir", str(tmp_path)]
    assert (
        run(
            [*d, "add", "ops", "--role", "admin", "--password-stdin"],
            monkeypatch,
            "ops-password-1\n",
        )
        == 0
    )
    assert run([*d, "add", "bob"], monkeypatch) == 0  # not a tty: generated, shown once
    out = capsys.readouterr().out
    generated = out.split("password (shown once): ")[1].strip()
    store = UserStore.in_data_dir(tmp_path)
    assert store.check_password("ops", "ops-password-1") is not None
    assert store.check_password("bob", generated) is not None
    store.close()

    assert (
        run(
            [*d, "token", "ci", "--owner", "ops", "--role", "editor", "--expires-in", "30d"],
            monkeypatch,
        )
        == 0
    )
    lines = capsys.readouterr().out.splitlines()
    token, token_id = lines[1], lines[0].split()[1]
    store = UserStore.in_data_dir(tmp_path)
    principal = store.check_token(token)
    assert principal is not None and principal.role.label == "editor"
    store.close()

    assert run([*d, "list"], monkeypatch) == 0
    listing = capsys.readouterr().out
    assert "ops\tadmin" in listing and "bob\tviewer" in listing and token not in listing

    # Recovery: a lost admin password is reset offline.
    assert run([*d, "passwd", "ops", "--password-stdin"], monkeypatch, "new-ops-pass\n") == 0
    assert run([*d, "delete", "ops"], monkeypatch) == 1  # the last admin stays
    assert "last admin" in capsys.readouterr().err
    assert run([*d, "role", "bob", "editor"], monkeypatch) == 0
    assert run([*d, "add", "x", "--password-stdin"], monkeypatch, "short\n") == 1
    store = UserStore.in_data_dir(tmp_path)
    assert store.check_password("ops", "new-ops-pass") is not None
    assert store.get_user("bob").role.label == "editor"  # type: ignore[union-attr]
    store.close()
    assert run([*d, "revoke", token_id], monkeypatch) == 0
    store = UserStore.in_data_dir(tmp_path)
    assert store.check_token(token) is None
    store.close()
