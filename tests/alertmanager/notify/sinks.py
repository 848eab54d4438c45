"""Loopback sinks that stand in for notification services in tests: an HTTP server
recording every request, and a small SMTP server (optional STARTTLS and AUTH)."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import ssl
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from aiohttp import web


def site_port(site: web.TCPSite) -> int:
    """The port a site bound to port 0 got."""
    server: Any = site._server
    return int(server.sockets[0].getsockname()[1])


@dataclass
class Captured:
    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return orjson.loads(self.body)


class HTTPSink:
    """Records requests; ``responder(request_path) -> (status, body)`` picks answers."""

    def __init__(self, responder: Callable[[str], tuple[int, bytes]] | None = None) -> None:
        self.requests: list[Captured] = []
        self.responder = responder
        self.delay: dict[str, float] = {}  # path prefix → seconds to stall
        self.event = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self.port = 0

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        for prefix, secs in self.delay.items():
            if request.path.startswith(prefix):
                await asyncio.sleep(secs)
        self.requests.append(
            Captured(
                request.method, request.path, request.query_string, dict(request.headers), body
            )
        )
        self.event.set()
        if self.responder is not None:
            status, text = self.responder(request.path)
        elif "/sendMessage" in request.path:
            status, text = 200, b'{"ok":true,"result":{"message_id":1,"chat":{"id":42},"date":0}}'
        else:
            status, text = 200, b"ok"
        return web.Response(status=status, body=text)

    async def start(self) -> str:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site_port(site)
        return f"http://127.0.0.1:{self.port}"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def under(self, prefix: str) -> list[Captured]:
        return [r for r in self.requests if r.path.startswith(prefix)]

    async def wait_for(self, pred: Callable[[], bool], timeout: float = 10.0) -> None:
        async with asyncio.timeout(timeout):
            while not pred():
                self.event.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.event.wait(), 0.2)


@dataclass
class Mail:
    mail_from: str
    rcpts: list[str]
    data: bytes
    helo: str
    tls: bool
    auth: tuple[str, str] | None


@dataclass
class SMTPSink:
    """Enough of RFC 5321 for smtplib and Go's net/smtp: EHLO, STARTTLS, AUTH
    PLAIN/LOGIN, MAIL, RCPT, DATA, RSET, NOOP, QUIT."""

    tls: ssl.SSLContext | None = None
    users: dict[str, str] = field(default_factory=dict)
    mails: list[Mail] = field(default_factory=list)
    port: int = 0
    _server: asyncio.base_events.Server | None = None

    async def start(self) -> str:
        self._server = await asyncio.start_server(self._session, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return f"127.0.0.1:{self.port}"

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _session(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        async def send(line: str) -> None:
            writer.write(line.encode() + b"\r\n")
            await writer.drain()

        helo, tls, auth = "", False, None
        mail_from, rcpts = "", list[str]()
        await send("220 sink ESMTP")
        try:
            while True:
                raw = await reader.readline()
                if not raw:
                    return
                line = raw.decode().rstrip("\r\n")
                verb, _, arg = line.partition(" ")
                verb = verb.upper()
                if verb in ("EHLO", "HELO"):
                    helo = arg
                    exts = ["250-sink", "250-8BITMIME"]
                    if self.tls is not None and not tls:
                        exts.append("250-STARTTLS")
                    if self.users and (tls or self.tls is None):
                        exts.append("250-AUTH PLAIN LOGIN")
                    exts.append("250 SIZE 10000000")
                    for e in exts:
                        await send(e)
                elif verb == "STARTTLS" and self.tls is not None:
                    await send("220 go ahead")
                    await writer.start_tls(self.tls)
                    tls = True
                elif verb == "AUTH":
                    mech, _, initial = arg.partition(" ")
                    if mech.upper() == "PLAIN":
                        if not initial:
                            await send("334 ")
                            initial = (await reader.readline()).decode().strip()
                        _, user, pw = base64.b64decode(initial).decode().split("\0")
                    else:
                        await send("334 " + base64.b64encode(b"Username:").decode())
                        user = base64.b64decode((await reader.readline()).strip()).decode()
                        await send("334 " + base64.b64encode(b"Password:").decode())
                        pw = base64.b64decode((await reader.readline()).strip()).decode()
                    if self.users.get(user) == pw:
                        auth = (user, pw)
                        await send("235 ok")
                    else:
                        await send("535 bad credentials")
                elif verb == "MAIL":
                    if self.users and auth is None:
                        await send("530 authentication required")
                        continue
                    mail_from = arg.split(":", 1)[1].strip().strip("<>").split(">")[0]
                    rcpts = []
                    await send("250 ok")
                elif verb == "RCPT":
                    rcpts.append(arg.split(":", 1)[1].strip().strip("<>"))
                    await send("250 ok")
                elif verb == "DATA":
                    await send("354 go")
                    chunks = []
                    while True:
                        ln = await reader.readline()
                        if ln in (b".\r\n", b".\n", b""):
                            break
                        chunks.append(ln[1:] if ln.startswith(b"..") else ln)
                    self.mails.append(Mail(mail_from, rcpts, b"".join(chunks), helo, tls, auth))
                    await send("250 queued")
                elif verb == "QUIT":
                    await send("221 bye")
                    return
                else:
                    await send("250 ok")
        except (ConnectionError, ssl.SSLError):
            return
        finally:
            with contextlib.suppress(Exception):
                writer.close()


def self_signed(tmp: Path) -> tuple[ssl.SSLContext, Path]:
    """A server context with a fresh self-signed certificate for 127.0.0.1."""
    key, cert = tmp / "key.pem", tmp / "cert.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
        ],
        check=True,
        capture_output=True,
    )
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert, key)
    return ctx, cert
