"""The votes bot's records: a poll as the bot sees it, a poll to create, what a close counts
and what became of it."""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

from bots.votes.count import FormalCount
from bots.votes.models import Poll
from bots.votes.rules import Answer


@dataclass(frozen=True)
class PollRecord:
    id: int
    compound: str
    number: int
    kind: str
    room_id: str
    source_event_id: str
    start_event_id: str
    creator: str
    question: str
    options: list[dict[str, str]]
    max_selections: int
    per_household: bool
    secret: bool
    eligibility: str
    rule: dict[str, Any] | None
    opened_at: datetime
    closes_at: datetime | None
    status: str
    closed_at: datetime | None
    close_cause: str | None
    closed_by: str | None
    result: dict[str, Any] | None

    @property
    def is_open(self) -> bool:
        return self.status == "open"

    @property
    def option_ids(self) -> list[str]:
        return [o["id"] for o in self.options]


_FIELDS = [f.name for f in fields(PollRecord)]


def _record(row: Poll) -> PollRecord:
    return PollRecord(**{name: getattr(row, name) for name in _FIELDS})


@dataclass(frozen=True)
class NewPoll:
    compound: str
    kind: str
    room_id: str
    source_event_id: str
    start_event_id: str
    creator: str
    question: str
    options: list[dict[str, str]]
    max_selections: int
    per_household: bool
    eligibility: str
    rule: dict[str, Any] | None
    opened_at: datetime
    closes_at: datetime | None
    secret: bool = False


@dataclass(frozen=True)
class Material:
    """What a close counts: a quick poll's answers, or a formal vote's count (from SQL)."""

    answers: list[Answer]
    formal: FormalCount | None


@dataclass(frozen=True)
class Closing:
    poll: PollRecord  # as it is after closing
    made_now: bool  # False: this cause closed it before (the handler runs again)


class PaperFirst(Exception):
    """The household's paper ballot came first: an online answer does not replace it."""


class ProxyFirst(Exception):
    """The household's proxy answered first: a member's answer does not replace it."""


class HouseholdFirst(Exception):
    """The household answered itself first: its proxy's answer does not replace it."""


class AlreadyClosed(Exception):
    def __init__(self, poll: PollRecord) -> None:
        super().__init__(poll.number)
        self.poll = poll
