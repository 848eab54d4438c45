"""Prometheus's web config file: parsing, errors with lines, bcrypt users, TLS."""

from __future__ import annotations

import os
import ssl
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from aiohttp import encode_basic_auth, web

from tidewatch.config.errors import ConfigError
from tidewatch.users.store import UserStore
from tidewatch.web.auth import Authenticator, AuthSettings, auth_settings
from tidewatch.web.webconfig import load_web_config, parse_web_config

from .conftest import PASSWORDS, ClientFactory, tiny_app


def bcrypt_hash(password: str) -> str:
    bcrypt = pytest.importorskip("bcrypt")
    return str(bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=4)).decode())


@pytest.fixture(scope="module")
def self_signed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    d = tmp_path_factory.mktemp("tls")
    cert, key = d / "cert.pem", d / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=DNS:localhost,IP:127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


def test_full_file_parses(tmp_path: Path, self_signed: tuple[Path, Path]) -> None:
    cert, key = self_signed
    (tmp_path / "cert.pem").write_bytes(cert.read_bytes())
    path = tmp_path / "web.yml"
    path.write_text(
        "tls_server_config:\n"
        "  cert_file: cert.pem\n"  # relative to the web config file
        f"  key_file: {key}\n"
        "  min_version: TLS12\n"
        "  cipher_suites: [TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256]\n"
        "  curve_preferences: [CurveP256]\n"
        "http_server_config:\n"
        "  http2: false\n"
        "  headers:\n"
        "    X-Frame-Options: deny\n"
        "    Strict-Transport-Security: max-age=31536000\n"
        "basic_auth_users:\n"
        f"  alice: {bcrypt_hash('alice-secret')}\n"
        "rate_limit:\n"
        "  burst: 5\n"
        "  interval: 1s\n"
    )
    cfg = load_web_config(path)
    assert cfg.tls.cert_file == str(tmp_path / "cert.pem")
    assert cfg.http2 is False
    assert cfg.headers["X-Frame-Options"] == "deny"
    assert set(cfg.basic_auth_users) == {"alice"}
    assert cfg.rate_limit.burst == 5 and cfg.rate_limit.interval_ms == 1000
    assert isinstance(cfg.ssl_context(), ssl.SSLContext)


@pytest.mark.parametrize(
    ("text", "line", "fragment"),
    [
        (
            "basic_auth_users:\n  bob: x\ntls_server_confg: {}\n",
            3,
            'unknown field "tls_server_confg" (did you mean "tls_server_config"?)',
        ),
        ("basic_auth_users:\n  bob: notahash\n", 2, "basic_auth_users.bob: not a bcrypt hash"),
        (
            "http_server_config:\n  headers:\n    Server: x\n",
            3,
            "HTTP header 'Server' can not be configured",
        ),
        (
            "http_server_config:\n  headers:\n    X-Frame-Options: allow\n",
            3,
            "invalid value for X-Frame-Options",
        ),
        ("tls_server_config:\n  cert_file: a.pem\n", 2, "missing one of key or key_file"),
        ("tls_server_config:\n  min_version: TLS9\n", 2, "unknown TLS version: TLS9"),
        (
            "tls_server_config:\n  cert: x\n  key: y\n  client_auth_type: Maybe\n",
            4,
            "invalid ClientAuth: Maybe",
        ),
        ("tls_server_config:\n  cipher_suites: [NOPE]\n", 2, "unknown cipher: NOPE"),
        ("rate_limit:\n  interval: soon\n", 2, "rate_limit.interval"),
        ("basic_auth_users: [a, b]\n", 1, "cannot unmarshal !!seq into a mapping"),
        ("a: [\n", 2, "yaml:"),
    ],
)
def test_bad_files_name_the_line(text: str, line: int, fragment: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse_web_config(text, "web.yml")
    assert err.value.line == line, str(err.value)
    assert fragment in str(err.value)
    assert str(err.value).startswith(f"web.yml:{line}:")


def test_missing_file_and_bad_certificate(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read web config"):
        load_web_config(tmp_path / "absent.yml")
    (tmp_path / "web.yml").write_text(
        "tls_server_config:\n  cert_file: nope.pem\n  key_file: nope.key\n"
    )
    with pytest.raises(ConfigError, match="failed to load X509KeyPair"):
        load_web_config(tmp_path / "web.yml")


async def test_bcrypt_users_from_the_file_work(
    make_client: ClientFactory, store: UserStore, tmp_path: Path
) -> None:
    path = tmp_path / "web.yml"
    path.write_text(
        "basic_auth_users:\n"
        f"  alice: {bcrypt_hash('alice-secret')}\n"
        "http_server_config:\n  headers:\n    Content-Security-Policy: default-src 'self'\n"
    )
    cfg = load_web_config(path)
    # Users in the web config turn auth on even on loopback, as in Prometheus.
    settings = auth_settings(None, listen="127.0.0.1:9090", users_exist=False, web_config=cfg)
    assert settings.required
    client = await make_client(Authenticator(store, settings, cfg))
    ok = {"Authorization": encode_basic_auth("alice", "alice-secret")}
    resp = await client.post("/-/reload", headers=ok)
    assert resp.status == 200 and (await resp.json())["who"] == "alice"
    assert resp.headers["Content-Security-Policy"] == "default-src 'self'"
    again = await client.post("/-/reload", headers=ok)  # from the cache this time
    assert again.status == 200
    bad = {"Authorization": encode_basic_auth("alice", "alice-secreT")}
    assert (await client.get("/api/v1/query", headers=bad)).status == 401
    # tidewatch's own users still work beside the file's.
    viewer = {"Authorization": encode_basic_auth("viewer", PASSWORDS["viewer"])}
    assert (await client.get("/api/v1/query", headers=viewer)).status == 200
    assert (await client.get("/-/healthy")).headers["Content-Security-Policy"]


async def test_rate_limit(make_client: ClientFactory) -> None:
    cfg = parse_web_config("rate_limit:\n  burst: 2\n  interval: 1h\n", "web.yml")
    client = await make_client(Authenticator(None, AuthSettings(required=False), cfg))
    codes = [(await client.get("/-/healthy")).status for _ in range(3)]
    assert codes == [200, 200, 429]


@pytest.fixture
async def https_server(
    tmp_path: Path, self_signed: tuple[Path, Path], store: UserStore
) -> AsyncIterator[str]:
    cert, key = self_signed
    path = tmp_path / "web.yml"
    path.write_text(f"tls_server_config:\n  cert_file: {cert}\n  key_file: {key}\n")
    cfg = load_web_config(path)
    ctx = cfg.ssl_context()
    assert ctx is not None
    settings = auth_settings(None, listen="127.0.0.1:0", users_exist=True, web_config=cfg)
    runner = web.AppRunner(tiny_app(Authenticator(store, settings, cfg)))
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=ctx)
    await site.start()
    port = runner.addresses[0][1]
    yield f"https://localhost:{port}"
    await runner.cleanup()


async def test_tls_with_self_signed_certificate(
    https_server: str, self_signed: tuple[Path, Path]
) -> None:
    cert, _ = self_signed
    trust = ssl.create_default_context(cafile=str(cert))
    async with aiohttp.ClientSession() as session:
        resp = await session.post(
            f"{https_server}/api/tidewatch/auth/login",
            json={"username": "admin", "password": PASSWORDS["admin"]},
            ssl=trust,
        )
        assert resp.status == 200
        # Cookies carry Secure under TLS.
        assert resp.cookies["tidewatch_session"]["secure"]
        resp = await session.get(f"{https_server}/api/v1/query", ssl=trust)
        assert resp.status == 200 and (await resp.json())["who"] == "admin"
        # A client that does not trust the certificate cannot connect.
        with pytest.raises(aiohttp.ClientConnectorCertificateError):
            await session.get(f"{https_server}/-/healthy")
        # Plain HTTP to the TLS port fails too.
        with pytest.raises(aiohttp.ClientError):
            await session.get(https_server.replace("https", "http") + "/-/healthy")


async def test_web_config_is_reloaded_when_it_changes(
    make_client: ClientFactory, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "web.yml"
    path.write_text(f"basic_auth_users:\n  alice: {bcrypt_hash('alice-secret')}\n")
    cfg = load_web_config(path)
    auth = Authenticator(None, AuthSettings(required=True), cfg)
    auth.WEB_CONFIG_CHECK_S = 0.0
    client = await make_client(auth)
    alice = {"Authorization": encode_basic_auth("alice", "alice-secret")}
    bob = {"Authorization": encode_basic_auth("bob", "bob-secret")}
    assert (await client.get("/api/v1/query", headers=alice)).status == 200
    path.write_text(
        f"basic_auth_users:\n  bob: {bcrypt_hash('bob-secret')}\n"
        "http_server_config:\n  headers:\n    X-Frame-Options: deny\n"
    )
    os.utime(path, ns=(1, 1))  # a surely different mtime
    resp = await client.get("/api/v1/query", headers=bob)
    assert resp.status == 200 and resp.headers["X-Frame-Options"] == "deny"
    assert (await client.get("/api/v1/query", headers=alice)).status == 401
    # A broken edit keeps the running file.
    path.write_text("basic_auth_users: [oops]\n")
    os.utime(path, ns=(2, 2))
    assert (await client.get("/api/v1/query", headers=bob)).status == 200
    assert "web config not reloaded" in caplog.text
