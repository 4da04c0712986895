"""The votes bot's tables. Their schema comes from the alembic history in
`bridge/store/migrations/` (revision 0007_votes); these classes map them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from bridge.store.models import Base


class Poll(Base):
    """A quick poll or a formal vote, posted as a native Matrix poll."""

    __tablename__ = "votes_polls"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    compound: Mapped[str] = mapped_column(String(64))
    number: Mapped[int] = mapped_column(Integer)  # per compound: "投票 #3"
    kind: Mapped[str] = mapped_column(String(16))  # "quick" or "formal"
    room_id: Mapped[str] = mapped_column(String(255))
    # The command that created it: creating is idempotent on it.
    source_event_id: Mapped[str] = mapped_column(String(255), unique=True)
    start_event_id: Mapped[str] = mapped_column(String(255), unique=True)
    creator: Mapped[str] = mapped_column(String(255))
    question: Mapped[str] = mapped_column(Text)
    options: Mapped[list[dict[str, str]]] = mapped_column(JSON)  # [{"id", "text"}]
    max_selections: Mapped[int] = mapped_column(Integer, default=1)
    per_household: Mapped[bool] = mapped_column(default=False)
    # Who may answer: "anyone" (quick polls), "residents", "households", "owners".
    eligibility: Mapped[str] = mapped_column(String(16), default="anyone")
    # A formal vote's rule: {"name", "participation", "approval"} (shares as "p/q").
    rule: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    opened_at: Mapped[datetime]
    closes_at: Mapped[datetime | None] = mapped_column(default=None)
    status: Mapped[str] = mapped_column(String(16), default="open")  # open → closed
    closed_at: Mapped[datetime | None] = mapped_column(default=None)
    # The command or scheduled job that closed it: closing is made once per cause.
    close_cause: Mapped[str | None] = mapped_column(String(255), default=None)
    closed_by: Mapped[str | None] = mapped_column(String(255), default=None)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)

    __table_args__ = (UniqueConstraint("compound", "number", name="uq_votes_polls_number"),)


class PollAnswer(Base):
    """One response event to a poll (every one is kept; the latest per voter counts)."""

    __tablename__ = "votes_answers"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    poll_id: Mapped[int] = mapped_column(ForeignKey("votes_polls.id"), index=True)
    # A response delivered twice is stored once.
    event_id: Mapped[str] = mapped_column(String(255), unique=True)
    voter: Mapped[str] = mapped_column(String(255))
    household: Mapped[str | None] = mapped_column(String(64), default=None)
    choices: Mapped[list[str]] = mapped_column(JSON)
    ts: Mapped[int] = mapped_column(BigInteger)  # origin_server_ts (ms)
    received_at: Mapped[datetime]
