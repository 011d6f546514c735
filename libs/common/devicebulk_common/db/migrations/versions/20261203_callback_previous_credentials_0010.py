"""callback previous credentials

A rotation of a provider's callback credentials keeps the replaced username, password
(encrypted) and path secret (its SHA-256) until a grace period ends, so the callbacks the carrier
queued before the switch are still accepted.

Revision ID: 0010
Revises: 0008
Create Date: 2026-12-03 09:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0010'
down_revision: str | None = '0008'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column('service_provider', sa.Column('callback_previous_username', sa.String(length=100), nullable=True))
    op.add_column('service_provider', sa.Column('callback_previous_password_encrypted', sa.Text(), nullable=True))
    op.add_column('service_provider', sa.Column('callback_previous_path_secret_sha256', sa.String(length=64), nullable=True))
    op.add_column('service_provider', sa.Column('callback_previous_valid_until', sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    op.drop_column('service_provider', 'callback_previous_valid_until')
    op.drop_column('service_provider', 'callback_previous_path_secret_sha256')
    op.drop_column('service_provider', 'callback_previous_password_encrypted')
    op.drop_column('service_provider', 'callback_previous_username')
