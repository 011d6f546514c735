"""notification attempt

The completion email's send attempt (its Message-ID, recipient and state) is committed before
the SMTP conversation, so a notifier killed after the server took the email does not send a
second one with a new Message-ID when the event is redelivered.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 12:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0008'
down_revision: str | None = '0007'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('notification_attempt',
    sa.Column('bulk_change_id', sa.UUID(), nullable=False),
    sa.Column('completion_seq', sa.Integer(), nullable=False),
    sa.Column('message_id', sa.String(length=300), nullable=False),
    sa.Column('recipient', sa.String(length=320), nullable=False),
    sa.Column('state', sa.String(length=20), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('fallback_reason', sa.Text(), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('attempted_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['bulk_change_id'], ['bulk_change.id'], name=op.f('fk_notification_attempt_bulk_change_id_bulk_change')),
    sa.PrimaryKeyConstraint('bulk_change_id', 'completion_seq', name=op.f('pk_notification_attempt'))
    )


def downgrade() -> None:
    op.drop_table('notification_attempt')
