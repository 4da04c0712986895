"""The appservice endpoint and the inbox: auth, exactly once across repeats, restarts, crashes."""

from __future__ import annotations

import itertools
from typing import Any

import aiohttp
from sqlalchemy import update

from bridge.store.models import InboxEvent
from tests.integration.harness import Harness
from tests.integration.matrix_client import ResidentClient

_ids = itertools.count()


def help_event(room_id: str, sender: str) -> dict[str, Any]:
    """An event as Synapse would push it: a resident asks for help."""
    return {
        "event_id": f"$linli-test-{next(_ids)}-{id(room_id)}",
        "room_id": room_id,
        "sender": sender,
        "type": "m.room.message",
        "origin_server_ts": 1,
        "content": {"msgtype": "m.text", "body": "!帮助"},
    }


async def put_transaction(
    harness: Harness, txn_id: str, events: list[dict[str, Any]], token: str | None = "hs"
) -> int:
    headers = {}
    if token == "hs":
        headers["Authorization"] = f"Bearer {harness.hs_token}"
    elif token is not None:
        headers["Authorization"] = f"Bearer {token}"
    url = f"http://127.0.0.1:{harness.port}/_matrix/app/v1/transactions/{txn_id}"
    async with aiohttp.ClientSession() as http:
        async with http.put(url, json={"events": events}, headers=headers) as resp:
            return resp.status


async def bot_replies(
    client: ResidentClient, room_id: str, harness: Harness
) -> list[dict[str, Any]]:
    bot = harness.config.bot_user_id
    return [
        e
        for e in await client.messages(room_id, limit=100)
        if e["sender"] == bot and e["type"] == "m.room.message"
    ]


async def resident_in_neighbours(harness: Harness, make_user) -> tuple[ResidentClient, str, Any]:
    harness.only("heping")
    resident: ResidentClient = await make_user()
    bridge = await harness.start_bridge(apply=False)
    await bridge.store.people.bind_household(
        "heping", resident.user_id, "1", "1", "101", bridge.clock.now()
    )
    await bridge.provisioner.apply()
    room = await resident.join(harness.alias("heping-neighbours"))
    return resident, room, bridge


async def test_wrong_or_missing_token_is_refused(harness: Harness) -> None:
    await harness.start_bridge(apply=False)
    assert await put_transaction(harness, "auth-1", [], token=None) == 401
    assert await put_transaction(harness, "auth-2", [], token="not-the-token") == 403
    assert await put_transaction(harness, "auth-3", [], token="hs") == 200
    url = f"http://127.0.0.1:{harness.port}/_matrix/app/v1/transactions/auth-4"
    async with aiohttp.ClientSession() as http:
        # legacy query-parameter auth
        async with http.put(
            url, params={"access_token": harness.hs_token}, json={"events": []}
        ) as r:
            assert r.status == 200
        async with http.put(
            url + "x", data=b"{not json", headers={"Authorization": f"Bearer {harness.hs_token}"}
        ) as r:
            assert r.status == 400


async def test_malformed_transaction_is_refused_and_stores_nothing(harness: Harness) -> None:
    bridge = await harness.start_bridge(apply=False, process_inbox=False)
    before = await bridge.store.inbox.counts()
    assert await put_transaction(harness, "bad-1", [{"no": "event_id"}]) == 400
    assert await bridge.store.inbox.counts() == before
    # and the same txnId with a good body is then accepted
    assert await put_transaction(harness, "bad-1", []) == 200
    # a body over the configured limit is refused before it is read
    huge = [{"event_id": "$big", "content": {"body": "x" * (5 * 1024 * 1024)}}]
    assert await put_transaction(harness, "big-1", huge) == 413
    assert await bridge.store.inbox.status_of("$big") is None


async def test_help_from_a_resident_is_answered_in_the_room(harness: Harness, make_user) -> None:
    resident, room, _ = await resident_in_neighbours(harness, make_user)
    bot = harness.config.bot_user_id
    await resident.send_text(room, "!帮助")
    reply = await resident.wait_for_event(
        room, lambda e: e["sender"] == bot and e["content"].get("msgtype") == "m.notice"
    )
    assert reply["content"]["body"].startswith("您可以用这些命令")
    assert "!帮助" in reply["content"]["body"]
    assert "找物业" in reply["content"]["body"]  # how a resident reaches the property company
    assert "!认证" not in reply["content"]["body"]  # verified already: not offered

    await resident.send_text(room, "!飞天")
    reply = await resident.wait_for_event(
        room, lambda e: e["sender"] == bot and "飞天" in e["content"].get("body", "")
    )
    assert reply["content"]["body"] == "没有“飞天”这个命令。发送 !帮助 看看能做什么。"

    await resident.send_text(room, "!help please")
    reply = await resident.wait_for_event(
        room, lambda e: e["sender"] == bot and e["content"].get("body", "").startswith("用法")
    )
    assert reply["content"]["body"] == "用法：!帮助"


async def test_same_txn_twice_and_across_a_restart_is_processed_once(
    harness: Harness, make_user
) -> None:
    resident, room, bridge = await resident_in_neighbours(harness, make_user)
    before = len(await bot_replies(resident, room, harness))
    event = help_event(room, resident.user_id)
    assert await put_transaction(harness, "dup-1", [event]) == 200
    await resident.wait_for_event(room, lambda e: e["sender"] == harness.config.bot_user_id)
    assert await put_transaction(harness, "dup-1", [event]) == 200
    await bridge.worker.drain()

    await harness.stop_bridge(bridge)
    restarted = await harness.start_bridge(apply=False)
    assert await put_transaction(harness, "dup-1", [event]) == 200
    # Synapse may also resend the event in a new transaction: still stored once.
    assert await put_transaction(harness, "dup-2", [event]) == 200
    await restarted.worker.drain()
    assert await restarted.store.inbox.status_of(event["event_id"]) == "done"
    assert len(await bot_replies(resident, room, harness)) == before + 1


async def test_crash_after_acknowledging_processes_the_event_once_on_restart(
    harness: Harness, make_user
) -> None:
    resident, room, bridge = await resident_in_neighbours(harness, make_user)
    await harness.stop_bridge(bridge)
    # The bridge acknowledges but dies before processing: the inbox keeps the event.
    crashing = await harness.start_bridge(apply=False, process_inbox=False)
    before = len(await bot_replies(resident, room, harness))
    event = help_event(room, resident.user_id)
    assert await put_transaction(harness, "crash-1", [event]) == 200
    assert await crashing.store.inbox.status_of(event["event_id"]) == "pending"
    await harness.stop_bridge(crashing)

    restarted = await harness.start_bridge(apply=False)
    await resident.wait_for_event(room, lambda e: e["sender"] == harness.config.bot_user_id)
    await restarted.worker.drain()
    assert await restarted.store.inbox.status_of(event["event_id"]) == "done"

    # A crash after the reply went out but before "done" was stored: processed again, and the
    # derived transaction ID makes the homeserver drop the repeat.
    async with restarted.store.db.transaction() as session:
        await session.execute(
            update(InboxEvent)
            .where(InboxEvent.event_id == event["event_id"])
            .values(status="pending")
        )
    await harness.stop_bridge(restarted)
    again = await harness.start_bridge(apply=False)
    await again.worker.drain()
    assert await again.store.inbox.status_of(event["event_id"]) == "done"
    assert len(await bot_replies(resident, room, harness)) == before + 1
