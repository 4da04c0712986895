"""SQLAlchemy models of Linli's tables. The schema itself comes only from the alembic revisions."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator[datetime]):
    """Aware datetimes in, aware UTC datetimes out: SQLite keeps no zone, so every time is
    stored as UTC and read back as UTC (a Shanghai 10:00 is never mistaken for 10:00 UTC)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store; use an aware one")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    type_annotation_map = {  # noqa: RUF012
        dict[str, Any]: JSON,
        datetime: UTCDateTime(),
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
    # Personal data: kept because verification needs it, erased by `!me forget`.
    name: Mapped[str | None] = mapped_column(Text, default=None)
    is_owner: Mapped[bool] = mapped_column(default=False)

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
    # A party member who chose to show the role (党员亮身份) is listed by `!who`.
    shown: Mapped[bool] = mapped_column(default=False)

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


class WebhookOutbox(Base):
    """A signed request to an outside system, kept until it is delivered."""

    __tablename__ = "webhook_outbox"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(255), unique=True)  # idempotent enqueue
    target: Mapped[str] = mapped_column(String(64))
    body: Mapped[dict[str, Any]]
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime]
    delivered_at: Mapped[datetime | None] = mapped_column(default=None)
    last_error: Mapped[str | None] = mapped_column(Text, default=None)


class WebhookSeen(Base):
    """Signatures of inbound webhooks already accepted: a replay is refused."""

    __tablename__ = "webhook_seen"
    signature: Mapped[str] = mapped_column(String(128), primary_key=True)
    received_at: Mapped[datetime]


class RosterHousehold(Base):
    """One household of the committee's roster: the truth verification requests match."""

    __tablename__ = "roster_households"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    compound: Mapped[str] = mapped_column(String(64))
    building: Mapped[str] = mapped_column(String(16))
    unit: Mapped[str] = mapped_column(String(16))
    room: Mapped[str] = mapped_column(String(16))
    floor_area: Mapped[str] = mapped_column(String(16))  # Decimal as text, exact
    owners: Mapped[list[str]] = mapped_column(JSON)
    phone_hashes: Mapped[list[str]] = mapped_column(JSON)
    imported_at: Mapped[datetime]

    __table_args__ = (UniqueConstraint("compound", "building", "unit", "room"),)


class VerificationRequest(Base):
    """A newcomer's request to be bound to a household, decided by the residents' committee."""

    __tablename__ = "verification_requests"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    compound: Mapped[str] = mapped_column(String(64), index=True)
    user_id: Mapped[str] = mapped_column(String(255))
    building: Mapped[str] = mapped_column(String(16))
    unit: Mapped[str] = mapped_column(String(16))
    room: Mapped[str] = mapped_column(String(16))
    name: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16))  # pending → approved | rejected
    source_event_id: Mapped[str] = mapped_column(String(255), unique=True)
    lobby_room_id: Mapped[str] = mapped_column(String(255))
    requested_at: Mapped[datetime]
    decided_by: Mapped[str | None] = mapped_column(String(255), default=None)
    decided_at: Mapped[datetime | None] = mapped_column(default=None)
    # The committee's command that decided it: run again, it finds its decision made.
    decision_event_id: Mapped[str | None] = mapped_column(String(255), default=None)
    reason: Mapped[str | None] = mapped_column(Text, default=None)


class DirectRoom(Base):
    """The direct-message room Linli's bot shares with a person, reused for every private
    answer (`!me`, `!me export`)."""

    __tablename__ = "direct_rooms"
    user_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    room_id: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime]


class PersonalMessage(Base):
    """A message Linli posted that names a person (a verification request shown to the
    committee): redacted when that person asks to be forgotten."""

    __tablename__ = "personal_messages"
    event_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(255), index=True)
    room_id: Mapped[str] = mapped_column(String(255))
    posted_at: Mapped[datetime]
