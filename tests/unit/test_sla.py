"""SLA deadlines: business time per category, clock time when urgent, and resuming a pause."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from bots.tickets.business_time import BusinessCalendar, Period
from bots.tickets.categories import Category
from bots.tickets.sla import Deadlines, SlaPolicy, SlaTargets, compute_deadlines, resume_deadline

SH = ZoneInfo("Asia/Shanghai")
CAL = BusinessCalendar(
    periods=(Period(time(8, 30), time(12, 0)), Period(time(13, 30), time(17, 30)))
)
POLICY = SlaPolicy(
    calendar=CAL,
    targets={
        Category.REPAIR: SlaTargets(
            first_response=timedelta(hours=2), resolution=timedelta(hours=15)
        )
    },
    default=SlaTargets(first_response=timedelta(hours=4), resolution=timedelta(hours=22.5)),
    urgent=SlaTargets(first_response=timedelta(minutes=15), resolution=timedelta(hours=4)),
)


def at(y: int, mo: int, d: int, h: int, mi: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, tzinfo=SH)


def test_repair_ticket_gets_its_category_targets_in_business_time() -> None:
    # Tuesday 16:00: 1.5 h that day, then Wednesday; resolution after two 7.5 h days.
    assert compute_deadlines(
        POLICY, at(2025, 9, 16, 16), Category.REPAIR, urgent=False
    ) == Deadlines(
        first_response_due=at(2025, 9, 17, 9),
        resolution_due=at(2025, 9, 18, 16),
        urgent=False,
    )


def test_category_without_targets_uses_the_default() -> None:
    assert compute_deadlines(POLICY, at(2025, 9, 15, 9), Category.NOISE, urgent=False) == Deadlines(
        first_response_due=at(2025, 9, 15, 14, 30),
        resolution_due=at(2025, 9, 18, 9),
        urgent=False,
    )


def test_ticket_opened_before_national_day_is_due_after_the_holiday() -> None:
    assert compute_deadlines(
        POLICY, at(2025, 9, 30, 17), Category.REPAIR, urgent=False
    ) == Deadlines(
        first_response_due=at(2025, 10, 9, 10),
        resolution_due=at(2025, 10, 10, 17),
        urgent=False,
    )


def test_urgent_ticket_counts_around_the_clock_whatever_its_category() -> None:
    # Saturday 23:00 during the weekend: nobody's office hours matter.
    assert compute_deadlines(
        POLICY, at(2025, 9, 20, 23), Category.REPAIR, urgent=True
    ) == Deadlines(
        first_response_due=at(2025, 9, 20, 23, 15),
        resolution_due=at(2025, 9, 21, 3),
        urgent=True,
    )


def test_urgent_deadlines_come_back_in_the_calendar_zone() -> None:
    deadlines = compute_deadlines(
        POLICY, datetime(2025, 9, 20, 15, tzinfo=UTC), Category.OTHER, urgent=True
    )
    assert deadlines.first_response_due == at(2025, 9, 20, 23, 15)
    assert deadlines.first_response_due.tzinfo == SH


def test_resume_adds_the_business_time_that_was_left() -> None:
    # Paused Wednesday 16:30 with 7 h left (1 h Wednesday, 6 h Thursday); resumed Monday 10:00.
    due = resume_deadline(
        POLICY, at(2025, 9, 18, 16), at(2025, 9, 17, 16, 30), at(2025, 9, 22, 10), urgent=False
    )
    assert due == at(2025, 9, 23, 9, 30)


def test_pause_and_resume_outside_hours_leave_the_deadline_unchanged() -> None:
    due = resume_deadline(
        POLICY, at(2025, 9, 22, 10), at(2025, 9, 19, 20), at(2025, 9, 20, 11), urgent=False
    )
    assert due == at(2025, 9, 22, 10)


def test_resume_of_an_urgent_ticket_adds_the_clock_time_that_was_left() -> None:
    due = resume_deadline(
        POLICY, at(2025, 9, 21, 3), at(2025, 9, 20, 23, 30), at(2025, 9, 21, 8), urgent=True
    )
    assert due == at(2025, 9, 21, 11, 30)


def test_ticket_overdue_when_paused_is_due_as_soon_as_it_resumes() -> None:
    overdue, paused, resumed = at(2025, 9, 16, 10), at(2025, 9, 16, 11), at(2025, 9, 17, 14)
    assert resume_deadline(POLICY, overdue, paused, resumed, urgent=False) == resumed
    assert resume_deadline(POLICY, overdue, paused, resumed, urgent=True) == resumed


def test_resuming_before_the_pause_is_rejected() -> None:
    with pytest.raises(ValueError, match="before the pause"):
        resume_deadline(
            POLICY, at(2025, 9, 18, 16), at(2025, 9, 17, 16), at(2025, 9, 17, 15), urgent=False
        )


def test_targets_must_not_be_negative_or_resolve_before_first_response() -> None:
    with pytest.raises(ValueError, match="negative"):
        SlaTargets(first_response=timedelta(hours=-1), resolution=timedelta(hours=1))
    with pytest.raises(ValueError, match="must not come after"):
        SlaTargets(first_response=timedelta(hours=8), resolution=timedelta(hours=4))
