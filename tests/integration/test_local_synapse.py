"""The session's Synapse works as a resident's client sees it: the fixture's own checks."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest

from bridge.local_synapse import LocalSynapse
from tests.integration.matrix_client import MatrixHTTPError, ResidentClient

MakeUser = Callable[[], Awaitable[ResidentClient]]


async def test_a_user_creates_a_room_sends_and_reads_it_back(make_user: MakeUser) -> None:
    alice = await make_user()
    bob = await make_user()
    created = await alice.call("POST", "/_matrix/client/v3/createRoom", {"preset": "public_chat"})
    room_id = str(created["room_id"])
    assert await bob.join(room_id) == room_id
    sent = await alice.send_text(room_id, "你好，邻居", mentions=[bob.user_id])

    seen = await bob.wait_for_event(room_id, lambda e: e["event_id"] == sent)
    assert seen["sender"] == alice.user_id
    assert seen["content"]["body"] == "你好，邻居"
    assert seen["content"]["m.mentions"] == {"user_ids": [bob.user_id]}
    assert room_id in await bob.joined_rooms()
    assert (await alice.messages(room_id))[-1]["event_id"] == sent  # newest last

    # wait_for_event also sees what arrives after it started (its long-polling /sync).
    waiting = asyncio.create_task(
        alice.wait_for_event(room_id, lambda e: e["content"].get("body") == "收到")
    )
    await asyncio.sleep(0.3)
    assert not waiting.done()
    later = await bob.send_text(room_id, "收到")
    reply = await waiting
    assert reply["event_id"] == later and reply["room_id"] == room_id


async def test_registering_a_localpart_twice_returns_the_same_user(synapse: LocalSynapse) -> None:
    first = await synapse.register_user("twice", "pw-one", displayname="Twice")
    again = await synapse.register_user("twice", "pw-two")
    assert first == again == "@twice:linli.localhost"
    # The second call changed nothing: the first password still works.
    assert await synapse.login(first, "pw-one")


async def test_an_unknown_access_token_is_refused(synapse: LocalSynapse) -> None:
    stranger = ResidentClient(synapse.base_url, "@nobody:linli.localhost", "not-a-token")
    try:
        with pytest.raises(MatrixHTTPError) as refused:
            await stranger.joined_rooms()
        assert refused.value.status == 401
        assert refused.value.errcode == "M_UNKNOWN_TOKEN"
    finally:
        await stranger.close()


async def test_what_synapse_keeps_on_disk_is_its_users_alone(synapse: LocalSynapse) -> None:
    # Its database holds every message and access token; others on the machine read none.
    assert synapse.data_dir.stat().st_mode & 0o777 == 0o700
    written = [p for p in synapse.data_dir.rglob("*") if p.name != "stderr.log"]
    assert any(p.name.startswith("homeserver.db") for p in written)
    readable = [str(p) for p in written if p.stat().st_mode & 0o077]
    assert readable == []
