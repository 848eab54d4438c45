"""Scraping over HTTPS with tls_config (CA file, insecure_skip_verify)."""

from __future__ import annotations

import shutil
import ssl
import subprocess
from pathlib import Path

import pytest
from aiohttp import web

from tidewatch.config.model import HTTPClientConfig, ScrapeConfig, TLSConfig
from tidewatch.ingest import scraper
from tidewatch.ingest.scrape_loop import LoopStats, ScrapeLoop, ScrapeSettings
from tidewatch.ingest.target import populate

from .fakes import MemoryStorage

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="needs openssl")


def _self_signed(tmp: Path) -> tuple[Path, Path]:
    cert, key = tmp / "cert.pem", tmp / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-nodes", "-keyout", str(key), "-out", str(cert), "-days", "1", "-subj", "/CN=localhost",
         "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True, capture_output=True,
    )  # fmt: skip
    return cert, key


async def _scrape(port: int, tls: TLSConfig) -> ScrapeLoop:
    cfg = ScrapeConfig(
        job_name="tls", scheme="https", scrape_interval_ms=1000, scrape_timeout_ms=900,
        http=HTTPClientConfig(tls_config=tls),
    )  # fmt: skip
    target, _ = populate({"__address__": f"127.0.0.1:{port}"}, cfg, [])
    assert target is not None
    session = scraper.make_session(cfg.http)
    try:
        loop = ScrapeLoop(
            target, ScrapeSettings.from_config(cfg), MemoryStorage(), session, LoopStats()
        )
        await loop.scrape_once(1000)
    finally:
        await session.close()
    return loop


async def test_https_with_ca_file_and_skip_verify(tmp_path: Path) -> None:
    cert, key = _self_signed(tmp_path)
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert, key)

    async def metrics(request: web.Request) -> web.Response:
        return web.Response(text="secure 1\n")

    app = web.Application()
    app.router.add_get("/metrics", metrics)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0, ssl_context=ctx).start()
    port = runner.addresses[0][1]
    try:
        ok = await _scrape(port, TLSConfig(ca_file=str(cert)))
        assert ok.health == "up", ok.last_error
        bad = await _scrape(port, TLSConfig())
        assert bad.health == "down" and "certificate" in bad.last_error.lower()
        skip = await _scrape(port, TLSConfig(insecure_skip_verify=True))
        assert skip.health == "up", skip.last_error
    finally:
        await runner.cleanup()
