"""Replay-safe changes: each ticket change and each verification decision records the event
(or scheduled job) that caused it, so a handler run again finds the change made.

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("ticket_log") as batch:
        batch.add_column(sa.Column("cause", sa.String(255), nullable=True))
        batch.create_unique_constraint("uq_ticket_log_cause", ["ticket_id", "action", "cause"])
    with op.batch_alter_table("verification_requests") as batch:
        batch.add_column(sa.Column("decision_event_id", sa.String(255), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("verification_requests") as batch:
        batch.drop_column("decision_event_id")
    with op.batch_alter_table("ticket_log") as batch:
        batch.drop_constraint("uq_ticket_log_cause", type_="unique")
        batch.drop_column("cause")
