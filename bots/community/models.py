"""The community bot's tables. Their schema comes from the alembic history in
`bridge/store/migrations/` (revision 0011_community); these classes map them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from bridge.store.models import Base


class Activity(Base):
    """An activity residents sign up for (接龙): its terms, and the state of its live list."""

    __tablename__ = "community_activities"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    compound: Mapped[str] = mapped_column(String(64))
    number: Mapped[int] = mapped_column(Integer)  # per compound: "活动 #3"
    cause: Mapped[str] = mapped_column(String(255), unique=True)  # the `!活动` event
    organizer: Mapped[str | None] = mapped_column(String(255))  # None once erased
    title: Mapped[str] = mapped_column(Text)
    place: Mapped[str] = mapped_column(Text, default="")
    starts_at: Mapped[datetime]
    minutes: Mapped[int] = mapped_column(Integer)  # how long it lasts: a volunteer's hours
    deadline: Mapped[datetime]
    capacity: Mapped[int | None] = mapped_column(Integer, default=None)  # None: no limit
    volunteers: Mapped[int] = mapped_column(Integer, default=0)  # volunteers wanted
    checkin_code: Mapped[str] = mapped_column(String(8))
    # open → done (checked in) | cancelled
    status: Mapped[str] = mapped_column(String(16), default="open")
    created_at: Mapped[datetime]
    # Every sign-up or leave takes the next number: the order of the 接龙, and the version of
    # the list; `shown_seq` is the version the posted list shows, `refresh_due` whether an
    # edit is scheduled (edits are coalesced: one job per burst).
    seq: Mapped[int] = mapped_column(Integer, default=0)
    shown_seq: Mapped[int] = mapped_column(Integer, default=0)
    refresh_due: Mapped[bool] = mapped_column(default=False)

    __table_args__ = (
        UniqueConstraint("compound", "number"),
        Index("ix_community_activities_compound_status", "compound", "status"),
    )


class ActivityPost(Base):
    """The activity's message in one room: the live list edited in place."""

    __tablename__ = "community_posts"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    activity_id: Mapped[int] = mapped_column(ForeignKey("community_activities.id"), index=True)
    room_id: Mapped[str] = mapped_column(String(255))
    event_id: Mapped[str] = mapped_column(String(255), unique=True)


class SignUp(Base):
    """One person on an activity's list, as a participant or a volunteer. One row per person
    and activity: leaving marks it, signing up again moves it to the end."""

    __tablename__ = "community_signups"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    activity_id: Mapped[int] = mapped_column(ForeignKey("community_activities.id"))
    user_id: Mapped[str] = mapped_column(String(255))
    kind: Mapped[str] = mapped_column(String(16))  # participant | volunteer
    seq: Mapped[int] = mapped_column(Integer)  # place in the 接龙 (activity's seq when joined)
    active: Mapped[bool] = mapped_column(default=True)
    note: Mapped[str] = mapped_column(Text, default="")
    name: Mapped[str] = mapped_column(String(255), default="")  # display name when joining
    joined_at: Mapped[datetime]
    # The reaction that signed them up: removing it (a redaction) is leaving.
    reaction_event_id: Mapped[str | None] = mapped_column(String(255), default=None)
    # The leave that moved them up from the waiting list (their direct message's cause).
    promoted_by: Mapped[str | None] = mapped_column(String(255), default=None)
    checked_in: Mapped[bool] = mapped_column(default=False)

    __table_args__ = (
        UniqueConstraint("activity_id", "user_id", "kind", name="uq_community_signup_person"),
        Index("ix_community_signups_reaction", "reaction_event_id"),
        Index("ix_community_signups_user", "user_id"),
    )


class ActivityLog(Base):
    """What happened to an activity, once per cause (bridge/store/changes.py)."""

    __tablename__ = "community_log"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    activity_id: Mapped[int] = mapped_column(ForeignKey("community_activities.id"), index=True)
    at: Mapped[datetime]
    actor: Mapped[str | None] = mapped_column(String(255))
    action: Mapped[str] = mapped_column(String(32))
    detail: Mapped[dict[str, Any]]
    cause: Mapped[str] = mapped_column(String(255))

    __table_args__ = (
        UniqueConstraint("activity_id", "action", "cause", name="uq_community_log_cause"),
    )


class VolunteerHours(Base):
    """Hours credited to a volunteer for an activity they were checked in at, or for a help
    request they answered. Erasing the person keeps the row with no one named (anonymous
    totals per compound)."""

    __tablename__ = "community_hours"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    compound: Mapped[str] = mapped_column(String(64))
    user_id: Mapped[str | None] = mapped_column(String(255))
    activity_id: Mapped[int | None] = mapped_column(
        ForeignKey("community_activities.id"), default=None
    )
    post_id: Mapped[int | None] = mapped_column(ForeignKey("community_board.id"), default=None)
    minutes: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime]

    __table_args__ = (
        UniqueConstraint("activity_id", "user_id", name="uq_community_hours_once"),
        UniqueConstraint("post_id", "user_id", name="uq_community_hours_help_once"),
        Index("ix_community_hours_compound_at", "compound", "at"),
    )


class BoardPost(Base):
    """A post of the neighbours' board: a help request or offer (求助, 帮忙), an idle item
    (闲置), something lost or found (失物, 招领). Numbered per compound across kinds."""

    __tablename__ = "community_board"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    compound: Mapped[str] = mapped_column(String(64))
    number: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(16))  # help | offer | idle | lost | found
    cause: Mapped[str] = mapped_column(String(255), unique=True)
    author: Mapped[str | None] = mapped_column(String(255))  # None once erased
    text: Mapped[str] = mapped_column(Text)
    room_id: Mapped[str] = mapped_column(String(255))
    event_id: Mapped[str | None] = mapped_column(String(255), default=None, unique=True)
    # open → done (已送出, 已找到, thanked) | expired | removed
    status: Mapped[str] = mapped_column(String(16), default="open")
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    helper: Mapped[str | None] = mapped_column(String(255), default=None)  # who was picked
    private_room_id: Mapped[str | None] = mapped_column(String(255), default=None)
    photo_event_id: Mapped[str | None] = mapped_column(String(255), default=None)

    __table_args__ = (
        UniqueConstraint("compound", "number"),
        Index("ix_community_board_compound_kind_status", "compound", "kind", "status"),
    )


class BoardAnswer(Base):
    """Someone who tapped 🤝 under a help post (offering to help, or asking for the help
    offered)."""

    __tablename__ = "community_board_answers"
    post_id: Mapped[int] = mapped_column(ForeignKey("community_board.id"), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    at: Mapped[datetime]
    # The tap: removing it (a redaction) takes the answer back.
    reaction_event_id: Mapped[str | None] = mapped_column(String(255), default=None, index=True)


class BoardLog(Base):
    """What happened to a board post, once per cause (bridge/store/changes.py)."""

    __tablename__ = "community_board_log"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    post_id: Mapped[int] = mapped_column(ForeignKey("community_board.id"), index=True)
    at: Mapped[datetime]
    actor: Mapped[str | None] = mapped_column(String(255))
    action: Mapped[str] = mapped_column(String(32))
    detail: Mapped[dict[str, Any]]
    cause: Mapped[str] = mapped_column(String(255))

    __table_args__ = (
        UniqueConstraint("post_id", "action", "cause", name="uq_community_board_log"),
    )


class ShowAs(Base):
    """How a resident wants to appear on lists: their display name, or their building."""

    __tablename__ = "community_show_as"
    compound: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    show: Mapped[str] = mapped_column(String(16))  # name | building
