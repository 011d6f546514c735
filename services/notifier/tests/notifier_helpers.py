"""Factories (plain async functions with keyword arguments) and helpers for the notifier's
tests. Named ``notifier_*`` so it cannot clash with another service's test modules."""

from __future__ import annotations

import asyncio
import csv
import email
import email.policy
import io
import itertools
import random
import socket
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from devicebulk_common.contracts import BulkChangeCompleted, BulkChangeStatus, ChangeType
from devicebulk_common.db.engine import unit_of_work
from devicebulk_common.models import (
    BulkChange,
    Device,
    DeviceChange,
    NotificationAttempt,
    NotificationSent,
    ServiceProvider,
    Tenant,
)
from devicebulk_notifier.sender import SmtpSender

MAIL_FROM = "DeviceBulk <devicebulk@example.test>"


@dataclass
class Collector:
    """An aiosmtpd handler that keeps every message it is given."""

    envelopes: list[Any] = field(default_factory=list)
    # Addresses the server refuses at RCPT (550), as a mailbox that does not exist.
    refused: set[str] = field(default_factory=set)

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]
    ) -> str:
        if address in self.refused:
            return "550 5.1.1 no such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.envelopes.append(envelope)
        return "250 Message accepted for delivery"


@dataclass
class SmtpSink:
    host: str
    port: int
    collector: Collector

    @property
    def messages(self) -> list[EmailMessage]:
        return [
            email.message_from_bytes(e.content, policy=email.policy.default)  # type: ignore[misc]
            for e in self.collector.envelopes
        ]

    @property
    def envelopes(self) -> list[Any]:
        return self.collector.envelopes

    def sender(self) -> SmtpSender:
        return SmtpSender(host=self.host, port=self.port, timeout_s=10)


_ids = itertools.count(random.randint(1_000_000, 1_000_000_000))

STATUS_UPDATE_ACTIVE = {
    "OverrideValidation": False,
    "ServiceProviderId": 4,
    "ChangeType": 3,
    "StatusUpdate": {"TargetStatus": "Active"},
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def iccid(n: int) -> str:
    return f"891480000{n:011d}"


def success(**extra: Any) -> dict[str, Any]:
    return {"status": "Success", "attempts": 1, "carrier_request_id": "req-ok", **extra}


def failed(code: str, message: str, **extra: Any) -> dict[str, Any]:
    return {
        "status": "Failed",
        "attempts": 3,
        "error_code": code,
        "error_message": message,
        **extra,
    }


def validation_failed(reason: str) -> dict[str, Any]:
    return {"status": "ValidationFailed", "attempts": 0, "validation_error": reason}


async def create_bulk_change(
    sessionmaker: async_sessionmaker[AsyncSession],
    *,
    results: Sequence[dict[str, Any]],
    notify_email: str | None = "operator@example.test",
    tenant_email: str | None = "tenant@example.test",
    change_type: int = ChangeType.STATUS_UPDATE,
    request: dict[str, Any] | None = None,
    status: str = BulkChangeStatus.PROCESSED,
) -> uuid.UUID:
    """A tenant, a provider, one device per result and a processed bulk change over them.

    ``results`` holds each device change's columns (status, error_code, ...); the i-th device
    gets ICCID ``iccid(i)`` and MSISDN ``5550000<i>``.
    """
    tenant_id, provider_id = next(_ids), next(_ids)
    bulk_change_id = uuid.uuid4()
    now = datetime.now(UTC)
    async with unit_of_work(sessionmaker) as session:
        session.add(Tenant(id=tenant_id, name="Acme", notification_email=tenant_email))
        session.add(
            ServiceProvider(
                id=provider_id,
                name="Verizon",
                account_name="0000123456-00001",
                base_url="http://127.0.0.1:8090/api",
                credentials_encrypted="not-a-real-token",
            )
        )
        await session.flush()
        device_ids = (
            await session.scalars(
                insert(Device).returning(Device.id, sort_by_parameter_order=True),
                [
                    {
                        "tenant_id": tenant_id,
                        "service_provider_id": provider_id,
                        "iccid": iccid(i),
                        "msisdn": f"555{i:07d}",
                        "status": "active",
                    }
                    for i in range(len(results))
                ],
            )
        ).all()
        session.add(
            BulkChange(
                id=bulk_change_id,
                tenant_id=tenant_id,
                service_provider_id=provider_id,
                change_type=int(change_type),
                status=str(status),
                request=STATUS_UPDATE_ACTIVE if request is None else request,
                created_by="jane@example.test",
                notify_email=notify_email,
                device_count=len(results),
                remaining_count=0,
                processed_at=now,
            )
        )
        await session.flush()
        if results:
            await session.execute(
                insert(DeviceChange),
                [
                    {
                        "bulk_change_id": bulk_change_id,
                        "device_id": device_id,
                        "iccid": iccid(i),
                        "completed_at": now,
                        **result,
                    }
                    for i, (device_id, result) in enumerate(zip(device_ids, results, strict=True))
                ],
            )
    return bulk_change_id


def completed(bulk_change_id: uuid.UUID) -> BulkChangeCompleted:
    return BulkChangeCompleted(
        bulk_change_id=bulk_change_id,
        status=BulkChangeStatus.PROCESSED,
        completed_at=datetime.now(UTC),
        correlation_id=f"corr-{bulk_change_id}",
    )


async def notification_row(
    sessionmaker: async_sessionmaker[AsyncSession], bulk_change_id: uuid.UUID
) -> NotificationSent | None:
    async with sessionmaker() as session:
        return await session.scalar(
            select(NotificationSent).where(NotificationSent.bulk_change_id == bulk_change_id)
        )


def text_part(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain",))
    assert part is not None
    return str(part.get_content())


def html_part(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("html",))
    assert part is not None
    return str(part.get_content())


def csv_rows(message: EmailMessage) -> tuple[str, list[dict[str, str]]]:
    """The attachment's file name and its rows."""
    (attachment,) = list(message.iter_attachments())
    data = attachment.get_content()
    text = data.decode("utf-8") if isinstance(data, bytes) else data
    return attachment.get_filename() or "", list(csv.DictReader(io.StringIO(text)))


async def wait_until(condition: Callable[[], bool], timeout_s: float = 15.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not condition():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.05)


async def attempt_row(
    sessionmaker: async_sessionmaker[AsyncSession], bulk_change_id: uuid.UUID
) -> NotificationAttempt | None:
    async with sessionmaker() as session:
        return await session.scalar(
            select(NotificationAttempt).where(NotificationAttempt.bulk_change_id == bulk_change_id)
        )
