"""Community life: activities with 接龙 sign-ups (their posts, sign-ups and a change log once
per cause), the neighbours' board (help requests and offers, idle items, lost and found, with
who answered and a change log), volunteer hours, and how each resident wants to appear on
lists.

Revision ID: 0011_community
Revises: 0010_votes_proxies
"""

import sqlalchemy as sa
from alembic import op

revision = "0011_community"
down_revision = "0010_votes_proxies"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "community_activities",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("compound", sa.String(64), nullable=False),
        sa.Column("number", sa.Integer, nullable=False),
        sa.Column("cause", sa.String(255), nullable=False, unique=True),
        sa.Column("organizer", sa.String(255)),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("place", sa.Text, nullable=False),
        sa.Column("starts_at", TS, nullable=False),
        sa.Column("minutes", sa.Integer, nullable=False),
        sa.Column("deadline", TS, nullable=False),
        sa.Column("capacity", sa.Integer),
        sa.Column("volunteers", sa.Integer, nullable=False),
        sa.Column("checkin_code", sa.String(8), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("seq", sa.Integer, nullable=False),
        sa.Column("shown_seq", sa.Integer, nullable=False),
        sa.Column("refresh_due", sa.Boolean, nullable=False),
        sa.UniqueConstraint("compound", "number"),
    )
    op.create_index(
        "ix_community_activities_compound_status", "community_activities", ["compound", "status"]
    )
    op.create_table(
        "community_posts",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column(
            "activity_id", sa.Integer, sa.ForeignKey("community_activities.id"), nullable=False
        ),
        sa.Column("room_id", sa.String(255), nullable=False),
        sa.Column("event_id", sa.String(255), nullable=False, unique=True),
    )
    op.create_index("ix_community_posts_activity_id", "community_posts", ["activity_id"])
    op.create_table(
        "community_signups",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column(
            "activity_id", sa.Integer, sa.ForeignKey("community_activities.id"), nullable=False
        ),
        sa.Column("user_id", sa.String(255), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("seq", sa.Integer, nullable=False),
        sa.Column("active", sa.Boolean, nullable=False),
        sa.Column("note", sa.Text, nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("joined_at", TS, nullable=False),
        sa.Column("reaction_event_id", sa.String(255)),
        sa.Column("promoted_by", sa.String(255)),
        sa.Column("checked_in", sa.Boolean, nullable=False),
        sa.UniqueConstraint("activity_id", "user_id", "kind", name="uq_community_signup_person"),
    )
    op.create_index("ix_community_signups_reaction", "community_signups", ["reaction_event_id"])
    op.create_index("ix_community_signups_user", "community_signups", ["user_id"])
    op.create_table(
        "community_log",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column(
            "activity_id", sa.Integer, sa.ForeignKey("community_activities.id"), nullable=False
        ),
        sa.Column("at", TS, nullable=False),
        sa.Column("actor", sa.String(255)),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("detail", sa.JSON, nullable=False),
        sa.Column("cause", sa.String(255), nullable=False),
        sa.UniqueConstraint("activity_id", "action", "cause", name="uq_community_log_cause"),
    )
    op.create_index("ix_community_log_activity_id", "community_log", ["activity_id"])
    op.create_table(
        "community_board",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("compound", sa.String(64), nullable=False),
        sa.Column("number", sa.Integer, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("cause", sa.String(255), nullable=False, unique=True),
        sa.Column("author", sa.String(255)),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("room_id", sa.String(255), nullable=False),
        sa.Column("event_id", sa.String(255), unique=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("expires_at", TS, nullable=False),
        sa.Column("helper", sa.String(255)),
        sa.Column("private_room_id", sa.String(255)),
        sa.Column("photo_event_id", sa.String(255)),
        sa.UniqueConstraint("compound", "number"),
    )
    op.create_index(
        "ix_community_board_compound_kind_status",
        "community_board",
        ["compound", "kind", "status"],
    )
    op.create_table(
        "community_board_answers",
        sa.Column("post_id", sa.Integer, sa.ForeignKey("community_board.id"), primary_key=True),
        sa.Column("user_id", sa.String(255), primary_key=True),
        sa.Column("at", TS, nullable=False),
        sa.Column("reaction_event_id", sa.String(255)),
    )
    op.create_index(
        "ix_community_board_answers_reaction_event_id",
        "community_board_answers",
        ["reaction_event_id"],
    )
    op.create_table(
        "community_board_log",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("post_id", sa.Integer, sa.ForeignKey("community_board.id"), nullable=False),
        sa.Column("at", TS, nullable=False),
        sa.Column("actor", sa.String(255)),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("detail", sa.JSON, nullable=False),
        sa.Column("cause", sa.String(255), nullable=False),
        sa.UniqueConstraint("post_id", "action", "cause", name="uq_community_board_log"),
    )
    op.create_index("ix_community_board_log_post_id", "community_board_log", ["post_id"])
    op.create_table(
        "community_hours",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("compound", sa.String(64), nullable=False),
        sa.Column("user_id", sa.String(255)),
        sa.Column("activity_id", sa.Integer, sa.ForeignKey("community_activities.id")),
        sa.Column("post_id", sa.Integer, sa.ForeignKey("community_board.id")),
        sa.Column("minutes", sa.Integer, nullable=False),
        sa.Column("at", TS, nullable=False),
        sa.UniqueConstraint("activity_id", "user_id", name="uq_community_hours_once"),
        sa.UniqueConstraint("post_id", "user_id", name="uq_community_hours_help_once"),
    )
    op.create_index("ix_community_hours_compound_at", "community_hours", ["compound", "at"])
    op.create_table(
        "community_show_as",
        sa.Column("compound", sa.String(64), primary_key=True),
        sa.Column("user_id", sa.String(255), primary_key=True),
        sa.Column("show", sa.String(16), nullable=False),
    )


def downgrade() -> None:
    for table in (
        "community_show_as",
        "community_hours",
        "community_board_log",
        "community_board_answers",
        "community_board",
        "community_log",
        "community_signups",
        "community_posts",
        "community_activities",
    ):
        op.drop_table(table)
