"""The notices bot's scheduled jobs: their kinds and typed payloads.

Keys say whose jobs they are (`notice:<id>:<which>...`), so a notice's jobs are cancelled by key
prefix when it is cancelled or expires.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

from bridge.scheduler import JobKind


class NoticeJob(BaseModel):
    notice: int


class Occurrence(BaseModel):
    """One time a recurring notice fires (its series, and the time it was due)."""

    notice: int
    due: datetime


class Reminder(BaseModel):
    notice: int
    round: int
    last: bool  # after this one, the 楼长 get their visit lists
    # A large fan-out goes in batches: this one starts after this resident (in ID order).
    after: str | None = None


class CatchUp(BaseModel):
    """Read the receipts the homeserver did not push while Linli was down."""

    days: int = 30  # of notices posted this recently


POST = JobKind("notice.post", NoticeJob)  # a scheduled notice's time has come
RECUR = JobKind("notice.recur", Occurrence)
REMIND = JobKind("notice.remind", Reminder)
VISITS = JobKind("notice.visits", NoticeJob)  # the unreached households to each 楼长
EXPIRE = JobKind("notice.expire", NoticeJob)
CATCH_UP = JobKind("notice.catch_up_receipts", CatchUp)


def notice_key(notice_id: int, *parts: object) -> str:
    return ":".join(["notice", str(notice_id), *map(str, parts)])


def notice_prefix(notice_id: int) -> str:
    """The key prefix of every job of a notice."""
    return notice_key(notice_id) + ":"
