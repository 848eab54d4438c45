"""The HTTP side of one remote: protocol headers, auth, TLS, and one POST classified
by the remote write spec's retry rules."""

from __future__ import annotations

import base64
import ssl
import time
from dataclasses import dataclass

import aiohttp

from tidewatch import __version__
from tidewatch.remote.send.config import RemoteWriteConfig

USER_AGENT = f"tidewatch/{__version__}"
_ERROR_BODY = 256  # bytes of a refusing response quoted in the log


def ssl_context(cfg: RemoteWriteConfig) -> ssl.SSLContext | bool:
    t = cfg.tls
    if not (t.ca_file or t.cert_file or t.insecure_skip_verify):
        return True
    ctx = ssl.create_default_context(cafile=t.ca_file or None)
    if t.cert_file:
        ctx.load_cert_chain(t.cert_file, t.key_file or None)
    if t.insecure_skip_verify:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    return ctx


def retry_after_seconds(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None  # an HTTP date: fall back to the backoff


def request_headers(cfg: RemoteWriteConfig) -> dict[str, str]:
    h = dict(cfg.headers)
    h.update(
        {
            "Content-Encoding": "snappy",
            "Content-Type": "application/x-protobuf",
            "User-Agent": USER_AGENT,
            "X-Prometheus-Remote-Write-Version": "0.1.0",
        }
    )
    if cfg.authorization:
        kind, cred = cfg.authorization
        h["Authorization"] = f"{kind} {cred}"
    elif cfg.basic_auth:
        user, password = cfg.basic_auth
        token = base64.b64encode(f"{user}:{password}".encode()).decode()
        h["Authorization"] = f"Basic {token}"
    return h


@dataclass
class Attempt:
    outcome: str  # "ok", "retry" (5xx, 429, network) or "refused" (other 4xx)
    retry_after: float | None
    reason: str
    seconds: float


class RemoteClient:
    def __init__(self, cfg: RemoteWriteConfig) -> None:
        self.cfg = cfg
        self.headers = request_headers(cfg)
        self._session: aiohttp.ClientSession | None = None

    def reconfigure(self, cfg: RemoteWriteConfig) -> None:
        self.cfg = cfg
        self.headers = request_headers(cfg)

    def start(self) -> None:
        # No connection limit: the shard count bounds concurrency, and may change on reload.
        connector = aiohttp.TCPConnector(limit=0, ssl=ssl_context(self.cfg))
        self._session = aiohttp.ClientSession(connector=connector)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def post(self, body: bytes) -> Attempt:
        assert self._session is not None, "RemoteClient.start() first"
        cfg = self.cfg
        started = time.monotonic()
        status: int | None = None
        reason = ""
        retry_after: float | None = None
        try:
            async with self._session.post(
                cfg.url,
                data=body,
                headers=self.headers,
                proxy=cfg.proxy_url or None,
                server_hostname=cfg.tls.server_name or None,
                timeout=aiohttp.ClientTimeout(total=cfg.remote_timeout_ms / 1000.0),
            ) as resp:
                status = resp.status
                retry_after = retry_after_seconds(resp.headers.get("Retry-After"))
                if status // 100 != 2:
                    reason = (await resp.content.read(_ERROR_BODY)).decode("utf-8", "replace")
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            reason = f"{type(exc).__name__}: {exc}"
        seconds = time.monotonic() - started
        if status is not None and status // 100 == 2:
            return Attempt("ok", None, "", seconds)
        # The spec: retry 5xx, 429 (unless disabled) and network errors; any other 4xx
        # means the data is bad and retrying cannot help.
        if status is None or status >= 500 or (status == 429 and cfg.queue.retry_on_http_429):
            return Attempt(
                "retry", retry_after, f"{status or 'network error'}: {reason.strip()}", seconds
            )
        return Attempt("refused", None, f"{status}: {reason.strip()}", seconds)
