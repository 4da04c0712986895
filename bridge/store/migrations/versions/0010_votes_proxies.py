"""Proxies (委托): an owner authorises another person to vote for the household, confirmed by a
committee member, revocable; each change made once per cause (its own change log). An answer
given by a proxy names the proxy it was given under; a counted ballot names the proxy and who
confirmed the proxy (the audit file's `proxy`, `proxy_confirmed_by`).

Revision ID: 0010_votes_proxies
Revises: 0009_votes_integrity
"""

import sqlalchemy as sa
from alembic import op

revision = "0010_votes_proxies"
down_revision = "0009_votes_integrity"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)
ACTIVE = sa.text("status IN ('requested', 'confirmed')")


def upgrade() -> None:
    op.create_table(
        "votes_proxies",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("compound", sa.String(64), nullable=False),
        sa.Column("number", sa.Integer, nullable=False),
        sa.Column("household", sa.String(64), nullable=False),
        sa.Column("owner", sa.String(255), nullable=False),
        sa.Column("proxy", sa.String(255), nullable=False),
        sa.Column("poll_id", sa.Integer, sa.ForeignKey("votes_polls.id"), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("requested_at", TS, nullable=False),
        sa.Column("confirmed_by", sa.String(255), nullable=True),
        sa.Column("confirmed_at", TS, nullable=True),
        sa.Column("revoked_at", TS, nullable=True),
        sa.Column("reason", sa.Text, nullable=True),
        sa.Column("cause", sa.String(255), nullable=False, unique=True),
        sa.UniqueConstraint("compound", "number", name="uq_votes_proxies_number"),
    )
    # One proxy asked for or in force per household at a time.
    op.create_index(
        "uq_votes_proxies_active",
        "votes_proxies",
        ["compound", "household"],
        unique=True,
        sqlite_where=ACTIVE,
        postgresql_where=ACTIVE,
    )
    op.create_table(
        "votes_proxy_log",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("proxy_id", sa.Integer, sa.ForeignKey("votes_proxies.id"), nullable=False),
        sa.Column("at", TS, nullable=False),
        sa.Column("actor", sa.String(255), nullable=True),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("cause", sa.String(255), nullable=False),
        sa.Column("detail", sa.JSON, nullable=False),
        sa.UniqueConstraint("proxy_id", "action", "cause", name="uq_votes_proxy_log_cause"),
    )
    with op.batch_alter_table("votes_answers") as table:
        table.add_column(sa.Column("proxy_id", sa.Integer, nullable=True))
    with op.batch_alter_table("votes_counted") as table:
        table.add_column(sa.Column("proxy", sa.String(255), nullable=True))
        table.add_column(sa.Column("proxy_confirmed_by", sa.String(255), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("votes_counted") as table:
        table.drop_column("proxy_confirmed_by")
        table.drop_column("proxy")
    with op.batch_alter_table("votes_answers") as table:
        table.drop_column("proxy_id")
    op.drop_table("votes_proxy_log")
    op.drop_index("uq_votes_proxies_active", table_name="votes_proxies")
    op.drop_table("votes_proxies")
