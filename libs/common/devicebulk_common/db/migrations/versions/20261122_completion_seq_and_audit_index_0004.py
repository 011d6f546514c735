"""completion seq and audit index

A bulk change whose failed devices are retried completes a second time: ``completion_seq``
counts its completions, ``bulk_change.completed`` carries it, and ``notification_sent`` is keyed
by it so each completion gets its own email. The audit trail of a bulk change is read page by
page in the order it was written: (bulk_change_id, id) replaces the index on bulk_change_id.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22 07:22:50.029641
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0004'
down_revision: str | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column('bulk_change', sa.Column('completion_seq', sa.Integer(), server_default=sa.text('0'), nullable=False))
    # Bulk changes that already completed did so once.
    op.execute("UPDATE bulk_change SET completion_seq = 1 WHERE status IN ('PROCESSED', 'ERROR')")
    # Emails already sent were for the first completion.
    op.add_column('notification_sent', sa.Column('completion_seq', sa.Integer(), server_default=sa.text('1'), nullable=False))
    op.drop_constraint('pk_notification_sent', 'notification_sent', type_='primary')
    op.create_primary_key('pk_notification_sent', 'notification_sent', ['bulk_change_id', 'completion_seq'])
    # The audit table is large and written by every worker: build the index without blocking.
    with op.get_context().autocommit_block():
        op.create_index('ix_device_change_log_bulk_id', 'device_change_log', ['bulk_change_id', 'id'], unique=False, postgresql_concurrently=True, if_not_exists=True)
        op.drop_index('ix_device_change_log_bulk_change_id', table_name='device_change_log', postgresql_concurrently=True, if_exists=True)


def downgrade() -> None:
    with op.get_context().autocommit_block():
        op.create_index('ix_device_change_log_bulk_change_id', 'device_change_log', ['bulk_change_id'], unique=False, postgresql_concurrently=True, if_not_exists=True)
        op.drop_index('ix_device_change_log_bulk_id', table_name='device_change_log', postgresql_concurrently=True, if_exists=True)
    # Only the first completion's email can stay under the old key.
    op.execute('DELETE FROM notification_sent WHERE completion_seq <> 1')
    op.drop_constraint('pk_notification_sent', 'notification_sent', type_='primary')
    op.create_primary_key('pk_notification_sent', 'notification_sent', ['bulk_change_id'])
    op.drop_column('notification_sent', 'completion_seq')
    op.drop_column('bulk_change', 'completion_seq')
