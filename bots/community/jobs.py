"""The community bot's scheduled jobs: their kinds and typed payloads.

Keys say whose jobs they are (`community:activity:<id>:<which>…`), so an activity's jobs are
cancelled by key prefix when it is cancelled.
"""

from __future__ import annotations

from pydantic import BaseModel

from bridge.scheduler import JobKind


class ActivityJob(BaseModel):
    activity: int
    compound: str  # the job's lane


class Reminder(BaseModel):
    activity: int
    compound: str
    # A large list is reminded in batches: this one starts after this person (in ID order).
    after: str | None = None


class Ranking(BaseModel):
    compound: str
    month: str  # "2026-11": the month ranked


REFRESH = JobKind("community.refresh_list", ActivityJob)  # edit the live list (coalesced)
REMIND = JobKind("community.remind", Reminder)  # a direct message before it starts
FINISH = JobKind("community.finish", ActivityJob)  # it is over: the card says so
RANKING = JobKind("community.ranking", Ranking)  # the monthly volunteers' ranking


def activity_key(activity_id: int, *parts: object) -> str:
    return ":".join(["community", "activity", str(activity_id), *map(str, parts)])


def activity_prefix(activity_id: int) -> str:
    return activity_key(activity_id) + ":"
