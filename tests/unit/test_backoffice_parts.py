"""The back office's pure parts: sessions and the exchange's rate limit on a fake clock, the
queue's order and clocks, the street office's rates and exports, where the widget goes."""

from __future__ import annotations

import csv
import io
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from bots.backoffice.queue import is_overdue, queue_order, running_clock, thread_link
from bots.backoffice.street import figures, table_rows, to_csv, to_xlsx
from bots.tickets.stats import TicketFacts
from bots.tickets.store import TicketRecord
from bridge.clock import FakeClock
from bridge.dashboard.actions import cause_of
from bridge.dashboard.server import ApiError
from bridge.dashboard.sessions import RateLimit, Sessions
from bridge.dashboard.widget import is_staff_room, widget_content
from bridge.roles import Role
from bridge.rooms_config import RoomDef

T0 = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)


def test_a_session_is_found_by_its_token_only_until_it_expires() -> None:
    clock = FakeClock(T0)
    sessions = Sessions(clock, timedelta(minutes=30))
    token, session = sessions.issue("@a:x", frozenset({("heping", Role.PROPERTY_STAFF)}))
    assert sessions.find(token) == session
    assert sessions.find(token + "x") is None
    assert session.compounds_with(frozenset({Role.PROPERTY_STAFF})) == ["heping"]
    assert session.roles_in("xingfu") == frozenset()
    # Only the token's hash is kept.
    assert token not in repr(sessions.__dict__)
    clock.advance(timedelta(minutes=29, seconds=59))
    assert sessions.find(token) is not None
    clock.advance(timedelta(seconds=1))
    assert sessions.find(token) is None


def test_a_session_ended_is_gone() -> None:
    sessions = Sessions(FakeClock(T0), timedelta(minutes=30))
    token, _ = sessions.issue("@a:x", frozenset())
    sessions.end(token)
    assert sessions.find(token) is None


def test_the_rate_limit_counts_a_minute_per_address() -> None:
    clock = FakeClock(T0)
    limit = RateLimit(clock, 3)
    assert [limit.allow("1.2.3.4") for _ in range(4)] == [True, True, True, False]
    assert limit.allow("5.6.7.8")
    clock.advance(timedelta(seconds=59))
    assert not limit.allow("1.2.3.4")
    clock.advance(timedelta(seconds=1))
    assert limit.allow("1.2.3.4")


def test_a_click_s_cause_is_fixed_by_person_and_request_and_never_names_them() -> None:
    cause = cause_of("@wuye_wang:x", "claim-0001")
    assert cause == cause_of("@wuye_wang:x", "claim-0001")
    assert cause != cause_of("@wuye_li:x", "claim-0001")
    assert "wuye" not in cause and cause.startswith("dashboard:")
    for bad in ("short", "has space in it", "x" * 65, "../../etc"):
        with pytest.raises(ApiError):
            cause_of("@a:x", bad)


def _ticket(number: int, **kw: object) -> TicketRecord:
    base = TicketRecord(
        id=number, compound="heping", number=number, room_id="!r:x", source_event_id=f"$e{number}",
        reply_event_id=None, reporter="@r:x", text="灯坏了", category="repair", urgent=False,
        building="3", team="property", status="open", assignee=None, opened_at=T0,
        first_response_due=T0 + timedelta(minutes=30), resolution_due=T0 + timedelta(hours=24),
        first_response_at=None, first_responder=None, waiting_since=None, done_at=None,
        done_by=None, closed_at=None, close_reason=None, confirm_event_id=None, rating=None,
        escalation_level=0, reopened=0,
    )  # fmt: skip
    return replace(base, **kw)  # type: ignore[arg-type]


def test_the_clock_that_runs_and_the_queue_s_order() -> None:
    now = T0 + timedelta(hours=1)
    late = _ticket(1)  # no first response, due 30 minutes ago
    answered = _ticket(2, first_response_at=T0, urgent=True)
    paused = _ticket(3, status="waiting", first_response_at=T0, waiting_since=T0)
    fresh = _ticket(4, first_response_due=now + timedelta(minutes=10))
    assert running_clock(late) == ("first", late.first_response_due)
    assert running_clock(answered) == ("resolution", answered.resolution_due)
    assert running_clock(paused) is None and not is_overdue(paused, now)
    assert is_overdue(late, now) and not is_overdue(fresh, now)
    ordered = sorted([fresh, paused, answered, late], key=lambda t: queue_order(t, now))
    assert [t.number for t in ordered] == [1, 2, 4, 3]  # overdue, urgent, open, paused


def test_the_thread_link_opens_the_community_s_client_or_matrix_to() -> None:
    t = _ticket(1, room_id="!abc:x", source_event_id="$ev/1")
    assert thread_link(t, None, "x") == "https://matrix.to/#/%21abc%3Ax/%24ev%2F1?via=x"
    assert (
        thread_link(t, "https://chat.example/", "x")
        == "https://chat.example/#/room/%21abc%3Ax/%24ev%2F1"
    )


def _facts(n: int, **kw: object) -> TicketFacts:
    base = TicketFacts(
        number=n, category="repair", building="3", urgent=False, opened_at=T0,
        first_response_due=T0 + timedelta(minutes=30), resolution_due=T0 + timedelta(hours=24),
        first_response_at=None, first_responder=None, done_at=None, done_by=None,
        assignee=None, closed_at=None, rating=None,
    )  # fmt: skip
    return replace(base, **kw)  # type: ignore[arg-type]


def test_the_three_rates_of_a_compound() -> None:
    answered = {"first_response_at": T0 + timedelta(minutes=5), "first_responder": "@s:x"}
    fixed = {**answered, "done_at": T0 + timedelta(hours=2), "done_by": "@s:x"}
    tickets = [
        _facts(1),
        _facts(2, **answered),
        _facts(3, **fixed, rating=5),
        _facts(4, **fixed, rating=2, category="noise"),
        _facts(5, opened_at=T0 - timedelta(days=40)),  # before the period
    ]
    f = figures("heping", "和平里", tickets, T0 - timedelta(days=30), T0 + timedelta(days=1))
    assert f.opened == 4
    assert (f.response_rate, f.resolution_rate, f.satisfaction_rate) == (75.0, 50.0, 50.0)
    assert f.hot_categories == [("repair", 3), ("noise", 1)]
    empty = figures("xingfu", "幸福", [], T0 - timedelta(days=30), T0)
    assert (empty.opened, empty.response_rate, empty.satisfaction_rate) == (0, None, None)
    [row] = table_rows([f], {"repair": "维修", "noise": "噪音"})
    assert row[0] == "和平里" and row[-1] == "维修 3、噪音 1"


def test_exports_read_back_and_a_formula_stays_text() -> None:
    rows = [["=HYPERLINK(1)", 1, 50.0, None]]
    data = to_csv(["小区", "工单数", "响应率", "满意率"], rows)
    assert data.startswith("\ufeff".encode())
    read = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert read == [["小区", "工单数", "响应率", "满意率"], ["'=HYPERLINK(1)", "1", "50.0", ""]]
    from openpyxl import load_workbook

    sheet = load_workbook(io.BytesIO(to_xlsx("近30天", ["小区", "工单数"], rows))).active
    assert sheet is not None
    assert [c.value for c in next(sheet.iter_rows(min_row=2))][:2] == ["'=HYPERLINK(1)", 1]


def _room(key: str, access: str, roles: set[Role], building: str | None = None) -> RoomDef:
    return RoomDef(key, key, None, "", None, access, frozenset(roles), None, building)  # type: ignore[arg-type]


def test_the_widget_goes_to_rooms_of_staff_and_observers_only() -> None:
    assert is_staff_room(_room("five_in_one", "invite", {Role.PROPERTY_STAFF, Role.POLICE}))
    assert is_staff_room(_room("observers", "invite", {Role.OBSERVER, Role.RESIDENTS_COMMITTEE}))
    assert not is_staff_room(_room("party", "invite", {Role.PARTY_BRANCH, Role.PARTY_MEMBER}))
    assert not is_staff_room(_room("neighbours", "residents", {Role.RESIDENT}))
    assert not is_staff_room(_room("lobby", "public", {Role.RESIDENTS_COMMITTEE}))
    content = widget_content("https://linli.example/linli/dashboard/", "@linli:x", "zh")
    assert content["url"] == (
        "https://linli.example/linli/dashboard/?room=$matrix_room_id&widget=$matrix_widget_id"
    )
    assert content["name"] == "邻里工作台" and "$matrix_user_id" not in str(content)
