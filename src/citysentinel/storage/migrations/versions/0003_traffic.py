"""traffic readings

Live road-sensor readings, one row per sensor and step (the step's start in Unix seconds);
a missing reading has no row, a reported gap has a NULL value.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "traffic_readings",
        sa.Column("sensor", sa.String(length=200), nullable=False),
        sa.Column("time_s", sa.BigInteger(), nullable=False),
        sa.Column("value", sa.Float(), nullable=True),
        sa.PrimaryKeyConstraint("sensor", "time_s", name=op.f("pk_traffic_readings")),
        sqlite_with_rowid=False,
    )


def downgrade() -> None:
    op.drop_table("traffic_readings")
