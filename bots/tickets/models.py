"""The tickets bot's tables. Their schema comes from the alembic history in
`bridge/store/migrations/` (revisions 0003 and 0006); these classes map them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from bridge.store.models import Base


class Ticket(Base):
    """A resident's request to property staff, opened by a mention, with its SLA clock."""

    __tablename__ = "tickets"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    compound: Mapped[str] = mapped_column(String(64))
    number: Mapped[int] = mapped_column(Integer)  # per compound: "工单 #12"
    room_id: Mapped[str] = mapped_column(String(255))
    # The resident's message: opening is idempotent on it, and it is the thread's root.
    source_event_id: Mapped[str] = mapped_column(String(255), unique=True)
    reply_event_id: Mapped[str | None] = mapped_column(String(255), default=None)
    reporter: Mapped[str | None] = mapped_column(String(255))  # None once anonymised
    text: Mapped[str] = mapped_column(Text)
    category: Mapped[str] = mapped_column(String(32))
    urgent: Mapped[bool] = mapped_column(default=False)
    building: Mapped[str | None] = mapped_column(String(16), default=None)
    # Who the ticket is for: "property", or a committee role from the compound's aliases.
    team: Mapped[str] = mapped_column(String(32), default="property")
    # open → (waiting ↔ open) → done → closed; reopen goes back to open
    status: Mapped[str] = mapped_column(String(16), default="open")
    assignee: Mapped[str | None] = mapped_column(String(255), default=None)
    opened_at: Mapped[datetime]
    first_response_due: Mapped[datetime]
    resolution_due: Mapped[datetime]
    first_response_at: Mapped[datetime | None] = mapped_column(default=None)
    first_responder: Mapped[str | None] = mapped_column(String(255), default=None)
    waiting_since: Mapped[datetime | None] = mapped_column(default=None)
    done_at: Mapped[datetime | None] = mapped_column(default=None)
    done_by: Mapped[str | None] = mapped_column(String(255), default=None)
    closed_at: Mapped[datetime | None] = mapped_column(default=None)
    close_reason: Mapped[str | None] = mapped_column(String(16), default=None)
    confirm_event_id: Mapped[str | None] = mapped_column(String(255), default=None)
    rating: Mapped[int | None] = mapped_column(Integer, default=None)
    escalation_level: Mapped[int] = mapped_column(Integer, default=0)
    reopened: Mapped[int] = mapped_column(Integer, default=0)

    __table_args__ = (
        UniqueConstraint("compound", "number"),
        Index("ix_tickets_compound_status", "compound", "status"),
    )


class TicketLog(Base):
    """What happened to a ticket, by whom and when: the record each escalation step leaves."""

    __tablename__ = "ticket_log"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), index=True)
    at: Mapped[datetime]
    actor: Mapped[str | None] = mapped_column(String(255))
    action: Mapped[str] = mapped_column(String(32))
    detail: Mapped[dict[str, Any]]
    # What caused the change (an event ID, or a scheduled job's key): a change is made once
    # per cause, so a handler run again after a crash finds it made (migration 0006).
    cause: Mapped[str | None] = mapped_column(String(255), default=None)

    __table_args__ = (UniqueConstraint("ticket_id", "action", "cause", name="uq_ticket_log_cause"),)
