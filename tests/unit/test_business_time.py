"""Business-time arithmetic: opening periods, weekends, China's statutory holidays and 调休."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from bots.tickets.business_time import (
    BusinessCalendar,
    Period,
    add_business_time,
    add_clock_time,
    business_time_between,
    clock_time_between,
)

SH = ZoneInfo("Asia/Shanghai")
# 08:30-12:00 and 13:30-17:30: 7.5 business hours a day with a lunch break.
CAL = BusinessCalendar(
    periods=(Period(time(8, 30), time(12, 0)), Period(time(13, 30), time(17, 30)))
)


def at(y: int, mo: int, d: int, h: int, mi: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, tzinfo=SH)


def hours(h: float) -> timedelta:
    return timedelta(hours=h)


def test_time_inside_a_period_counts_as_is() -> None:
    assert add_business_time(CAL, at(2025, 9, 16, 9), hours(2)) == at(2025, 9, 16, 11)


def test_lunch_break_is_skipped() -> None:
    assert add_business_time(CAL, at(2025, 9, 16, 11), hours(2)) == at(2025, 9, 16, 14, 30)


def test_deadline_that_uses_up_the_morning_falls_at_noon_not_after_lunch() -> None:
    assert add_business_time(CAL, at(2025, 9, 16, 10), hours(2)) == at(2025, 9, 16, 12)


def test_start_before_opening_counts_from_opening() -> None:
    assert add_business_time(CAL, at(2025, 9, 16, 7), hours(1)) == at(2025, 9, 16, 9, 30)


def test_start_during_lunch_counts_from_the_afternoon_opening() -> None:
    assert add_business_time(CAL, at(2025, 9, 16, 12, 30), hours(1)) == at(2025, 9, 16, 14, 30)


def test_start_after_closing_counts_from_next_morning() -> None:
    assert add_business_time(CAL, at(2025, 9, 16, 19), hours(1)) == at(2025, 9, 17, 9, 30)


def test_friday_evening_carries_over_to_monday() -> None:
    # 1 h on Friday 2025-09-12, the other 3 h from Monday's opening.
    assert add_business_time(CAL, at(2025, 9, 12, 16, 30), hours(4)) == at(2025, 9, 15, 11, 30)


def test_national_day_2025_pushes_the_deadline_past_october_8() -> None:
    # 1 h on Tuesday 2025-09-30; 1-8 October are the National Day and Mid-autumn holiday.
    assert add_business_time(CAL, at(2025, 9, 30, 16, 30), hours(2)) == at(2025, 10, 9, 9, 30)


def test_make_up_sunday_before_national_day_is_a_workday() -> None:
    assert CAL.is_workday(date(2025, 9, 28))
    assert not CAL.is_workday(date(2025, 9, 27))
    # Friday 2025-09-26 17:00: 30 min that day, Saturday closed, Sunday 28 (调休) open.
    assert add_business_time(CAL, at(2025, 9, 26, 17), hours(1)) == at(2025, 9, 28, 9)


def test_make_up_saturday_after_national_day_is_a_workday() -> None:
    assert add_business_time(CAL, at(2025, 10, 10, 17), hours(1)) == at(2025, 10, 11, 9)


def test_extra_closed_day_from_config_is_skipped() -> None:
    cal = BusinessCalendar(periods=CAL.periods, extra_closed_days=frozenset({date(2025, 9, 17)}))
    assert add_business_time(cal, at(2025, 9, 16, 17), hours(1)) == at(2025, 9, 18, 9)


def test_extra_open_day_from_config_opens_a_saturday() -> None:
    cal = BusinessCalendar(periods=CAL.periods, extra_open_days=frozenset({date(2025, 9, 20)}))
    assert add_business_time(cal, at(2025, 9, 19, 17), hours(1)) == at(2025, 9, 20, 9)


def test_statutory_calendar_can_be_turned_off() -> None:
    cal = BusinessCalendar(periods=CAL.periods, use_statutory_calendar=False)
    assert cal.is_workday(date(2025, 10, 1))
    assert not cal.is_workday(date(2025, 9, 28))
    assert add_business_time(cal, at(2025, 9, 30, 16, 30), hours(2)) == at(2025, 10, 1, 9, 30)


def test_custom_weekend_still_closes_statutory_holidays_and_opens_make_up_days() -> None:
    cal = BusinessCalendar(periods=CAL.periods, weekend_days=frozenset({6}))  # Sundays only
    assert cal.is_workday(date(2025, 9, 20))  # an ordinary Saturday
    assert not cal.is_workday(date(2025, 10, 4))  # a Saturday inside National Day
    assert cal.is_workday(date(2025, 9, 28))  # the make-up Sunday
    assert add_business_time(cal, at(2025, 9, 19, 17), hours(1)) == at(2025, 9, 20, 9)


def test_year_unknown_to_chinese_calendar_falls_back_to_weekend_rules() -> None:
    # chinese_calendar has no data for 2003, so 1 October 2003 (a Wednesday) is a workday.
    assert CAL.is_workday(date(2003, 10, 1))
    assert not CAL.is_workday(date(2003, 10, 4))
    assert add_business_time(CAL, at(2003, 9, 30, 17), hours(1)) == at(2003, 10, 1, 9)
    assert add_business_time(CAL, at(2003, 10, 3, 17), hours(1)) == at(2003, 10, 6, 9)


def test_long_duration_runs_across_weeks_and_make_up_days() -> None:
    # 21 business days from Monday 2025-09-01: 20 weekdays in September end on Friday 26,
    # and the 21st is the make-up Sunday 28.
    assert add_business_time(CAL, at(2025, 9, 1, 8, 30), hours(7.5 * 21)) == at(2025, 9, 28, 17, 30)


def test_deadline_runs_into_the_next_year_and_its_make_up_sunday() -> None:
    # Wednesday 2025-12-31 17:00: 30 min that day; 1-3 January 2026 are the New Year holiday and
    # Sunday 4 January is its make-up workday.
    assert add_business_time(CAL, at(2025, 12, 31, 17), hours(1)) == at(2026, 1, 4, 9)


def test_zero_duration_returns_the_start_even_outside_hours() -> None:
    assert add_business_time(CAL, at(2025, 9, 20, 3), timedelta(0)) == at(2025, 9, 20, 3)


def test_result_is_in_the_calendar_zone_whatever_the_start_zone() -> None:
    start = datetime(2025, 9, 16, 1, 0, tzinfo=UTC)  # 09:00 in Shanghai
    result = add_business_time(CAL, start, hours(1))
    assert result == at(2025, 9, 16, 10)
    assert result.tzinfo == SH
    assert result.replace(tzinfo=None) == datetime(2025, 9, 16, 10)


def test_naive_start_and_negative_duration_are_rejected() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        add_business_time(CAL, datetime(2025, 9, 16, 9), hours(1))
    with pytest.raises(ValueError, match="negative"):
        add_business_time(CAL, at(2025, 9, 16, 9), hours(-1))


def test_calendar_without_periods_is_rejected() -> None:
    with pytest.raises(ValueError, match="at least one opening period"):
        BusinessCalendar(periods=())


def test_overlapping_or_unordered_periods_are_rejected() -> None:
    with pytest.raises(ValueError, match="not overlap"):
        BusinessCalendar(periods=(Period(time(13, 30), time(17)), Period(time(8), time(12))))
    with pytest.raises(ValueError, match="not overlap"):
        BusinessCalendar(periods=(Period(time(8), time(12)), Period(time(11), time(17))))


def test_period_that_ends_before_it_starts_is_rejected() -> None:
    with pytest.raises(ValueError, match="end must be after start"):
        Period(time(17), time(8))


def test_day_both_open_and_closed_is_rejected() -> None:
    day = frozenset({date(2025, 9, 20)})
    with pytest.raises(ValueError, match="both closed and open"):
        BusinessCalendar(periods=CAL.periods, extra_closed_days=day, extra_open_days=day)


def test_calendar_that_never_opens_raises_instead_of_looping() -> None:
    never = BusinessCalendar(
        periods=CAL.periods, weekend_days=frozenset(range(7)), use_statutory_calendar=False
    )
    with pytest.raises(ValueError, match="no workday in 400 consecutive days"):
        add_business_time(never, at(2025, 9, 16, 9), hours(1))


def test_urgent_clock_time_ignores_hours_weekends_and_holidays() -> None:
    assert add_clock_time(at(2025, 9, 30, 23), hours(2)) == at(2025, 10, 1, 1)


def test_clock_time_counts_elapsed_time_across_a_dst_change() -> None:
    berlin = ZoneInfo("Europe/Berlin")
    # Clocks jump from 02:00 to 03:00 on 2025-03-30: two hours after 01:00 is 04:00 local.
    result = add_clock_time(datetime(2025, 3, 30, 1, tzinfo=berlin), hours(2))
    assert result.replace(tzinfo=None) == datetime(2025, 3, 30, 4)
    assert clock_time_between(datetime(2025, 3, 30, 1, tzinfo=berlin), result) == hours(2)


def test_business_time_between_counts_only_open_hours() -> None:
    # Friday 16:30-17:30 and Monday 08:30-09:30.
    assert business_time_between(CAL, at(2025, 9, 12, 16, 30), at(2025, 9, 15, 9, 30)) == hours(2)
    assert business_time_between(CAL, at(2025, 9, 16, 11), at(2025, 9, 16, 14)) == hours(1.5)
    assert business_time_between(CAL, at(2025, 9, 20, 9), at(2025, 9, 21, 17)) == timedelta(0)


def test_business_time_between_is_negative_when_reversed() -> None:
    assert business_time_between(CAL, at(2025, 9, 16, 14), at(2025, 9, 16, 11)) == hours(-1.5)


def test_business_time_between_spans_the_national_day_holiday() -> None:
    # 30 September 16:30-17:30, then 9 October 08:30-10:00.
    between = business_time_between(CAL, at(2025, 9, 30, 16, 30), at(2025, 10, 9, 10))
    assert between == hours(2.5)


# Starts inside and outside hours, across lunch, weekends, 调休, National Day and New Year.
ROUND_TRIPS = [
    (at(2025, 9, 16, 9), hours(2)),
    (at(2025, 9, 16, 11, 45), timedelta(minutes=20)),
    (at(2025, 9, 16, 12, 30), hours(4)),
    (at(2025, 9, 12, 18), hours(7.5)),
    (at(2025, 9, 26, 17), hours(9)),
    (at(2025, 9, 29, 10), hours(40)),
    (at(2025, 12, 30, 8), hours(100)),
    (at(2025, 1, 20, 15), hours(7.5 * 60)),
]


@pytest.mark.parametrize(("start", "duration"), ROUND_TRIPS)
def test_business_time_between_undoes_add_business_time(
    start: datetime, duration: timedelta
) -> None:
    due = add_business_time(CAL, start, duration)
    assert business_time_between(CAL, start, due) == duration


def test_add_business_time_undoes_business_time_between_inside_hours() -> None:
    # The other way round holds when the end is in opening hours; an end outside them maps back
    # to the previous closing time.
    a, b = at(2025, 9, 26, 10, 15), at(2025, 10, 9, 14, 45)
    assert add_business_time(CAL, a, business_time_between(CAL, a, b)) == b
    evening = at(2025, 9, 26, 20)
    assert add_business_time(CAL, a, business_time_between(CAL, a, evening)) == at(
        2025, 9, 26, 17, 30
    )
