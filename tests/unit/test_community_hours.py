"""The community bot's clock and hours through the router, on a real store (SQLite and
PostgreSQL) with a recording homeserver: the reminder, the card when sign-up closes and when the
activity is over, check-in by staff and by code, volunteer hours, the ranking and the street
office's totals."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bots import ALL_BOTS
from bots.community.bot import CommunityBot
from bots.community.settings import CommunitySettings
from bridge.app import Bridge
from bridge.bot import config_sections
from bridge.config import ConfigError
from bridge.rooms_config import load_rooms_config
from tests.unit.test_community_bot import (
    STAFF,
    A,
    B,
    C,
    bridge,
    client_of,
    clock_of,
    edits_of,
    handle,
    message,
    post_activity,
    room,
    tap,
)

__all__ = ["bridge"]  # the fixture
EXAMPLES = Path(__file__).parents[2] / "rooms_config"


async def test_check_in_credits_volunteers_hours_and_the_ranking(bridge: Bridge) -> None:
    await post_activity(bridge)
    neighbours = await room(bridge, "neighbours")
    client = client_of(bridge)
    await handle(bridge, message("$v", A, "!报名 1 志愿", neighbours))
    await handle(bridge, message("$p", B, "!报名 1", neighbours))
    await handle(bridge, message("$c1", B, "!签到 1 0000x", neighbours))
    assert client.bodies(neighbours)[-1] == "请写签到码，或者 @ 要签到的人。"
    await handle(bridge, message("$c2", B, f"!签到 1 {A}", neighbours))
    assert client.bodies(neighbours)[-1] == "只有发起人或工作人员可以这样做。"
    await handle(bridge, message("$c3", STAFF, f"!签到 1 {A} {B} {C}", neighbours))
    answer = client.bodies(neighbours)[-1]
    assert answer.startswith("活动 #1 已签到 2 人。") and f"没有签到：{C}" in answer
    await handle(bridge, message("$c3", STAFF, f"!签到 1 {A} {B} {C}", neighbours), fresh=False)
    await handle(bridge, message("$h", A, "!志愿 时长", neighbours))
    assert client.bodies(neighbours)[-1].startswith("您的志愿服务：共 2 小时，1 次活动")
    await handle(bridge, message("$h2", B, "!志愿 时长", neighbours))
    assert client.bodies(neighbours)[-1].startswith("您还没有志愿服务时长")  # took part only
    # Hours count in the month the activity took place.
    await handle(bridge, message("$r", B, "!志愿 排行", neighbours))
    assert f"1. {A} 2 小时" in client.bodies(neighbours)[-1]


async def test_a_resident_checks_in_with_the_code(bridge: Bridge) -> None:
    await post_activity(bridge)
    neighbours = await room(bridge, "neighbours")
    client = client_of(bridge)
    activity = await bridge.bot(CommunityBot).desk.activities.by_number("heping", 1)
    assert activity is not None
    await handle(bridge, message("$v", A, "!报名 1 志愿", neighbours))
    await handle(
        bridge,
        message(
            "$c",
            A,
            "!签到 1 9999" if activity.checkin_code != "9999" else "!签到 1 0000",
            neighbours,
        ),
    )
    assert client.bodies(neighbours)[-1] == "签到码不对，请向活动发起人核对。"
    await handle(bridge, message("$c2", A, f"!签到 1 {activity.checkin_code}", neighbours))
    assert client.bodies(neighbours)[-1] == "签到成功，谢谢您来参加活动 #1。"


async def test_the_reminder_rings_everyone_with_a_place_once(bridge: Bridge) -> None:
    card = await post_activity(bridge)
    neighbours = await room(bridge, "neighbours")
    for n, user in enumerate((A, B, C)):
        await handle(bridge, tap(f"$tap{n}", user, card.event_id, neighbours))
    clock_of(bridge).set(datetime(2026, 11, 24, 23, 0, tzinfo=UTC))  # 07:00 on the 25th
    await bridge.scheduler.run_due()
    await bridge.scheduler.run_due()
    reminders = [s for s in client_of(bridge).sent if s.body.startswith("提醒：")]
    assert sorted(s.content["m.mentions"]["user_ids"][0] for s in reminders) == [A, B]
    assert all(s.content["msgtype"] == "m.text" for s in reminders)


async def test_the_street_office_sees_hours_per_compound_and_residents_may_not(
    bridge: Bridge,
) -> None:
    await post_activity(bridge)
    neighbours = await room(bridge, "neighbours")
    await handle(bridge, message("$v", A, "!报名 1 志愿", neighbours))
    await handle(bridge, message("$c", STAFF, f"!签到 1 {A}", neighbours))
    await handle(bridge, message("$t", A, "!志愿 统计", neighbours))
    assert "只有" in client_of(bridge).bodies(neighbours)[-1]  # not a resident's command
    await handle(bridge, message("$t2", STAFF, "!志愿 统计", neighbours))
    lines = client_of(bridge).bodies(neighbours)[-1].split("\n")
    assert lines[1:] == [
        "和平里小区：本月 2 小时，上月 0 小时",
        "幸福家园：本月 0 小时，上月 0 小时",
    ]


async def test_the_card_says_when_sign_up_closes_and_when_it_is_over(bridge: Bridge) -> None:
    card = await post_activity(bridge)
    clock_of(bridge).set(datetime(2026, 11, 24, 10, 0, tzinfo=UTC))  # 18:00 in Shanghai
    await bridge.scheduler.run_due()
    assert "报名已截止。" in edits_of(bridge, card)[-1].content["m.new_content"]["body"]
    clock_of(bridge).set(datetime(2026, 11, 25, 3, 0, tzinfo=UTC))  # 11:00, two hours in
    await bridge.scheduler.run_due()
    last = edits_of(bridge, card)[-1].content["m.new_content"]["body"]
    assert "活动已结束，谢谢大家。" in last and "报名请点" not in last
    # Check-in after the end still works, and the list shows who came.
    neighbours = await room(bridge, "neighbours")
    await handle(bridge, message("$c", STAFF, f"!签到 1 {A}", neighbours))
    assert client_of(bridge).bodies(neighbours)[-1].startswith("活动 #1 已签到 0 人。")


async def test_the_monthly_ranking_is_posted_with_its_chart_once(bridge: Bridge) -> None:
    await post_activity(bridge)
    neighbours = await room(bridge, "neighbours")
    await handle(bridge, message("$v", A, "!报名 1 志愿", neighbours))
    await handle(bridge, message("$c", STAFF, f"!签到 1 {A}", neighbours))
    hours = bridge.bot(CommunityBot).hours
    await hours.schedule_rankings()
    clock_of(bridge).set(datetime(2026, 12, 1, 1, 0, tzinfo=UTC))  # 09:00 on the 1st
    await bridge.scheduler.run_due()
    await hours.schedule_rankings()  # a restart: the month's job is done, it stays done
    await bridge.scheduler.run_due()
    sent = [s for s in client_of(bridge).sent if s.room_id == neighbours]
    texts = [s for s in sent if s.body.startswith("【2026-11 志愿者排行榜】")]
    images = [s for s in sent if s.content.get("msgtype") == "m.image"]
    assert len(texts) == 1 and f"1. {A} 2 小时" in texts[0].body
    assert len(images) == 1 and images[0].content["info"]["mimetype"] == "image/png"
    # December's is due next.
    job = await bridge.store.jobs.get("community:ranking:heping:2026-12")
    assert job is not None and job.due_at == datetime(2027, 1, 1, 1, 0, tzinfo=UTC)


def test_community_settings_in_a_compounds_yaml_are_checked_with_file_and_line(
    tmp_path: Path,
) -> None:
    rooms_dir = tmp_path / "rooms_config"
    shutil.copytree(EXAMPLES, rooms_dir)
    path = rooms_dir / "compounds" / "heping.yaml"
    text = path.read_text(encoding="utf-8")
    settings = "  community_life:\n    board_expires: 2d\n    board_remind_before: 3d\n"
    path.write_text(text.replace("  buildings:", settings + "  buildings:", 1), encoding="utf-8")
    with pytest.raises(ConfigError) as e:
        load_rooms_config(rooms_dir, "zh", config_sections(ALL_BOTS))
    [issue] = e.value.issues
    assert issue.path == path and issue.key.startswith("compound.community_life")
    assert "board_remind_before must be shorter than board_expires" in issue.message
    lines = path.read_text(encoding="utf-8").splitlines()
    assert "community_life" in lines[issue.line - 1]
    # The defaults and a sensible choice load.
    path.write_text(
        text.replace("  buildings:", "  community_life:\n    help_expires: 5d\n  buildings:", 1),
        encoding="utf-8",
    )
    compound = load_rooms_config(rooms_dir, "zh", config_sections(ALL_BOTS)).compounds["heping"]
    assert compound.section("community_life", CommunitySettings).help_expires.days == 5
