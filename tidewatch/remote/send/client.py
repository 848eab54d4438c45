"""The HTTP side of one remote: protocol headers, auth, TLS, and one POST classified
by the remote write spec's retry rules."""

from __future__ import annotations

import base64
import ssl
import time
from collections.abc import Mapping
from dataclasses import dataclass

import aiohttp

from tidewatch import __version__
from tidewatch.remote.send.config import RemoteWriteConfig
from tidewatch.remote.write import PROTO_V2

USER_AGENT = f"tidewatch/{__version__}"
_ERROR_BODY = 256  # bytes of a refusing response quoted in the log
HEADER_SAMPLES_WRITTEN = "X-Prometheus-Remote-Write-Samples-Written"
HEADER_HISTOGRAMS_WRITTEN = "X-Prometheus-Remote-Write-Histograms-Written"
HEADER_EXEMPLARS_WRITTEN = "X-Prometheus-Remote-Write-Exemplars-Written"
V1_ONLY_HINT = (
    "the receiver does not accept remote write 2.0 (io.prometheus.write.v2.Request);"
    " set protobuf_message: prometheus.WriteRequest for this remote"
)


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


def request_headers(cfg: RemoteWriteConfig, protocol: str = "") -> dict[str, str]:
    """Headers of a request carrying ``protocol`` (default: the configured message)."""
    h = dict(cfg.headers)
    v2 = (protocol or cfg.protobuf_message) == PROTO_V2
    h.update(
        {
            "Content-Encoding": "snappy",
            # The spec: plain application/x-protobuf and version 0.1.0 towards 1.x receivers.
            "Content-Type": f"application/x-protobuf;proto={PROTO_V2}"
            if v2
            else "application/x-protobuf",
            "User-Agent": USER_AGENT,
            "X-Prometheus-Remote-Write-Version": "2.0.0" if v2 else "0.1.0",
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
class Written:
    """A 2.0 receiver's ``X-Prometheus-Remote-Write-*-Written`` counts."""

    samples: int
    histograms: int
    exemplars: int


def written_counts(headers: Mapping[str, str]) -> Written | None:
    """The counts a response reports; None when it carries none of the headers.

    The spec lets a sender read a missing header as 0 once any is present.
    """
    raw = [headers.get(h) for h in (HEADER_SAMPLES_WRITTEN, HEADER_HISTOGRAMS_WRITTEN)]
    raw.append(headers.get(HEADER_EXEMPLARS_WRITTEN))
    if all(v is None for v in raw):
        return None
    counts = []
    for v in raw:
        try:
            counts.append(max(0, int(v or 0)))
        except ValueError:
            counts.append(0)
    return Written(*counts)


@dataclass
class Attempt:
    outcome: str  # "ok", "retry" (5xx, 429, network) or "refused" (other 4xx)
    retry_after: float | None
    reason: str
    seconds: float
    status: int | None = None
    # 2.0 only: what the receiver says it wrote (None: not reported, or a 1.0 request).
    written: Written | None = None
    # 2.0 only: the receiver refused the 2.0 message itself (415, or a 1.0 receiver).
    protocol_refused: bool = False


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

    async def post(self, body: bytes, protocol: str = "") -> Attempt:
        """POST a body encoded as ``protocol`` (default: the configured message); a body
        encoded before a reload changed the message keeps its own headers."""
        assert self._session is not None, "RemoteClient.start() first"
        cfg = self.cfg
        protocol = protocol or cfg.protobuf_message
        headers = (
            self.headers if protocol == cfg.protobuf_message else request_headers(cfg, protocol)
        )
        started = time.monotonic()
        status: int | None = None
        reason = ""
        retry_after: float | None = None
        written: Written | None = None
        v2 = protocol == PROTO_V2
        try:
            async with self._session.post(
                cfg.url,
                data=body,
                headers=headers,
                proxy=cfg.proxy_url or None,
                server_hostname=cfg.tls.server_name or None,
                timeout=aiohttp.ClientTimeout(total=cfg.remote_timeout_ms / 1000.0),
            ) as resp:
                status = resp.status
                retry_after = retry_after_seconds(resp.headers.get("Retry-After"))
                if v2:
                    written = written_counts(resp.headers)
                if status // 100 != 2:
                    reason = (await resp.content.read(_ERROR_BODY)).decode("utf-8", "replace")
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            reason = f"{type(exc).__name__}: {exc}"
        seconds = time.monotonic() - started
        if status is not None and status // 100 == 2:
            if v2 and written is None:
                # The spec: a 2xx without any Written header to a 2.0 request means a 1.0
                # receiver that decoded it as an empty 1.0 message; treat it as a 415.
                reason = f"{status} without X-Prometheus-Remote-Write-*-Written headers: "
                return Attempt("refused", None, reason + V1_ONLY_HINT, seconds, status, None, True)
            return Attempt("ok", None, "", seconds, status, written)
        if v2 and status == 415:
            reason = f"415: {reason.strip()}; {V1_ONLY_HINT}"
            return Attempt("refused", None, reason, seconds, status, written, True)
        # The spec: retry 5xx, 429 (unless disabled) and network errors; any other 4xx
        # means the data is bad and retrying cannot help.
        if status is None or status >= 500 or (status == 429 and cfg.queue.retry_on_http_429):
            return Attempt(
                "retry",
                retry_after,
                f"{status or 'network error'}: {reason.strip()}",
                seconds,
                status,
                written,
            )
        return Attempt("refused", None, f"{status}: {reason.strip()}", seconds, status, written)
