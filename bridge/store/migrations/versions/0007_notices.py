"""Notices: the notices, the rooms each was posted in, the order of events in those rooms,
who each notice reached, and a log of changes once per cause.

Revision ID: 0007_notices
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0007_notices"
down_revision = "0006"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)
BIG = sa.BigInteger().with_variant(sa.Integer, "sqlite")


def upgrade() -> None:
    op.create_table(
        "notices",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("compound", sa.String(64), nullable=False),
        sa.Column("number", sa.Integer, nullable=False),
        sa.Column("cause", sa.String(255), nullable=False, unique=True),
        sa.Column("author", sa.String(255)),
        sa.Column("origin", sa.String(64), nullable=False),
        sa.Column("staff_room_id", sa.String(255)),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("targets", sa.JSON),
        sa.Column("urgent", sa.Boolean, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("post_at", TS),
        sa.Column("cron", sa.String(120)),
        sa.Column("series_id", sa.Integer, sa.ForeignKey("notices.id")),
        sa.Column("posted_at", TS),
        sa.Column("expires_at", TS),
        sa.UniqueConstraint("compound", "number"),
    )
    op.create_index("ix_notices_compound_status", "notices", ["compound", "status"])
    op.create_table(
        "notice_posts",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("notice_id", sa.Integer, sa.ForeignKey("notices.id"), nullable=False),
        sa.Column("room_id", sa.String(255), nullable=False),
        sa.Column("event_id", sa.String(255), nullable=False, unique=True),
        sa.Column("pinned", sa.Boolean, nullable=False),
        sa.UniqueConstraint("notice_id", "room_id"),
    )
    op.create_index("ix_notice_posts_notice_id", "notice_posts", ["notice_id"])
    op.create_index("ix_notice_posts_room_id", "notice_posts", ["room_id"])
    op.create_table(
        "notice_room_events",
        sa.Column("id", BIG, primary_key=True, autoincrement=True),
        sa.Column("room_id", sa.String(255), nullable=False),
        sa.Column("event_id", sa.String(255), nullable=False, unique=True),
        sa.Column("ts", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_notice_room_events_room", "notice_room_events", ["room_id", "id"])
    op.create_table(
        "notice_reach",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("notice_id", sa.Integer, sa.ForeignKey("notices.id"), nullable=False),
        sa.Column("who", sa.String(255), nullable=False),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("at", TS, nullable=False),
        sa.Column("by", sa.String(255)),
        sa.UniqueConstraint("notice_id", "who", "kind", name="uq_notice_reach"),
    )
    op.create_table(
        "notice_log",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("notice_id", sa.Integer, sa.ForeignKey("notices.id"), nullable=False),
        sa.Column("at", TS, nullable=False),
        sa.Column("actor", sa.String(255)),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("cause", sa.String(255), nullable=False),
        sa.Column("detail", sa.JSON, nullable=False),
        sa.UniqueConstraint("notice_id", "action", "cause", name="uq_notice_log_cause"),
    )
    op.create_index("ix_notice_log_notice_id", "notice_log", ["notice_id"])


def downgrade() -> None:
    op.drop_table("notice_log")
    op.drop_table("notice_reach")
    op.drop_table("notice_room_events")
    op.drop_table("notice_posts")
    op.drop_table("notices")
