"""The auth middleware and API over real HTTP on loopback."""

from __future__ import annotations

import logging

import pytest
from aiohttp import encode_basic_auth
from aiohttp.test_utils import TestClient
from yarl import URL

from tidewatch.config.errors import ConfigError
from tidewatch.users.roles import Role
from tidewatch.users.store import UserStore
from tidewatch.web.auth import (
    SESSION_COOKIE,
    Authenticator,
    AuthSettings,
    auth_settings,
    listen_is_loopback,
)

from .conftest import PASSWORDS, ClientFactory

API = "/api/tidewatch/auth"


def BasicAuth(user: str, password: str) -> dict[str, str]:
    return {"Authorization": encode_basic_auth(user, password)}


def basic(user: str) -> dict[str, str]:
    return BasicAuth(user, PASSWORDS[user])


# (method, path, least role) for every boundary the tiny app exposes.
BOUNDARIES = [
    ("GET", "/api/v1/query", Role.VIEWER),
    ("POST", "/api/v1/query", Role.VIEWER),
    ("POST", "/loki/api/v1/query_range", Role.VIEWER),
    ("POST", "/api/v2/silences", Role.EDITOR),
    ("DELETE", "/api/v2/silence/1", Role.EDITOR),
    ("POST", "/api/v1/write", Role.EDITOR),
    ("POST", "/loki/api/v1/push", Role.EDITOR),
    ("POST", "/-/reload", Role.ADMIN),
    ("POST", "/api/v1/admin/tsdb/snapshot", Role.ADMIN),
    ("GET", f"{API}/users", Role.ADMIN),
]


@pytest.mark.parametrize(("method", "path", "needed"), BOUNDARIES)
async def test_role_boundaries_with_basic_auth(
    client: TestClient, method: str, path: str, needed: Role
) -> None:
    for role in Role:
        resp = await client.request(method, path, headers=basic(role.label))
        expected = 200 if role >= needed else 403
        assert resp.status == expected, (role, method, path, await resp.text())
        if expected == 403:
            body = await resp.json()
            assert body["errorType"] == "forbidden" and needed.label in body["error"]


async def test_no_credentials(client: TestClient) -> None:
    resp = await client.get("/api/v1/query")
    assert resp.status == 401
    assert resp.headers["WWW-Authenticate"].startswith("Basic realm=")
    assert (await resp.json())["errorType"] == "unauthorized"
    # Browser scripts get no basic-auth prompt.
    resp = await client.get("/api/v1/query", headers={"Sec-Fetch-Mode": "cors"})
    assert resp.status == 401 and "WWW-Authenticate" not in resp.headers
    # A browser page load goes to the login page, remembering where it was.
    resp = await client.get("/?x=1", headers={"Accept": "text/html"}, allow_redirects=False)
    assert resp.status == 302
    location = URL(resp.headers["Location"])
    assert location.path == "/login" and location.query["next"] == "/?x=1"


async def test_health_and_login_page_stay_open(client: TestClient) -> None:
    for path in ("/-/healthy", "/-/ready", "/login"):
        assert (await client.get(path)).status == 200, path
    page = await (await client.get("/login?next=//evil.example/")).text()
    assert "evil.example" not in page and 'name="password"' in page


async def test_wrong_password_and_unknown_scheme(client: TestClient) -> None:
    resp = await client.get("/api/v1/query", headers=BasicAuth("viewer", "nope-nope"))
    assert resp.status == 401
    resp = await client.get("/api/v1/query", headers={"Authorization": "Digest abc"})
    assert resp.status == 401 and "unsupported" in (await resp.json())["error"]
    resp = await client.get("/api/v1/query", headers={"Authorization": "Basic !!!"})
    assert resp.status == 401


async def test_bearer_token_and_token_as_basic_password(
    client: TestClient, store: UserStore
) -> None:
    resp = await client.post(
        f"{API}/tokens", json={"name": "agent", "role": "editor"}, headers=basic("admin")
    )
    assert resp.status == 200
    data = (await resp.json())["data"]
    token = data["token"]
    assert token.startswith("tw_") and data["role"] == "editor"
    bearer = {"Authorization": f"Bearer {token}"}
    assert (await client.post("/api/v1/write", headers=bearer)).status == 200
    assert (await client.post("/-/reload", headers=bearer)).status == 403
    # Grafana-style basic auth with the token as the password.
    resp = await client.post("/loki/api/v1/push", headers=BasicAuth("anything", token))
    assert resp.status == 200
    # Listing never shows the secret.
    listed = await (await client.get(f"{API}/tokens", headers=basic("admin"))).text()
    assert token not in listed and data["id"] in listed
    assert (await client.delete(f"{API}/tokens/{data['id']}", headers=basic("admin"))).status == 200
    assert (await client.post("/api/v1/write", headers=bearer)).status == 401
    bad = {"Authorization": "Bearer tw_not-a-real-token"}
    assert (await client.get("/api/v1/query", headers=bad)).status == 401


async def test_session_login_csrf_and_logout(client: TestClient) -> None:
    resp = await client.post(
        f"{API}/login", json={"username": "editor", "password": PASSWORDS["editor"]}
    )
    assert resp.status == 200
    data = (await resp.json())["data"]
    assert data["role"] == "editor"
    cookie = resp.cookies[SESSION_COOKIE]
    assert cookie["httponly"] and cookie["samesite"] == "Lax" and not cookie["secure"]
    csrf = data["csrfToken"]
    # Reads need no CSRF token.
    assert (await client.get("/api/v1/query")).status == 200
    session = await (await client.get(f"{API}/session")).json()
    assert session["data"]["user"] == "editor" and session["data"]["csrfToken"] == csrf
    # Writes with only the cookie are refused: that is what a forged form would send.
    resp = await client.post("/api/v2/silences")
    assert resp.status == 403 and "CSRF" in (await resp.json())["error"]
    for wrong in ("x" * 64, "é" * 64):
        resp = await client.post("/api/v2/silences", headers={"X-CSRF-Token": wrong})
        assert resp.status == 403
    assert (await client.post("/api/v2/silences", headers={"X-CSRF-Token": csrf})).status == 200
    # The form field works too, and the handler still sees the form.
    resp = await client.post("/api/v2/silences", data={"csrf_token": csrf, "comment": "hi"})
    assert resp.status == 200 and (await resp.json())["form"]["comment"] == "hi"
    resp = await client.post("/api/v2/silences", data={"csrf_token": "wrong", "comment": "hi"})
    assert resp.status == 403
    # Role still applies to a session.
    assert (await client.post("/-/reload", headers={"X-CSRF-Token": csrf})).status == 403
    resp = await client.post(f"{API}/logout", headers={"X-CSRF-Token": csrf})
    assert resp.status == 200
    # The cookie is gone from the jar and the session is dead on the server too.
    client.session.cookie_jar.update_cookies({SESSION_COOKIE: cookie.value})
    resp = await client.get("/api/v1/query", headers={"Sec-Fetch-Mode": "cors"})
    assert resp.status == 401 and "expired" in (await resp.json())["error"]


async def test_form_login_redirects_safely(client: TestClient) -> None:
    resp = await client.post(
        f"{API}/login",
        data={"username": "viewer", "password": PASSWORDS["viewer"], "next": "/explore?a=1"},
        allow_redirects=False,
    )
    assert resp.status == 303 and resp.headers["Location"] == "/explore?a=1"
    assert SESSION_COOKIE in resp.cookies
    resp = await client.post(
        f"{API}/login",
        data={"username": "viewer", "password": "bad-password", "next": "https://evil.example"},
        allow_redirects=False,
    )
    assert resp.status == 303 and resp.headers["Location"].startswith("/login?error=1")
    assert "evil" not in resp.headers["Location"]


async def test_cross_origin_login_refused(client: TestClient) -> None:
    resp = await client.post(
        f"{API}/login",
        json={"username": "viewer", "password": PASSWORDS["viewer"]},
        headers={"Origin": "https://evil.example"},
    )
    assert resp.status == 403


async def test_session_expires(
    make_client: ClientFactory, store: UserStore, clock: list[float]
) -> None:
    auth = Authenticator(store, AuthSettings(required=True, session_ttl_s=60))
    client = await make_client(auth)
    resp = await client.post(
        f"{API}/login", json={"username": "viewer", "password": PASSWORDS["viewer"]}
    )
    assert resp.cookies[SESSION_COOKIE]["max-age"] == "60"
    assert (await client.get("/api/v1/query")).status == 200
    clock[0] += 61
    assert (await client.get("/api/v1/query")).status == 401


async def test_failed_logins_are_rate_limited(client: TestClient) -> None:
    for _ in range(5):
        resp = await client.post(f"{API}/login", json={"username": "admin", "password": "guess"})
        assert resp.status == 401
    resp = await client.post(
        f"{API}/login", json={"username": "admin", "password": PASSWORDS["admin"]}
    )
    assert resp.status == 429
    assert (await client.get("/api/v1/query", headers=basic("admin"))).status == 429


async def test_secrets_never_logged(client: TestClient, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    await client.post(f"{API}/login", json={"username": "viewer", "password": "leaky-secret"})
    await client.get("/api/v1/query", headers=BasicAuth("viewer", "other-leaky-secret"))
    await client.get("/api/v1/query", headers={"Authorization": "Bearer tw_leaky_token"})
    assert "failed sign-in" in caplog.text
    assert "leaky" not in caplog.text


async def test_user_management_api(client: TestClient, store: UserStore) -> None:
    admin = basic("admin")
    resp = await client.post(
        f"{API}/users",
        json={"name": "carol", "password": "carol-pass-1", "role": "editor"},
        headers=admin,
    )
    assert resp.status == 200 and (await resp.json())["data"]["role"] == "editor"
    users = (await (await client.get(f"{API}/users", headers=admin)).json())["data"]
    assert {u["name"] for u in users} == {"admin", "carol", "editor", "viewer"}
    assert "password" not in str(users).lower()
    carol = BasicAuth("carol", "carol-pass-1")
    assert (await client.post("/api/v2/silences", headers=carol)).status == 200
    resp = await client.put(f"{API}/users/carol", json={"role": "viewer"}, headers=admin)
    assert resp.status == 200
    assert (await client.post("/api/v2/silences", headers=carol)).status == 403
    resp = await client.post(f"{API}/users", json={"name": "x", "password": "short"}, headers=admin)
    assert resp.status == 400 and "at least 8" in (await resp.json())["error"]
    resp = await client.post(
        f"{API}/users", json={"name": "x", "password": "p" * 9, "role": "root"}, headers=admin
    )
    assert resp.status == 400
    assert (await client.delete(f"{API}/users/admin", headers=admin)).status == 400
    assert (await client.delete(f"{API}/users/carol", headers=admin)).status == 200
    assert (await client.put(f"{API}/users/carol", json={}, headers=admin)).status == 404


async def test_change_own_password(client: TestClient) -> None:
    resp = await client.post(
        f"{API}/login", json={"username": "viewer", "password": PASSWORDS["viewer"]}
    )
    csrf = (await resp.json())["data"]["csrfToken"]
    hdr = {"X-CSRF-Token": csrf}
    resp = await client.post(
        f"{API}/password", json={"current": "wrong-one", "new": "brand-new-pass"}, headers=hdr
    )
    assert resp.status == 403
    resp = await client.post(
        f"{API}/password",
        json={"current": PASSWORDS["viewer"], "new": "brand-new-pass"},
        headers=hdr,
    )
    assert resp.status == 200
    # The old session ended with the change; the new password works.
    assert (await client.get("/api/v1/query")).status == 401
    assert (
        await client.get("/api/v1/query", headers=BasicAuth("viewer", "brand-new-pass"))
    ).status == 200
    assert (await client.get("/api/v1/query", headers=basic("viewer"))).status == 401


async def test_auth_off_on_loopback_lets_everything_through(
    make_client: ClientFactory, tmp_path: object
) -> None:
    client = await make_client(Authenticator(None, AuthSettings(required=False)))
    assert (await client.post("/-/reload")).status == 200
    resp = await client.get(f"{API}/session")
    assert (await resp.json())["data"]["authRequired"] is False
    assert resp.headers["X-Content-Type-Options"] == "nosniff"


def test_auth_settings_decisions() -> None:
    assert listen_is_loopback("127.0.0.1:9090")
    assert listen_is_loopback("[::1]:9090")
    assert listen_is_loopback("localhost:9090")
    assert not listen_is_loopback(":9090")
    assert not listen_is_loopback("0.0.0.0:9090")
    assert not listen_is_loopback("example.com:9090")
    assert not auth_settings(None, listen="127.0.0.1:9090", users_exist=False).required
    assert auth_settings(None, listen="127.0.0.1:9090", users_exist=True).required
    assert auth_settings({"required": True}, listen="127.0.0.1:1", users_exist=False).required
    assert not auth_settings({"required": False}, listen="127.0.0.1:1", users_exist=True).required
    assert auth_settings(None, listen="0.0.0.0:9090", users_exist=False).required
    assert (
        auth_settings({"session_ttl": "1h"}, listen=":1", users_exist=False).session_ttl_s == 3600
    )
    with pytest.raises(ConfigError, match="cannot be turned off"):
        auth_settings({"required": False}, listen="0.0.0.0:9090", users_exist=False)
    with pytest.raises(ConfigError, match=r'auth\.requird: unknown field "requird"'):
        auth_settings({"requird": True}, listen=":1", users_exist=False)
    with pytest.raises(ConfigError, match=r"auth\.session_ttl"):
        auth_settings({"session_ttl": "soon"}, listen=":1", users_exist=False)
