"""The HTTP client block Prometheus inlines into scrape configs and SD configs
(``basic_auth``, ``authorization``, ``bearer_token``, ``tls_config``, proxies), with
Prometheus's validation messages."""

from __future__ import annotations

from collections.abc import Callable

from tidewatch.config.model import Authorization, BasicAuth, HTTPClientConfig, Secret, TLSConfig
from tidewatch.config.yamlnodes import MapView

HTTP_CLIENT_FIELDS = frozenset(
    {
        "basic_auth",
        "authorization",
        "oauth2",
        "bearer_token",
        "bearer_token_file",
        "tls_config",
        "follow_redirects",
        "enable_http2",
        "proxy_url",
        "no_proxy",
        "proxy_from_environment",
        "proxy_connect_header",
        "http_headers",
    }
)
# Known to Prometheus, not implemented here: refuse rather than silently scrape unauthenticated.
_UNSUPPORTED = ("oauth2", "proxy_connect_header", "http_headers")

_TLS_FIELDS = frozenset(
    {
        "ca",
        "ca_file",
        "ca_ref",
        "cert",
        "cert_file",
        "cert_ref",
        "key",
        "key_file",
        "key_ref",
        "server_name",
        "insecure_skip_verify",
        "min_version",
        "max_version",
    }
)
TLS_VERSIONS = ("TLS10", "TLS11", "TLS12", "TLS13")

Resolve = Callable[[str], str]


def decode_http_client(view: MapView, resolve: Resolve) -> HTTPClientConfig:
    """Read the HTTP client fields of ``view`` (a scrape or SD config mapping)."""
    for name in _UNSUPPORTED:
        if view.has(name):
            raise view.error(name, f"{name} is not supported by tidewatch yet")
    cfg = HTTPClientConfig(
        follow_redirects=view.boolean("follow_redirects", True),
        enable_http2=view.boolean("enable_http2", True),
        proxy_url=view.string("proxy_url"),
        no_proxy=view.string("no_proxy"),
        proxy_from_environment=view.boolean("proxy_from_environment", False),
    )
    if view.has("tls_config"):
        cfg.tls_config = _decode_tls(view.map("tls_config", _TLS_FIELDS), resolve)
    if view.has("basic_auth"):
        cfg.basic_auth = _decode_basic_auth(
            view.map(
                "basic_auth",
                {
                    "username",
                    "username_file",
                    "username_ref",
                    "password",
                    "password_file",
                    "password_ref",
                },
            ),
            resolve,
        )
    if view.has("authorization"):
        cfg.authorization = _decode_authorization(
            view.map(
                "authorization", {"type", "credentials", "credentials_file", "credentials_ref"}
            ),
            resolve,
        )

    token = view.string("bearer_token")
    token_file = view.string("bearer_token_file")
    if token and token_file:
        raise view.error(
            "bearer_token_file",
            "at most one of bearer_token & bearer_token_file must be configured",
        )
    if (token or token_file) and cfg.basic_auth is not None:
        raise view.error(
            "bearer_token" if token else "bearer_token_file",
            "at most one of basic_auth, oauth2, bearer_token & bearer_token_file must be configured",
        )
    if (token or token_file) and cfg.authorization is not None:
        raise view.error(
            "authorization", "authorization is not compatible with bearer_token & bearer_token_file"
        )
    if cfg.basic_auth is not None and cfg.authorization is not None:
        raise view.error(
            "authorization", "at most one of basic_auth, oauth2 & authorization must be configured"
        )
    # Prometheus keeps bearer_token only as a legacy spelling of authorization.
    if token:
        cfg.authorization = Authorization(type="Bearer", credentials=Secret(token))
    elif token_file:
        cfg.authorization = Authorization(type="Bearer", credentials_file=resolve(token_file))

    if cfg.proxy_from_environment and cfg.proxy_url:
        raise view.error(
            "proxy_url", "if proxy_from_environment is configured, proxy_url must not be configured"
        )
    if cfg.no_proxy and not cfg.proxy_url:
        raise view.error("no_proxy", "if no_proxy is configured, proxy_url must also be configured")
    if cfg.proxy_url and "://" not in cfg.proxy_url:
        raise view.error("proxy_url", f'invalid proxy URL "{cfg.proxy_url}"')
    return cfg


def _refuse_refs(view: MapView, *names: str) -> None:
    for name in names:
        if view.has(name):
            raise view.error(name, f"{name} (secret references) is not supported by tidewatch")


def _decode_basic_auth(view: MapView, resolve: Resolve) -> BasicAuth:
    _refuse_refs(view, "username_ref", "password_ref")
    auth = BasicAuth(
        username=view.string("username"),
        username_file=resolve(view.string("username_file")),
        password_file=resolve(view.string("password_file")),
    )
    if view.has("username") and view.has("username_file"):
        raise view.error(
            "username_file", "at most one of basic_auth username & username_file must be configured"
        )
    password = view.string("password")
    if password and auth.password_file:
        raise view.error(
            "password_file", "at most one of basic_auth password & password_file must be configured"
        )
    if password:
        auth.password = Secret(password)
    return auth


def _decode_authorization(view: MapView, resolve: Resolve) -> Authorization:
    _refuse_refs(view, "credentials_ref")
    auth_type = view.string("type") or "Bearer"
    if auth_type.lower() == "basic":
        raise view.error(
            "type", 'authorization type cannot be set to "basic", use "basic_auth" instead'
        )
    credentials = view.string("credentials")
    credentials_file = resolve(view.string("credentials_file"))
    if credentials and credentials_file:
        raise view.error(
            "credentials_file",
            "at most one of authorization credentials & credentials_file must be configured",
        )
    return Authorization(
        type=auth_type,
        credentials=Secret(credentials) if credentials else None,
        credentials_file=credentials_file,
    )


def _decode_tls(view: MapView, resolve: Resolve) -> TLSConfig:
    _refuse_refs(view, "ca_ref", "cert_ref", "key_ref")
    tls = TLSConfig(
        ca=view.string("ca"),
        ca_file=resolve(view.string("ca_file")),
        cert=view.string("cert"),
        cert_file=resolve(view.string("cert_file")),
        key_file=resolve(view.string("key_file")),
        server_name=view.string("server_name"),
        insecure_skip_verify=view.boolean("insecure_skip_verify", False),
        min_version=view.string("min_version"),
        max_version=view.string("max_version"),
    )
    key = view.string("key")
    if key:
        tls.key = Secret(key)
    for inline, file in (("ca", "ca_file"), ("cert", "cert_file"), ("key", "key_file")):
        if view.has(inline) and view.has(file):
            raise view.error(file, f"at most one of {inline} & {file} must be configured")
    has_cert = bool(tls.cert or tls.cert_file)
    has_key = bool(key or tls.key_file)
    if has_cert and not has_key:
        raise view.error_here(
            "exactly one of key or key_file must be configured when a client certificate is configured"
        )
    if has_key and not has_cert:
        raise view.error_here(
            "exactly one of cert or cert_file must be configured when a client key is configured"
        )
    for name in ("min_version", "max_version"):
        version = getattr(tls, name)
        if version and version not in TLS_VERSIONS:
            raise view.error(name, f"unknown TLS version: {version}")
    return tls
