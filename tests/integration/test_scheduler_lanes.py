"""Ordered, not serial, for scheduled jobs too, through the real Synapse: one compound's
reminder fan-out stuck on the homeserver never holds another compound's escalation."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from tests.integration.harness import Harness
from tests.integration.test_notices import BOT, build_world, from_bot


async def test_an_escalation_fires_while_another_compounds_reminders_are_stuck(
    harness: Harness, make_user, staff_client, monkeypatch: pytest.MonkeyPatch
) -> None:
    w = await build_world(harness, make_user, staff_client, ("heping", "xingfu"))
    resident = await make_user()
    await w.bridge.store.people.bind_household(
        "xingfu", resident.user_id, "5", "1", "302", w.clock.now()
    )
    await w.bridge.provisioner.apply()
    room = await resident.join(harness.alias("xingfu-building_5"))
    manager = await staff_client("wuye_xf_jingli")
    staff_room = await manager.join(harness.alias("xingfu-five_in_one"))

    # heping: a notice whose reminders (4 hours on) go by direct message; the homeserver
    # hangs on every direct-message room from then on.
    await w.command("!通知 3 周三停电检修", lambda b: "通知 #1 已发布" in b)
    stuck = asyncio.Event()
    reminding: list[str] = []
    direct_room = w.bridge.services.direct_room

    async def hanging(user: str, here: str | None = None) -> str:
        reminding.append(user)
        await stuck.wait()
        return await direct_room(user, here)

    monkeypatch.setattr(w.bridge.services, "direct_room", hanging)
    # xingfu: an urgent ticket 10 minutes before the reminders; its first escalation is due
    # with them.
    w.clock.advance(timedelta(hours=3, minutes=50))
    await resident.send_text(room, "@物业 5号楼漏水了")
    await resident.wait_for_event(room, from_bot(lambda b: "工单 #1" in b))
    w.clock.advance(timedelta(minutes=10))

    escalation = await manager.wait_for_event(
        staff_room,
        lambda e: e["sender"] == BOT and "工单 #1 已超时" in e["content"].get("body", ""),
    )
    assert "wuye_xf_jingli" in escalation["content"]["body"]
    # heping's reminder job was under way all along (and is still held).
    assert reminding and not stuck.is_set()
    stuck.set()
