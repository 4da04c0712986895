"""What the homeserver sends again is handled once: the same event in two transactions, and a
transaction resent after Synapse restarted (it then numbers its transactions from 1 again, so a
new transaction may carry an old one's txnId). Linli runs as a process of its own; the test
speaks the application service API to it as Synapse does (PUT, hs_token)."""

from __future__ import annotations

import asyncio
import secrets
import sqlite3
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bridge.local_synapse import LocalSynapse
from tests.integration.conftest import SERVER, Session
from tests.integration.linli_process import LinliProcess
from tests.integration.lobby import from_bot, verify_in_lobby
from tests.integration.matrix_client import MatrixHTTPError, ResidentClient, q


@pytest.fixture
async def linli(session: Session, tmp_path: Path) -> AsyncIterator[LinliProcess]:
    process = LinliProcess(
        tmp_path / "linli",
        session.synapse.base_url,
        SERVER,
        session.as_token,
        session.hs_token,
        session.port,
    )
    await process.start()
    yield process
    await process.stop()


def in_thread(root: str) -> Callable[[dict[str, Any]], bool]:
    def check(event: dict[str, Any]) -> bool:
        relation = event["content"].get("m.relates_to") or {}
        return relation.get("rel_type") == "m.thread" and relation.get("event_id") == root

    return check


async def resident_in_neighbours(
    linli: LinliProcess, make_user: Any, staff_client: Any
) -> tuple[ResidentClient, str]:
    resident: ResidentClient = await make_user()
    committee = await staff_client("juwei_chen")
    room = await verify_in_lobby(linli, resident, committee, "3-2-1101", "住户甲")
    return resident, room


async def mention(linli: LinliProcess, resident: ResidentClient, room: str, text: str) -> str:
    """A ticket mention, answered and handled: Linli handles events in order, so everything the
    homeserver (or the test) delivered before it has been handled too."""
    event_id = await resident.send_text(room, text)
    opened = from_bot(linli, lambda b: "工单 #" in b)
    await resident.wait_for_event(room, lambda e: opened(e) and in_thread(event_id)(e), 30)
    assert await linli.wait_handled(event_id) == "done"
    return event_id


async def as_pushed(client: ResidentClient, room: str, event_id: str) -> dict[str, Any]:
    """The event in the client-server format the homeserver pushes to an appservice."""
    event = await client.call("GET", f"/_matrix/client/v3/rooms/{q(room)}/event/{q(event_id)}")
    return {**event, "room_id": room}


async def bot_replies(
    linli: LinliProcess, client: ResidentClient, room: str, root: str
) -> list[str]:
    events = await client.messages(room, 200)
    return [
        e["content"]["body"]
        for e in events
        if from_bot(linli, lambda _: True)(e) and in_thread(root)(e)
    ]


def tickets_for(linli: LinliProcess, event_id: str) -> int:
    return int(
        linli.query("SELECT count(*) FROM tickets WHERE source_event_id = ?", [event_id])[0][0]
    )


def txn_of(linli: LinliProcess, event_id: str) -> str:
    """The homeserver's txnId of the transaction that brought the event (Linli keys it with a
    digest of what the transaction carried: "<txnId>:<digest>")."""
    rows = linli.query("SELECT txn_id FROM inbox_events WHERE event_id = ?", [event_id])
    assert rows, f"{event_id} is not in Linli's inbox"
    return str(rows[0][0]).split(":", 1)[0]


async def delivered_so_far(linli: LinliProcess, client: ResidentClient, room: str) -> None:
    """Until the homeserver has pushed everything so far (Linli's own answers too): it pushes in
    order, so a chat message sent now reaching Linli's inbox means everything before it did.
    A transaction Synapse made but had not sent when it stops waits, unsent, until the service
    next fails; and it makes the numbering start after it rather than from 1."""
    event_id = await client.send_text(room, "好的，谢谢")
    for _ in range(300):
        if linli.query("SELECT 1 FROM inbox_events WHERE event_id = ?", [event_id]):
            return
        await asyncio.sleep(0.1)  # polling Linli's database: nothing else to wait on
    raise TimeoutError(f"{event_id} did not reach Linli")


async def restart(synapse: LocalSynapse, client: ResidentClient) -> None:
    await synapse.stop()
    await synapse.start()
    # The client's pooled connections went with the old process: the first calls may fail.
    for _ in range(50):
        try:
            await client.joined_rooms()
            return
        except (aiohttp.ClientError, MatrixHTTPError):
            await asyncio.sleep(0.1)
    await client.joined_rooms()


async def test_an_event_in_two_new_transactions_opens_one_ticket_with_one_reply(
    linli: LinliProcess, make_user: Any, staff_client: Any
) -> None:
    resident, room = await resident_in_neighbours(linli, make_user, staff_client)
    event_id = await mention(linli, resident, room, "@物业 3号楼电梯坏了")
    event = await as_pushed(resident, room, event_id)
    # Synapse delivered it once; here it comes twice more, each time in a new transaction.
    for name in ("again", "and-again"):
        assert await linli.put_transaction(f"{name}-{secrets.token_hex(4)}", [event]) == 200
    await mention(linli, resident, room, "@物业 2号楼路灯坏了")

    replies = await bot_replies(linli, resident, room, event_id)
    print(f"replies in the thread: {replies}")
    assert len(replies) == 1, replies
    assert tickets_for(linli, event_id) == 1
    assert linli.query("SELECT count(*) FROM tickets") == [(2,)]
    assert linli.query("SELECT count(*) FROM inbox_events WHERE status != 'done'") == [(0,)]


async def test_after_synapse_restarts_new_transactions_are_handled_and_old_ones_are_not(
    session: Session, linli: LinliProcess, make_user: Any, staff_client: Any
) -> None:
    resident, room = await resident_in_neighbours(linli, make_user, staff_client)
    synapse = session.synapse
    try:
        await delivered_so_far(linli, resident, room)
        await restart(synapse, resident)
        first = await mention(linli, resident, room, "@物业 1号楼电梯坏了")
        [opened_first] = await bot_replies(linli, resident, room, first)
        await delivered_so_far(linli, resident, room)
        await restart(synapse, resident)
        # Numbered like the first one's transaction: new all the same, and handled.
        second = await mention(linli, resident, room, "@物业 2号楼水管坏了")
    finally:
        if not synapse.running:
            await synapse.start()
    assert txn_of(linli, first) == txn_of(linli, second), (
        "Synapse did not number its transactions from the same start after each restart: "
        "this test no longer makes a new transaction carry an old txnId"
    )

    event = await as_pushed(resident, room, first)
    # Synapse resending a transaction it had no answer for: the same txnId, the same events.
    assert await linli.put_transaction(txn_of(linli, first), [event]) == 200
    third = await mention(linli, resident, room, "@物业 3号楼门禁坏了")
    assert await bot_replies(linli, resident, room, first) == [opened_first]
    # An old event in a new transaction: what a Synapse that restarted before saving how far it
    # had pushed sends. Its send cache (about 30 minutes, in memory) went with the restart, so
    # only Linli can keep a second reply out of the thread.
    assert await linli.put_transaction(f"later-{secrets.token_hex(4)}", [event]) == 200
    fourth = await mention(linli, resident, room, "@物业 4号楼电梯坏了")

    for root in (first, second, third, fourth):
        replies = await bot_replies(linli, resident, room, root)
        print(f"replies to {root}: {replies}")
        assert len(replies) == 1, replies
        assert tickets_for(linli, root) == 1
    assert linli.query("SELECT count(*) FROM tickets") == [(4,)]


def strand_unsent_transactions(synapse: LocalSynapse) -> list[int]:
    """What Synapse's recoverer race leaves behind (bridge/txn_gaps.py), made on purpose with
    Synapse stopped: the transactions it queued while Linli was down stay in its database,
    but the service is marked up, so at start no recoverer sends them."""
    db = sqlite3.connect(synapse.data_dir / "homeserver.db")
    try:
        unsent = [int(t) for (t,) in db.execute("SELECT txn_id FROM application_services_txns")]
        db.execute("UPDATE application_services_state SET state = 'up'")
        db.commit()
    finally:
        db.close()
    return unsent


async def test_a_transaction_stranded_in_the_homeserver_is_fetched_by_the_gap_it_leaves(
    session: Session, linli: LinliProcess, make_user: Any, staff_client: Any
) -> None:
    resident, room = await resident_in_neighbours(linli, make_user, staff_client)
    synapse = session.synapse
    await delivered_so_far(linli, resident, room)
    await linli.stop()
    # Linli is down: Synapse fails to deliver this, marks Linli down and queues it.
    stranded = await resident.send_text(room, "@物业 5号楼楼道灯不亮")
    for _ in range(100):  # until Synapse has tried, failed and written it down
        await asyncio.sleep(0.1)
        if synapse_holds_unsent(synapse):
            break
    try:
        await synapse.stop()
        unsent = strand_unsent_transactions(synapse)
        await synapse.start()
        await restart_client(resident)
    finally:
        if not synapse.running:
            await synapse.start()
    assert unsent, "Synapse queued nothing while Linli was down: nothing stranded to test"
    await linli.start()
    # A new message: its transaction skips the stranded one's number, so Linli refuses it once
    # and the homeserver's recoverer sends the stranded one first.
    later = await mention(linli, resident, room, "@物业 6号楼电梯坏了")
    await resident.wait_for_event(room, in_thread(stranded), 30)
    assert tickets_for(linli, stranded) == 1 and tickets_for(linli, later) == 1
    assert "skips one not received" in linli.log_text()
    opened = linli.query(
        "SELECT source_event_id FROM tickets WHERE source_event_id IN (?, ?) ORDER BY number",
        [stranded, later],
    )
    assert [e for (e,) in opened] == [stranded, later]  # in the order the residents wrote
    assert not synapse_holds_unsent(synapse)


def synapse_holds_unsent(synapse: LocalSynapse) -> bool:
    db = sqlite3.connect(f"file:{synapse.data_dir / 'homeserver.db'}?mode=ro", uri=True)
    try:
        return bool(db.execute("SELECT count(*) FROM application_services_txns").fetchone()[0])
    finally:
        db.close()


async def restart_client(client: ResidentClient) -> None:
    """The client's pooled connections went with the old Synapse: until a call gets through."""
    for _ in range(50):
        try:
            await client.joined_rooms()
            return
        except (aiohttp.ClientError, MatrixHTTPError):
            await asyncio.sleep(0.1)
    await client.joined_rooms()
