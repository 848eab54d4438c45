"""prepare_auth: the start-up decisions, wired into a real app on loopback."""

from __future__ import annotations

from pathlib import Path

import pytest
from aiohttp import encode_basic_auth, web
from aiohttp.test_utils import TestClient, TestServer

from tidewatch.config.errors import ConfigError
from tidewatch.config.model import Config, ScrapeConfig, StaticConfig
from tidewatch.users.bootstrap import ADMIN_PASSWORD_ENV
from tidewatch.users.store import UserStore
from tidewatch.web.auth_setup import prepare_auth

from .conftest import FAST_KDF


def _config(listen: str, auth: dict[str, object] | None = None) -> Config:
    cfg = Config()
    cfg.server.listen = listen
    if auth is not None:
        cfg.sections["auth"] = auth
    return cfg


async def _ok(request: web.Request) -> web.Response:
    return web.Response(text="ok")


def test_loopback_without_users_is_open(tmp_path: Path) -> None:
    printed: list[str] = []
    setup = prepare_auth(
        _config("127.0.0.1:9090"),
        tmp_path,
        env={},
        announce=printed.append,
        store=UserStore.in_data_dir(tmp_path, kdf=FAST_KDF),
    )
    assert not setup.required and printed == [] and setup.ssl_context is None
    setup.close()


def test_public_listen_refuses_auth_off(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot be turned off"):
        prepare_auth(_config("0.0.0.0:9090", {"required": False}), tmp_path, env={})


async def test_public_listen_creates_admin_and_protects_app(tmp_path: Path) -> None:
    env = {ADMIN_PASSWORD_ENV: "from-the-env-1"}
    store = UserStore.in_data_dir(tmp_path, kdf=FAST_KDF)
    setup = prepare_auth(_config(":9090"), tmp_path, env=env, store=store)
    assert setup.required
    app = web.Application()
    app.router.add_get("/api/v1/query", _ok)
    setup.apply(app)
    async with TestClient(TestServer(app, host="127.0.0.1")) as client:
        assert (await client.get("/api/v1/query")).status == 401
        hdr = {"Authorization": encode_basic_auth("admin", "from-the-env-1")}
        assert (await client.get("/api/v1/query", headers=hdr)).status == 200
        assert (await client.get("/login")).status == 200
    setup.close()


async def test_self_scrapes_get_through(tmp_path: Path) -> None:
    from tidewatch.config.loader import default_config

    cfg = default_config("0.0.0.0:9090")
    cfg.prometheus.scrape_configs.append(
        ScrapeConfig(
            job_name="elsewhere", static_configs=[StaticConfig(targets=["example.com:9090"])]
        )
    )
    store = UserStore.in_data_dir(tmp_path, kdf=FAST_KDF)
    setup = prepare_auth(cfg, tmp_path, env={ADMIN_PASSWORD_ENV: "x-password-1"}, store=store)
    setup.protect_self_scrapes(cfg)
    jobs = {j.job_name: j for j in cfg.prometheus.scrape_configs}
    token = ""
    for name in ("tidewatch", "node"):
        authz = jobs[name].http.authorization
        assert authz is not None and authz.credentials is not None
        token = authz.credentials.value
        assert "tw_self" not in repr(jobs[name])  # secrets stay masked
    assert jobs["elsewhere"].http.authorization is None  # never sent off this host
    app = web.Application()
    app.router.add_get("/metrics", _ok)
    setup.apply(app)
    async with TestClient(TestServer(app, host="127.0.0.1")) as client:
        assert (await client.get("/metrics")).status == 401
        ok = await client.get("/metrics", headers={"Authorization": f"Bearer {token}"})
        assert ok.status == 200
    setup.close()
