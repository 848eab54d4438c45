"""A tiny aiohttp app behind the auth middleware, served on loopback."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from tidewatch.users.passwords import ScryptParams
from tidewatch.users.roles import Role
from tidewatch.users.store import UserStore
from tidewatch.web.app import make_error_middleware
from tidewatch.web.auth import (
    AuthAPI,
    Authenticator,
    AuthSettings,
    install_security_headers,
    make_auth_middleware,
    principal_of,
)

# Cheap scrypt for tests; the default cost is covered in test_passwords.
FAST_KDF = ScryptParams(log2_n=8)
PASSWORDS = {"viewer": "viewer-pass-1", "editor": "editor-pass-1", "admin": "admin-pass-1"}


class _NoMetrics:
    def observe_http(self, handler: str, code: int, seconds: float) -> None:
        pass


class _Services:
    self_metrics = _NoMetrics()


async def _echo(request: web.Request) -> web.Response:
    principal = principal_of(request)
    who = principal.name if principal else "-"
    if request.content_type == "application/x-www-form-urlencoded":
        form = await request.post()  # the middleware may have read it first
        return web.json_response({"who": who, "form": dict(form)})
    return web.json_response({"who": who})


def tiny_app(auth: Authenticator) -> web.Application:
    app = web.Application(
        middlewares=[make_error_middleware(_Services()), make_auth_middleware(auth)]  # type: ignore[arg-type]
    )
    install_security_headers(app, auth)
    app.add_routes(AuthAPI(auth).routes())
    app.add_routes(
        [
            web.get("/-/healthy", _echo),
            web.get("/-/ready", _echo),
            web.post("/-/reload", _echo),
            web.get("/api/v1/query", _echo),
            web.post("/api/v1/query", _echo),
            web.post("/loki/api/v1/query_range", _echo),
            web.post("/api/v2/silences", _echo),
            web.delete("/api/v2/silence/{id}", _echo),
            web.post("/api/v1/write", _echo),
            web.post("/loki/api/v1/push", _echo),
            web.post("/api/v1/admin/tsdb/snapshot", _echo),
            web.get("/", _echo),
        ]
    )
    return app


@pytest.fixture
def clock() -> list[float]:
    """A settable clock for expiry tests: ``clock[0]`` is now."""
    return [1_800_000_000.0]


@pytest.fixture
def store(tmp_path: Path, clock: list[float]) -> UserStore:
    s = UserStore.in_data_dir(tmp_path, kdf=FAST_KDF, now=lambda: clock[0])
    for name, password in PASSWORDS.items():
        s.create_user(name, password, Role.parse(name))
    return s


ClientFactory = Callable[..., Awaitable[TestClient]]


@pytest.fixture
async def make_client() -> AsyncIterator[ClientFactory]:
    """Start a tiny app for a given authenticator; closed after the test."""
    clients: list[TestClient] = []

    async def make(auth: Authenticator) -> TestClient:
        client = TestClient(TestServer(tiny_app(auth), host="127.0.0.1"))
        await client.start_server()
        clients.append(client)
        return client

    yield make
    for c in clients:
        await c.close()


@pytest.fixture
async def client(store: UserStore) -> AsyncIterator[TestClient]:
    auth = Authenticator(store, AuthSettings(required=True, login_attempts_per_5m=5))
    c = TestClient(TestServer(tiny_app(auth), host="127.0.0.1"))
    await c.start_server()
    yield c
    await c.close()
