"""The tickets bot run twice for one event (a crash after its change was stored, or the same
event resent): every change is made once and residents see each message once. The bridge runs
on a real SQLite store with a recording homeserver client, no network."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from bots import ALL_BOTS
from bots.tickets.bot import TicketBot
from bridge.app import Bridge
from bridge.bot import config_sections
from bridge.clock import FakeClock
from bridge.config import AppserviceConfig, BridgeConfig, DatabaseConfig
from bridge.rooms_config import load_rooms_config
from tests.recording_client import RecordingClient

EXAMPLES = Path(__file__).parents[2] / "rooms_config"
NOW = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)  # a Monday, 10:00 in Shanghai
RESIDENT = "@resident:linli.localhost"
STAFF = "@wuye_wang:linli.localhost"  # property staff in the example compound


@pytest.fixture
async def bridge(tmp_path: Path) -> AsyncIterator[Bridge]:
    token = secrets.token_hex(8)
    config = BridgeConfig(
        appservice=AppserviceConfig(as_token=token, hs_token=token),
        database=DatabaseConfig(url=f"sqlite+aiosqlite:///{tmp_path}/linli.db"),
    )
    rooms = load_rooms_config(EXAMPLES, "zh", config_sections(ALL_BOTS))
    client = RecordingClient(config.bot_user_id)
    running = Bridge(config, rooms, ALL_BOTS, client=client, clock=FakeClock(NOW))
    await running.open()
    await running.store.people.bind_household("heping", RESIDENT, "3", "1", "101", NOW)
    await running.provisioner.apply()
    yield running
    await running.store.close()


def message(bridge: Bridge, event_id: str, sender: str, body: str, room: str) -> dict[str, Any]:
    return {
        "event_id": event_id,
        "room_id": room,
        "sender": sender,
        "type": "m.room.message",
        "origin_server_ts": 1,
        "content": {"msgtype": "m.text", "body": body},
    }


async def room(bridge: Bridge, key: str) -> str:
    record = await bridge.store.rooms.by_key(f"heping:{key}")
    assert record is not None
    return record.room_id


async def test_a_mention_handled_twice_opens_one_ticket_with_one_reply(bridge: Bridge) -> None:
    client = bridge.client
    assert isinstance(client, RecordingClient)
    neighbours = await room(bridge, "neighbours")
    mention = message(bridge, "$m1", RESIDENT, "@物业 3号楼电梯坏了", neighbours)
    await bridge.router.handle(mention, NOW, fresh=True)
    await bridge.router.handle(mention, NOW, fresh=False)  # after a crash, or resent
    tickets = await bridge.bot(TicketBot).tickets.listing("heping")
    assert [t.number for t in tickets] == [1]
    replies = [b for b in client.bodies(neighbours) if "工单" in b]
    assert len(replies) == 1 and "#1" in replies[0]


async def test_done_replayed_after_its_change_asks_once_and_is_not_refused(
    bridge: Bridge,
) -> None:
    client = bridge.client
    assert isinstance(client, RecordingClient)
    neighbours = await room(bridge, "neighbours")
    staff_room = await room(bridge, "five_in_one")
    await bridge.router.handle(message(bridge, "$m1", RESIDENT, "@物业 漏水", neighbours), NOW)
    done = message(bridge, "$done", STAFF, "!工单 完成 1 换好了", staff_room)
    await bridge.router.handle(done, NOW, fresh=True)
    sent_before = len(client.sent)
    # The status is "done" now; the same command again (a crash before its inbox entry was
    # marked) must not answer "not open", and must not ask the resident a second time.
    await bridge.router.handle(done, NOW, fresh=False)
    assert len(client.sent) == sent_before
    ticket = await bridge.bot(TicketBot).tickets.get("heping", 1)
    assert ticket is not None and ticket.status == "done" and ticket.confirm_event_id
    log = await bridge.bot(TicketBot).tickets.log_of(ticket.id)
    assert [action for action, _, _ in log].count("done") == 1
    questions = [s for s in client.sent if "完成" in s.body and s.room_id == neighbours]
    assert len(questions) == 1
    assert not any("不是进行中" in b or "not open" in b for b in client.bodies())
    # A new command (another event) on a done ticket is refused, as before.
    again = message(bridge, "$done2", STAFF, "!工单 完成 1", staff_room)
    await bridge.router.handle(again, NOW, fresh=True)
    assert len(client.sent) == sent_before + 1


async def test_a_bug_in_a_command_gets_an_apology(bridge: Bridge, monkeypatch: Any) -> None:
    client = bridge.client
    assert isinstance(client, RecordingClient)
    neighbours = await room(bridge, "neighbours")

    async def broken(*args: Any, **kwargs: Any) -> None:
        raise KeyError("a bug")

    bot = bridge.bot(TicketBot)
    monkeypatch.setattr(bot.tickets, "get", broken)
    with pytest.raises(KeyError):
        await bridge.router.handle(
            message(bridge, "$c", RESIDENT, "!工单 确认 1", neighbours), NOW, fresh=True
        )
    assert client.bodies(neighbours)[-1].startswith("抱歉，出了点问题")


async def test_every_command_has_its_usage_and_summary_in_chinese_and_english(
    bridge: Bridge,
) -> None:
    missing = [
        f"{locale}: {spec.key}.{part}"
        for spec in bridge.services.commands
        for locale in ("zh", "en")
        for part in ("usage", "summary")
        if f"{spec.key}.{part}" not in bridge.catalogue.messages[locale]
    ]
    assert missing == []
    assert len(bridge.services.commands) > 20  # every bot's, not one bot's


async def test_a_work_order_states_every_time_in_one_zone(bridge: Bridge) -> None:
    neighbours = await room(bridge, "neighbours")
    await bridge.router.handle(message(bridge, "$wo", RESIDENT, "@物业 3号楼漏水", neighbours), NOW)
    bot = bridge.bot(TicketBot)
    ticket = await bot.tickets.get("heping", 1)
    assert ticket is not None
    order = bot.clock.work_order(ticket, bridge.rooms.compounds["heping"], ticket.resolution_due)
    # ISO 8601 with the offset of Linli's zone (Asia/Shanghai), both of them.
    assert order["opened_at"].endswith("+08:00") and order["due_at"].endswith("+08:00")
    assert order["opened_at"].startswith("2026-11-23T10:00")  # 02:00 UTC


async def test_an_alias_the_registration_does_not_reserve_is_one_clear_error(
    tmp_path: Path,
) -> None:
    from bridge.matrix_errors import MatrixError
    from bridge.provision.apply import RegistrationOutdated

    class Outdated(RecordingClient):
        async def create_room(self, **kwargs: Any) -> str:
            raise MatrixError(
                400,
                "M_EXCLUSIVE",
                "This application service has not reserved this kind of alias",
                "POST",
                "/_matrix/client/v3/createRoom",
            )

    token = secrets.token_hex(8)
    config = BridgeConfig(
        appservice=AppserviceConfig(as_token=token, hs_token=token),
        database=DatabaseConfig(url=f"sqlite+aiosqlite:///{tmp_path}/linli.db"),
    )
    rooms = load_rooms_config(EXAMPLES, "zh", config_sections(ALL_BOTS))
    bridge = Bridge(config, rooms, ALL_BOTS, client=Outdated(config.bot_user_id))
    await bridge.open()
    try:
        with pytest.raises(RegistrationOutdated) as e:
            await bridge.provisioner.apply()
        assert "linli registration" in str(e.value)  # one error, saying what to do
    finally:
        await bridge.store.close()
