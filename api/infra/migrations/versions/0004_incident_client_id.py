"""incidents carry the phone's client id (a report resent from the offline queue is one report)

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01 12:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("incidents") as batch:
        batch.add_column(sa.Column("client_id", sa.String(length=64), nullable=True))
        batch.create_unique_constraint("uq_incident_client", ["reporter_id", "client_id"])


def downgrade() -> None:
    with op.batch_alter_table("incidents") as batch:
        batch.drop_constraint("uq_incident_client", type_="unique")
        batch.drop_column("client_id")
