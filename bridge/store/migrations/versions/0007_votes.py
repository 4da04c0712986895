"""The votes bot: polls and formal votes, and every answer to them.

Revision ID: 0007_votes
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0007_votes"
down_revision = "0006"
branch_labels = None
depends_on = None
TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "votes_polls",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("compound", sa.String(64), nullable=False),
        sa.Column("number", sa.Integer, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("room_id", sa.String(255), nullable=False),
        sa.Column("source_event_id", sa.String(255), nullable=False, unique=True),
        sa.Column("start_event_id", sa.String(255), nullable=False, unique=True),
        sa.Column("creator", sa.String(255), nullable=False),
        sa.Column("question", sa.Text, nullable=False),
        sa.Column("options", sa.JSON, nullable=False),
        sa.Column("max_selections", sa.Integer, nullable=False),
        sa.Column("per_household", sa.Boolean, nullable=False),
        sa.Column("eligibility", sa.String(16), nullable=False),
        sa.Column("rule", sa.JSON, nullable=True),
        sa.Column("opened_at", TS, nullable=False),
        sa.Column("closes_at", TS, nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("closed_at", TS, nullable=True),
        sa.Column("close_cause", sa.String(255), nullable=True),
        sa.Column("closed_by", sa.String(255), nullable=True),
        sa.Column("result", sa.JSON, nullable=True),
        sa.UniqueConstraint("compound", "number", name="uq_votes_polls_number"),
    )
    op.create_table(
        "votes_answers",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("poll_id", sa.Integer, sa.ForeignKey("votes_polls.id"), nullable=False),
        sa.Column("event_id", sa.String(255), nullable=False, unique=True),
        sa.Column("voter", sa.String(255), nullable=False),
        sa.Column("household", sa.String(64), nullable=True),
        sa.Column("choices", sa.JSON, nullable=False),
        sa.Column("ts", sa.BigInteger, nullable=False),
        sa.Column("received_at", TS, nullable=False),
    )
    op.create_index("ix_votes_answers_poll_id", "votes_answers", ["poll_id"])


def downgrade() -> None:
    op.drop_index("ix_votes_answers_poll_id", "votes_answers")
    op.drop_table("votes_answers")
    op.drop_table("votes_polls")
