"""State shared by every worker process about a carrier account: its tokens and its rate."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, Float, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from devicebulk_common.models.base import Base, updated_at_column


class CarrierToken(Base):
    """A cached carrier token (OAuth access token, M2M session), encrypted at rest."""

    __tablename__ = "carrier_token"

    key: Mapped[str] = mapped_column(String(300), primary_key=True)
    value_encrypted: Mapped[str] = mapped_column(Text)
    # To compare a caller's token with the stored one without decrypting (Fernet is not
    # deterministic).
    value_sha256: Mapped[str] = mapped_column(String(64))
    expires_at: Mapped[float] = mapped_column(Float)  # epoch seconds
    updated_at: Mapped[datetime] = updated_at_column()


class CarrierRateLimit(Base):
    """GCRA state of one carrier account: the theoretical arrival time of the next request."""

    __tablename__ = "carrier_rate_limit"

    key: Mapped[str] = mapped_column(String(300), primary_key=True)
    tat: Mapped[datetime] = mapped_column(DateTime(timezone=True))
