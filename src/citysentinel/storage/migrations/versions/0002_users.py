"""users and sign-in sessions

Dashboard users sign in with a username and password; a session is an API key bound to a
user that expires, so api_keys gains user_id and expires_at.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import citysentinel.storage.tables

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("username", sa.String(length=100), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column("role", sa.String(length=20), nullable=False),
        sa.Column("disabled", sa.Boolean(), nullable=False),
        sa.Column(
            "created_at", citysentinel.storage.tables.UTCDateTime(timezone=True), nullable=False
        ),
        sa.Column(
            "last_login", citysentinel.storage.tables.UTCDateTime(timezone=True), nullable=True
        ),
        sa.Column("failed_logins", sa.Integer(), nullable=False),
        sa.Column(
            "locked_until", citysentinel.storage.tables.UTCDateTime(timezone=True), nullable=True
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("username", name=op.f("uq_users_username")),
    )
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.add_column(sa.Column("user_id", sa.String(length=32), nullable=True))
        batch_op.add_column(
            sa.Column(
                "expires_at",
                citysentinel.storage.tables.UTCDateTime(timezone=True),
                nullable=True,
            )
        )
        batch_op.create_index("ix_api_keys_user_id", ["user_id"], unique=False)
        batch_op.create_foreign_key(
            batch_op.f("fk_api_keys_user_id_users"),
            "users",
            ["user_id"],
            ["id"],
            ondelete="CASCADE",
        )


def downgrade() -> None:
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_api_keys_user_id_users"), type_="foreignkey")
        batch_op.drop_index("ix_api_keys_user_id")
        batch_op.drop_column("expires_at")
        batch_op.drop_column("user_id")

    op.drop_table("users")
