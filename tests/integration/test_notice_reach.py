"""Reach a street office can believe, through the real Synapse: every household on the roster
counted (reached by ✅, a read receipt or a 楼长 in person, or not), the visit list naming the
households with no account first, and the street office's total across compounds."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import secrets
from datetime import timedelta
from typing import Any
from urllib.parse import quote

import aiohttp
import pytest

from bridge.homeserver_version import synapse_version
from bridge.local_synapse import LocalSynapse
from bridge.roles import Role
from tests.integration.harness import Harness
from tests.integration.test_notices import (
    World,
    build_world,
    eventually,
    from_bot,
    invited_dm,
    sync_token,
)

# heping's roster: the four verified residents' households and three with no account.
ROSTER = [
    ("1", "1", "101"),  # r1
    ("1", "1", "102"),  # no account
    ("2", "1", "201"),  # r2 (building 2 is not targeted)
    ("3", "1", "101"),  # r3b, the 楼长
    ("3", "1", "102"),  # no account
    ("3", "2", "1101"),  # r3a
    ("3", "3", "301"),  # no account, told in person
]


async def import_roster(w: World) -> None:
    rows = [(b, u, r, "90.00", [], []) for b, u, r in ROSTER]
    await w.bridge.store.roster.import_roster("heping", rows, w.clock.now())


async def test_reach_counts_every_roster_household_and_the_visit_list_puts_no_account_first(
    harness: Harness, make_user, staff_client
) -> None:
    w = await build_world(harness, make_user, staff_client)
    await import_roster(w)
    await w.bridge.store.people.grant(
        "heping", w.r3b.user_id, Role.BUILDING_CONTACT, w.staff.user_id, w.clock.now()
    )
    await w.command("!通知 1,3 周四停电检修", lambda b: "通知 #1 已发布" in b)
    b3 = w.rooms["building_3"]
    notice = await w.notice_in(w.r3a, "building_3", "周四停电检修")
    await w.r3a.send_read_receipt(b3, notice["event_id"])
    await w.r3b.react(b3, notice["event_id"], "✅")
    [record] = await w.bot.notices.listing("heping")

    async def counted() -> bool:
        rows = await w.bot.notices.reach_rows(record.id)
        return w.r3a.user_id in rows.read and w.r3b.user_id in rows.acknowledged

    await eventually(counted)
    # The 楼长 knocks on a door with no account: it is on the roster, so it can be marked.
    await w.r3b.send_text(b3, "!通知 已通知 1 3-3-301")
    await w.r3b.wait_for_event(b3, from_bot(lambda b: "3-3-301 已当面通知" in b))

    answer = await w.command("!通知 回执 1", lambda b: "回执" in b)
    # Six households of buildings 1 and 3 on the roster, not the three with an account.
    assert "6 户中已送达 3 户（50%）：确认收到 1 户，已读 1 户，当面告知 1 户" in answer
    assert "按住户花名册统计：6 户，其中 3 户没有账号" in answer
    assert "1号楼：0/2 户（0%），确认 0，已读 0，当面 0" in answer
    assert "3号楼：3/4 户（75%），确认 1，已读 1，当面 1" in answer
    assert "未送达、没有账号（请先上门）：1-1-102、3-1-102" in answer
    assert "未送达、有账号：1-1-101" in answer
    assert "2号楼" not in answer and "2-1-201" not in answer

    # After the last reminder: the 楼长's list names the household with no account first (the
    # 楼长 acknowledged, so this is the first direct message).
    since = {w.r3b.user_id: await sync_token(w.r3b)}
    w.clock.advance(timedelta(hours=4))
    await w.bridge.scheduler.run_due()
    w.clock.advance(timedelta(days=1, hours=1))
    dm: list[str] = []

    async def reminded() -> bool:
        found = await invited_dm(w.r3b, since)
        dm.extend([found] if found else [])
        return bool(dm)

    await eventually(reminded)
    await w.r3b.join(dm[0])
    visits = await w.r3b.wait_for_event(dm[0], from_bot(lambda b: b.startswith("楼长您好")))
    body = visits["content"]["body"]
    assert "3-1-102（没有账号）" in body
    assert "3-3-301" not in body and "3-2-1101" not in body and "3-1-101" not in body


async def test_a_street_office_observer_gets_the_total_across_its_compounds(
    harness: Harness, make_user, staff_client
) -> None:
    w = await build_world(harness, make_user, staff_client, ("heping", "xingfu"))
    await import_roster(w)
    await w.command("!通知 3 周六消防演习", lambda b: "通知 #1 已发布" in b)
    notice = await w.notice_in(w.r3a, "building_3", "周六消防演习")
    await w.r3a.react(w.rooms["building_3"], notice["event_id"], "✅")
    [record] = await w.bot.notices.listing("heping")

    async def acknowledged() -> bool:
        return bool((await w.bot.notices.reach_rows(record.id)).acknowledged)

    await eventually(acknowledged)
    observer = await staff_client("jiedao_zhou")
    room = await observer.join(harness.alias("heping-observers"))
    await observer.send_text(room, "!通知 汇总")
    answer = (await observer.wait_for_event(room, from_bot(lambda b: "合计" in b)))["content"]
    body = answer["body"]
    # heping: one notice to building 3's four roster households, one acknowledged.
    assert "和平里小区：1 条通知，4 户次中已送达 1（25%）" in body
    # xingfu has no roster and no notice; both compounds are in the total.
    assert "（没有花名册，只算认证住户）" in body
    assert "合计 2 个小区：1 条通知，4 户次中已送达 1（25%）" in body


# ------------------------------------------------------------------ no receipt lost


async def test_a_receipt_sent_while_down_counts_after_a_restart_soon_after_the_last_catch_up(
    harness: Harness, make_user, staff_client
) -> None:
    w = await build_world(harness, make_user, staff_client)
    await w.command("!通知 3 今晚八点停气", lambda b: "通知 #1 已发布" in b)
    notice = await w.notice_in(w.r3a, "building_3", "今晚八点停气")
    # A restart reads receipts back through /sync (nothing to find yet) ...
    await w.restart()
    await w.bridge.scheduler.run_due()
    await harness.stop_bridge(w.bridge)
    # ... and within Synapse's two-minute sync cache, a receipt is sent while Linli is down.
    await w.r3a.send_read_receipt(w.rooms["building_3"], notice["event_id"])
    w.bridge = await harness.start_bridge(apply=False, clock=w.clock)
    [record] = await w.bot.notices.listing("heping")

    async def counted() -> bool:
        await w.bridge.scheduler.run_due()
        return w.r3a.user_id in (await w.bot.notices.reach_rows(record.id)).read

    await eventually(counted)
    # This Synapse delivers whole bursts: no warning, the ordinary read-back interval.
    assert await synapse_version(w.bridge.client) >= (1, 163, 0)  # type: ignore[operator]
    assert w.bot.notice_clock.receipts_complete


async def test_a_receipt_never_delivered_is_read_back_on_the_regular_schedule(
    harness: Harness, make_user, staff_client, monkeypatch: pytest.MonkeyPatch
) -> None:
    w = await build_world(harness, make_user, staff_client)
    await w.command("!通知 3 周日打扫楼道", lambda b: "通知 #1 已发布" in b)
    notice = await w.notice_in(w.r3a, "building_3", "周日打扫楼道")
    [record] = await w.bot.notices.listing("heping")
    # The receipt is lost on its way (a transaction refused by a proxy in front of Linli, or
    # Synapse 1.162's burst bug): Linli never hears of it, nor that anything was lost.
    lost: list[str] = []

    async def dropped(ctx: Any, receipt: Any) -> None:
        lost.append(receipt.user_id)

    monkeypatch.setattr(w.bot, "on_receipt", dropped)
    await w.r3a.send_read_receipt(w.rooms["building_3"], notice["event_id"])
    await eventually(lambda: asyncio.sleep(0, w.r3a.user_id in lost))
    monkeypatch.undo()
    assert w.r3a.user_id not in (await w.bot.notices.reach_rows(record.id)).read
    # While the notice is open, receipts are read back through /sync every ten minutes.
    w.clock.advance(timedelta(minutes=10))

    async def counted() -> bool:
        await w.bridge.scheduler.run_due()
        return w.r3a.user_id in (await w.bot.notices.reach_rows(record.id)).read

    await eventually(counted)


async def register_many(synapse: LocalSynapse, n: int) -> list[tuple[str, str]]:
    """`n` new users (ID, access token) through the shared-secret admin API, a few at once."""
    url = f"{synapse.base_url}/_synapse/admin/v1/register"
    secret = synapse._shared_secret().encode()
    gate = asyncio.Semaphore(16)
    tag = secrets.token_hex(3)

    async def one(http: aiohttp.ClientSession, i: int) -> tuple[str, str]:
        async with gate:
            async with http.get(url) as resp:
                nonce = str((await resp.json())["nonce"])
            name = f"burst{i}_{tag}"
            fields = (nonce, name, "pw-burst-0123", "notadmin")
            mac = hmac.new(secret, b"\x00".join(f.encode() for f in fields), hashlib.sha1)
            body = {"nonce": nonce, "username": name, "password": fields[2], "mac": mac.hexdigest()}
            async with http.post(url, json=body) as resp:
                answer = await resp.json()
            return str(answer["user_id"]), str(answer["access_token"])

    async with aiohttp.ClientSession() as http:
        return list(await asyncio.gather(*(one(http, i) for i in range(n))))


async def test_a_burst_of_400_receipts_is_all_counted_and_a_private_receipt_is_not(
    harness: Harness, make_user, staff_client, synapse: LocalSynapse
) -> None:
    w = await build_world(harness, make_user, staff_client)
    users = await register_many(synapse, 400)
    people = w.bridge.store.people
    for n, (user_id, _) in enumerate(users):
        await people.bind_household("heping", user_id, "3", "9", str(1000 + n), w.clock.now())
    await w.command("!通知 3 水箱清洗", lambda b: "通知 #1 已发布" in b)
    b3 = w.rooms["building_3"]
    notice = await w.notice_in(w.r3a, "building_3", "水箱清洗")
    gate = asyncio.Semaphore(16)
    base = f"{synapse.base_url}/_matrix/client/v3"

    async def call(http: aiohttp.ClientSession, token: str, path: str) -> None:
        async with gate:
            headers = {"Authorization": f"Bearer {token}"}
            async with http.post(f"{base}{path}", json={}, headers=headers) as resp:
                assert resp.status == 200, await resp.text()

    room, event = quote(b3, safe=""), quote(notice["event_id"], safe="")
    async with aiohttp.ClientSession() as http:
        for user_id, _ in users:
            await w.bridge.client.invite(b3, user_id)
        await asyncio.gather(*(call(http, token, f"/rooms/{room}/join") for _, token in users))
        # A resident who hides her reading: a private receipt, never counted.
        await w.r3a.call(
            "POST", f"/_matrix/client/v3/rooms/{room}/receipt/m.read.private/{event}", {}
        )
        gate = asyncio.Semaphore(100)  # the burst: many in flight at once
        await asyncio.gather(
            *(call(http, token, f"/rooms/{room}/receipt/m.read/{event}") for _, token in users)
        )
    [record] = await w.bot.notices.listing("heping")
    everyone = {user_id for user_id, _ in users}

    async def counted() -> bool:
        return everyone <= (await w.bot.notices.reach_rows(record.id)).read

    await eventually(counted, timeout=60)
    # Read back through /sync too: still not the private one, and nothing counted twice.
    await w.restart()
    await w.bridge.scheduler.run_due()
    rows = await w.bot.notices.reach_rows(record.id)
    assert rows.read == everyone
    answer = await w.command("!通知 回执 1", lambda b: "回执" in b)
    assert "3号楼：400/402 户" in answer
