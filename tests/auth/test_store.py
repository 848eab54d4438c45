"""Passwords, users, tokens and sessions in the SQLite store."""

from __future__ import annotations

from pathlib import Path

import pytest

from tidewatch.users.passwords import (
    PasswordHashError,
    ScryptParams,
    hash_password,
    verify_password,
)
from tidewatch.users.roles import Role
from tidewatch.users.store import UserError, UserStore

from .conftest import FAST_KDF, PASSWORDS


def test_scrypt_default_cost_round_trip() -> None:
    hashed = hash_password("correct horse")
    assert hashed.startswith("scrypt$15$8$1$")
    assert verify_password("correct horse", hashed)
    assert not verify_password("correct horsf", hashed)


def test_hashes_are_salted_and_self_describing() -> None:
    a, b = hash_password("pw", FAST_KDF), hash_password("pw", FAST_KDF)
    assert a != b and "pw" not in a
    assert a.split("$")[1] == "8"
    with pytest.raises(PasswordHashError):
        verify_password("pw", "$2y$10$notscrypt")
    with pytest.raises(PasswordHashError):
        verify_password("pw", "scrypt$99$8$1$AA$AA")


def test_users_roles_and_passwords(store: UserStore) -> None:
    assert [u.name for u in store.list_users()] == ["admin", "editor", "viewer"]
    p = store.check_password("editor", PASSWORDS["editor"])
    assert p is not None and p.role is Role.EDITOR and p.via == "password"
    assert store.check_password("editor", "wrong-password") is None
    assert store.check_password("nobody", "whatever-pass") is None
    with pytest.raises(UserError, match="already exists"):
        store.create_user("editor", "another-pass", Role.VIEWER)
    with pytest.raises(UserError, match="at least 8"):
        store.create_user("short", "1234567", Role.VIEWER)
    with pytest.raises(UserError, match="invalid user name"):
        store.create_user("bad name", "long-enough", Role.VIEWER)
    store.set_role("editor", Role.VIEWER)
    assert store.get_user("editor").role is Role.VIEWER  # type: ignore[union-attr]


def test_last_admin_cannot_go(store: UserStore) -> None:
    with pytest.raises(UserError, match="last admin"):
        store.delete_user("admin")
    with pytest.raises(UserError, match="last admin"):
        store.set_role("admin", Role.EDITOR)
    store.create_user("admin2", "admin2-pass", Role.ADMIN)
    store.delete_user("admin")
    assert store.get_user("admin") is None


def test_tokens(store: UserStore, clock: list[float]) -> None:
    info, secret = store.create_token("editor", "agent", Role.ADMIN, ttl_s=3600)
    # Capped at the owner's role.
    assert info.role is Role.EDITOR
    p = store.check_token(secret)
    assert p is not None and p.name == "editor" and p.role is Role.EDITOR and p.via == "token"
    assert store.check_token(secret + "x") is None
    assert store.check_token("not-a-token") is None
    assert "token" not in info.to_json()
    # Demoting the owner demotes the token.
    store.set_role("editor", Role.VIEWER)
    assert store.check_token(secret).role is Role.VIEWER  # type: ignore[union-attr]
    clock[0] += 3601
    assert store.check_token(secret) is None
    assert store.purge_expired() == 1
    assert store.list_tokens() == []


def test_revoke_and_owner_deletion(store: UserStore) -> None:
    info, secret = store.create_token("viewer", "grafana", Role.VIEWER)
    store.revoke_token(info.id)
    assert store.check_token(secret) is None
    with pytest.raises(UserError):
        store.revoke_token(info.id)
    _, secret2 = store.create_token("viewer", "grafana", Role.VIEWER)
    store.delete_user("viewer")
    assert store.check_token(secret2) is None


def test_sessions_expire_and_end_on_password_change(store: UserStore, clock: list[float]) -> None:
    sid, session = store.create_session("viewer", ttl_s=600)
    got = store.get_session(sid)
    assert got is not None and got.user == "viewer" and got.csrf_token == session.csrf_token
    assert session.csrf_token not in sid
    clock[0] += 601
    assert store.get_session(sid) is None
    sid2, _ = store.create_session("viewer", ttl_s=600)
    store.set_password("viewer", "a-new-password")
    assert store.get_session(sid2) is None
    sid3, _ = store.create_session("viewer")
    store.delete_session(sid3)
    assert store.get_session(sid3) is None


def test_database_holds_no_secrets(tmp_path: Path, store: UserStore) -> None:
    _, token = store.create_token("admin", "script", Role.ADMIN)
    sid, _ = store.create_session("admin")
    store.close()
    raw = b"".join(p.read_bytes() for p in (tmp_path / "ui").iterdir())
    for secret in (*PASSWORDS.values(), token, sid):
        assert secret.encode() not in raw
    # Reopening sees the same users.
    again = UserStore.in_data_dir(tmp_path, kdf=FAST_KDF)
    assert again.check_password("admin", PASSWORDS["admin"]) is not None
    assert again.check_token(token) is not None


def test_stronger_params_still_verify() -> None:
    hashed = hash_password("pw-strong", ScryptParams(log2_n=9, r=4, p=2))
    assert verify_password("pw-strong", hashed)
