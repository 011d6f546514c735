"""callback provider key

A callback is deduplicated per provider: the unique key becomes (service_provider_id,
dedupe_key), so one provider's callback can neither shadow nor stand in for another's. And the
sweeper counts its passes over a callback it could not reconcile (``reconcile_tries``), to give
up on it after a bounded number.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02 12:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0006'
down_revision: str | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column('carrier_callback', sa.Column('reconcile_tries', sa.Integer(), server_default=sa.text('0'), nullable=False))
    # The callback table is large and written on every callback: build the new key's index
    # without blocking, then make it the constraint (a brief lock) and drop the old one.
    with op.get_context().autocommit_block():
        op.create_index('uq_carrier_callback_service_provider_id_dedupe_key', 'carrier_callback', ['service_provider_id', 'dedupe_key'], unique=True, postgresql_concurrently=True, if_not_exists=True)
    op.execute('ALTER TABLE carrier_callback ADD CONSTRAINT uq_carrier_callback_service_provider_id_dedupe_key UNIQUE USING INDEX uq_carrier_callback_service_provider_id_dedupe_key')
    op.drop_constraint('uq_carrier_callback_dedupe_key', 'carrier_callback', type_='unique')


def downgrade() -> None:
    # Fails if two providers stored the same callback since the upgrade (the old key forbids it).
    op.create_unique_constraint('uq_carrier_callback_dedupe_key', 'carrier_callback', ['dedupe_key'])
    op.drop_constraint('uq_carrier_callback_service_provider_id_dedupe_key', 'carrier_callback', type_='unique')
    op.drop_column('carrier_callback', 'reconcile_tries')
