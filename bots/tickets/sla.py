"""Ticket deadlines: first response and resolution, from a compound's SLA policy.

Urgent tickets run on the clock around the day; the others only in business hours.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from bots.tickets.business_time import (
    BusinessCalendar,
    add_business_time,
    add_clock_time,
    business_time_between,
    clock_time_between,
)
from bots.tickets.categories import Category


@dataclass(frozen=True)
class SlaTargets:
    first_response: timedelta
    resolution: timedelta

    def __post_init__(self) -> None:
        if self.first_response < timedelta(0) or self.resolution < timedelta(0):
            raise ValueError("SLA targets must not be negative")
        if self.first_response > self.resolution:
            raise ValueError(
                f"first response ({self.first_response}) must not come after "
                f"resolution ({self.resolution})"
            )


@dataclass(frozen=True)
class SlaPolicy:
    calendar: BusinessCalendar
    targets: Mapping[Category, SlaTargets]  # categories not listed use `default`
    default: SlaTargets
    urgent: SlaTargets  # counted in clock time, whatever the category


@dataclass(frozen=True)
class Deadlines:
    first_response_due: datetime
    resolution_due: datetime
    urgent: bool


def compute_deadlines(
    policy: SlaPolicy, opened_at: datetime, category: Category, urgent: bool
) -> Deadlines:
    """When a ticket opened at `opened_at` must first be answered and resolved.

    Both deadlines count from the opening and come back in the calendar's time zone.
    """
    if urgent:
        return Deadlines(
            first_response_due=_clock(policy, opened_at, policy.urgent.first_response),
            resolution_due=_clock(policy, opened_at, policy.urgent.resolution),
            urgent=True,
        )
    targets = policy.targets.get(category, policy.default)
    return Deadlines(
        first_response_due=add_business_time(policy.calendar, opened_at, targets.first_response),
        resolution_due=add_business_time(policy.calendar, opened_at, targets.resolution),
        urgent=False,
    )


def resume_deadline(
    policy: SlaPolicy, due: datetime, paused_at: datetime, resumed_at: datetime, urgent: bool
) -> datetime:
    """The new deadline when a clock paused at `paused_at` (waiting on the resident) resumes.

    The time that was left, from `paused_at` to `due` (business or clock time, as the ticket
    counts it), is added from `resumed_at`. A ticket already overdue when paused is due at
    once on resuming: the pause does not earn it credit.
    """
    if resumed_at < paused_at:
        raise ValueError(f"resumed at {resumed_at}, before the pause at {paused_at}")
    if urgent:
        remaining = clock_time_between(paused_at, due)
        return _clock(policy, resumed_at, max(remaining, timedelta(0)))
    remaining = business_time_between(policy.calendar, paused_at, due)
    return add_business_time(policy.calendar, resumed_at, max(remaining, timedelta(0)))


def _clock(policy: SlaPolicy, start: datetime, duration: timedelta) -> datetime:
    # Same zone as business-time deadlines, so callers can compare and display them alike.
    return add_clock_time(start, duration).astimezone(policy.calendar.tz)
