"""The notices bot's tables. Their schema comes from the alembic history in
`bridge/store/migrations/` (revision 0007_notices); these classes map them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from bridge.store.models import Base


class Notice(Base):
    """A notice: to the whole compound (`targets` null) or to buildings, now, later or on a
    cron schedule (a recurring notice is a series; each time it fires it becomes a notice of
    its own, `series_id` pointing back)."""

    __tablename__ = "notices"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    compound: Mapped[str] = mapped_column(String(64))
    number: Mapped[int] = mapped_column(Integer)  # per compound: "通知 #3"
    # What created it: the staff command's event ID, a recurring job's key, a webhook's id.
    cause: Mapped[str] = mapped_column(String(255), unique=True)
    author: Mapped[str | None] = mapped_column(String(255))
    origin: Mapped[str] = mapped_column(String(64), default="staff")  # or "webhook:<sender>"
    staff_room_id: Mapped[str | None] = mapped_column(String(255), default=None)
    text: Mapped[str] = mapped_column(Text)
    targets: Mapped[list[str] | None] = mapped_column(JSON, default=None)
    urgent: Mapped[bool] = mapped_column(default=False)
    # scheduled → posted → expired; recurring (a series); cancelled
    status: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime]
    post_at: Mapped[datetime | None] = mapped_column(default=None)
    cron: Mapped[str | None] = mapped_column(String(120), default=None)
    series_id: Mapped[int | None] = mapped_column(ForeignKey("notices.id"), default=None)
    posted_at: Mapped[datetime | None] = mapped_column(default=None)
    expires_at: Mapped[datetime | None] = mapped_column(default=None)

    __table_args__ = (
        UniqueConstraint("compound", "number"),
        Index("ix_notices_compound_status", "compound", "status"),
    )


class NoticePost(Base):
    """One room a notice was posted in, and the event that carries it there."""

    __tablename__ = "notice_posts"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    notice_id: Mapped[int] = mapped_column(ForeignKey("notices.id"), index=True)
    room_id: Mapped[str] = mapped_column(String(255), index=True)
    event_id: Mapped[str] = mapped_column(String(255), unique=True)
    pinned: Mapped[bool] = mapped_column(default=False)

    __table_args__ = (UniqueConstraint("notice_id", "room_id"),)


class NoticeRoomEvent(Base):
    """The order of events in rooms that carry notices, as Linli saw them: each notice's own
    event and every later event it handled there. A read receipt on an event counts for the
    notices at or before it (`id` is the order; the homeserver's timestamp guards it)."""

    __tablename__ = "notice_room_events"
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    room_id: Mapped[str] = mapped_column(String(255))
    event_id: Mapped[str] = mapped_column(String(255), unique=True)
    ts: Mapped[int] = mapped_column(BigInteger)  # origin_server_ts, ms

    __table_args__ = (Index("ix_notice_room_events_room", "room_id", "id"),)


class NoticeReach(Base):
    """Who a notice reached and how: "read" (a receipt), "ack" (✅ or !收到), "told" (a 楼长
    told the household in person; `who` is then the household, e.g. "3-2-1101")."""

    __tablename__ = "notice_reach"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    notice_id: Mapped[int] = mapped_column(ForeignKey("notices.id"))
    who: Mapped[str] = mapped_column(String(255))
    kind: Mapped[str] = mapped_column(String(8))
    at: Mapped[datetime]
    by: Mapped[str | None] = mapped_column(String(255), default=None)

    __table_args__ = (UniqueConstraint("notice_id", "who", "kind", name="uq_notice_reach"),)


class NoticeLog(Base):
    """What happened to a notice, once per cause (an event or a job key): a handler run again
    finds its change made."""

    __tablename__ = "notice_log"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    notice_id: Mapped[int] = mapped_column(ForeignKey("notices.id"), index=True)
    at: Mapped[datetime]
    actor: Mapped[str | None] = mapped_column(String(255))
    action: Mapped[str] = mapped_column(String(32))
    cause: Mapped[str] = mapped_column(String(255))
    detail: Mapped[dict[str, Any]]

    __table_args__ = (UniqueConstraint("notice_id", "action", "cause", name="uq_notice_log_cause"),)
