"""unprocessed callback index

The callback sweeper looks every few seconds for callbacks stored but not reconciled; without
an index it read the whole ``carrier_callback`` table (one row per device of every request).
A partial index holds only the unprocessed ones.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30 02:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0005'
down_revision: str | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # The callback table is large and written on every callback: build without blocking.
    with op.get_context().autocommit_block():
        op.create_index('ix_carrier_callback_unprocessed', 'carrier_callback', ['received_at'], unique=False, postgresql_where=sa.text('processed_at IS NULL'), postgresql_concurrently=True, if_not_exists=True)


def downgrade() -> None:
    with op.get_context().autocommit_block():
        op.drop_index('ix_carrier_callback_unprocessed', table_name='carrier_callback', postgresql_where=sa.text('processed_at IS NULL'), postgresql_concurrently=True, if_exists=True)
