"""Votes a committee can defend: secret voters and ballots in tables with no order that links
them (keys only, WITHOUT ROWID on SQLite), each counted ballot's event and time, a paper
ballot's second signature, an owner's share of a head, and one change log per poll (change
once per cause, as tickets and notices do).

Revision ID: 0009_votes_integrity
Revises: 0008_votes_tally
"""

import sqlalchemy as sa
from alembic import op

revision = "0009_votes_integrity"
down_revision = "0008_votes_tally"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def _rebuild(name: str, columns: list[sa.Column], copy: str) -> None:
    """Recreate a table keyed only by its primary key (no rowid, no serial id), rows copied
    in key order."""
    temporary = f"{name}_new"
    op.create_table(temporary, *columns, sqlite_with_rowid=False)
    op.execute(f"INSERT INTO {temporary} {copy}")
    op.drop_table(name)
    op.rename_table(temporary, name)


def upgrade() -> None:
    # Who voted secretly: the poll and the voter are the key (no autoincrement id in cast order).
    _rebuild(
        "votes_secret_voters",
        [
            sa.Column("poll_id", sa.Integer, sa.ForeignKey("votes_polls.id"), primary_key=True),
            sa.Column("voter", sa.String(255), primary_key=True),
            sa.Column("cause", sa.String(255), nullable=False),
        ],
        "(poll_id, voter, cause) SELECT poll_id, voter, cause FROM votes_secret_voters "
        "ORDER BY poll_id, voter",
    )
    op.create_index("ix_votes_secret_voters_cause", "votes_secret_voters", ["cause"], unique=True)
    # What was chosen: the receipt is the key (no hidden rowid in cast order).
    _rebuild(
        "votes_secret_ballots",
        [
            sa.Column("receipt", sa.String(32), primary_key=True),
            sa.Column("poll_id", sa.Integer, sa.ForeignKey("votes_polls.id"), nullable=False),
            sa.Column("choice", sa.String(16), nullable=False),
        ],
        "(receipt, poll_id, choice) SELECT receipt, poll_id, choice FROM votes_secret_ballots "
        "ORDER BY receipt",
    )
    with op.batch_alter_table("votes_electorate") as table:
        # An owner's share of one head (art. 9 of the SPC's interpretation: a buyer of several
        # parts is one person): "1" for a part of its own, "1/k" for each of k parts.
        table.add_column(sa.Column("head", sa.String(32), nullable=False, server_default="1"))
    with op.batch_alter_table("votes_secret_totals") as table:
        # The owners' heads the ballots of a choice carry (exact text: shares of a head).
        table.add_column(sa.Column("head", sa.String(32), nullable=False, server_default="0"))
    op.execute("UPDATE votes_secret_totals SET head = CAST(heads AS VARCHAR(32))")
    with op.batch_alter_table("votes_counted") as table:
        table.add_column(sa.Column("head", sa.String(32), nullable=False, server_default="1"))
        table.add_column(sa.Column("event_id", sa.String(255), nullable=True))
        table.add_column(sa.Column("ts", sa.BigInteger, nullable=True))
        table.add_column(sa.Column("confirmed_by", sa.String(255), nullable=True))
    with op.batch_alter_table("votes_paper_ballots") as table:
        # The second committee member (监票人) who confirmed the batch; None: not yet.
        table.add_column(sa.Column("confirmed_by", sa.String(255), nullable=True))
        table.add_column(sa.Column("batch", sa.String(255), nullable=True))
    # Paper ballots entered before a second signature was asked for counted as they were.
    op.execute("UPDATE votes_paper_ballots SET confirmed_by = entered_by")
    # A ballot paper posted again (a job run past the homeserver's transaction cache) is a
    # second poll: both are kept, so an answer to either is taken.
    with op.batch_alter_table("votes_ballot_papers") as table:
        table.drop_constraint("uq_votes_ballot_papers_user", type_="unique")
        table.create_index("ix_votes_ballot_papers_user", ["poll_id", "user_id"])
    op.create_table(
        "votes_log",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("poll_id", sa.Integer, sa.ForeignKey("votes_polls.id"), nullable=False),
        sa.Column("at", TS, nullable=False),
        sa.Column("actor", sa.String(255), nullable=True),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("cause", sa.String(255), nullable=False),
        sa.Column("detail", sa.JSON, nullable=False),
        sa.UniqueConstraint("poll_id", "action", "cause", name="uq_votes_log_cause"),
    )
    # Closes made before this revision: their cause as the log's first line.
    op.execute(
        "INSERT INTO votes_log (poll_id, at, actor, action, cause, detail) "
        "SELECT id, closed_at, closed_by, 'close', close_cause, '{}' FROM votes_polls "
        "WHERE status = 'closed' AND close_cause IS NOT NULL"
    )


def downgrade() -> None:
    op.drop_table("votes_log")
    with op.batch_alter_table("votes_ballot_papers") as table:
        table.drop_index("ix_votes_ballot_papers_user")
        table.create_unique_constraint("uq_votes_ballot_papers_user", ["poll_id", "user_id"])
    with op.batch_alter_table("votes_paper_ballots") as table:
        table.drop_column("batch")
        table.drop_column("confirmed_by")
    with op.batch_alter_table("votes_counted") as table:
        for column in ("confirmed_by", "ts", "event_id", "head"):
            table.drop_column(column)
    with op.batch_alter_table("votes_electorate") as table:
        table.drop_column("head")
    with op.batch_alter_table("votes_secret_totals") as table:
        table.drop_column("head")
