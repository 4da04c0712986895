"""The votes bot: polls and formal votes, and every answer to them.

Revision ID: 0007_votes
Revises: 0007_notices
"""

import sqlalchemy as sa
from alembic import op

revision = "0007_votes"
down_revision = "0007_notices"
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
        sa.Column("secret", sa.Boolean, nullable=False, server_default=sa.false()),
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
    # Secret ballots: who has a ballot paper (a poll in their direct room with the bot), who
    # voted, and what was chosen, in tables with no link between the last two.
    op.create_table(
        "votes_ballot_papers",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("poll_id", sa.Integer, sa.ForeignKey("votes_polls.id"), nullable=False),
        sa.Column("user_id", sa.String(255), nullable=False),
        sa.Column("room_id", sa.String(255), nullable=False),
        sa.Column("start_event_id", sa.String(255), nullable=False, unique=True),
        sa.UniqueConstraint("poll_id", "user_id", name="uq_votes_ballot_papers_user"),
    )
    op.create_table(
        "votes_secret_voters",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("poll_id", sa.Integer, sa.ForeignKey("votes_polls.id"), nullable=False),
        sa.Column("voter", sa.String(255), nullable=False),
        sa.Column("cause", sa.String(255), nullable=False, unique=True),
        sa.UniqueConstraint("poll_id", "voter", name="uq_votes_secret_voters_voter"),
    )
    op.create_table(
        "votes_secret_ballots",
        sa.Column("receipt", sa.String(32), primary_key=True),
        sa.Column("poll_id", sa.Integer, sa.ForeignKey("votes_polls.id"), nullable=False),
        sa.Column("choice", sa.String(16), nullable=False),
    )
    op.create_table(
        "votes_secret_totals",
        sa.Column("poll_id", sa.Integer, sa.ForeignKey("votes_polls.id"), primary_key=True),
        sa.Column("choice", sa.String(16), primary_key=True),
        sa.Column("heads", sa.Integer, nullable=False),
        sa.Column("area", sa.String(32), nullable=False),
    )
    # Paper ballots, entered by staff one by one or from a CSV file.
    op.create_table(
        "votes_paper_ballots",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("poll_id", sa.Integer, sa.ForeignKey("votes_polls.id"), nullable=False),
        sa.Column("household", sa.String(64), nullable=False),
        sa.Column("choice", sa.String(16), nullable=False),
        sa.Column("entered_by", sa.String(255), nullable=False),
        sa.Column("cause", sa.String(255), nullable=False),
        sa.Column("entered_at", TS, nullable=False),
        sa.UniqueConstraint("poll_id", "household", name="uq_votes_paper_household"),
    )
    # Proposals: filed by residents, screened by the committee, discussed, voted, published.
    op.create_table(
        "votes_proposals",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("compound", sa.String(64), nullable=False),
        sa.Column("number", sa.Integer, nullable=False),
        sa.Column("proposer", sa.String(255), nullable=True),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("source_event_id", sa.String(255), nullable=False, unique=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("discussion_event_id", sa.String(255), nullable=True),
        sa.Column("discussion_until", TS, nullable=True),
        sa.Column("poll_id", sa.Integer, sa.ForeignKey("votes_polls.id"), nullable=True),
        sa.Column("convention_event_id", sa.String(255), nullable=True),
        sa.Column("reason", sa.Text, nullable=True),
        sa.Column("last_cause", sa.String(255), nullable=True),
        sa.UniqueConstraint("compound", "number", name="uq_votes_proposals_number"),
    )


def downgrade() -> None:
    for table in (
        "votes_proposals",
        "votes_paper_ballots",
        "votes_secret_totals",
        "votes_secret_ballots",
        "votes_secret_voters",
        "votes_ballot_papers",
    ):
        op.drop_table(table)
    op.drop_index("ix_votes_answers_poll_id", "votes_answers")
    op.drop_table("votes_answers")
    op.drop_table("votes_polls")
