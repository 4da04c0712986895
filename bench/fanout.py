"""No compound waits for another's fan-out: xingfu's urgent ticket reaches its escalation time
while heping's notice reminder goes out by direct message to 5,000 households; how late the
escalation fires after its due time, beside the same escalation with nothing else due (same
run, same bridge). The homeserver is a recorder that takes `LATENCY` per request (a real one
answers in milliseconds); the scheduler runs as in `linli run`, on a fake clock the bench sets.
"""

from __future__ import annotations

import asyncio
import secrets
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import insert

from bench.common import free_port
from bots import ALL_BOTS
from bots.notices.bot import NoticeBot
from bridge.app import Bridge
from bridge.bot import config_sections
from bridge.clock import FakeClock
from bridge.config import AppserviceConfig, BridgeConfig, DatabaseConfig, WebhookTarget
from bridge.rooms_config import load_rooms_config
from bridge.store.database import table_of
from bridge.store.models import Resident
from tests.recording_client import RecordingClient

EXAMPLES = Path(__file__).parents[1] / "rooms_config"
STAFF = "@wuye_wang:linli.localhost"
LATENCY = 0.002  # seconds per homeserver request
START = datetime(2026, 11, 23, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai"))


class SlowClient(RecordingClient):
    """A recording homeserver with a latency per request; notes when each message went out."""

    def __init__(self, bot_user_id: str) -> None:
        super().__init__(bot_user_id)
        self.sent_to: list[tuple[str, float]] = []  # (body, when)
        self.progress = asyncio.Event()  # set at each message
        self.latency = 0.0  # none while the bench sets up (5,000 invitations)

    async def request(self, method: str, path: str, *args: Any, **kw: Any) -> dict[str, Any]:
        if self.latency:
            await asyncio.sleep(self.latency)
        return await super().request(method, path, *args, **kw)

    async def send(self, room_id: str, content: dict[str, Any], *args: Any, **kw: Any) -> str:
        event_id = await super().send(room_id, content, *args, **kw)
        self.sent_to.append((str(content.get("body", "")), time.perf_counter()))
        self.progress.set()
        return event_id


def _message(n: int, room: str, sender: str, body: str) -> dict[str, Any]:
    return {
        "event_id": f"$fan-{n}",
        "room_id": room,
        "sender": sender,
        "type": "m.room.message",
        "origin_server_ts": 10**12 + n,
        "content": {"msgtype": "m.text", "body": body},
    }


async def _escalation_lag(
    bridge: Bridge, client: SlowClient, clock: FakeClock, n: int, with_fan_out: bool
) -> tuple[float, int]:
    """Open an urgent ticket in xingfu (its escalation due 10 minutes later); with_fan_out, a
    heping notice whose reminder fell due a minute before, its fan-out under way. Returns the
    seconds from the clock reaching the escalation's time to its message, and how many
    reminders had gone out by then."""
    records = await bridge.store.rooms.all()
    neighbours = records["xingfu:neighbours"].room_id
    resident = f"@x{n}:linli.localhost"
    await bridge.store.people.bind_household(
        "xingfu", resident, "5", "1", str(100 + n), clock.now()
    )
    # The notice's first reminder (4 hours after it) falls due a minute before the escalation.
    due = clock.now() + timedelta(hours=4, minutes=1)
    if with_fan_out:
        work = records["heping:five_in_one"].room_id
        await bridge.router.handle(
            _message(10 * n, work, STAFF, f"!通知 全体 停水 {n}"), clock.now()
        )
    clock.set(due - timedelta(minutes=10))
    await bridge.router.handle(
        _message(10 * n + 1, neighbours, resident, f"@物业 5号楼漏水了 {n}"), clock.now()
    )
    await bridge.scheduler.run_due()  # the ticket's own reminder, due at once
    marker = len(client.sent_to)
    if with_fan_out:
        clock.set(due - timedelta(minutes=1))
        while sum(1 for body, _ in client.sent_to[marker:] if "通知 #" in body) < 50:
            client.progress.clear()
            await client.progress.wait()  # the fan-out is under way
    clock.set(due)
    bridge.scheduler.wake.set()
    reached = time.perf_counter()
    deadline = reached + 120
    while time.perf_counter() < deadline:
        # The escalation names the ticket; the reminders name the notice.
        sent = [at for body, at in client.sent_to[marker:] if f"工单 #{n}" in body]
        if sent:
            reminders = sum(1 for body, _ in client.sent_to[marker:] if "通知 #" in body)
            return sent[0] - reached, reminders
        await asyncio.sleep(0.001)
    raise TimeoutError("the escalation did not fire within 2 minutes")


async def run(households: int = 5_000) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        token = secrets.token_hex(16)
        config = BridgeConfig(
            appservice=AppserviceConfig(as_token=token, hs_token=token, listen_port=free_port()),
            database=DatabaseConfig(url=f"sqlite+aiosqlite:///{tmp}/bench.db"),
            webhooks={"grid": WebhookTarget(url="http://127.0.0.1:9/grid", secret="g" * 16)},
        )
        rooms = load_rooms_config(EXAMPLES, "zh", config_sections(ALL_BOTS))
        client = SlowClient(config.bot_user_id)
        clock = FakeClock(START)
        bridge = Bridge(config, rooms, ALL_BOTS, client=client, clock=clock)
        await bridge.open()
        buildings = rooms.compounds["heping"].config.buildings
        async with bridge.store.db.transaction(touches="people") as session:
            await session.execute(
                insert(table_of(Resident)),
                [
                    {
                        "compound": "heping",
                        "user_id": f"@h{i}:linli.localhost",
                        "building": buildings[i % len(buildings)],
                        "unit": "1",
                        "room": str(100 + i),
                        "verified_at": clock.now(),
                        "is_owner": False,
                    }
                    for i in range(households)
                ],
            )
        await bridge.start(apply=True)
        client.latency = LATENCY
        alone, _ = await _escalation_lag(bridge, client, clock, 1, with_fan_out=False)
        # The first ticket's later steps out of the way (they would share xingfu's lane).
        clock.advance(timedelta(hours=3))
        await bridge.scheduler.run_due()
        beside, reminders = await _escalation_lag(bridge, client, clock, 2, with_fan_out=True)
        notices = await bridge.bot(NoticeBot).notices.listing("heping")
        await bridge.stop()
    print(
        f"escalation beside another compound's fan-out ({households} households reminded,"
        f" {LATENCY * 1000:.0f} ms a homeserver request; {len(notices)} notice)"
    )
    print(f"  baseline, nothing else due: fired {alone * 1000:7.0f} ms after its due time")
    print(
        f"  beside the fan-out:         fired {beside * 1000:7.0f} ms after its due time"
        f" ({beside / alone:.1f}× the baseline; goal < 1 s); {reminders} reminders sent by then"
    )


if __name__ == "__main__":
    asyncio.run(run())
