"""Authentication and authorization for every HTTP API and the UI.

One middleware decides who made a request (API token, basic auth, or session
cookie) and whether their role allows it; ``AuthAPI`` serves login, logout, the
session, password change, and admin management of users and tokens.

Secure by default: on a non-loopback listen address auth is always on; on loopback
it is on when users exist or ``auth.required: true``. Secrets are never logged, and
tokens are shown once, when created.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import hmac
import logging
import os
import secrets
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from typing import Any
from urllib.parse import quote, urlsplit

import orjson
from aiohttp import web
from aiohttp.typedefs import Middleware

from tidewatch.config.errors import ConfigError
from tidewatch.duration import DurationError, parse_duration
from tidewatch.users.roles import SAFE_METHODS, Principal, Role, required_role
from tidewatch.users.store import TOKEN_PREFIX, UserError, UserStore
from tidewatch.web.auth_settings import (
    AuthSettings,
    auth_settings,
    is_loopback_host,
    listen_is_loopback,
)
from tidewatch.web.responses import APIError, bad_data, json_response, success
from tidewatch.web.webconfig import (
    BasicAuthUsers,
    WebConfig,
    load_cert_chain,
    load_web_config,
    peer_sans,
)

log = logging.getLogger(__name__)

# Re-exported: the server builds settings and the authenticator from this module.
__all__ = [
    "ANONYMOUS",
    "AuthAPI",
    "AuthSettings",
    "Authenticator",
    "auth_settings",
    "install_security_headers",
    "is_loopback_host",
    "listen_is_loopback",
    "make_auth_middleware",
    "principal_of",
]

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

SESSION_COOKIE = "tidewatch_session"
CSRF_HEADER = "X-CSRF-Token"
CSRF_FORM_FIELD = "csrf_token"
PRINCIPAL_KEY = web.RequestKey("tidewatch.principal", Principal)
CSRF_KEY = web.RequestKey("tidewatch.csrf", str)
API_PREFIX = "/api/tidewatch/auth"
ANONYMOUS = Principal("anonymous", Role.ADMIN, "anonymous")

_FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


# --- small helpers -----------------------------------------------------------------


class _VerifiedPasswords:
    """Recent successful password checks, so basic auth does not run scrypt on every
    request. Keyed by an HMAC of (user, password, stored hash): nothing reusable is
    kept, and a password change misses the cache."""

    TTL_S = 60.0
    MAX = 1024

    def __init__(self) -> None:
        self._key = os.urandom(32)
        self._ok: dict[bytes, float] = {}
        self._lock = threading.Lock()

    def key(self, user: str, password: str, stored: str) -> bytes:
        msg = b"\0".join(s.encode("utf-8") for s in (user, password, stored))
        return hmac.new(self._key, msg, hashlib.sha256).digest()

    def hit(self, key: bytes) -> bool:
        with self._lock:
            until = self._ok.get(key)
            return until is not None and until > time.monotonic()

    def add(self, key: bytes) -> None:
        with self._lock:
            if len(self._ok) >= self.MAX:
                self._ok.clear()
            self._ok[key] = time.monotonic() + self.TTL_S


class _FailureLimiter:
    """Failed sign-ins per client address in a sliding window (brute-force brake)."""

    WINDOW_S = 300.0

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._fails: dict[str, deque[float]] = {}

    def _recent(self, client: str, now: float) -> deque[float]:
        q = self._fails.setdefault(client, deque())
        while q and q[0] <= now - self.WINDOW_S:
            q.popleft()
        return q

    def blocked(self, client: str) -> bool:
        if client not in self._fails:
            return False
        return len(self._recent(client, time.monotonic())) >= self.limit

    def failed(self, client: str) -> None:
        if len(self._fails) > 10_000:
            self._fails.clear()  # bounded memory under a spray of addresses
        self._recent(client, time.monotonic()).append(time.monotonic())

    def succeeded(self, client: str) -> None:
        self._fails.pop(client, None)


class _TokenBucket:
    """web-config ``rate_limit``: ``burst`` requests, refilled one per ``interval``."""

    def __init__(self, burst: int, interval_s: float) -> None:
        self.capacity = max(burst, 1)
        self.interval_s = interval_s
        self.tokens = float(self.capacity)
        self.last = time.monotonic()

    def allow(self) -> bool:
        now = time.monotonic()
        self.tokens = min(self.capacity, self.tokens + (now - self.last) / self.interval_s)
        self.last = now
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False


def _mtime_of(path: str) -> int:
    try:
        return os.stat(path).st_mtime_ns
    except OSError:
        return 0


def _client_of(request: web.Request) -> str:
    return request.remote or "unknown"


def _error(status: int, error_type: str, message: str) -> web.Response:
    body = {"status": "error", "errorType": error_type, "error": message}
    return json_response(body, status=status)


def decode_basic_auth(value: str) -> tuple[str, str] | None:
    """``user:password`` from a basic-auth header value (RFC 7617, UTF-8)."""
    try:
        text = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    user, sep, password = text.partition(":")
    return (user, password) if sep else None


def _wants_html(request: web.Request) -> bool:
    path = request.path
    if request.method != "GET" or path.startswith(("/api/", "/loki/", "/-/")):
        return False
    return "text/html" in request.headers.get("Accept", "")


def _safe_next(target: str) -> str:
    """Only same-site paths: ``next`` must never redirect off-site."""
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return "/"
    return target


# --- the authenticator ------------------------------------------------------------


class Authenticator:
    """Who is this request from? Shared by the middleware and ``AuthAPI``."""

    def __init__(
        self,
        store: UserStore | None,
        settings: AuthSettings,
        web_config: WebConfig | None = None,
    ) -> None:
        self.store = store
        self.settings = settings
        self.failures = _FailureLimiter(settings.login_attempts_per_5m)
        self._verified = _VerifiedPasswords()
        self.ssl_context = web_config.ssl_context() if web_config else None
        # For tidewatch scraping its own /metrics over HTTP: lives only in memory.
        self.self_scrape_token = TOKEN_PREFIX + "self_" + secrets.token_urlsafe(32)
        self._use_web_config(web_config)
        self._checked_at = time.monotonic()
        self._mtime = _mtime_of(web_config.path) if web_config and web_config.path else 0

    def _use_web_config(self, web_config: WebConfig | None) -> None:
        self.web_config = web_config
        self.file_users = BasicAuthUsers(web_config.basic_auth_users if web_config else {})
        rate = web_config.rate_limit if web_config else None
        self.rate_limiter = (
            _TokenBucket(rate.burst, rate.interval_ms / 1000) if rate and rate.interval_ms else None
        )
        sans = web_config.tls.client_allowed_sans if web_config else []
        self.allowed_sans: frozenset[str] | None = frozenset(sans) if sans else None
        self.headers = {"X-Content-Type-Options": "nosniff"}
        if web_config is not None:
            self.headers.update(web_config.headers)
        if self.file_users:
            # Users in the file turn auth on, as in Prometheus; removing them later
            # never turns it off.
            self.settings.required = True

    WEB_CONFIG_CHECK_S = 1.0

    def refresh_web_config(self) -> None:
        """Re-read the web config file when it changed (looked at most once a second),
        as Prometheus re-reads it while running. A bad new file is logged and the
        running one stays. New TLS connections get a renewed certificate."""
        current = self.web_config
        if current is None or not current.path:
            return
        now = time.monotonic()
        if now - self._checked_at < self.WEB_CONFIG_CHECK_S:
            return
        self._checked_at = now
        mtime = _mtime_of(current.path)
        if mtime == self._mtime:
            return
        self._mtime = mtime
        try:
            new = load_web_config(current.path)
        except ConfigError as exc:
            log.error("web config not reloaded, keeping the running one: %s", exc)
            return
        if self.ssl_context is not None and new.tls.enabled:
            load_cert_chain(self.ssl_context, new.tls)
        self._use_web_config(new)
        log.info("web config reloaded from %s", current.path)

    async def check_password(self, user: str, password: str) -> Principal | None:
        """web-config users first (as Prometheus), then tidewatch users."""
        if user in self.file_users:
            if self.file_users.is_cached(user, password):
                ok = True
            else:
                ok = await asyncio.to_thread(self.file_users.check, user, password)
            return Principal(user, Role.ADMIN, "web-config") if ok else None
        if self.store is None:
            return None
        stored = self.store.password_hash_of(user)
        key = self._verified.key(user, password, stored)
        if stored and self._verified.hit(key):
            found = self.store.get_user(user)
            return Principal(user, found.role, "password") if found else None
        principal = await asyncio.to_thread(self.store.check_password, user, password)
        if principal is not None:
            self._verified.add(key)
        return principal

    def check_token(self, secret: str) -> Principal | None:
        if hmac.compare_digest(secret.encode("utf-8"), self.self_scrape_token.encode("utf-8")):
            return Principal("tidewatch-self-scrape", Role.VIEWER, "token")
        return self.store.check_token(secret) if self.store is not None else None

    async def identify(self, request: web.Request) -> tuple[Principal | None, str]:
        """(principal, failure reason). A present but wrong credential is a failure
        even when a valid cookie is also sent: never fall back silently."""
        header = request.headers.get("Authorization", "")
        if header:
            scheme, _, value = header.partition(" ")
            scheme = scheme.lower()
            if scheme == "bearer":
                principal = self.check_token(value.strip())
                return principal, "" if principal else "invalid or expired token"
            if scheme == "basic":
                creds = decode_basic_auth(value)
                if creds is None:
                    return None, "malformed basic auth header"
                user, password = creds
                if password.startswith(TOKEN_PREFIX):
                    # Tools that only speak basic auth carry a token as the password.
                    principal = self.check_token(password)
                else:
                    principal = await self.check_password(user, password)
                return principal, "" if principal else "invalid username or password"
            return None, f"unsupported authorization scheme {scheme!r}"
        session_id = request.cookies.get(SESSION_COOKIE, "")
        if session_id and self.store is not None:
            session = self.store.get_session(session_id)
            if session is None:
                return None, "session expired; sign in again"
            request[CSRF_KEY] = session.csrf_token
            return Principal(session.user, session.role, "session"), ""
        return None, "authentication required"


async def _csrf_ok(request: web.Request) -> bool:
    """Synchronizer token: the session's CSRF token in a header (fetch) or a form
    field (HTML forms). Cross-site pages can send the cookie but cannot read the token."""
    expected = request.get(CSRF_KEY, "")
    if not expected:
        return False
    sent = request.headers.get(CSRF_HEADER, "")
    if not sent and request.content_type in _FORM_TYPES:
        form = await request.post()  # cached by aiohttp; the handler can read it again
        field = form.get(CSRF_FORM_FIELD, "")
        sent = field if isinstance(field, str) else ""
    # Bytes: compare_digest refuses non-ASCII str, and a header may carry anything.
    return bool(sent) and hmac.compare_digest(sent.encode("utf-8"), expected.encode("utf-8"))


def make_auth_middleware(auth: Authenticator) -> Middleware:
    """The middleware to add after the error middleware in ``build_app``."""

    @web.middleware
    async def authenticate(request: web.Request, handler: Handler) -> web.StreamResponse:
        auth.refresh_web_config()
        if auth.rate_limiter is not None and not auth.rate_limiter.allow():
            return web.Response(status=429, text="Too Many Requests\n")
        if auth.allowed_sans is not None:
            peercert = request.transport.get_extra_info("peercert") if request.transport else None
            if not auth.allowed_sans.intersection(peer_sans(peercert)):
                return _error(403, "forbidden", "client certificate SAN not allowed")
        if not auth.settings.required:
            request[PRINCIPAL_KEY] = ANONYMOUS
            return await handler(request)
        needed = required_role(request.method, request.path)
        if needed is None:
            return await handler(request)
        client = _client_of(request)
        if auth.failures.blocked(client):
            return _error(429, "too_many_requests", "too many failed sign-ins; try later")
        principal, reason = await auth.identify(request)
        if principal is None:
            if "Authorization" in request.headers:
                auth.failures.failed(client)
                log.warning("authentication failed from %s: %s", client, reason)
            if _wants_html(request):
                raise web.HTTPFound("/login?next=" + quote(request.path_qs, safe=""))
            resp = _error(401, "unauthorized", reason)
            if "Sec-Fetch-Mode" not in request.headers:
                # Not from a browser script: invite curl-like clients to send basic auth.
                resp.headers["WWW-Authenticate"] = 'Basic realm="tidewatch", charset="UTF-8"'
            return resp
        unsafe = request.method not in SAFE_METHODS
        if principal.via == "session" and unsafe and not await _csrf_ok(request):
            return _error(403, "forbidden", "missing or wrong CSRF token")
        if not principal.may(needed):
            return _error(
                403,
                "forbidden",
                f"role {principal.role.label} may not {request.method} {request.path}"
                f" (needs {needed.label})",
            )
        request[PRINCIPAL_KEY] = principal
        return await handler(request)

    return authenticate


def principal_of(request: web.Request) -> Principal | None:
    """Who made this request (set by the middleware); handlers may use it for audit."""
    return request.get(PRINCIPAL_KEY)


def install_security_headers(app: web.Application, auth: Authenticator) -> None:
    """web-config ``http_server_config.headers`` on every response (errors too),
    plus nosniff, which is always safe. Read per response so a reloaded file applies."""

    async def add_headers(request: web.Request, response: web.StreamResponse) -> None:
        for name, value in auth.headers.items():
            response.headers.setdefault(name, value)

    app.on_response_prepare.append(add_headers)


# --- the auth API -----------------------------------------------------------------

# Styled by the UI's own stylesheet (assets are open to everyone); without a built UI,
# or under a strict Content-Security-Policy, the form still works unstyled.
_LOGIN_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>tidewatch - sign in</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="stylesheet" href="/ui/assets/app.css"></head>
<body class="login-body"><main class="login-box">
<div class="login-logo">&#8779; tidewatch</div>{error}
<form method="post" action="{action}" class="login-form">
<input type="hidden" name="next" value="{next}">
<label>User<input name="username" autocomplete="username" required autofocus></label>
<label>Password<input name="password" type="password"
 autocomplete="current-password" required></label>
<button type="submit" class="btn btn-primary">Sign in</button>
</form></main></body></html>
"""


def _html_escape(text: str) -> str:
    return (
        text.replace("&", "&amp;")
        .replace("<", "&lt;")
        .replace(">", "&gt;")
        .replace('"', "&quot;")
        .replace("'", "&#x27;")
    )


class AuthAPI:
    """``/api/tidewatch/auth/...`` (and, optionally, a plain ``GET /login`` page)."""

    def __init__(self, auth: Authenticator, *, login_page: bool = True) -> None:
        self.auth = auth
        self.login_page = login_page

    @property
    def _store(self) -> UserStore:
        if self.auth.store is None:
            raise APIError("unavailable", "no user store configured")
        return self.auth.store

    def routes(self) -> list[web.RouteDef]:
        p = API_PREFIX
        out = [
            web.post(f"{p}/login", self.login),
            web.post(f"{p}/logout", self.logout),
            web.get(f"{p}/session", self.session),
            web.post(f"{p}/password", self.change_password),
            web.get(f"{p}/users", self.list_users),
            web.post(f"{p}/users", self.create_user),
            web.put(f"{p}/users/{{name}}", self.update_user),
            web.delete(f"{p}/users/{{name}}", self.delete_user),
            web.get(f"{p}/tokens", self.list_tokens),
            web.post(f"{p}/tokens", self.create_token),
            web.delete(f"{p}/tokens/{{id}}", self.revoke_token),
        ]
        if self.login_page:
            out.append(web.get("/login", self.login_form))
        return out

    async def _body(self, request: web.Request) -> dict[str, Any]:
        if request.content_type == "application/json":
            try:
                data = orjson.loads(await request.read())
            except orjson.JSONDecodeError as exc:
                raise bad_data(f"invalid JSON body: {exc}") from None
            if not isinstance(data, dict):
                raise bad_data("the JSON body must be an object")
            return data
        form = await request.post()
        return {k: v for k, v in form.items() if isinstance(v, str)}

    @staticmethod
    def _str(body: Mapping[str, Any], key: str, *, required: bool = True) -> str:
        value = body.get(key, "")
        if not isinstance(value, str) or (required and not value):
            raise bad_data(f'"{key}" is required and must be a string')
        return value

    @staticmethod
    def _role(body: Mapping[str, Any], key: str = "role", default: str = "") -> Role | None:
        text = body.get(key, default)
        if not text:
            return None
        try:
            return Role.parse(str(text))
        except ValueError as exc:
            raise bad_data(str(exc)) from None

    def _set_session_cookie(self, request: web.Request, resp: web.StreamResponse, sid: str) -> None:
        resp.set_cookie(
            SESSION_COOKIE,
            sid,
            max_age=int(self.auth.settings.session_ttl_s),
            path="/",
            httponly=True,
            samesite="Lax",
            secure=request.secure or self.auth.settings.secure_cookies,
        )

    async def login(self, request: web.Request) -> web.StreamResponse:
        is_form = request.content_type in _FORM_TYPES
        origin = request.headers.get("Origin")
        if origin and urlsplit(origin).netloc != request.host:
            # Login CSRF: a foreign page must not sign a victim into our site.
            return _error(403, "forbidden", "cross-origin sign-in refused")
        client = _client_of(request)
        if self.auth.failures.blocked(client):
            return _error(429, "too_many_requests", "too many failed sign-ins; try later")
        body = await self._body(request)
        username = self._str(body, "username")
        password = self._str(body, "password")
        next_url = _safe_next(str(body.get("next", "/") or "/"))
        principal = None
        if self.auth.store is not None:
            principal = await self.auth.check_password(username, password)
        if principal is None or principal.via != "password":
            self.auth.failures.failed(client)
            log.warning("failed sign-in for user %r from %s", username, client)
            if is_form:
                raise web.HTTPSeeOther("/login?error=1&next=" + quote(next_url, safe=""))
            return _error(401, "unauthorized", "invalid username or password")
        self.auth.failures.succeeded(client)
        sid, session = self._store.create_session(principal.name, self.auth.settings.session_ttl_s)
        log.info("user %r signed in from %s", principal.name, client)
        if is_form:
            redirect = web.HTTPSeeOther(next_url)
            self._set_session_cookie(request, redirect, sid)
            raise redirect
        resp = success(
            {
                "user": session.user,
                "role": session.role.label,
                "csrfToken": session.csrf_token,
                "expiresAt": session.expires_at,
            }
        )
        self._set_session_cookie(request, resp, sid)
        return resp

    async def logout(self, request: web.Request) -> web.StreamResponse:
        sid = request.cookies.get(SESSION_COOKIE, "")
        if sid and self.auth.store is not None:
            self.auth.store.delete_session(sid)
        resp = success({})
        resp.del_cookie(SESSION_COOKIE, path="/")
        return resp

    async def session(self, request: web.Request) -> web.Response:
        principal = principal_of(request) or ANONYMOUS
        return success(
            {
                "user": principal.name,
                "role": principal.role.label,
                "via": principal.via,
                "authRequired": self.auth.settings.required,
                "csrfToken": request.get(CSRF_KEY) or None,
            }
        )

    async def change_password(self, request: web.Request) -> web.Response:
        principal = principal_of(request)
        if principal is None or principal.via not in ("session", "password"):
            raise bad_data("sign in with your password to change it")
        body = await self._body(request)
        current = self._str(body, "current")
        new = self._str(body, "new")
        if await asyncio.to_thread(self._store.check_password, principal.name, current) is None:
            return _error(403, "forbidden", "current password is wrong")
        await self._run(self._store.set_password, principal.name, new)
        return success({})

    async def _run(self, fn: Callable[..., Any], *args: Any) -> Any:
        """Store calls that hash run off the loop; refusals become 400s."""
        try:
            return await asyncio.to_thread(fn, *args)
        except UserError as exc:
            raise bad_data(str(exc)) from None

    async def list_users(self, request: web.Request) -> web.Response:
        return success([u.to_json() for u in self._store.list_users()])

    async def create_user(self, request: web.Request) -> web.Response:
        body = await self._body(request)
        role = self._role(body, default="viewer") or Role.VIEWER
        user = await self._run(
            self._store.create_user, self._str(body, "name"), self._str(body, "password"), role
        )
        log.info("user %r created with role %s", user.name, role.label)
        return success(user.to_json())

    async def update_user(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        body = await self._body(request)
        role = self._role(body)
        password = self._str(body, "password", required=False)
        if self._store.get_user(name) is None:
            raise APIError("not_found", f"no user {name!r}")
        if role is not None:
            await self._run(self._store.set_role, name, role)
        if password:
            await self._run(self._store.set_password, name, password)
        found = self._store.get_user(name)
        assert found is not None
        return success(found.to_json())

    async def delete_user(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        await self._run(self._store.delete_user, name)
        log.info("user %r deleted", name)
        return success({})

    async def list_tokens(self, request: web.Request) -> web.Response:
        return success([t.to_json() for t in self._store.list_tokens()])

    async def create_token(self, request: web.Request) -> web.Response:
        principal = principal_of(request) or ANONYMOUS
        body = await self._body(request)
        owner = self._str(body, "owner", required=False) or principal.name
        role = self._role(body, default="viewer") or Role.VIEWER
        ttl_s = 0.0
        expires_in = body.get("expires_in")
        if expires_in:
            try:
                ttl_s = parse_duration(str(expires_in)) / 1000
            except DurationError as exc:
                raise bad_data(f'"expires_in": {exc}') from None
        info, secret = await self._run(
            self._store.create_token, owner, self._str(body, "name"), role, ttl_s
        )
        log.info("token %s (%r) created for %r", info.id, info.name, owner)
        # The only time the secret is ever shown.
        return success({**info.to_json(), "token": secret})

    async def revoke_token(self, request: web.Request) -> web.Response:
        await self._run(self._store.revoke_token, request.match_info["id"])
        return success({})

    async def login_form(self, request: web.Request) -> web.Response:
        next_url = _safe_next(request.query.get("next", "/"))
        error = (
            '<p role="alert" class="login-error">Wrong user or password.</p>'
            if request.query.get("error")
            else ""
        )
        html = _LOGIN_PAGE.format(
            error=error, action=f"{API_PREFIX}/login", next=_html_escape(next_url)
        )
        return web.Response(
            text=html,
            content_type="text/html",
            headers={"Cache-Control": "no-store", "X-Frame-Options": "deny"},
        )
