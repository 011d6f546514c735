"""device change lease

A device change being worked carries its attempt's lease (owner, expiry): a redelivered copy
of its message leaves a live lease alone. The bulk change's countdown gets a CHECK so it can
never go below zero.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02 12:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0007'
down_revision: str | None = '0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column('device_change', sa.Column('lease_owner', sa.String(length=80), nullable=True))
    op.add_column('device_change', sa.Column('lease_expires_at', sa.DateTime(timezone=True), nullable=True))
    op.create_check_constraint(op.f('ck_bulk_change_remaining_count_nonnegative'), 'bulk_change', 'remaining_count >= 0')


def downgrade() -> None:
    op.drop_constraint(op.f('ck_bulk_change_remaining_count_nonnegative'), 'bulk_change', type_='check')
    op.drop_column('device_change', 'lease_expires_at')
    op.drop_column('device_change', 'lease_owner')
