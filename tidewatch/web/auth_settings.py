"""Whether auth is on, and its knobs, from the listen address and ``tidewatch.yml``.

Secure by default: off only on a loopback address with no users (as Prometheus,
so local scripts keep working); always on anywhere else, where asking to turn it
off is an error at start.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from tidewatch.config.errors import ConfigError
from tidewatch.duration import DurationError, parse_duration
from tidewatch.users.store import DEFAULT_SESSION_TTL_S
from tidewatch.web.webconfig import WebConfig

_AUTH_KEYS = ("required", "session_ttl", "login_attempts_per_5m")


@dataclass
class AuthSettings:
    required: bool
    session_ttl_s: float = DEFAULT_SESSION_TTL_S
    # Failed logins allowed per client address in 5 minutes before 429s.
    login_attempts_per_5m: int = 10
    # Set when serving HTTPS so cookies carry Secure even behind odd proxies.
    secure_cookies: bool = False


def is_loopback_host(host: str) -> bool:
    """True only for addresses no other machine can reach; names other than
    ``localhost`` count as public since they may resolve anywhere."""
    host = host.strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def listen_is_loopback(listen: str) -> bool:
    host = listen.rpartition(":")[0] if ":" in listen else listen
    return bool(host) and is_loopback_host(host)


def auth_settings(
    section: Mapping[str, Any] | None,
    *,
    listen: str,
    users_exist: bool,
    web_config: WebConfig | None = None,
    config_file: str = "tidewatch.yml",
) -> AuthSettings:
    """The effective auth settings from ``Config.sections["auth"]`` and the listen
    address. Raises ``ConfigError`` when the file asks to turn auth off where it
    cannot be off."""
    section = section or {}
    if not isinstance(section, Mapping):
        raise ConfigError(config_file, 0, "auth", "must be a mapping")
    for key in section:
        if key not in _AUTH_KEYS:
            raise ConfigError(config_file, 0, f"auth.{key}", f'unknown field "{key}"')
    explicit = section.get("required")
    if explicit is not None and not isinstance(explicit, bool):
        raise ConfigError(config_file, 0, "auth.required", "must be true or false")
    loopback = listen_is_loopback(listen)
    if explicit is False and not loopback:
        raise ConfigError(
            config_file,
            0,
            "auth.required",
            f"auth cannot be turned off when listening on {listen} (not loopback)",
        )
    has_file_users = bool(web_config and web_config.basic_auth_users)
    if explicit is None:
        required = not loopback or users_exist or has_file_users
    else:
        required = explicit or has_file_users
    ttl_s = float(DEFAULT_SESSION_TTL_S)
    if "session_ttl" in section:
        try:
            ttl_s = parse_duration(str(section["session_ttl"])) / 1000
        except DurationError as exc:
            raise ConfigError(config_file, 0, "auth.session_ttl", str(exc)) from None
        if ttl_s <= 0:
            raise ConfigError(config_file, 0, "auth.session_ttl", "must be positive")
    attempts = section.get("login_attempts_per_5m", 10)
    if not isinstance(attempts, int) or isinstance(attempts, bool) or attempts < 1:
        raise ConfigError(
            config_file, 0, "auth.login_attempts_per_5m", "must be a positive integer"
        )
    secure = bool(web_config and web_config.tls.enabled)
    return AuthSettings(required, ttl_s, attempts, secure)
