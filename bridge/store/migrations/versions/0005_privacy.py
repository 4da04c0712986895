"""Privacy: direct-message rooms reused for private answers, and the messages naming a person
that are redacted when they ask to be forgotten.

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "direct_rooms",
        sa.Column("user_id", sa.String(255), primary_key=True),
        sa.Column("room_id", sa.String(255), nullable=False),
        sa.Column("created_at", TS, nullable=False),
    )
    op.create_table(
        "personal_messages",
        sa.Column("event_id", sa.String(255), primary_key=True),
        sa.Column("user_id", sa.String(255), nullable=False),
        sa.Column("room_id", sa.String(255), nullable=False),
        sa.Column("posted_at", TS, nullable=False),
    )
    op.create_index("ix_personal_messages_user_id", "personal_messages", ["user_id"])


def downgrade() -> None:
    op.drop_index("ix_personal_messages_user_id", "personal_messages")
    op.drop_table("personal_messages")
    op.drop_table("direct_rooms")
