"""Prometheus's ``--web.config.file``: TLS, basic-auth users with bcrypt hashes,
extra response headers and a request rate limit, in the same YAML format.

Unknown fields are errors, as exporter-toolkit unmarshals strictly; every error names
the file, line and field. Relative certificate paths resolve against the file's
directory. ``http2`` is accepted and ignored (aiohttp serves HTTP/1.1).
"""

from __future__ import annotations

import hashlib
import hmac
import os
import ssl
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from tidewatch.config.errors import ConfigError
from tidewatch.config.yamlnodes import Ctx, MapView, compose

_TOP = ("tls_server_config", "http_server_config", "basic_auth_users", "rate_limit")
_TLS = (
    "cert",
    "key",
    "client_ca",
    "cert_file",
    "key_file",
    "client_auth_type",
    "client_ca_file",
    "cipher_suites",
    "curve_preferences",
    "min_version",
    "max_version",
    "prefer_server_cipher_suites",
    "client_allowed_sans",
)
_HTTP = ("http2", "headers")
_RATE = ("burst", "interval")

# The only headers exporter-toolkit lets a web config set, with the values allowed.
_HEADER_VALUES: dict[str, tuple[str, ...] | None] = {
    "Strict-Transport-Security": None,
    "X-Content-Type-Options": ("nosniff",),
    "X-Frame-Options": ("deny", "sameorigin"),
    "X-XSS-Protection": None,
    "Content-Security-Policy": None,
}

_TLS_VERSIONS = {
    "TLS10": ssl.TLSVersion.TLSv1,
    "TLS11": ssl.TLSVersion.TLSv1_1,
    "TLS12": ssl.TLSVersion.TLSv1_2,
    "TLS13": ssl.TLSVersion.TLSv1_3,
}

# Client-auth policies mapped onto what OpenSSL via Python can do: Python always
# verifies a presented certificate, so "request" and "require any" need a CA too.
_CLIENT_AUTH = {
    "": ssl.CERT_NONE,
    "NoClientCert": ssl.CERT_NONE,
    "RequestClientCert": ssl.CERT_OPTIONAL,
    "VerifyClientCertIfGiven": ssl.CERT_OPTIONAL,
    "RequireAnyClientCert": ssl.CERT_REQUIRED,
    "RequireClientCert": ssl.CERT_REQUIRED,
    "RequireAndVerifyClientCert": ssl.CERT_REQUIRED,
}

# Go cipher suite names (TLS 1.2; TLS 1.3 suites are not configurable in Go either).
_GO_CIPHERS = {
    "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256": "ECDHE-ECDSA-AES128-GCM-SHA256",
    "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256": "ECDHE-RSA-AES128-GCM-SHA256",
    "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384": "ECDHE-ECDSA-AES256-GCM-SHA384",
    "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384": "ECDHE-RSA-AES256-GCM-SHA384",
    "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256": "ECDHE-ECDSA-CHACHA20-POLY1305",
    "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256": "ECDHE-RSA-CHACHA20-POLY1305",
    "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305": "ECDHE-ECDSA-CHACHA20-POLY1305",
    "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305": "ECDHE-RSA-CHACHA20-POLY1305",
    "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA": "ECDHE-ECDSA-AES128-SHA",
    "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA": "ECDHE-RSA-AES128-SHA",
    "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA": "ECDHE-ECDSA-AES256-SHA",
    "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA": "ECDHE-RSA-AES256-SHA",
    "TLS_RSA_WITH_AES_128_GCM_SHA256": "AES128-GCM-SHA256",
    "TLS_RSA_WITH_AES_256_GCM_SHA384": "AES256-GCM-SHA384",
    "TLS_RSA_WITH_AES_128_CBC_SHA": "AES128-SHA",
    "TLS_RSA_WITH_AES_256_CBC_SHA": "AES256-SHA",
}
_GO_CURVES = {
    "CurveP256": "prime256v1",
    "CurveP384": "secp384r1",
    "CurveP521": "secp521r1",
    "X25519": "X25519",
}


@dataclass
class TLSServerConfig:
    cert: str = ""
    key: str = ""
    cert_file: str = ""
    key_file: str = ""
    client_ca: str = ""
    client_ca_file: str = ""
    client_auth_type: str = ""
    cipher_suites: list[str] = field(default_factory=list)
    curve_preferences: list[str] = field(default_factory=list)
    min_version: str = "TLS12"
    max_version: str = "TLS13"
    prefer_server_cipher_suites: bool = True
    client_allowed_sans: list[str] = field(default_factory=list)

    @property
    def enabled(self) -> bool:
        return bool(
            self.cert
            or self.key
            or self.cert_file
            or self.key_file
            or self.client_ca
            or self.client_ca_file
            or self.client_auth_type
        )


@dataclass
class RateLimit:
    burst: int = 0
    interval_ms: int = 0  # 0 = no limit


@dataclass
class WebConfig:
    path: str = ""
    tls: TLSServerConfig = field(default_factory=TLSServerConfig)
    http2: bool = True
    headers: dict[str, str] = field(default_factory=dict)
    # user name -> bcrypt hash; never logged or shown.
    basic_auth_users: dict[str, str] = field(default_factory=dict)
    rate_limit: RateLimit = field(default_factory=RateLimit)

    def ssl_context(self) -> ssl.SSLContext | None:
        """The server TLS context, or None when the file configures no TLS."""
        if not self.tls.enabled:
            return None
        return build_ssl_context(self.tls, self.path)


def load_web_config(path: str | os.PathLike[str]) -> WebConfig:
    """Read and check a web config file; raises ``ConfigError`` naming file:line."""
    name = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(name, 0, "", f"cannot read web config: {exc.strerror}") from None
    cfg = parse_web_config(text, name)
    if cfg.tls.enabled:
        build_ssl_context(cfg.tls, name)  # fail at start, not at the first handshake
    return cfg


def parse_web_config(text: str, file: str) -> WebConfig:
    ctx = Ctx(file)
    top = ctx.as_map(compose(text, file), "", _TOP)
    base = Path(file).parent
    cfg = WebConfig(path=file)
    cfg.tls = _parse_tls(top.map("tls_server_config", _TLS), base)
    http = top.map("http_server_config", _HTTP)
    cfg.http2 = http.boolean("http2", True)
    cfg.headers = _parse_headers(http)
    users = top.map("basic_auth_users")
    for user in users.names():
        hashed = users.string(user)
        _check_bcrypt_hash(hashed, lambda msg, u=user: users.error(u, msg))
        cfg.basic_auth_users[user] = hashed
    rate = top.map("rate_limit", _RATE)
    cfg.rate_limit = RateLimit(rate.uint("burst"), rate.duration("interval", 0))
    return cfg


def _parse_tls(view: MapView, base: Path) -> TLSServerConfig:
    def path_of(key: str) -> str:
        value = view.string(key)
        return str(base / value) if value and not os.path.isabs(value) else value

    tls = TLSServerConfig(
        cert=view.string("cert"),
        key=view.string("key"),
        cert_file=path_of("cert_file"),
        key_file=path_of("key_file"),
        client_ca=view.string("client_ca"),
        client_ca_file=path_of("client_ca_file"),
        client_auth_type=view.string("client_auth_type"),
        cipher_suites=view.str_list("cipher_suites"),
        curve_preferences=view.str_list("curve_preferences"),
        min_version=view.string("min_version", "TLS12"),
        max_version=view.string("max_version", "TLS13"),
        prefer_server_cipher_suites=view.boolean("prefer_server_cipher_suites", True),
        client_allowed_sans=view.str_list("client_allowed_sans"),
    )
    for key in ("min_version", "max_version"):
        if getattr(tls, key) not in _TLS_VERSIONS:
            raise view.error(key, f"unknown TLS version: {getattr(tls, key)}")
    if tls.client_auth_type not in _CLIENT_AUTH:
        raise view.error("client_auth_type", f"invalid ClientAuth: {tls.client_auth_type}")
    for name in tls.cipher_suites:
        if name not in _GO_CIPHERS:
            raise view.error("cipher_suites", f"unknown cipher: {name}")
    for name in tls.curve_preferences:
        if name not in _GO_CURVES:
            raise view.error("curve_preferences", f"unknown curve: {name}")
    if not tls.enabled:
        return tls
    if not (tls.cert or tls.cert_file):
        raise view.error_here("missing one of cert or cert_file")
    if not (tls.key or tls.key_file):
        raise view.error_here("missing one of key or key_file")
    if tls.cert and tls.cert_file:
        raise view.error("cert", "at most one of cert and cert_file must be configured")
    if tls.key and tls.key_file:
        raise view.error("key", "at most one of key and key_file must be configured")
    verify = _CLIENT_AUTH[tls.client_auth_type]
    has_ca = bool(tls.client_ca or tls.client_ca_file)
    if has_ca and verify == ssl.CERT_NONE:
        raise view.error_here("client CA's have been configured without a Client Auth Policy")
    if verify != ssl.CERT_NONE and not has_ca:
        raise view.error(
            "client_auth_type",
            f"{tls.client_auth_type} needs client_ca_file or client_ca here "
            "(client certificates are always verified against a CA)",
        )
    if tls.client_allowed_sans and verify != ssl.CERT_REQUIRED:
        raise view.error(
            "client_allowed_sans",
            "client_allowed_sans requires client_auth_type to be one of "
            "RequireAnyClientCert or RequireAndVerifyClientCert",
        )
    return tls


def _parse_headers(http: MapView) -> dict[str, str]:
    headers = http.str_map("headers")
    for name, value in headers.items():
        allowed_name = next((h for h in _HEADER_VALUES if h.lower() == name.lower()), None)
        if allowed_name is None:
            raise http.map("headers").error(name, f"HTTP header {name!r} can not be configured")
        allowed = _HEADER_VALUES[allowed_name]
        if allowed is not None and value.lower() not in allowed:
            raise http.map("headers").error(
                name,
                f"invalid value for {name}. Expected one of: {list(allowed)}, but got: {value!r}",
            )
    return headers


def _check_bcrypt_hash(hashed: str, error: object) -> None:
    parts = hashed.split("$")
    ok = len(parts) == 4 and parts[1] in ("2a", "2b", "2y") and parts[2].isdigit()
    ok = ok and 4 <= int(parts[2]) <= 31 and len(parts[3]) == 53
    if not ok:
        assert callable(error)
        raise error("not a bcrypt hash (want $2y$<cost>$... as htpasswd -B makes)")


def build_ssl_context(tls: TLSServerConfig, file: str) -> ssl.SSLContext:
    """An SSL context for the server; certificate problems raise ``ConfigError``."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = _TLS_VERSIONS[tls.min_version]
    ctx.maximum_version = _TLS_VERSIONS[tls.max_version]
    if tls.prefer_server_cipher_suites:
        ctx.options |= ssl.OP_CIPHER_SERVER_PREFERENCE
    if tls.cipher_suites:
        ctx.set_ciphers(":".join(_GO_CIPHERS[c] for c in tls.cipher_suites))
    if tls.curve_preferences:
        # Python's ssl sets a single ECDH curve: the first preference.
        ctx.set_ecdh_curve(_GO_CURVES[tls.curve_preferences[0]])
    try:
        load_cert_chain(ctx, tls)
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(
            file, 0, "tls_server_config", f"failed to load X509KeyPair: {exc}"
        ) from None
    ctx.verify_mode = _CLIENT_AUTH[tls.client_auth_type]
    try:
        if tls.client_ca_file:
            ctx.load_verify_locations(cafile=tls.client_ca_file)
        elif tls.client_ca:
            ctx.load_verify_locations(cadata=tls.client_ca)
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(file, 0, "tls_server_config", f"cannot load client CA: {exc}") from None
    return ctx


def load_cert_chain(ctx: ssl.SSLContext, tls: TLSServerConfig) -> None:
    """Load (or replace: new connections use it) the server certificate and key."""
    if tls.cert_file and tls.key_file:
        ctx.load_cert_chain(tls.cert_file, tls.key_file)
        return
    # Python's ssl loads only from files: inline PEM goes through a private temp dir.
    with tempfile.TemporaryDirectory(prefix="tidewatch-tls-") as tmp:
        cert_path = tls.cert_file or os.path.join(tmp, "cert.pem")
        key_path = tls.key_file or os.path.join(tmp, "key.pem")
        if tls.cert:
            Path(cert_path).write_text(tls.cert, encoding="utf-8")
        if tls.key:
            fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(tls.key)
        ctx.load_cert_chain(cert_path, key_path)


def peer_sans(peercert: object) -> list[str]:
    """Subject alternative names of a verified peer certificate (from getpeercert())."""
    if not isinstance(peercert, dict):
        return []
    return [str(value) for _kind, value in peercert.get("subjectAltName", ())]


class BasicAuthUsers:
    """Checks basic-auth credentials against the web config's bcrypt hashes.

    bcrypt is slow on purpose (~50-300 ms); successful checks are cached for a minute
    under a keyed hash of user, password and stored hash, so scripts polling the API
    do not pay it on every request and a changed file invalidates the cache.
    """

    CACHE_TTL_S = 60.0
    CACHE_MAX = 1024

    def __init__(self, users: dict[str, str]) -> None:
        self._users = dict(users)
        self._key = os.urandom(32)
        self._ok: dict[bytes, float] = {}
        self._lock = threading.Lock()

    def __bool__(self) -> bool:
        return bool(self._users)

    def __contains__(self, user: str) -> bool:
        return user in self._users

    def _cache_key(self, user: str, password: str, stored: str) -> bytes:
        msg = b"\0".join(s.encode("utf-8") for s in (user, password, stored))
        return hmac.new(self._key, msg, hashlib.sha256).digest()

    def check(self, user: str, password: str) -> bool:
        """Blocking when not cached (bcrypt): call off the event loop."""
        stored = self._users.get(user)
        if stored is None:
            return False
        key = self._cache_key(user, password, stored)
        now = time.monotonic()
        with self._lock:
            until = self._ok.get(key)
            if until is not None and until > now:
                return True
        import bcrypt  # only web configs with users need it

        try:
            ok = bool(bcrypt.checkpw(password.encode("utf-8"), stored.encode("ascii")))
        except ValueError:
            ok = False
        if ok:
            with self._lock:
                if len(self._ok) >= self.CACHE_MAX:
                    self._ok.clear()
                self._ok[key] = now + self.CACHE_TTL_S
        return ok

    def is_cached(self, user: str, password: str) -> bool:
        """True when ``check`` would answer from the cache (no thread hop needed)."""
        stored = self._users.get(user)
        if stored is None:
            return False
        until = self._ok.get(self._cache_key(user, password, stored))
        return until is not None and until > time.monotonic()
