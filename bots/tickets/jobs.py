"""The tickets bot's scheduled jobs: their kinds and typed payloads.

Keys say whose jobs they are (`ticket:<id>:<which>:<round>:...`), so a ticket's clock is
cancelled by key prefix (an index range, not a scan).
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

from bridge.scheduler import JobKind


class DeadlineStep(BaseModel):
    """A reminder before a deadline, or an escalation step after it."""

    ticket: int
    which: str  # "first" (first response) or "resolution"
    due: datetime
    round: str  # a renewed clock (resumed, reopened) gets fresh keys
    step: int | None = None  # the escalation ladder's rung; None for the reminder


class AutoClose(BaseModel):
    ticket: int


class WeeklyReport(BaseModel):
    compound: str
    at: datetime


REMIND = JobKind("ticket.remind", DeadlineStep)
ESCALATE = JobKind("ticket.escalate", DeadlineStep)
AUTO_CLOSE = JobKind("ticket.auto_close", AutoClose)
WEEKLY = JobKind("ticket.weekly_report", WeeklyReport)


def ticket_key(ticket_id: int, *parts: object) -> str:
    return ":".join(["ticket", str(ticket_id), *map(str, parts)])


def clock_prefix(ticket_id: int, which: str) -> str:
    """The key prefix of every job of one of a ticket's clocks ("first", "resolution",
    "close")."""
    return ticket_key(ticket_id, which) + ":"
