"""Bulk changes, their per-device parts, the audit trail, callbacks and the event outbox."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from devicebulk_common.contracts import BulkChangeStatus, DeviceChangeStatus
from devicebulk_common.models.base import Base, created_at_column, updated_at_column


class BulkChange(Base):
    __tablename__ = "bulk_change"
    __table_args__ = (
        Index("ix_bulk_change_tenant_created", "tenant_id", "created_at"),
        UniqueConstraint("tenant_id", "idempotency_key"),
        # The countdown never goes below zero: a second count of one device's end fails its
        # transaction instead of completing the bulk change early.
        CheckConstraint("remaining_count >= 0", name="remaining_count_nonnegative"),
    )

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenant.id"))
    service_provider_id: Mapped[int] = mapped_column(ForeignKey("service_provider.id"))
    change_type: Mapped[int] = mapped_column(SmallInteger)
    status: Mapped[str] = mapped_column(String(20), default=BulkChangeStatus.NEW.value)
    request: Mapped[dict[str, Any]] = mapped_column(JSONB)
    created_by: Mapped[str | None] = mapped_column(String(320))
    notify_email: Mapped[str | None] = mapped_column(String(320))
    idempotency_key: Mapped[str | None] = mapped_column(String(200))
    device_count: Mapped[int] = mapped_column(Integer)
    # Device changes not yet in a terminal state; the change that brings it to 0 completes it.
    remaining_count: Mapped[int] = mapped_column(Integer)
    error_reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = created_at_column()
    processed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # How many times it reached PROCESSED: 1 after the first completion, 2 after a retry of its
    # failed devices completed, ... Carried in ``bulk_change.completed`` so the notifier sends
    # one email per completion.
    completion_seq: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))


class DeviceChange(Base):
    __tablename__ = "device_change"
    __table_args__ = (
        Index("ix_device_change_bulk_status", "bulk_change_id", "status"),
        Index("ix_device_change_bulk_id", "bulk_change_id", "id"),
        Index(
            "ix_device_change_unpublished",
            "id",
            postgresql_where=text("published_at IS NULL AND status = 'Queued'"),
        ),
        Index(
            "ix_device_change_request",
            "carrier_request_id",
            postgresql_where=text("carrier_request_id IS NOT NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    bulk_change_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("bulk_change.id"))
    device_id: Mapped[int | None] = mapped_column(ForeignKey("device.id"), index=True)
    # The identifier as submitted (kept even when no device matches it).
    iccid: Mapped[str] = mapped_column(String(40))
    status: Mapped[str] = mapped_column(String(20), default=DeviceChangeStatus.QUEUED.value)
    # This device's part of the change (e.g. its old/new identifier pair).
    params: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    validation_error: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    carrier_request_id: Mapped[str | None] = mapped_column(String(64))
    error_code: Mapped[str | None] = mapped_column(String(200))
    error_message: Mapped[str | None] = mapped_column(Text)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    published_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime] = updated_at_column()
    completed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # The live attempt's claim: a delivery that finds the change Processing under a lease that
    # has not expired leaves it to its owner (renewed while the owner works it).
    lease_owner: Mapped[str | None] = mapped_column(String(80))
    lease_expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class DeviceChangeLog(Base):
    """The append-only audit trail: every step, with the carrier's request and response."""

    __tablename__ = "device_change_log"
    # A bulk change's trail in the order it was written, page by page (keyset on id).
    __table_args__ = (Index("ix_device_change_log_bulk_id", "bulk_change_id", "id"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    bulk_change_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    device_change_id: Mapped[int | None] = mapped_column(BigInteger, index=True)
    step: Mapped[str] = mapped_column(String(60))
    actor: Mapped[str] = mapped_column(String(320))
    status: Mapped[str | None] = mapped_column(String(20))
    message: Mapped[str | None] = mapped_column(Text)
    http_method: Mapped[str | None] = mapped_column(String(10))
    http_url: Mapped[str | None] = mapped_column(Text)
    http_status: Mapped[int | None] = mapped_column(Integer)
    request_text: Mapped[str | None] = mapped_column(Text)
    response_text: Mapped[str | None] = mapped_column(Text)
    duration_ms: Mapped[float | None]
    created_at: Mapped[datetime] = created_at_column()


class CarrierCallback(Base):
    """Every callback as received, stored before it is acted on, and what reconciling it did."""

    __tablename__ = "carrier_callback"
    __table_args__ = (
        # A callback is the same callback only if the same provider's listener received it:
        # one provider's callbacks can never stand in for (or shadow) another's.
        UniqueConstraint("service_provider_id", "dedupe_key"),
        # The sweeper's look for stored but unreconciled callbacks: a handful among millions.
        Index(
            "ix_carrier_callback_unprocessed",
            "received_at",
            postgresql_where=text("processed_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    service_provider_id: Mapped[int] = mapped_column(ForeignKey("service_provider.id"))
    dedupe_key: Mapped[str] = mapped_column(String(64))
    request_id: Mapped[str | None] = mapped_column(String(64), index=True)
    iccid: Mapped[str | None] = mapped_column(String(40))
    status: Mapped[str | None] = mapped_column(String(20))
    payload: Mapped[dict[str, Any]] = mapped_column(JSONB)
    times_received: Mapped[int] = mapped_column(Integer, default=1)
    received_at: Mapped[datetime] = created_at_column()
    processed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    device_change_id: Mapped[int | None] = mapped_column(BigInteger)
    outcome: Mapped[str | None] = mapped_column(Text)
    # Sweeper passes that left it unreconciled; at the bound it is given up (``outcome`` says
    # why, ``processed_at`` set).
    reconcile_tries: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))


class OutboxMessage(Base):
    """An event to publish once its transaction committed (the transactional outbox)."""

    __tablename__ = "outbox_message"
    __table_args__ = (
        Index("ix_outbox_message_unpublished", "id", postgresql_where=text("published_at IS NULL")),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    exchange: Mapped[str] = mapped_column(String(200))
    routing_key: Mapped[str] = mapped_column(String(200))
    body: Mapped[dict[str, Any]] = mapped_column(JSONB)
    # Per-message expiration (delay queues): the message leaves its queue after this long.
    expiration_ms: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = created_at_column()
    published_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class NotificationSent(Base):
    """One row per completion email sent: a second delivery of the event finds it and stops.

    Keyed by the completion (``bulk_change.completion_seq``): a bulk change whose failed devices
    were retried completes again, and that completion gets its own email."""

    __tablename__ = "notification_sent"

    bulk_change_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("bulk_change.id"), primary_key=True
    )
    completion_seq: Mapped[int] = mapped_column(
        Integer, primary_key=True, default=1, server_default=text("1")
    )
    recipient: Mapped[str] = mapped_column(String(320))
    message_id: Mapped[str] = mapped_column(String(300))
    sent_at: Mapped[datetime] = created_at_column()
