"""Password hashing with scrypt (stdlib), and secret generation.

Hashes are self-describing (``scrypt$<log2 n>$<r>$<p>$<salt>$<key>``, base64 without
padding) so the cost can be raised later without breaking stored hashes.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass

# 32 MiB of memory per hash: slow enough to make offline guessing expensive, quick
# enough (~0.1-0.4 s on a small shared machine) for a login; basic-auth results are
# cached by the authenticator so scripts do not pay it on every request.
DEFAULT_LOG2_N = 15
_R = 8
_P = 1
_KEY_BYTES = 32
_SALT_BYTES = 16
_PREFIX = "scrypt"


class PasswordHashError(ValueError):
    """A stored hash that this module cannot read."""


@dataclass(frozen=True)
class ScryptParams:
    log2_n: int = DEFAULT_LOG2_N
    r: int = _R
    p: int = _P


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.b64decode(text + "=" * (-len(text) % 4))


def _derive(password: str, salt: bytes, params: ScryptParams, dklen: int) -> bytes:
    n = 1 << params.log2_n
    # maxmem must exceed 128 * n * r bytes or OpenSSL refuses.
    maxmem = 128 * n * params.r * params.p + (1 << 20)
    return hashlib.scrypt(
        password.encode("utf-8"),
        salt=salt,
        n=n,
        r=params.r,
        p=params.p,
        maxmem=maxmem,
        dklen=dklen,
    )


def hash_password(password: str, params: ScryptParams | None = None) -> str:
    params = params or ScryptParams()
    salt = secrets.token_bytes(_SALT_BYTES)
    key = _derive(password, salt, params, _KEY_BYTES)
    return f"{_PREFIX}${params.log2_n}${params.r}${params.p}${_b64(salt)}${_b64(key)}"


def verify_password(password: str, stored: str) -> bool:
    """True when ``password`` matches ``stored``; compares in constant time."""
    parts = stored.split("$")
    if len(parts) != 6 or parts[0] != _PREFIX:
        raise PasswordHashError("not a scrypt password hash")
    try:
        params = ScryptParams(int(parts[1]), int(parts[2]), int(parts[3]))
        salt, key = _unb64(parts[4]), _unb64(parts[5])
    except ValueError as exc:
        raise PasswordHashError("malformed scrypt password hash") from exc
    if not (1 <= params.log2_n <= 24) or not key:
        raise PasswordHashError("scrypt parameters out of range")
    return hmac.compare_digest(_derive(password, salt, params, len(key)), key)


def generate_password() -> str:
    """A random password for humans to copy: 24 URL-safe characters (~143 bits)."""
    return secrets.token_urlsafe(18)


def sha256_hex(secret: str) -> str:
    """How tokens and session ids are stored: a leaked database gives no usable secret."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()
