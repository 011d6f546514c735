"""provider carrier options

Each carrier account's integration settings (Control Center: the `JasperConfig` keys, such as
its custom fields and status graph; ThingSpace: the username's custom field), plain JSON over
each service's defaults. Existing providers get `{}` (the defaults they used until now).

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-03 12:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "service_provider",
        sa.Column(
            "carrier_options",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
    )


def downgrade() -> None:
    op.drop_column("service_provider", "carrier_options")
