"""The notices bot's pure rules: targets, times, cron, reach and reminders."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bots.notices import reach_rules, rules
from bots.notices.reach_rules import Household, NoticeInputError
from bots.notices.rules import parse_buildings, parse_post

SHANGHAI = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)  # Monday 10:00 in Shanghai
BUILDINGS = ["1", "2", "3", "4", "5", "6", "7"]


def test_buildings_and_ranges_are_expanded_in_order_without_repeats() -> None:
    assert parse_buildings("3,5-7", BUILDINGS) == ("3", "5", "6", "7")
    assert parse_buildings("3，5－6,3号楼", BUILDINGS) == ("3", "5", "6")
    assert parse_buildings("全体", BUILDINGS) is None
    assert parse_buildings("ALL", BUILDINGS) is None


@pytest.mark.parametrize(
    ("spec", "key"),
    [
        ("9", "notices.no_building"),
        ("7-5", "notices.bad_range"),
        ("1-100000", "notices.bad_range"),
        (",", "notices.no_target"),
        ("3,8", "notices.no_building"),
    ],
)
def test_bad_buildings_are_refused_with_a_reason(spec: str, key: str) -> None:
    with pytest.raises(NoticeInputError) as e:
        parse_buildings(spec, BUILDINGS)
    assert e.value.key == key


def test_a_post_reads_target_options_and_keeps_the_text_lines() -> None:
    request = parse_post(
        "3,5 紧急 定时 2026-11-24 09:00 有效 2天 **停水**通知\n明天 9:00-12:00 停水",
        BUILDINGS,
        NOW,
        SHANGHAI,
    )
    assert request.targets == ("3", "5")
    assert request.urgent
    assert request.at == datetime(2026, 11, 24, 9, 0, tzinfo=SHANGHAI)
    assert request.expires == NOW + timedelta(days=2)
    assert request.text == "**停水**通知\n明天 9:00-12:00 停水"
    assert request.cron is None


def test_a_time_of_day_alone_is_the_next_such_time() -> None:
    request = parse_post("全体 at 09:30 hello", BUILDINGS, NOW, SHANGHAI)
    assert request.at == datetime(2026, 11, 24, 9, 30, tzinfo=SHANGHAI)  # 10:00 has passed today


def test_cron_takes_five_fields_in_local_time() -> None:
    request = parse_post("1 每 0 9 * * 1 清洗水箱", BUILDINGS, NOW, SHANGHAI)
    assert request.cron == "0 9 * * 1" and request.text == "清洗水箱"
    following = rules.next_cron("0 9 * * 1", NOW, SHANGHAI)
    assert following == datetime(2026, 11, 30, 9, 0, tzinfo=SHANGHAI)
    assert following.utcoffset() == timedelta(hours=8)


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("3", "notices.no_text"),
        ("3 紧急", "notices.no_text"),
        ("", "notices.no_target"),
        ("3 定时 明天 开会", "notices.bad_time"),
        ("3 定时 2026-11-22 09:00 开会", "notices.past_time"),
        ("3 每 0 9 * * 开会", "notices.bad_cron"),
        ("3 每 61 9 * * 1 开会", "notices.bad_cron"),
        ("3 定时 09:00 每 0 9 * * 1 开会", "notices.at_and_cron"),
    ],
)
def test_bad_posts_are_refused(text: str, key: str) -> None:
    with pytest.raises(NoticeInputError) as e:
        parse_post(text, BUILDINGS, NOW, SHANGHAI)
    assert e.value.key == key


def test_reach_counts_each_household_once_by_how_it_was_reached() -> None:
    h31, h32, h41 = (
        Household("3", "1", "101"),
        Household("3", "2", "1101"),
        Household("4", "1", "1"),
    )
    targeted = {"@a": h31, "@b": h31, "@c": h32, "@d": h41, "@e": Household("4", "2", "2")}
    found = reach_rules.reach(
        targeted, read={"@a", "@c", "@x"}, acknowledged={"@c"}, told={"4-1-1"}
    )
    three, four = found.buildings
    # 3-2-1101 read and acknowledged: acknowledged only; 3-1-101 read.
    assert (three.residents, three.acknowledged, three.read, three.told) == (3, 1, 1, 0)
    assert (three.households, three.reached, three.unreached) == (2, 2, ())
    assert (four.households, four.reached, four.told, four.unreached) == (2, 1, 1, ("4-2-2",))
    assert (found.households, found.reached, found.read, found.acknowledged) == (4, 3, 1, 1)
    assert found.unreached == ("4-2-2",) and not found.roster


def test_reach_over_the_roster_counts_households_with_no_account_and_lists_them_first() -> None:
    roster = [Household("3", "1", str(n)) for n in range(1, 6)] + [Household("4", "1", "9")]
    targeted = {"@a": Household("3", "1", "1"), "@b": Household("3", "1", "2")}
    found = reach_rules.reach(targeted, read={"@a"}, acknowledged=(), told={"3-1-5"}, roster=roster)
    three, four = found.buildings
    assert (three.households, three.reached, three.read, three.told) == (5, 2, 1, 1)
    assert (three.no_account, three.unreached_offline, three.unreached_online) == (
        3,
        ("3-1-3", "3-1-4"),
        ("3-1-2",),
    )
    assert (four.households, four.reached, four.no_account) == (1, 0, 1)
    assert found.roster and (found.households, found.reached) == (6, 2)
    # Every building's households with no account before any with one.
    assert found.unreached == ("3-1-3", "3-1-4", "4-1-9", "3-1-2")
    assert reach_rules.targeted_roster(roster, ["4"]) == [Household("4", "1", "9")]
    assert reach_rules.targeted_roster(roster, reach_rules.group_target("dance")) == []


def test_targeted_residents_are_those_of_the_targeted_buildings() -> None:
    people = [("@a", Household("3", "1", "1")), ("@b", Household("4", "1", "1"))]
    assert set(reach_rules.targeted_residents(people, ["3"])) == {"@a"}
    assert set(reach_rules.targeted_residents(people, None)) == {"@a", "@b"}


def test_reminders_stop_at_expiry_and_urgent_ones_repeat() -> None:
    posted = NOW
    times = rules.reminder_times(
        posted, [timedelta(days=1), timedelta(hours=4)], NOW + timedelta(hours=5)
    )
    assert times == [NOW + timedelta(hours=4)]
    urgent = rules.reminder_times(
        posted, [], NOW + timedelta(hours=7), urgent_every=timedelta(hours=2)
    )
    assert urgent == [NOW + timedelta(hours=h) for h in (2, 4, 6)]


def test_households_are_read_as_building_unit_room() -> None:
    assert reach_rules.parse_household("3-2-1101").label == "3-2-1101"
    with pytest.raises(NoticeInputError):
        reach_rules.parse_household("3号楼1101")


def test_the_reach_chart_is_a_png() -> None:
    from bots.notices.reach_chart import reach_chart_png

    found = reach_rules.reach(
        {"@a": Household("3", "1", "1"), "@b": Household("4", "1", "1")}, {"@a"}, (), ()
    )
    png = reach_chart_png(1, found)
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 1000


GROUPS = {"volunteers": ["志愿者服务队", "Volunteers"], "dance": ["广场舞队", "Square dance"]}


def test_an_interest_group_is_named_by_its_key_or_any_of_its_names() -> None:
    for spec in ("volunteers", "志愿者服务队", "VOLUNTEERS"):
        targets = rules.parse_target(spec, BUILDINGS, GROUPS)
        assert targets == reach_rules.group_target("volunteers")
        assert reach_rules.group_of(targets) == "volunteers"
    assert rules.parse_target("3,5", BUILDINGS, GROUPS) == ("3", "5")
    assert reach_rules.group_of(("3", "5")) is None and reach_rules.group_of(None) is None
    request = parse_post("广场舞队 周六停跳一次", BUILDINGS, NOW, SHANGHAI, GROUPS)
    assert request.targets == ("group:dance",) and request.text == "周六停跳一次"


def test_an_unknown_group_is_answered_with_the_buildings_and_the_groups() -> None:
    with pytest.raises(NoticeInputError) as e:
        rules.parse_target("棋牌社", BUILDINGS, GROUPS)
    assert e.value.key == "notices.no_group"
    assert e.value.args_["groups"] == "志愿者服务队、广场舞队"
    assert e.value.args_["known"] == "1,2,3,4,5,6,7"
    # A number stays a building that does not exist.
    with pytest.raises(NoticeInputError) as e:
        rules.parse_target("9", BUILDINGS, GROUPS)
    assert e.value.key == "notices.no_building"


def test_a_group_notice_is_for_the_residents_who_joined_its_room() -> None:
    residents = [("@a:x", Household("1", "1", "101")), ("@b:x", Household("2", "1", "201"))]
    targeted = reach_rules.targeted_residents(
        residents, reach_rules.group_target("dance"), {"@b:x", "@z:x"}
    )
    assert targeted == {"@b:x": Household("2", "1", "201")}
