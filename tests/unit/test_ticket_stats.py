"""Ticket statistics from facts with known times: every figure worked out by hand."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from bots.tickets.business_time import BusinessCalendar, Period
from bots.tickets.categories import Category
from bots.tickets.sla import SlaPolicy, SlaTargets, compute_deadlines
from bots.tickets.stats import (
    StaffSummary,
    Summary,
    TicketFacts,
    format_duration_en,
    format_duration_zh,
    hot_issues,
    percentile,
    ranking,
    summarize,
)

SH = ZoneInfo("Asia/Shanghai")
T0 = datetime(2026, 11, 23, 10, 0, tzinfo=SH)  # a Monday morning
WEEK = T0 + timedelta(days=7)
WANG, LIU = "@wang:x", "@liu:x"
REPAIR, NOISE = Category.REPAIR.value, Category.NOISE.value


def minutes(m: int) -> timedelta:
    return timedelta(minutes=m)


def ticket(
    n: int,
    *,
    opened: int = 0,
    first: int | None = None,
    responder: str | None = WANG,
    done: int | None = None,
    fixer: str | None = None,
    assignee: str | None = None,
    closed: int | None = None,
    rating: int | None = None,
    category: str = REPAIR,
    building: str | None = "3",
) -> TicketFacts:
    """Times in minutes after T0 (`opened`) or after the opening (the others); the first
    response is due 30 minutes after opening, the resolution 240 minutes after."""
    at = T0 + minutes(opened)

    def after(m: int | None) -> datetime | None:
        return at + minutes(m) if m is not None else None

    return TicketFacts(
        number=n,
        category=category,
        building=building,
        urgent=False,
        opened_at=at,
        first_response_due=at + minutes(30),
        resolution_due=at + minutes(240),
        first_response_at=after(first),
        first_responder=responder if first is not None else None,
        done_at=after(done),
        done_by=(fixer or responder) if done is not None else None,
        assignee=assignee,
        closed_at=after(closed),
        rating=rating,
    )


WEEK_TICKETS = [
    ticket(1, first=10, done=100, closed=160, rating=5),
    ticket(2, first=20, done=300, closed=360, rating=3),  # fixed late
    ticket(3, first=40, responder=LIU, assignee=LIU, category=NOISE, building="5"),  # late answer
    ticket(4, first=5, done=60, responder=LIU, closed=120, rating=4, category=NOISE, building="5"),
    ticket(5, category="sanitation", building=None),  # never answered
    ticket(6, opened=-24 * 60, first=5, done=20, closed=24 * 60 + 30),  # last week's, closed now
]


def test_percentile_is_the_nearest_rank_value_of_the_sample() -> None:
    four = [minutes(m) for m in (40, 5, 20, 10)]
    # ranks ceil(0.5 * 4) = 2 and ceil(0.9 * 4) = 4 of 5, 10, 20, 40
    assert percentile(four, 50) == minutes(10)
    assert percentile(four, 90) == minutes(40)
    ten = [minutes(m) for m in range(1, 11)]
    assert percentile(ten, 50) == minutes(5)
    assert percentile(ten, 90) == minutes(9)
    assert percentile([minutes(1), minutes(2), minutes(3)], 50) == minutes(2)
    assert percentile([minutes(7)], 90) == minutes(7)
    assert percentile([minutes(7), minutes(3)], 0) == minutes(3)
    assert percentile([], 50) is None


def test_summary_of_a_week_gives_the_compound_figures() -> None:
    s = summarize(WEEK_TICKETS, T0, WEEK)
    # opened: #1-#5; closed this week: #1, #2, #4 and last week's #6
    assert (s.opened, s.closed) == (5, 4)
    # first responses 5, 10, 20, 40 min; resolutions 60, 100, 300 min
    assert (s.median_first_response, s.p90_first_response) == (minutes(10), minutes(40))
    assert (s.median_resolution, s.p90_resolution) == (minutes(100), minutes(300))
    # met: #1 and #4; missed: #2 (late fix), #3 (late answer), #5 (no answer, past due)
    assert s.sla_met_pct == 40.0
    assert s.satisfaction == 4.0


def test_summary_of_a_week_gives_each_staff_member_their_figures() -> None:
    s = summarize(WEEK_TICKETS, T0, WEEK)
    assert s.per_staff == {
        LIU: StaffSummary(
            handled=2,
            median_first_response=minutes(5),
            p90_first_response=minutes(40),
            median_resolution=minutes(60),
            p90_resolution=minutes(60),
            sla_met_pct=50.0,  # #4 on time; #3 answered late and not fixed in time
            satisfaction=4.0,
        ),
        WANG: StaffSummary(
            handled=2,
            median_first_response=minutes(10),
            p90_first_response=minutes(20),
            median_resolution=minutes(100),
            p90_resolution=minutes(300),
            sla_met_pct=50.0,  # #1 on time, #2 fixed late
            satisfaction=4.0,
        ),
    }


def test_an_empty_window_has_no_figures() -> None:
    assert summarize(WEEK_TICKETS, WEEK, WEEK + timedelta(days=7)) == Summary(
        opened=0,
        closed=0,
        median_first_response=None,
        p90_first_response=None,
        median_resolution=None,
        p90_resolution=None,
        sla_met_pct=None,
        satisfaction=None,
        per_staff={},
    )


def test_window_includes_its_start_and_excludes_its_end() -> None:
    tickets = [ticket(1, closed=0), ticket(2, opened=60, closed=0)]
    s = summarize(tickets, T0, T0 + minutes(60))
    assert (s.opened, s.closed) == (1, 1)


@pytest.mark.parametrize(
    ("first", "done", "until", "met"),
    [
        pytest.param(10, 100, 1000, 100.0, id="answered_and_fixed_on_time"),
        pytest.param(30, 240, 1000, 100.0, id="answered_and_fixed_on_the_due_minute"),
        pytest.param(10, None, 60, 100.0, id="answered_on_time_and_fix_not_yet_due"),
        pytest.param(10, None, 241, 0.0, id="answered_on_time_and_not_fixed_by_its_due_time"),
        pytest.param(31, 100, 1000, 0.0, id="answered_late"),
        pytest.param(10, 241, 1000, 0.0, id="fixed_late"),
        pytest.param(None, None, 31, 0.0, id="not_answered_past_its_due_time"),
        pytest.param(None, None, 30, None, id="not_answered_and_not_yet_due"),
        pytest.param(50, 100, 40, 0.0, id="answered_after_the_window_ends_past_its_due_time"),
        pytest.param(None, 20, 1000, 100.0, id="fixed_without_a_recorded_answer_in_time"),
    ],
)
def test_sla_met_judges_each_ticket_as_it_stood_at_the_end_of_the_window(
    first: int | None, done: int | None, until: int, met: float | None
) -> None:
    s = summarize([ticket(1, first=first, done=done)], T0, T0 + minutes(until))
    assert s.sla_met_pct == met


def test_what_happens_after_the_window_is_not_yet_known() -> None:
    s = summarize([ticket(1, first=10, done=300, closed=400)], T0, T0 + minutes(200))
    assert (s.median_first_response, s.median_resolution, s.closed) == (minutes(10), None, 0)
    assert s.sla_met_pct == 100.0  # answered on time, fix due at 240: still on track at 200


def test_a_fix_without_a_recorded_answer_counts_as_the_answer_by_its_fixer() -> None:
    s = summarize([ticket(1, done=20, fixer=LIU, responder=None)], T0, WEEK)
    assert s.median_first_response == minutes(20)
    assert s.per_staff[LIU].median_first_response == minutes(20)


def test_first_answer_and_fix_are_credited_to_whoever_did_each() -> None:
    s = summarize([ticket(1, first=10, done=300, fixer=LIU, rating=2)], T0, WEEK)
    assert s.sla_met_pct == 0.0
    wang, liu = s.per_staff[WANG], s.per_staff[LIU]
    assert (wang.handled, wang.median_first_response, wang.median_resolution) == (
        1,
        minutes(10),
        None,
    )
    assert (wang.sla_met_pct, wang.satisfaction) == (100.0, None)
    assert (liu.handled, liu.median_first_response, liu.median_resolution) == (
        1,
        None,
        minutes(300),
    )
    assert (liu.sla_met_pct, liu.satisfaction) == (0.0, 2.0)


def test_an_overdue_open_ticket_counts_against_its_assignee() -> None:
    tickets = [ticket(1, first=10, assignee=LIU), ticket(2, responder=None, assignee=LIU)]
    s = summarize(tickets, T0, WEEK)
    assert s.per_staff[WANG].sla_met_pct == 100.0
    # #1: fix overdue; #2: neither answered nor fixed in time
    assert (s.per_staff[LIU].handled, s.per_staff[LIU].sla_met_pct) == (2, 0.0)
    assert s.per_staff[LIU].median_first_response is None


def test_times_are_clock_time_though_deadlines_are_in_business_hours() -> None:
    policy = SlaPolicy(
        calendar=BusinessCalendar(
            periods=(Period(time(8, 30), time(12, 0)), Period(time(13, 30), time(17, 30)))
        ),
        targets={},
        default=SlaTargets(first_response=timedelta(hours=2), resolution=timedelta(hours=15)),
        urgent=SlaTargets(first_response=timedelta(minutes=15), resolution=timedelta(hours=4)),
    )
    friday = datetime(2026, 11, 27, 17, 0, tzinfo=SH)
    due = compute_deadlines(policy, friday, Category.REPAIR, urgent=False)
    # half an hour on Friday, then 08:30-10:00 on Monday
    assert due.first_response_due == datetime(2026, 11, 30, 10, 0, tzinfo=SH)
    answered = datetime(2026, 11, 30, 1, 0, tzinfo=UTC)  # Monday 09:00 in Shanghai
    facts = TicketFacts(
        number=1,
        category=REPAIR,
        building="3",
        urgent=False,
        opened_at=friday,
        first_response_due=due.first_response_due,
        resolution_due=due.resolution_due,
        first_response_at=answered,
        first_responder=WANG,
        done_at=None,
        done_by=None,
        assignee=None,
        closed_at=None,
        rating=None,
    )
    s = summarize([facts], friday, datetime(2026, 11, 30, 12, 0, tzinfo=SH))
    assert (s.median_first_response, s.sla_met_pct) == (timedelta(hours=64), 100.0)


def staff(sla: float | None, first: int | None, handled: int) -> StaffSummary:
    return StaffSummary(
        handled=handled,
        median_first_response=minutes(first) if first is not None else None,
        p90_first_response=None,
        median_resolution=None,
        p90_resolution=None,
        sla_met_pct=sla,
        satisfaction=None,
    )


def test_ranking_orders_by_sla_then_quick_answer_then_tickets_then_user_id() -> None:
    per_staff = {
        "@a:x": staff(100.0, 30, 1),
        "@b:x": staff(100.0, 10, 1),
        "@d:x": staff(100.0, 10, 3),
        "@c:x": staff(100.0, 10, 3),
        "@e:x": staff(50.0, 1, 9),
        "@f:x": staff(None, 1, 9),
        "@g:x": staff(100.0, None, 9),
    }
    summary = Summary(
        opened=0,
        closed=0,
        median_first_response=None,
        p90_first_response=None,
        median_resolution=None,
        p90_resolution=None,
        sla_met_pct=None,
        satisfaction=None,
        per_staff=per_staff,
    )
    ranked = ranking(summary)
    assert [user for user, _ in ranked] == ["@c:x", "@d:x", "@b:x", "@a:x", "@g:x", "@e:x", "@f:x"]
    assert ranked[0] == ("@c:x", per_staff["@c:x"])


def test_ranking_of_a_week_puts_the_quicker_answer_first_on_equal_sla() -> None:
    # both 50% on time; Liu's median first answer is 5 min, Wang's 10 min
    assert [user for user, _ in ranking(summarize(WEEK_TICKETS, T0, WEEK))] == [LIU, WANG]


def test_hot_issues_are_the_most_frequent_categories_and_buildings_in_the_window() -> None:
    tickets = [
        ticket(1, category=REPAIR, building="3"),
        ticket(2, category=REPAIR, building="3"),
        ticket(3, category=REPAIR, building="5"),
        ticket(4, category=NOISE, building="5"),
        ticket(5, category=NOISE, building="1"),
        ticket(6, category=Category.PARKING.value, building="1"),
        ticket(7, category=Category.PARKING.value, building=None),
        ticket(8, category=Category.SANITATION.value, building=None),
        ticket(9, opened=-60, category=Category.SECURITY.value, building="9"),  # before
    ]
    hot = hot_issues(tickets, T0, WEEK)
    assert hot.categories == [("repair", 3), ("noise", 2), ("parking", 2), ("sanitation", 1)]
    assert hot.places == [("1", 2), ("3", 2), ("5", 2)]
    top_two = hot_issues(tickets, T0, WEEK, top=2)
    assert (top_two.categories, top_two.places) == (
        [("repair", 3), ("noise", 2)],
        [("1", 2), ("3", 2)],
    )


@pytest.mark.parametrize(
    ("value", "zh", "en"),
    [
        pytest.param(minutes(12), "12分钟", "12 min", id="minutes"),
        pytest.param(minutes(65), "1小时5分钟", "1 h 5 min", id="hours_and_minutes"),
        pytest.param(timedelta(days=2, hours=3), "2天3小时", "2 d 3 h", id="days_and_hours"),
        pytest.param(timedelta(hours=2), "2小时", "2 h", id="whole_hours"),
        pytest.param(timedelta(days=1), "1天", "1 d", id="whole_days"),
        pytest.param(timedelta(days=2, hours=3, minutes=59), "2天3小时", "2 d 3 h", id="two_units"),
        pytest.param(timedelta(minutes=12, seconds=59), "12分钟", "12 min", id="rounded_down"),
        pytest.param(timedelta(seconds=59), "不到1分钟", "< 1 min", id="under_a_minute"),
        pytest.param(None, "—", "—", id="no_figure"),
    ],
)
def test_durations_read_short_and_plain(value: timedelta | None, zh: str, en: str) -> None:
    assert (format_duration_zh(value), format_duration_en(value)) == (zh, en)
