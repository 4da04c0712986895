"""A 接龙 of 500 sign-ups arriving within a minute: 500 residents tap 🙋 under one activity
(300 places, so 200 wait), each tap its own transaction through the appservice endpoint, the
inbox and the bots, paced over the minute. Measured: every sign-up recorded once, the number
of edits of the live list (coalesced, not 500) and how long after the last tap the posted list
is current. Beside it, in the same run: plain chatter messages through the same bridge (the
baseline rate), and the same 500 taps under a second activity pushed as fast as they go.
The homeserver is a recording client; the database SQLite in a temporary folder.
"""

from __future__ import annotations

import asyncio
import secrets
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
from sqlalchemy import func, insert, select

from bench.common import free_port
from bench.notices import TimingClient
from bots import ALL_BOTS
from bots.community.bot import CommunityBot
from bots.community.models import ActivityLog, SignUp
from bridge.app import Bridge
from bridge.bot import config_sections
from bridge.config import AppserviceConfig, BridgeConfig, DatabaseConfig, MetricsConfig
from bridge.rooms_config import load_rooms_config
from bridge.store.database import table_of
from bridge.store.models import Resident

EXAMPLES = Path(__file__).parents[1] / "rooms_config"
STAFF = "@wuye_wang:linli.localhost"
PLACES = 300


def _tap(n: int, room: str, user: str, card: str) -> dict[str, Any]:
    return {
        "event_id": f"$tap-{card[1:]}-{n}",
        "room_id": room,
        "sender": user,
        "type": "m.reaction",
        "origin_server_ts": 10**12 + n,
        "content": {"m.relates_to": {"rel_type": "m.annotation", "event_id": card, "key": "🙋"}},
    }


def _message(n: int, room: str, user: str, body: str) -> dict[str, Any]:
    return {
        "event_id": f"$chat-{n}",
        "room_id": room,
        "sender": user,
        "type": "m.room.message",
        "origin_server_ts": 10**12 + n,
        "content": {"msgtype": "m.text", "body": body},
    }


class Pusher:
    """The homeserver's side of the appservice API: one transaction at a time, in order."""

    def __init__(self, port: int, token: str) -> None:
        self.url = f"http://127.0.0.1:{port}/_matrix/app/v1/transactions/"
        self.headers = {"Authorization": f"Bearer {token}"}
        self.txn = 0
        self.http = aiohttp.ClientSession()

    async def push(self, events: list[dict[str, Any]]) -> None:
        self.txn += 1
        async with self.http.put(
            f"{self.url}{self.txn}", json={"events": events}, headers=self.headers
        ) as resp:
            assert resp.status == 200, resp.status

    async def close(self) -> None:
        await self.http.close()


async def run(signups: int = 500, seconds: float = 60.0) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        port = free_port()
        token = secrets.token_hex(16)
        config = BridgeConfig(
            appservice=AppserviceConfig(as_token=token, hs_token=token, listen_port=port),
            database=DatabaseConfig(url=f"sqlite+aiosqlite:///{tmp}/bench.db"),
            metrics=MetricsConfig(listen_port=0),
        )
        rooms = load_rooms_config(EXAMPLES, "zh", config_sections(ALL_BOTS))
        client = TimingClient(config.bot_user_id)
        bridge = Bridge(config, rooms, ALL_BOTS, client=client)
        await bridge.open()
        now = bridge.clock.now()
        residents = [f"@r{i}:linli.localhost" for i in range(signups)]
        async with bridge.store.db.transaction(touches="people") as session:
            await session.execute(
                insert(table_of(Resident)),
                [
                    {
                        "compound": "heping",
                        "user_id": user,
                        "building": str(1 + i % 3),
                        "unit": "1",
                        "room": str(101 + i),
                        "verified_at": now,
                        "is_owner": False,
                    }
                    for i, user in enumerate(residents)
                ],
            )
        await bridge.start(apply=True)
        neighbours = (await bridge.store.rooms.all())["heping:neighbours"].room_id
        desk = bridge.bot(CommunityBot).desk
        cards = []
        for n in (1, 2):
            body = f"!活动 包饺子{n} | 时间 23:59 | 地点 活动室 | 名额 {PLACES}"
            await bridge.router.handle(_message(10**6 + n, neighbours, STAFF, body), now)
            [(_, card)] = await desk.activities.posts(n)
            cards.append(card)
        pusher = Pusher(port, token)

        # Baseline: chatter messages by the same residents in the same room, as fast as they go.
        start = time.perf_counter()
        for i in range(0, signups, 10):
            await pusher.push(
                [_message(i + k, neighbours, residents[i + k], "大家好") for k in range(10)]
            )
        await bridge.worker.drain()
        chatter_rate = signups / (time.perf_counter() - start)

        # The same number of taps under the second activity, as fast as they go.
        start = time.perf_counter()
        for i in range(0, signups, 10):
            await pusher.push(
                [_tap(i + k, neighbours, residents[i + k], cards[1]) for k in range(10)]
            )
        await bridge.worker.drain()
        burst_rate = signups / (time.perf_counter() - start)

        # The 接龙: one tap a transaction, spread evenly over the minute.
        client.sent_at.clear()
        sent_before = len(client.sent)
        begin = time.perf_counter()
        for i, user in enumerate(residents):
            await asyncio.sleep(max(0.0, begin + i * seconds / signups - time.perf_counter()))
            await pusher.push([_tap(i, neighbours, user, cards[0])])
        last_tap = time.perf_counter()
        await bridge.worker.drain()
        want = f"—— 接龙（{min(signups, PLACES)} 人）——"
        if signups > PLACES:
            want = f"—— 候补（{signups - PLACES} 人）——"
        current_at = None
        deadline = last_tap + 10
        while current_at is None and time.perf_counter() < deadline:
            for sent, at in zip(client.sent[sent_before:], client.sent_at, strict=False):
                relates = sent.content.get("m.relates_to", {})
                if relates.get("event_id") == cards[0] and want in sent.content.get(
                    "m.new_content", {}
                ).get("body", ""):
                    current_at = at
                    break
            await asyncio.sleep(0.05)
        edits = [
            s
            for s in client.sent[sent_before:]
            if s.content.get("m.relates_to", {}).get("rel_type") == "m.replace"
            and s.content["m.relates_to"]["event_id"] == cards[0]
        ]
        activity = await desk.activities.by_number("heping", 1)
        assert activity is not None
        async with bridge.store.db.sessions() as session:
            rows = (
                await session.execute(
                    select(func.count(), func.count(func.distinct(SignUp.user_id))).where(
                        SignUp.activity_id == activity.id, SignUp.active.is_(True)
                    )
                )
            ).one()
            joins = (
                await session.execute(
                    select(func.count()).where(
                        ActivityLog.activity_id == activity.id, ActivityLog.action == "join"
                    )
                )
            ).scalar_one()
        await pusher.close()
        await bridge.stop()

    print(f"接龙: {signups} taps on one activity ({PLACES} places), one a transaction")
    print(f"  baseline, chatter messages:          {chatter_rate:8.0f} events/s")
    print(
        f"  taps as fast as they go:             {burst_rate:8.0f} events/s"
        f"  ({burst_rate / chatter_rate:.2f}× the chatter rate)"
    )
    print(
        f"  paced over {seconds:.0f} s: recorded {rows[0]} sign-ups of {rows[1]} people,"
        f" {joins} join log lines (each once: {rows[0] == rows[1] == joins == signups})"
    )
    lag = "never" if current_at is None else f"{current_at - last_tap:.2f} s"
    print(
        f"  list current {lag} after the last tap (goal ≤ 2 s), {len(edits)} edits"
        f" for {signups} taps ({signups / max(1, len(edits)):.0f} taps an edit)"
    )


if __name__ == "__main__":
    quick = "--quick" in sys.argv
    asyncio.run(run(500, 15.0) if quick else run())
