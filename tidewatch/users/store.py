"""Users, API tokens and sessions in one SQLite file (``<data dir>/ui/users.db``).

Only hashes of secrets are stored: scrypt for passwords, SHA-256 for tokens and
session ids (they are 256-bit random, so a fast hash is enough). A copy of the
database therefore lets nobody sign in.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import re2

from tidewatch.users.passwords import (
    ScryptParams,
    generate_password,
    hash_password,
    sha256_hex,
    verify_password,
)
from tidewatch.users.roles import Principal, Role

DB_FILE = "users.db"
TOKEN_PREFIX = "tw_"
DEFAULT_SESSION_TTL_S = 12 * 3600
_NAME_RE = re2.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,63}")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS users (
    name TEXT PRIMARY KEY,
    role TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS tokens (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    owner TEXT NOT NULL REFERENCES users(name) ON DELETE CASCADE,
    role TEXT NOT NULL,
    secret_sha256 TEXT NOT NULL UNIQUE,
    created_at REAL NOT NULL,
    expires_at REAL NOT NULL,
    last_used_at REAL NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS sessions (
    id_sha256 TEXT PRIMARY KEY,
    user TEXT NOT NULL REFERENCES users(name) ON DELETE CASCADE,
    created_at REAL NOT NULL,
    expires_at REAL NOT NULL
);
"""


class UserError(ValueError):
    """A request the store refuses (unknown user, bad name, last admin ...)."""


@dataclass(frozen=True)
class User:
    name: str
    role: Role
    created_at: float

    def to_json(self) -> dict[str, object]:
        return {"name": self.name, "role": self.role.label, "createdAt": self.created_at}


@dataclass(frozen=True)
class TokenInfo:
    """A token as listed: never the secret itself."""

    id: str
    name: str
    owner: str
    role: Role
    created_at: float
    expires_at: float  # 0 = never
    last_used_at: float

    def to_json(self) -> dict[str, object]:
        return {
            "id": self.id,
            "name": self.name,
            "owner": self.owner,
            "role": self.role.label,
            "createdAt": self.created_at,
            "expiresAt": self.expires_at or None,
            "lastUsedAt": self.last_used_at or None,
        }


@dataclass(frozen=True)
class Session:
    user: str
    role: Role
    csrf_token: str
    expires_at: float


def csrf_token_for(session_id: str) -> str:
    """The session's CSRF token: derived, so nothing more is stored, and knowing it
    reveals nothing about the session id."""
    return sha256_hex("csrf:" + session_id)


def validate_name(name: str) -> str:
    if not _NAME_RE.fullmatch(name):
        raise UserError(f"invalid user name {name!r}: 1-64 letters, digits, '.', '_', '@' or '-'")
    return name


class UserStore:
    """Thread-safe: calls come from the event loop and from worker threads (hashing)."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        kdf: ScryptParams | None = None,
        now: Callable[[], float] = time.time,
    ) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._kdf = kdf or ScryptParams()
        self._now = now
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA foreign_keys=ON")
        self._db.executescript(_SCHEMA)
        # Verifying against a dummy hash for unknown users keeps the timing of
        # "no such user" and "wrong password" alike.
        self._dummy_hash = hash_password(generate_password(), self._kdf)
        with contextlib.suppress(OSError):
            os.chmod(self.path, 0o600)

    @classmethod
    def in_data_dir(cls, data_dir: str | os.PathLike[str], **kwargs: Any) -> UserStore:
        return cls(Path(data_dir) / "ui" / DB_FILE, **kwargs)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def _exec(self, sql: str, args: tuple[object, ...] = ()) -> sqlite3.Cursor:
        with self._lock:
            return self._db.execute(sql, args)

    def _all(self, sql: str, args: tuple[object, ...] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            return self._db.execute(sql, args).fetchall()

    # --- users ----------------------------------------------------------------

    def has_users(self) -> bool:
        return bool(self._all("SELECT 1 FROM users LIMIT 1"))

    def list_users(self) -> list[User]:
        rows = self._all("SELECT name, role, created_at FROM users ORDER BY name")
        return [User(str(n), Role.parse(str(r)), float(c)) for n, r, c in rows]

    def get_user(self, name: str) -> User | None:
        rows = self._all("SELECT name, role, created_at FROM users WHERE name = ?", (name,))
        if not rows:
            return None
        n, r, c = rows[0]
        return User(str(n), Role.parse(str(r)), float(c))

    def create_user(self, name: str, password: str, role: Role) -> User:
        validate_name(name)
        _check_password_strength(password)
        hashed = hash_password(password, self._kdf)
        now = self._now()
        try:
            self._exec(
                "INSERT INTO users (name, role, password_hash, created_at, updated_at)"
                " VALUES (?, ?, ?, ?, ?)",
                (name, role.label, hashed, now, now),
            )
        except sqlite3.IntegrityError:
            raise UserError(f"user {name!r} already exists") from None
        return User(name, role, now)

    def set_password(self, name: str, password: str) -> None:
        """Change a password; every session of that user ends."""
        _check_password_strength(password)
        hashed = hash_password(password, self._kdf)
        with self._lock:
            cur = self._db.execute(
                "UPDATE users SET password_hash = ?, updated_at = ? WHERE name = ?",
                (hashed, self._now(), name),
            )
            if cur.rowcount == 0:
                raise UserError(f"no user {name!r}")
            self._db.execute("DELETE FROM sessions WHERE user = ?", (name,))

    def set_role(self, name: str, role: Role) -> None:
        with self._lock:
            self._guard_last_admin(name, leaving=role != Role.ADMIN)
            cur = self._db.execute(
                "UPDATE users SET role = ?, updated_at = ? WHERE name = ?",
                (role.label, self._now(), name),
            )
            if cur.rowcount == 0:
                raise UserError(f"no user {name!r}")

    def delete_user(self, name: str) -> None:
        """Delete a user with their tokens and sessions (never the last admin)."""
        with self._lock:
            self._guard_last_admin(name, leaving=True)
            cur = self._db.execute("DELETE FROM users WHERE name = ?", (name,))
            if cur.rowcount == 0:
                raise UserError(f"no user {name!r}")

    def _guard_last_admin(self, name: str, *, leaving: bool) -> None:
        # Caller holds the lock. Losing the last admin would lock everyone out.
        if not leaving:
            return
        admins = [
            str(r[0]) for r in self._db.execute("SELECT name FROM users WHERE role = ?", ("admin",))
        ]
        if admins == [name]:
            raise UserError(f"{name!r} is the last admin")

    def check_password(self, name: str, password: str) -> Principal | None:
        """The user when the password is right, else None. Slow on purpose (scrypt):
        call it off the event loop."""
        rows = self._all("SELECT role, password_hash FROM users WHERE name = ?", (name,))
        if not rows:
            verify_password(password, self._dummy_hash)
            return None
        role, stored = rows[0]
        if not verify_password(password, str(stored)):
            return None
        return Principal(name, Role.parse(str(role)), "password")

    def password_hash_of(self, name: str) -> str:
        """For cache keys only (a change of password must invalidate cached logins)."""
        rows = self._all("SELECT password_hash FROM users WHERE name = ?", (name,))
        return str(rows[0][0]) if rows else ""

    # --- API tokens -------------------------------------------------------------

    def create_token(
        self, owner: str, name: str, role: Role, ttl_s: float = 0
    ) -> tuple[TokenInfo, str]:
        """A new token and its secret. The secret is returned this once, never again.
        Its role is capped at the owner's."""
        user = self.get_user(owner)
        if user is None:
            raise UserError(f"no user {owner!r}")
        if not name.strip() or len(name) > 100:
            raise UserError("a token needs a name of 1-100 characters")
        role = min(role, user.role)
        secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
        now = self._now()
        info = TokenInfo(
            id=secrets.token_hex(6),
            name=name.strip(),
            owner=owner,
            role=role,
            created_at=now,
            expires_at=now + ttl_s if ttl_s > 0 else 0.0,
            last_used_at=0.0,
        )
        self._exec(
            "INSERT INTO tokens (id, name, owner, role, secret_sha256, created_at, expires_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            (info.id, info.name, owner, role.label, sha256_hex(secret), now, info.expires_at),
        )
        return info, secret

    def list_tokens(self, owner: str | None = None) -> list[TokenInfo]:
        sql = "SELECT id, name, owner, role, created_at, expires_at, last_used_at FROM tokens"
        args: tuple[object, ...] = ()
        if owner is not None:
            sql += " WHERE owner = ?"
            args = (owner,)
        rows = self._all(sql + " ORDER BY created_at", args)
        return [
            TokenInfo(str(i), str(n), str(o), Role.parse(str(r)), float(c), float(e), float(u))
            for i, n, o, r, c, e, u in rows
        ]

    def revoke_token(self, token_id: str) -> None:
        if self._exec("DELETE FROM tokens WHERE id = ?", (token_id,)).rowcount == 0:
            raise UserError(f"no token {token_id!r}")

    def check_token(self, secret: str) -> Principal | None:
        """The token's rights (capped by its owner's current role), or None."""
        if not secret.startswith(TOKEN_PREFIX):
            return None
        now = self._now()
        rows = self._all(
            "SELECT t.id, t.owner, t.role, t.expires_at, t.last_used_at, u.role"
            " FROM tokens t JOIN users u ON u.name = t.owner WHERE t.secret_sha256 = ?",
            (sha256_hex(secret),),
        )
        if not rows:
            return None
        tid, owner, role, expires_at, last_used, owner_role = rows[0]
        if expires_at and float(expires_at) <= now:
            return None
        if now - float(last_used) > 60:
            # Coarse on purpose: one write a minute per token, not one per request.
            self._exec("UPDATE tokens SET last_used_at = ? WHERE id = ?", (now, tid))
        effective = min(Role.parse(str(role)), Role.parse(str(owner_role)))
        return Principal(str(owner), effective, "token")

    # --- sessions ---------------------------------------------------------------

    def create_session(
        self, user: str, ttl_s: float = DEFAULT_SESSION_TTL_S
    ) -> tuple[str, Session]:
        """A new session id (for the cookie; stored only as a hash) and the session."""
        found = self.get_user(user)
        if found is None:
            raise UserError(f"no user {user!r}")
        session_id = secrets.token_urlsafe(32)
        now = self._now()
        self._exec(
            "INSERT INTO sessions (id_sha256, user, created_at, expires_at) VALUES (?, ?, ?, ?)",
            (sha256_hex(session_id), user, now, now + ttl_s),
        )
        return session_id, Session(user, found.role, csrf_token_for(session_id), now + ttl_s)

    def get_session(self, session_id: str) -> Session | None:
        rows = self._all(
            "SELECT s.user, s.expires_at, u.role FROM sessions s"
            " JOIN users u ON u.name = s.user WHERE s.id_sha256 = ?",
            (sha256_hex(session_id),),
        )
        if not rows:
            return None
        user, expires_at, role = rows[0]
        if float(expires_at) <= self._now():
            self.delete_session(session_id)
            return None
        return Session(
            str(user), Role.parse(str(role)), csrf_token_for(session_id), float(expires_at)
        )

    def delete_session(self, session_id: str) -> None:
        self._exec("DELETE FROM sessions WHERE id_sha256 = ?", (sha256_hex(session_id),))

    def purge_expired(self) -> int:
        """Drop expired sessions and tokens; returns how many rows went."""
        now = self._now()
        with self._lock:
            a = self._db.execute("DELETE FROM sessions WHERE expires_at <= ?", (now,)).rowcount
            b = self._db.execute(
                "DELETE FROM tokens WHERE expires_at > 0 AND expires_at <= ?", (now,)
            ).rowcount
        return int(a) + int(b)


MIN_PASSWORD_LENGTH = 8


def _check_password_strength(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise UserError(f"password must be at least {MIN_PASSWORD_LENGTH} characters")
