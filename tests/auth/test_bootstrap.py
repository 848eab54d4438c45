"""The first admin: generated and printed once, or taken from the environment."""

from __future__ import annotations

from pathlib import Path

import pytest

from tidewatch.users.bootstrap import ADMIN_PASSWORD_ENV, ensure_first_admin
from tidewatch.users.store import UserStore

from .conftest import FAST_KDF


def test_generated_password_is_printed_once_and_stored_hashed(tmp_path: Path) -> None:
    store = UserStore.in_data_dir(tmp_path, kdf=FAST_KDF)
    printed: list[str] = []
    assert ensure_first_admin(store, env={}, announce=printed.append)
    assert len(printed) == 1
    password = next(line.strip() for line in printed[0].splitlines() if line.startswith("    "))
    assert len(password) >= 20
    assert store.check_password("admin", password) is not None
    store.close()
    assert password.encode() not in (tmp_path / "ui" / "users.db").read_bytes()
    # Second start: nothing created, nothing shown.
    again = UserStore.in_data_dir(tmp_path, kdf=FAST_KDF)
    assert not ensure_first_admin(again, env={}, announce=printed.append)
    assert len(printed) == 1


def test_password_from_environment_is_never_printed(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = UserStore.in_data_dir(tmp_path, kdf=FAST_KDF)
    printed: list[str] = []
    secret = "env-admin-password"
    caplog.set_level("DEBUG")
    assert ensure_first_admin(store, env={ADMIN_PASSWORD_ENV: secret}, announce=printed.append)
    assert printed == []
    assert secret not in caplog.text
    assert store.check_password("admin", secret) is not None


def test_default_announcement_goes_to_stdout(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(ADMIN_PASSWORD_ENV, raising=False)
    store = UserStore.in_data_dir(tmp_path, kdf=FAST_KDF)
    ensure_first_admin(store)
    assert "created the first user 'admin'" in capsys.readouterr().out
