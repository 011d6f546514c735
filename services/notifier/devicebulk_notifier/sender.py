"""Sends a rendered message over SMTP (aiosmtplib): one connection per message, one recipient.

A recipient whose local part is not ASCII needs the server's SMTPUTF8; without it, or when the
server refuses the recipient with a 5xx, :class:`RecipientRefused` says so and the caller
falls back to another address. Anything else raises as aiosmtplib does (the event is retried).
"""

from __future__ import annotations

import asyncio
import time
from email import policy
from email.message import EmailMessage
from email.utils import getaddresses
from typing import Protocol

import aiosmtplib

from devicebulk_notifier import metrics


class RecipientRefused(Exception):
    """The server will never take this recipient (a 5xx, or no SMTPUTF8 for a UTF-8 address)."""


class Sender(Protocol):
    async def send(self, message: EmailMessage) -> None: ...


class SmtpSender:
    """Raises :class:`RecipientRefused`, or (``aiosmtplib.SMTPException``, ``OSError``,
    ``TimeoutError``) unless the server took it. The whole conversation is bounded by
    ``timeout_s``."""

    def __init__(
        self,
        *,
        host: str,
        port: int,
        username: str | None = None,
        password: str | None = None,
        starttls: bool = False,
        timeout_s: float = 60.0,
    ) -> None:
        self._host = host
        self._port = port
        self._username = username
        self._password = password
        self._starttls = starttls
        self._timeout_s = timeout_s

    async def send(self, message: EmailMessage) -> None:
        sender = getaddresses([str(message["From"])])[0][1]
        (recipient,) = [addr for _, addr in getaddresses(message.get_all("To", [])) if addr]
        utf8 = not (recipient.isascii() and sender.isascii())
        started = time.perf_counter()
        try:
            async with asyncio.timeout(self._timeout_s):
                raw = await self._send(message, sender, recipient, utf8=utf8)
        except Exception:
            metrics.SEND_FAILURES.inc()
            raise
        metrics.SEND_SECONDS.observe(time.perf_counter() - started)
        metrics.EMAIL_BYTES.observe(len(raw))

    async def _send(
        self, message: EmailMessage, sender: str, recipient: str, *, utf8: bool
    ) -> bytes:
        smtp = aiosmtplib.SMTP(
            hostname=self._host,
            port=self._port,
            username=self._username,
            password=self._password,
            start_tls=self._starttls,
            timeout=self._timeout_s,
        )
        async with smtp:
            await smtp.ehlo()
            if utf8 and not smtp.supports_extension("smtputf8"):
                raise RecipientRefused(
                    "the address is not ASCII and the SMTP server does not support SMTPUTF8"
                )
            # A 100,000-row attachment takes a moment to encode: keep it off the event loop.
            raw = await asyncio.to_thread(
                message.as_bytes, policy=policy.SMTPUTF8 if utf8 else policy.SMTP
            )
            try:
                await smtp.sendmail(
                    sender, [recipient], raw, mail_options=["SMTPUTF8"] if utf8 else []
                )
            except aiosmtplib.SMTPRecipientsRefused as exc:
                if all(500 <= r.code < 600 for r in exc.recipients):
                    raise RecipientRefused(
                        "; ".join(f"{r.code} {r.message}" for r in exc.recipients)
                    ) from exc
                raise
            except aiosmtplib.SMTPRecipientRefused as exc:
                if 500 <= exc.code < 600:
                    raise RecipientRefused(f"{exc.code} {exc.message}") from exc
                raise
        return raw
