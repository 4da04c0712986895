"""SQLAlchemy models of Linli's tables. The schema itself comes only from the alembic revisions."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, DateTime, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    type_annotation_map = {  # noqa: RUF012
        dict[str, Any]: JSON,
        datetime: DateTime(timezone=True),
    }


class InboxTransaction(Base):
    """A homeserver transaction already acknowledged: a repeat of its txnId is not stored again."""

    __tablename__ = "inbox_transactions"
    txn_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    received_at: Mapped[datetime]
    event_count: Mapped[int] = mapped_column(Integer)


class InboxEvent(Base):
    """One event pushed by the homeserver, stored before the 200 and processed in `seq` order."""

    __tablename__ = "inbox_events"
    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    event_id: Mapped[str] = mapped_column(String(255), unique=True)
    txn_id: Mapped[str] = mapped_column(ForeignKey("inbox_transactions.txn_id"))
    body: Mapped[dict[str, Any]]
    # pending → done, or failed after the retries; failed entries stay for an operator to see.
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text, default=None)
    received_at: Mapped[datetime]
    done_at: Mapped[datetime | None] = mapped_column(default=None)

    __table_args__ = (Index("ix_inbox_events_status_seq", "status", "seq"),)


class ProvisionedRoom(Base):
    """A room or space Linli created, and the state it last applied (in symbolic form)."""

    __tablename__ = "provisioned_rooms"
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    room_id: Mapped[str] = mapped_column(String(255), unique=True)
    compound: Mapped[str | None] = mapped_column(String(64), index=True)
    state: Mapped[dict[str, Any]]
    archived: Mapped[bool] = mapped_column(default=False)
    updated_at: Mapped[datetime]


class Resident(Base):
    """A verified resident bound to one household of one compound."""

    __tablename__ = "residents"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    compound: Mapped[str] = mapped_column(String(64))
    user_id: Mapped[str] = mapped_column(String(255))
    building: Mapped[str] = mapped_column(String(16))
    unit: Mapped[str] = mapped_column(String(16))
    room: Mapped[str] = mapped_column(String(16))
    verified_at: Mapped[datetime]

    __table_args__ = (UniqueConstraint("compound", "user_id"),)


class RoleGrant(Base):
    """A resident role (party member, volunteer, building contact) granted by the committee."""

    __tablename__ = "role_grants"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    compound: Mapped[str] = mapped_column(String(64))
    user_id: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(32))
    granted_by: Mapped[str] = mapped_column(String(255))
    granted_at: Mapped[datetime]

    __table_args__ = (UniqueConstraint("compound", "user_id", "role"),)


class ScheduledJob(Base):
    """Something due at a time (an SLA reminder, an escalation, a poll closing), fired once."""

    __tablename__ = "scheduled_jobs"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    # Unique name, e.g. "ticket:12:first_response:remind": scheduling it again moves it.
    key: Mapped[str] = mapped_column(String(255), unique=True)
    kind: Mapped[str] = mapped_column(String(64))
    due_at: Mapped[datetime]
    payload: Mapped[dict[str, Any]]
    # pending → done | cancelled | failed
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    done_at: Mapped[datetime | None] = mapped_column(default=None)

    __table_args__ = (Index("ix_scheduled_jobs_status_due", "status", "due_at"),)
