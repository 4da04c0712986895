"""Tickets with their log, and the webhook outbox with replay protection.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "tickets",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("compound", sa.String(64), nullable=False),
        sa.Column("number", sa.Integer, nullable=False),
        sa.Column("room_id", sa.String(255), nullable=False),
        sa.Column("source_event_id", sa.String(255), nullable=False, unique=True),
        sa.Column("reply_event_id", sa.String(255)),
        sa.Column("reporter", sa.String(255)),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("category", sa.String(32), nullable=False),
        sa.Column("urgent", sa.Boolean, nullable=False),
        sa.Column("building", sa.String(16)),
        sa.Column("team", sa.String(32), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("assignee", sa.String(255)),
        sa.Column("opened_at", TS, nullable=False),
        sa.Column("first_response_due", TS, nullable=False),
        sa.Column("resolution_due", TS, nullable=False),
        sa.Column("first_response_at", TS),
        sa.Column("first_responder", sa.String(255)),
        sa.Column("waiting_since", TS),
        sa.Column("done_at", TS),
        sa.Column("done_by", sa.String(255)),
        sa.Column("closed_at", TS),
        sa.Column("close_reason", sa.String(16)),
        sa.Column("confirm_event_id", sa.String(255)),
        sa.Column("rating", sa.Integer),
        sa.Column("escalation_level", sa.Integer, nullable=False),
        sa.Column("reopened", sa.Integer, nullable=False),
        sa.UniqueConstraint("compound", "number"),
    )
    op.create_index("ix_tickets_compound_status", "tickets", ["compound", "status"])
    op.create_table(
        "ticket_log",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("ticket_id", sa.Integer, sa.ForeignKey("tickets.id"), nullable=False),
        sa.Column("at", TS, nullable=False),
        sa.Column("actor", sa.String(255)),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("detail", sa.JSON, nullable=False),
    )
    op.create_index("ix_ticket_log_ticket_id", "ticket_log", ["ticket_id"])
    op.create_table(
        "webhook_outbox",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("key", sa.String(255), nullable=False, unique=True),
        sa.Column("target", sa.String(64), nullable=False),
        sa.Column("body", sa.JSON, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("delivered_at", TS),
        sa.Column("last_error", sa.Text),
    )
    op.create_table(
        "webhook_seen",
        sa.Column("signature", sa.String(128), primary_key=True),
        sa.Column("received_at", TS, nullable=False),
    )


def downgrade() -> None:
    for table in ("webhook_seen", "webhook_outbox", "ticket_log", "tickets"):
        op.drop_table(table)
