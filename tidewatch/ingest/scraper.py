"""The HTTP side of a scrape: headers, auth, TLS, timeout, size limit, gzip.

Errors are raised as :class:`ScrapeError` with Prometheus's wording, so the targets
page reads the same as Prometheus's.
"""

from __future__ import annotations

import asyncio
import base64
import ssl
from dataclasses import dataclass

import aiohttp

from tidewatch import __version__
from tidewatch.config.model import HTTPClientConfig

# Media types by scrape_protocols name. Protobuf is not parsed, so it is never asked for.
PROTOCOL_HEADERS = {
    "OpenMetricsText1.0.0": "application/openmetrics-text;version=1.0.0",
    "OpenMetricsText0.0.1": "application/openmetrics-text;version=0.0.1",
    "PrometheusText0.0.4": "text/plain;version=0.0.4",
    "PrometheusText1.0.0": "text/plain;version=1.0.0",
}
DEFAULT_PROTOCOLS = ["OpenMetricsText1.0.0", "OpenMetricsText0.0.1", "PrometheusText0.0.4"]
USER_AGENT = f"tidewatch/{__version__}"
_READ_CHUNK = 1 << 16


class ScrapeError(Exception):
    pass


def accept_header(protocols: list[str]) -> str:
    """Weighted Accept header in the preference order given, as Prometheus builds it."""
    chosen = [p for p in (protocols or DEFAULT_PROTOCOLS) if p in PROTOCOL_HEADERS]
    weight = len(PROTOCOL_HEADERS) + 2
    vals: list[str] = []
    for p in chosen:
        vals.append(f"{PROTOCOL_HEADERS[p]};q=0.{weight}")
        weight -= 1
    vals.append(f"*/*;q=0.{weight}")
    return ",".join(vals)


def is_openmetrics(content_type: str) -> bool:
    return content_type.strip().lower().startswith("application/openmetrics-text")


def _read_secret_file(path: str) -> str:
    with open(path, encoding="utf-8") as f:
        return f.read().strip()


def auth_header(http: HTTPClientConfig) -> str | None:
    """The Authorization header value; files are re-read each time so rotation works."""
    if http.basic_auth is not None:
        ba = http.basic_auth
        password = ba.password.value if ba.password is not None else ""
        if ba.password_file:
            password = _read_secret_file(ba.password_file)
        token = base64.b64encode(f"{ba.username}:{password}".encode()).decode("ascii")
        return f"Basic {token}"
    if http.authorization is not None:
        a = http.authorization
        cred = a.credentials.value if a.credentials is not None else ""
        if a.credentials_file:
            cred = _read_secret_file(a.credentials_file)
        return f"{a.type or 'Bearer'} {cred}"
    return None


def ssl_context(http: HTTPClientConfig) -> ssl.SSLContext | bool:
    tls = http.tls_config
    if not (tls.ca_file or tls.cert_file or tls.insecure_skip_verify or tls.min_version):
        return True
    ctx = ssl.create_default_context(cafile=tls.ca_file or None)
    if tls.cert_file:
        ctx.load_cert_chain(tls.cert_file, tls.key_file or None)
    if tls.insecure_skip_verify:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    versions = {"TLS12": ssl.TLSVersion.TLSv1_2, "TLS13": ssl.TLSVersion.TLSv1_3}
    if tls.min_version in versions:
        ctx.minimum_version = versions[tls.min_version]
    return ctx


def make_session(http: HTTPClientConfig) -> aiohttp.ClientSession:
    connector = aiohttp.TCPConnector(ssl=ssl_context(http), limit=0, ttl_dns_cache=60)
    return aiohttp.ClientSession(connector=connector, auto_decompress=True, trust_env=False)


@dataclass
class FetchResult:
    body: bytes
    content_type: str


async def fetch(
    session: aiohttp.ClientSession,
    url: str,
    *,
    http: HTTPClientConfig,
    timeout_s: float,
    accept: str,
    body_size_limit: int,
    enable_compression: bool,
) -> FetchResult:
    headers = {
        "Accept": accept,
        "Accept-Encoding": "gzip" if enable_compression else "identity",
        "User-Agent": USER_AGENT,
        "X-Prometheus-Scrape-Timeout-Seconds": f"{timeout_s:g}",
    }
    auth = auth_header(http)
    if auth is not None:
        headers["Authorization"] = auth
    try:
        async with asyncio.timeout(timeout_s):
            async with session.get(
                url,
                headers=headers,
                allow_redirects=http.follow_redirects,
                proxy=http.proxy_url or None,
                server_hostname=http.tls_config.server_name or None,
            ) as resp:
                if resp.status != 200:
                    raise ScrapeError(
                        f"server returned HTTP status {resp.status} {resp.reason or ''}".rstrip()
                    )
                chunks: list[bytes] = []
                size = 0
                async for chunk in resp.content.iter_chunked(_READ_CHUNK):
                    size += len(chunk)
                    if body_size_limit > 0 and size > body_size_limit:
                        raise ScrapeError(
                            f"body size limit exceeded: response body exceeded {body_size_limit} bytes"
                        )
                    chunks.append(chunk)
                return FetchResult(b"".join(chunks), resp.headers.get("Content-Type", ""))
    except TimeoutError:
        raise ScrapeError(f'Get "{url}": context deadline exceeded') from None
    except aiohttp.ClientConnectorError as exc:
        raise ScrapeError(f'Get "{url}": dial tcp {exc.host}:{exc.port}: {_reason(exc)}') from None
    except (aiohttp.ClientError, OSError) as exc:
        raise ScrapeError(f'Get "{url}": {exc}') from None


def _reason(exc: aiohttp.ClientConnectorError) -> str:
    err = exc.os_error
    if isinstance(err, ConnectionRefusedError):
        return "connect: connection refused"
    return str(err.strerror or err) if err is not None else str(exc)
