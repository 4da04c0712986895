"""Onboarding: the household roster, verification requests, residents' names and owner flag.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.add_column("residents", sa.Column("name", sa.Text))
    op.add_column(
        "residents", sa.Column("is_owner", sa.Boolean, nullable=False, server_default=sa.false())
    )
    op.add_column(
        "role_grants", sa.Column("shown", sa.Boolean, nullable=False, server_default=sa.false())
    )
    op.create_table(
        "roster_households",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("compound", sa.String(64), nullable=False),
        sa.Column("building", sa.String(16), nullable=False),
        sa.Column("unit", sa.String(16), nullable=False),
        sa.Column("room", sa.String(16), nullable=False),
        sa.Column("floor_area", sa.String(16), nullable=False),
        sa.Column("owners", sa.JSON, nullable=False),
        sa.Column("phone_hashes", sa.JSON, nullable=False),
        sa.Column("imported_at", TS, nullable=False),
        sa.UniqueConstraint("compound", "building", "unit", "room"),
    )
    op.create_table(
        "verification_requests",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("compound", sa.String(64), nullable=False),
        sa.Column("user_id", sa.String(255), nullable=False),
        sa.Column("building", sa.String(16), nullable=False),
        sa.Column("unit", sa.String(16), nullable=False),
        sa.Column("room", sa.String(16), nullable=False),
        sa.Column("name", sa.Text),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("source_event_id", sa.String(255), nullable=False, unique=True),
        sa.Column("lobby_room_id", sa.String(255), nullable=False),
        sa.Column("requested_at", TS, nullable=False),
        sa.Column("decided_by", sa.String(255)),
        sa.Column("decided_at", TS),
        sa.Column("reason", sa.Text),
    )
    op.create_index("ix_verification_requests_compound", "verification_requests", ["compound"])


def downgrade() -> None:
    op.drop_table("verification_requests")
    op.drop_table("roster_households")
    with op.batch_alter_table("role_grants") as batch:
        batch.drop_column("shown")
    with op.batch_alter_table("residents") as batch:
        batch.drop_column("is_owner")
        batch.drop_column("name")
