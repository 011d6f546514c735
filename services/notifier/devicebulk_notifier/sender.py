"""Sends a rendered message over SMTP (aiosmtplib): one connection per message."""

from __future__ import annotations

import asyncio
import time
from email import policy
from email.message import EmailMessage
from email.utils import getaddresses
from typing import Protocol

import aiosmtplib

from devicebulk_notifier import metrics


class Sender(Protocol):
    async def send(self, message: EmailMessage) -> None: ...


class SmtpSender:
    """Raises (``aiosmtplib.SMTPException``, ``OSError``, ...) unless the server took it."""

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
        recipients = [addr for _, addr in getaddresses(message.get_all("To", [])) if addr]
        # A 100,000-row attachment takes a moment to encode: keep it off the event loop.
        raw = await asyncio.to_thread(message.as_bytes, policy=policy.SMTP)
        started = time.perf_counter()
        try:
            await aiosmtplib.send(
                raw,
                sender=sender,
                recipients=recipients,
                hostname=self._host,
                port=self._port,
                username=self._username,
                password=self._password,
                start_tls=self._starttls,
                timeout=self._timeout_s,
            )
        except Exception:
            metrics.SEND_FAILURES.inc()
            raise
        metrics.SEND_SECONDS.observe(time.perf_counter() - started)
        metrics.EMAIL_BYTES.observe(len(raw))
