"""audit actor length

The audit trail's actor is now who did a step: the bearer token's subject (up to 320
characters, as ``bulk_change.created_by``) for what the intake records, not only a service's
name. Widening a varchar is a catalogue change in PostgreSQL (no table rewrite).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03 09:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.alter_column(
        "device_change_log",
        "actor",
        existing_type=sa.String(length=60),
        type_=sa.String(length=320),
        existing_nullable=False,
    )


def downgrade() -> None:
    op.alter_column(
        "device_change_log",
        "actor",
        existing_type=sa.String(length=320),
        type_=sa.String(length=60),
        existing_nullable=False,
        postgresql_using="left(actor, 60)",
    )
