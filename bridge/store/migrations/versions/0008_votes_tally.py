"""The votes bot's count at a formal close: the electorate and the ballots that counted, kept
per vote (written by SQL from the roster and the answers in the closing transaction), so the
close sums them in SQL and the audit file is written from them.

Revision ID: 0008_votes_tally
Revises: 0007_votes
"""

import sqlalchemy as sa
from alembic import op

revision = "0008_votes_tally"
down_revision = "0007_votes"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "votes_electorate",
        sa.Column("poll_id", sa.Integer, sa.ForeignKey("votes_polls.id"), primary_key=True),
        sa.Column("voter", sa.String(255), primary_key=True),  # household or Matrix ID
        sa.Column("weight", sa.String(32), nullable=False),  # exact decimal text: area or "1"
        sqlite_with_rowid=False,  # the key is the table: one B-tree to write, not two
    )
    op.create_table(
        "votes_counted",
        sa.Column("poll_id", sa.Integer, sa.ForeignKey("votes_polls.id"), primary_key=True),
        sa.Column("voter", sa.String(255), primary_key=True),
        sa.Column("choice", sa.String(16), nullable=False),
        sa.Column("source", sa.String(8), nullable=False),  # "online" or "paper"
        sa.Column("entered_by", sa.String(255), nullable=True),  # a paper ballot's staff member
        sa.Column("weight", sa.String(32), nullable=False),  # the voter's, from the electorate
        sqlite_with_rowid=False,
    )


def downgrade() -> None:
    op.drop_table("votes_counted")
    op.drop_table("votes_electorate")
