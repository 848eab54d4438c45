"""The e-mail integration: SMTP with STARTTLS (required by default) or implicit
TLS, PLAIN/LOGIN/CRAM-MD5 auth, and a multipart/alternative body of the text and
HTML templates. ``smtplib`` runs in a worker thread so the loop never blocks."""

from __future__ import annotations

import asyncio
import email.charset
import email.utils
import random
import smtplib
import socket
import ssl
import time
from email.header import Header
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText

from tidewatch.alertmanager.notify.base import NotifyContext, read_secret_file
from tidewatch.alertmanager.notify.errors import NotifyError
from tidewatch.alertmanager.receivers import EmailConfig

DEFAULT_SUBJECT = '{{ template "email.default.subject" . }}'
_TIMEOUT_S = 30.0

_UTF8_QP = email.charset.Charset("utf-8")
_UTF8_QP.body_encoding = email.charset.QP
_UTF8_QP.header_encoding = email.charset.QP


def _header_value(value: str) -> str:
    if value.isascii():
        return value
    return Header(value, _UTF8_QP).encode()


def _part(body: str, subtype: str) -> MIMEText:
    part = MIMEText("", subtype)
    del part["Content-Transfer-Encoding"]
    part.set_payload(body, _UTF8_QP)
    return part


def _tls_context(cfg: EmailConfig, host: str) -> ssl.SSLContext:
    tls = cfg.tls_config
    ctx = ssl.create_default_context(cafile=(tls.ca_file or None) if tls else None)
    if tls is not None:
        if tls.ca:
            ctx.load_verify_locations(cadata=tls.ca)
        if tls.cert_file:
            ctx.load_cert_chain(tls.cert_file, tls.key_file or None)
        if tls.insecure_skip_verify:
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
    return ctx


class Email:
    name = "email"

    def __init__(self, cfg: EmailConfig, index: int) -> None:
        self.cfg = cfg
        self.index = index
        self.send_resolved = cfg.send_resolved
        self._hostname = socket.gethostname()

    def headers(self, ctx: NotifyContext) -> dict[str, str]:
        """The configured headers plus Alertmanager's defaults, rendered."""
        c = self.cfg
        raw = {"Subject": DEFAULT_SUBJECT, "To": c.to, "From": c.from_, **c.headers}
        return {k: ctx.text(v) for k, v in sorted(raw.items())}

    def message(self, ctx: NotifyContext) -> tuple[str, list[str], bytes]:
        """``(envelope from, envelope recipients, message bytes)``."""
        c = self.cfg
        from_addrs = email.utils.getaddresses([ctx.text(c.from_)])
        if len(from_addrs) != 1 or not from_addrs[0][1]:
            raise NotifyError(
                f"must be exactly one 'from' address (got: {len(from_addrs)})", retry=False
            )
        to_addrs = [a for _, a in email.utils.getaddresses([ctx.text(c.to)]) if a]
        if not to_addrs:
            raise NotifyError("parse 'to' addresses: no address", retry=False)
        msg = MIMEMultipart("alternative")
        for name, value in self.headers(ctx).items():
            msg[name] = _header_value(value)
        if "Message-Id" not in c.headers:
            msg["Message-Id"] = f"<{time.time_ns()}.{random.getrandbits(63)}@{self._hostname}>"
        msg["Date"] = email.utils.formatdate(localtime=True)
        if c.text:
            msg.attach(_part(ctx.text(c.text), "plain"))
        if c.html:
            msg.attach(_part(ctx.html(c.html), "html"))
        return from_addrs[0][1], to_addrs, msg.as_bytes()

    def _password(self) -> str:
        c = self.cfg
        if c.auth_password_file:
            return read_secret_file(c.auth_password_file)
        return c.auth_password.value if c.auth_password is not None else ""

    def _send(self, sender: str, rcpts: list[str], body: bytes) -> None:
        c = self.cfg
        host, _, port_s = c.smarthost.rpartition(":")
        host = host.strip("[]")
        port = int(port_s)
        implicit = c.force_implicit_tls if c.force_implicit_tls is not None else port == 465
        smtp: smtplib.SMTP
        try:
            if implicit:
                smtp = smtplib.SMTP_SSL(
                    host,
                    port,
                    local_hostname=c.hello or None,
                    timeout=_TIMEOUT_S,
                    context=_tls_context(c, host),
                )
            else:
                smtp = smtplib.SMTP(host, port, local_hostname=c.hello or None, timeout=_TIMEOUT_S)
        except (OSError, smtplib.SMTPException) as exc:
            raise NotifyError(f"establish connection to server: {exc}", retry=True) from None
        try:
            smtp.ehlo()
            if c.require_tls and not implicit:
                if not smtp.has_extn("starttls"):
                    raise NotifyError(
                        f"'require_tls' is true (default) but \"{c.smarthost}\" does not "
                        "advertise the STARTTLS extension",
                        retry=True,
                    )
                smtp.starttls(context=_tls_context(c, host))
                smtp.ehlo()
            if smtp.has_extn("auth") and c.auth_username:
                smtp.login(c.auth_username, self._password())
            smtp.sendmail(sender, rcpts, body)
        except NotifyError:
            raise
        except smtplib.SMTPAuthenticationError as exc:
            raise NotifyError(f"auth: {exc}", retry=True) from None
        except (OSError, smtplib.SMTPException) as exc:
            raise NotifyError(f"send e-mail: {exc}", retry=True) from None
        finally:
            try:
                smtp.quit()
            except (OSError, smtplib.SMTPException):
                smtp.close()

    async def notify(self, ctx: NotifyContext) -> None:
        sender, rcpts, body = self.message(ctx)
        await asyncio.to_thread(self._send, sender, rcpts, body)
