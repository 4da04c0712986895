"""What the notices store hands out: a notice, its posts, what a new one needs, its reach rows."""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime

from bots.notices.models import Notice
from bots.notices.reach_rules import group_of

# Notices whose reach still counts (a cancelled one is gone; an expired one was seen).
TRACKED = ("posted", "expired")
READ, ACK, TOLD = "read", "ack", "told"


@dataclass(frozen=True)
class NoticeRecord:
    id: int
    compound: str
    number: int
    cause: str
    author: str | None
    origin: str
    staff_room_id: str | None
    text: str
    targets: list[str] | None
    urgent: bool
    status: str
    created_at: datetime
    post_at: datetime | None
    cron: str | None
    series_id: int | None
    posted_at: datetime | None
    expires_at: datetime | None

    @property
    def group(self) -> str | None:
        """The interest group it is for (its room's key), or None."""
        return group_of(self.targets)


_FIELDS = [f.name for f in fields(NoticeRecord)]


def record_of(row: Notice) -> NoticeRecord:
    return NoticeRecord(**{name: getattr(row, name) for name in _FIELDS})


@dataclass(frozen=True)
class PostRecord:
    notice_id: int
    room_id: str
    event_id: str
    pinned: bool


@dataclass(frozen=True)
class NewNotice:
    compound: str
    cause: str
    author: str | None
    origin: str
    staff_room_id: str | None
    text: str
    targets: list[str] | None
    urgent: bool
    status: str  # "posting" (now), "scheduled", "recurring"
    created_at: datetime
    post_at: datetime | None
    cron: str | None
    expires_at: datetime | None
    series_id: int | None = None
    posted_at: datetime | None = None


@dataclass(frozen=True)
class Created:
    notice: NoticeRecord
    made_now: bool  # False: this cause created it before (the handler runs again)


@dataclass(frozen=True)
class ReachRows:
    read: set[str]
    acknowledged: set[str]
    told: set[str]
