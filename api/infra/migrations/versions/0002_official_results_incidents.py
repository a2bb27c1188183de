"""official results and situation reports

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 15:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "official_results",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("race", sa.String(length=40), nullable=False),
        sa.Column("tps_code", sa.String(length=30), nullable=False),
        sa.Column("votes", sa.JSON(), nullable=False),
        sa.Column("suara_sah", sa.Integer(), nullable=True),
        sa.Column("suara_tidak_sah", sa.Integer(), nullable=True),
        sa.Column("imported_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("imported_by", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["race"], ["races.id"]),
        sa.ForeignKeyConstraint(["tps_code"], ["tps.code"]),
        sa.ForeignKeyConstraint(["imported_by"], ["users.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("race", "tps_code", name="uq_official_race_tps"),
    )
    op.create_table(
        "incidents",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("tps_code", sa.String(length=30), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reporter_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["tps_code"], ["tps.code"]),
        sa.ForeignKeyConstraint(["reporter_id"], ["users.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_incidents_tps_code", "incidents", ["tps_code"])
    op.create_index("ix_incidents_at", "incidents", ["at"])


def downgrade() -> None:
    op.drop_index("ix_incidents_at", table_name="incidents")
    op.drop_index("ix_incidents_tps_code", table_name="incidents")
    op.drop_table("incidents")
    op.drop_table("official_results")
