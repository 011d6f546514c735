"""The completion email's send attempt, recorded (and committed) before the SMTP conversation."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Integer, String, Text, func
from sqlalchemy.orm import Mapped, mapped_column

from devicebulk_common.models.base import Base, created_at_column


class NotificationAttempt(Base):
    """One row per completion email (``bulk_change_id``, ``completion_seq``), written before
    the notifier talks to SMTP: the ``Message-ID`` it will use, the recipient, and whether the
    send is under way (``sending``), known not to have been taken (``failed``), ``sent``, or
    refused for every address (``refused``). A redelivered event after a crash finds it and
    resends with the same ``Message-ID`` instead of a new one."""

    __tablename__ = "notification_attempt"

    bulk_change_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("bulk_change.id"), primary_key=True
    )
    completion_seq: Mapped[int] = mapped_column(Integer, primary_key=True)
    message_id: Mapped[str] = mapped_column(String(300))
    recipient: Mapped[str] = mapped_column(String(320))
    state: Mapped[str] = mapped_column(String(20))
    attempts: Mapped[int] = mapped_column(Integer, default=1)
    # Why the email did not go to the requester's own address (invalid, refused), if it did not.
    fallback_reason: Mapped[str | None] = mapped_column(Text)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = created_at_column()
    attempted_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), nullable=False
    )
