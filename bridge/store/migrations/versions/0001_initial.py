"""Initial schema: inbox, provisioned rooms, residents and role grants.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "inbox_transactions",
        sa.Column("txn_id", sa.String(255), primary_key=True),
        sa.Column("received_at", TS, nullable=False),
        sa.Column("event_count", sa.Integer, nullable=False),
    )
    op.create_table(
        "inbox_events",
        sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("event_id", sa.String(255), nullable=False, unique=True),
        sa.Column(
            "txn_id", sa.String(255), sa.ForeignKey("inbox_transactions.txn_id"), nullable=False
        ),
        sa.Column("body", sa.JSON, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("error", sa.Text),
        sa.Column("received_at", TS, nullable=False),
        sa.Column("done_at", TS),
    )
    op.create_index("ix_inbox_events_status_seq", "inbox_events", ["status", "seq"])
    op.create_table(
        "provisioned_rooms",
        sa.Column("key", sa.String(255), primary_key=True),
        sa.Column("room_id", sa.String(255), nullable=False, unique=True),
        sa.Column("compound", sa.String(64)),
        sa.Column("state", sa.JSON, nullable=False),
        sa.Column("archived", sa.Boolean, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
    )
    op.create_index("ix_provisioned_rooms_compound", "provisioned_rooms", ["compound"])
    op.create_table(
        "residents",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("compound", sa.String(64), nullable=False),
        sa.Column("user_id", sa.String(255), nullable=False),
        sa.Column("building", sa.String(16), nullable=False),
        sa.Column("unit", sa.String(16), nullable=False),
        sa.Column("room", sa.String(16), nullable=False),
        sa.Column("verified_at", TS, nullable=False),
        sa.UniqueConstraint("compound", "user_id"),
    )
    op.create_table(
        "role_grants",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("compound", sa.String(64), nullable=False),
        sa.Column("user_id", sa.String(255), nullable=False),
        sa.Column("role", sa.String(32), nullable=False),
        sa.Column("granted_by", sa.String(255), nullable=False),
        sa.Column("granted_at", TS, nullable=False),
        sa.UniqueConstraint("compound", "user_id", "role"),
    )


def downgrade() -> None:
    for table in ("role_grants", "residents", "provisioned_rooms", "inbox_events"):
        op.drop_table(table)
    op.drop_table("inbox_transactions")
