"""Start-up wiring for auth: one call that the server makes before serving.

setup = prepare_auth(config, data_dir, web_config_file)   # may raise ConfigError
setup.apply(app)                                          # before the app starts
web.TCPSite(runner, host, port, ssl_context=setup.ssl_context)
...
setup.close()
"""

from __future__ import annotations

import ipaddress
import logging
import os
import ssl
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from aiohttp import web

from tidewatch.config.model import Authorization, Config, Secret
from tidewatch.users.bootstrap import ensure_first_admin
from tidewatch.users.store import UserStore
from tidewatch.web.auth import (
    AuthAPI,
    Authenticator,
    auth_settings,
    install_security_headers,
    make_auth_middleware,
)
from tidewatch.web.webconfig import WebConfig, load_web_config

log = logging.getLogger(__name__)


SELF_PATHS = ("/metrics", "/collectors/node/metrics", "/metrics/pushgateway")


def _own_targets(listen: str) -> set[str]:
    """Addresses that surely reach this process: loopback names for its port, and
    the listen address itself when it is an IP literal (a name could point anywhere)."""
    host, _, port = listen.rpartition(":")
    host = host.strip("[]")
    own = {f"localhost:{port}", f"127.0.0.1:{port}", f"[::1]:{port}"}
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return own
    if not ip.is_unspecified:
        own.add(f"[{host}]:{port}" if ip.version == 6 else f"{host}:{port}")
    return own


def _print(text: str) -> None:
    sys.stdout.write(text)
    sys.stdout.flush()


@dataclass
class AuthSetup:
    authenticator: Authenticator
    web_config: WebConfig | None
    ssl_context: ssl.SSLContext | None

    @property
    def required(self) -> bool:
        return self.authenticator.settings.required

    def apply(self, app: web.Application, *, login_page: bool = True) -> None:
        """Add the middleware (innermost, after the error middleware), the auth routes
        and the response headers. Call before the app is frozen (runner.setup())."""
        app.middlewares.append(make_auth_middleware(self.authenticator))
        app.add_routes(AuthAPI(self.authenticator, login_page=login_page).routes())
        install_security_headers(app, self.authenticator)

    def protect_self_scrapes(self, config: Config) -> None:
        """Let scrape jobs that read tidewatch's own endpoints (the built-in
        ``tidewatch`` and ``node`` jobs, or the same in a user's file) through auth:
        they get an in-memory token, and https when TLS is on. Call on the config
        at start and on every reloaded one, before the scrape manager sees it."""
        if not self.required:
            return
        own = _own_targets(config.server.listen)
        tls = bool(self.web_config and self.web_config.tls.enabled)
        for job in config.prometheus.scrape_configs:
            if job.metrics_path not in SELF_PATHS:
                continue
            if job.http.authorization is not None or job.http.basic_auth is not None:
                continue
            targets = [t for sc in job.static_configs for t in sc.targets]
            if not targets or not all(t in own for t in targets):
                continue
            job.http.authorization = Authorization(
                type="Bearer", credentials=Secret(self.authenticator.self_scrape_token)
            )
            if tls:
                job.scheme = "https"
                # Our own certificate, over loopback or our own listen address; its
                # names may not include "localhost".
                job.http.tls_config.insecure_skip_verify = True

    def close(self) -> None:
        if self.authenticator.store is not None:
            self.authenticator.store.close()


def prepare_auth(
    config: Config,
    data_dir: str | os.PathLike[str],
    web_config_file: str = "",
    *,
    env: Mapping[str, str] | None = None,
    announce: Callable[[str], None] = _print,
    store: UserStore | None = None,
) -> AuthSetup:
    """Load the web config, open the user store, decide whether auth is on, and
    create the first admin when it is and no user exists yet."""
    web_config = load_web_config(web_config_file) if web_config_file else None
    own_store = store is None
    store = store or UserStore.in_data_dir(data_dir)
    try:
        store.purge_expired()
        settings = auth_settings(
            config.sections.get("auth"),
            listen=config.server.listen,
            users_exist=store.has_users(),
            web_config=web_config,
            config_file=config.source_path or "tidewatch.yml",
        )
        if settings.required:
            ensure_first_admin(store, env=env, announce=announce)
    except BaseException:
        if own_store:
            store.close()
        raise
    log.info(
        "authentication %s; TLS %s",
        "required" if settings.required else "off (loopback only, no users)",
        "on" if web_config and web_config.tls.enabled else "off",
    )
    auth = Authenticator(store, settings, web_config)
    return AuthSetup(auth, web_config, auth.ssl_context)
