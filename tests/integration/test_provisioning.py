"""The example compounds on a real Synapse, seen through residents' and staff's own clients."""

from __future__ import annotations

import asyncio

import pytest

from bridge.cli import main as linli
from bridge.provision.plan import ARCHIVED_MARK
from bridge.provision.reconcile import Provisioner
from tests.integration.harness import Harness
from tests.integration.matrix_client import MatrixHTTPError, ResidentClient


async def bind(harness_bridge, user_id: str, compound: str, building: str) -> None:
    bridge = harness_bridge
    await bridge.store.people.bind_household(
        compound, user_id, building, "1", "101", bridge.clock.now()
    )


async def test_resident_browses_the_community_and_joins_through_the_restricted_rule(
    harness: Harness, make_user, staff_client
) -> None:
    resident: ResidentClient = await make_user()
    stranger: ResidentClient = await make_user()
    bridge = await harness.start_bridge(apply=False)
    await bind(bridge, resident.user_id, "heping", "1")
    await bridge.provisioner.apply()

    community = await bridge.store.rooms.by_key("community:sanlin")
    assert community is not None
    # The resident was invited to the compound space; join it, then browse the community.
    heping_space = await resident.join(harness.alias("heping"))
    rooms = {r["room_id"]: r for r in await resident.hierarchy(community.room_id)}
    names = {r.get("name") for r in rooms.values()}
    assert {"和平里小区", "幸福家园"} <= names  # both compounds are listed
    assert {"邻里群", "议事厅", "小区公告", "入驻大厅", "1号楼", "志愿者服务队"} <= names
    assert "五位一体联络群" not in names  # staff rooms are not shown to residents
    assert heping_space in rooms

    # An interest group invites nobody: the resident gets in by the space membership alone.
    await resident.join(harness.alias("heping-volunteers"))
    with pytest.raises(MatrixHTTPError) as refused:
        await stranger.join(harness.alias("heping-volunteers"))
    assert refused.value.status == 403
    with pytest.raises(MatrixHTTPError) as staff_room:
        await resident.join(harness.alias("heping-five_in_one"))
    assert staff_room.value.status == 403
    # Another building's room is closed to them.
    with pytest.raises(MatrixHTTPError) as other_building:
        await resident.join(harness.alias("heping-building_3"))
    assert other_building.value.status == 403


async def test_observer_and_resident_cannot_post_in_announcements_but_staff_can(
    harness: Harness, make_user, staff_client
) -> None:
    harness.only("heping")  # one compound is enough here: half the rooms to create
    resident: ResidentClient = await make_user()
    bridge = await harness.start_bridge(apply=False)
    await bind(bridge, resident.user_id, "heping", "2")
    await bridge.provisioner.apply()

    observer = await staff_client("jiedao_zhou")
    staff = await staff_client("wuye_wang")
    announcements = await staff.join(harness.alias("heping-announcements"))
    await observer.join(announcements)
    await resident.join(announcements)

    await staff.send_text(announcements, "明天上午9点停水")
    for client in (observer, resident):
        with pytest.raises(MatrixHTTPError) as e:
            await client.send_text(announcements, "我来说两句")
        assert e.value.status == 403
    # The observer cannot post in the hall either, though residents can.
    hall = await observer.join(harness.alias("heping-hall"))
    with pytest.raises(MatrixHTTPError) as e:
        await observer.send_text(hall, "hello")
    assert e.value.status == 403
    await resident.join(hall)
    await resident.send_text(hall, "大家好")


async def test_second_apply_writes_nothing_a_topic_change_writes_one_and_removal_archives(
    harness: Harness, make_user
) -> None:
    harness.only("heping")  # one compound is enough here: half the rooms to create
    resident: ResidentClient = await make_user()
    bridge = await harness.start_bridge(apply=False)
    await bind(bridge, resident.user_id, "heping", "1")
    await bridge.provisioner.apply()

    bridge.client.requests.clear()
    await bridge.provisioner.apply()
    assert bridge.client.writes == 0

    harness.edit_compound(
        "heping",
        "  interest_groups:",
        "  rooms:\n    hall:\n      topic: 新的议事规则\n  interest_groups:",
    )
    changed = Provisioner(
        bridge.config, harness.rooms(), bridge.store, bridge.client, bridge.clock, bridge.catalogue
    )
    plan = await changed.plan()
    assert len(plan.actions) == 1
    bridge.client.requests.clear()
    await changed.apply()
    assert bridge.client.writes == 1
    hall = await resident.join(harness.alias("heping-hall"))
    assert (await resident.get_state(hall, "m.room.topic"))["topic"] == "新的议事规则"

    harness.edit_compound(
        "heping", "    dance:\n      name: 广场舞队\n      name_en: Square dance\n", ""
    )
    removed = Provisioner(
        bridge.config, harness.rooms(), bridge.store, bridge.client, bridge.clock, bridge.catalogue
    )
    await removed.apply()
    dance = await bridge.store.rooms.by_key("heping:dance")
    space = await bridge.store.rooms.by_key("compound:heping")
    assert dance is not None and dance.archived and space is not None
    await resident.join(space.room_id)
    assert await resident.get_state(space.room_id, "m.space.child", dance.room_id) == {}
    # Archived: out of reach for new members (invite-only, no alias, no parent)...
    with pytest.raises(MatrixHTTPError) as refused:
        await resident.join(dance.room_id)
    assert refused.value.status == 403
    with pytest.raises(MatrixHTTPError) as gone:
        await resident.resolve_alias(harness.alias("heping-dance"))
    assert gone.value.status == 404
    # ...and not deleted: its state and history stay, the topic says why.
    topic = (await bridge.client.get_state(dance.room_id, "m.room.topic"))["topic"]
    assert topic.startswith(ARCHIVED_MARK)
    state = await bridge.client.room_state(dance.room_id)
    assert not [e for e in state if e["type"] == "m.space.parent" and e["content"]]
    # A second apply finds nothing more to do.
    assert not (await removed.plan()).actions


async def test_broken_yaml_names_file_line_and_key_and_sends_nothing(
    harness: Harness, make_user, capsys: pytest.CaptureFixture[str]
) -> None:
    harness.edit_compound("heping", "  buildings:", "  colour: red\n  buildings:")
    config = harness.write_bridge_yaml()
    # The CLI runs its own event loop: give it a thread, as a shell would give it a process.
    assert await asyncio.to_thread(linli, ["-c", str(config), "apply"]) == 2
    err = capsys.readouterr().err
    path = harness.rooms_dir / "compounds" / "heping.yaml"
    line = next(
        n for n, text in enumerate(path.read_text().splitlines(), 1) if "colour: red" in text
    )
    assert f"{path}:{line}: compound.colour: unknown key" in err
    someone: ResidentClient = await make_user()
    with pytest.raises(MatrixHTTPError) as e:
        await someone.resolve_alias(harness.alias("sanlin"))
    assert e.value.status == 404
