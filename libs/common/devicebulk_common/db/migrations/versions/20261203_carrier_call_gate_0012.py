"""carrier call gate

The call slots of a carrier account that takes few calls at once (Control Center: one call at a
time per account): a lease per slot (holder, held until), the send time of its latest call and
the answer times of its latest few, so every worker process together keeps one call in flight
and spaces the account's calls by their real send and answer times, without holding a database connection for the length of a call (it
replaces an advisory lock held in an open transaction).

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-03 12:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql


revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "carrier_call_gate",
        sa.Column("key", sa.String(length=300), nullable=False),
        sa.Column("slot", sa.Integer(), nullable=False),
        sa.Column("holder", sa.String(length=100), nullable=True),
        sa.Column("held_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "answered_at", postgresql.ARRAY(sa.DateTime(timezone=True)), nullable=True
        ),
        sa.PrimaryKeyConstraint("key", "slot", name=op.f("pk_carrier_call_gate")),
    )


def downgrade() -> None:
    op.drop_table("carrier_call_gate")
