"""Posting a notification over HTTP with an integration's ``http_config``
(basic auth, authorization, TLS), as Alertmanager's notifiers do."""

from __future__ import annotations

import ssl

import aiohttp

from tidewatch.alertmanager.notify.errors import NotifyError, check_status
from tidewatch.config.model import HTTPClientConfig
from tidewatch.ingest.scraper import auth_header, ssl_context

USER_AGENT = "Alertmanager/0.25.0"
_MAX_ERROR_BODY = 1024


class HTTPPoster:
    """One per integration: its auth and TLS settings over the shared session."""

    def __init__(self, session: aiohttp.ClientSession, config: HTTPClientConfig | None) -> None:
        self.session = session
        self.config = config or HTTPClientConfig()
        self._ssl: ssl.SSLContext | bool = ssl_context(self.config)

    async def request(
        self,
        method: str,
        url: str,
        body: bytes,
        *,
        content_type: str = "application/json",
        headers: dict[str, str] | None = None,
        retry_codes: tuple[int, ...] = (),
        timeout_s: float | None = None,
    ) -> str:
        """Send; returns the response text or raises :class:`NotifyError`."""
        hdrs = {"User-Agent": USER_AGENT, "Content-Type": content_type}
        auth = auth_header(self.config)
        if auth is not None:
            hdrs["Authorization"] = auth
        if headers:
            hdrs.update(headers)
        timeout = aiohttp.ClientTimeout(total=timeout_s) if timeout_s else None
        try:
            async with self.session.request(
                method,
                url,
                data=body,
                headers=hdrs,
                ssl=self._ssl,
                allow_redirects=self.config.follow_redirects,
                proxy=self.config.proxy_url or None,
                timeout=timeout,
            ) as resp:
                text = await resp.text(errors="replace")
                check_status(resp.status, text[:_MAX_ERROR_BODY].strip(), retry_codes)
                return text
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            # Never echo the URL: it may carry a token (Slack, Discord, Teams).
            raise NotifyError(
                f"request failed: {type(exc).__name__}: {exc}".replace(url, "<redacted>"),
                retry=True,
            ) from None

    async def post_json(
        self,
        url: str,
        body: bytes,
        *,
        headers: dict[str, str] | None = None,
        retry_codes: tuple[int, ...] = (),
        timeout_s: float | None = None,
    ) -> str:
        return await self.request(
            "POST", url, body, headers=headers, retry_codes=retry_codes, timeout_s=timeout_s
        )
