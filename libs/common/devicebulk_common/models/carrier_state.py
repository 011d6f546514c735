"""State shared by every worker process about a carrier account: its tokens, its rate and its
call slots."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, Float, Integer, String, Text
from sqlalchemy.dialects.postgresql import ARRAY
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


class CarrierCallGate(Base):
    """One call slot of a carrier account that takes few calls at once (Control Center: one),
    held as a lease while a call is in flight, and the send time of that slot's latest call.

    ``held_until`` is the lease (free when null or past: a killed holder's slot frees itself),
    ``holder`` who holds it or held it last; ``sent_at`` is when the slot's latest call was sent
    (planned when the lease is taken, the actual time once the call is over): the account's next
    call waits for the latest of its slots' ``sent_at`` plus the pacing interval;
    ``answered_at`` holds when the slot's latest few calls were answered (as many as the
    account's cap a window): a call is sent no sooner than a window after the answer of the
    cap-th call before it (`carriers/jasper/gate.py`).
    """

    __tablename__ = "carrier_call_gate"

    key: Mapped[str] = mapped_column(String(300), primary_key=True)
    slot: Mapped[int] = mapped_column(Integer, primary_key=True)
    holder: Mapped[str | None] = mapped_column(String(100))
    held_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    answered_at: Mapped[list[datetime] | None] = mapped_column(ARRAY(DateTime(timezone=True)))
