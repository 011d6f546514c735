"""Tenants, carrier accounts, devices and the catalogues they refer to."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from devicebulk_common.contracts import DeviceStatus
from devicebulk_common.models.base import Base, created_at_column, updated_at_column


class Tenant(Base):
    __tablename__ = "tenant"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    name: Mapped[str] = mapped_column(String(200))
    notification_email: Mapped[str | None] = mapped_column(String(320))
    created_at: Mapped[datetime] = created_at_column()


class ServiceProvider(Base):
    """One carrier account, under the portal's own ``ServiceProviderId``."""

    __tablename__ = "service_provider"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    name: Mapped[str] = mapped_column(String(200))
    integration: Mapped[str] = mapped_column(String(40), default="thingspace")
    account_name: Mapped[str] = mapped_column(String(100))
    base_url: Mapped[str] = mapped_column(String(500))
    write_enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    rate_limit_per_minute: Mapped[int | None] = mapped_column(Integer)
    # Fernet token of {"client_key", "client_secret", "username", "password"}.
    credentials_encrypted: Mapped[str] = mapped_column(Text)
    # The integration's own settings for this account (plain JSON, validated by the admin CLI
    # through the integration's adapter package: `providers.check_carrier_options`), over
    # each service's defaults. Control Center: `JasperConfig` keys; ThingSpace: username_field.
    carrier_options: Mapped[dict[str, Any]] = mapped_column(
        JSONB, default=dict, server_default=text("'{}'::jsonb")
    )
    # What ThingSpace echoes in every callback body; the password is encrypted like the rest.
    callback_username: Mapped[str | None] = mapped_column(String(100))
    callback_password_encrypted: Mapped[str | None] = mapped_column(Text)
    # SHA-256 of the secret path segment of our callback URL.
    callback_path_secret_sha256: Mapped[str | None] = mapped_column(String(64))
    # The listener credentials a rotation replaced, accepted until ``callback_previous_valid_until``
    # (callbacks the carrier queued before the switch still carry them), then only recognised
    # to be refused as expired (devicebulk-admin rotate-callback-credentials).
    callback_previous_username: Mapped[str | None] = mapped_column(String(100))
    callback_previous_password_encrypted: Mapped[str | None] = mapped_column(Text)
    callback_previous_path_secret_sha256: Mapped[str | None] = mapped_column(String(64))
    callback_previous_valid_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime] = updated_at_column()


class CarrierRatePlan(Base):
    __tablename__ = "carrier_rate_plan"
    __table_args__ = (UniqueConstraint("service_provider_id", "code"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    service_provider_id: Mapped[int] = mapped_column(ForeignKey("service_provider.id"))
    code: Mapped[str] = mapped_column(String(100))
    name: Mapped[str | None] = mapped_column(String(200))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)


class CustomerRatePlan(Base):
    __tablename__ = "customer_rate_plan"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenant.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)


class CustomerRatePool(Base):
    __tablename__ = "customer_rate_pool"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenant.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)


class RevCustomer(Base):
    __tablename__ = "rev_customer"

    id: Mapped[str] = mapped_column(String(50), primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenant.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)


class Device(Base):
    __tablename__ = "device"
    __table_args__ = (
        UniqueConstraint("service_provider_id", "iccid"),
        Index("ix_device_tenant_provider_iccid", "tenant_id", "service_provider_id", "iccid"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenant.id"))
    service_provider_id: Mapped[int] = mapped_column(ForeignKey("service_provider.id"))
    iccid: Mapped[str] = mapped_column(String(20))
    imei: Mapped[str | None] = mapped_column(String(16), index=True)
    msisdn: Mapped[str | None] = mapped_column(String(20))
    mdn: Mapped[str | None] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(30), default=DeviceStatus.NOT_PROVISIONED.value)
    carrier_rate_plan: Mapped[str | None] = mapped_column(String(100))
    customer_rate_plan_id: Mapped[int | None] = mapped_column(ForeignKey("customer_rate_plan.id"))
    customer_rate_pool_id: Mapped[int | None] = mapped_column(ForeignKey("customer_rate_pool.id"))
    data_allocation_mb: Mapped[int | None] = mapped_column(Integer)
    rev_customer_id: Mapped[str | None] = mapped_column(ForeignKey("rev_customer.id"))
    username: Mapped[str | None] = mapped_column(String(100))
    cost_center: Mapped[str | None] = mapped_column(String(36))
    last_usage_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    is_deleted: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime] = updated_at_column()


class DeviceIdentifierHistory(Base):
    __tablename__ = "device_identifier_history"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    device_id: Mapped[int] = mapped_column(ForeignKey("device.id"), index=True)
    identifier_type: Mapped[str] = mapped_column(String(10))
    old_value: Mapped[str] = mapped_column(String(20))
    new_value: Mapped[str] = mapped_column(String(20))
    device_change_id: Mapped[int | None] = mapped_column(BigInteger)
    changed_at: Mapped[datetime] = created_at_column()


class RevService(Base):
    __tablename__ = "rev_service"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    device_id: Mapped[int] = mapped_column(ForeignKey("device.id"), index=True)
    rev_customer_id: Mapped[str] = mapped_column(ForeignKey("rev_customer.id"))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime] = updated_at_column()
