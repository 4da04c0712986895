"""Reach of one notice to a compound of 5,000 roster households (4,000 with a verified
resident, counted against the roster): 20,000 read receipts and ✅ reactions
pushed through the appservice endpoint and the bots, beside plain chatter events through the
same bridge (the baseline); then the time to answer `!通知 回执` over them. The homeserver is a
recording client; the database SQLite in a temporary folder.
"""

from __future__ import annotations

import asyncio
import random
import secrets
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
from sqlalchemy import insert

from bench.common import free_port
from bots import ALL_BOTS
from bots.notices.bot import NoticeBot
from bridge.app import Bridge
from bridge.bot import config_sections
from bridge.config import AppserviceConfig, BridgeConfig, DatabaseConfig, MetricsConfig
from bridge.rooms_config import load_rooms_config
from bridge.store.database import table_of
from bridge.store.models import Resident
from tests.recording_client import RecordingClient

EXAMPLES = Path(__file__).parents[1] / "rooms_config"
STAFF = "@wuye_wang:linli.localhost"
BATCH = 100  # events per transaction


class TimingClient(RecordingClient):
    """A recording homeserver that notes when each message was sent (perf_counter)."""

    def __init__(self, bot_user_id: str) -> None:
        super().__init__(bot_user_id)
        self.sent_at: list[float] = []

    async def send(self, *args: Any, **kw: Any) -> str:
        event_id = await super().send(*args, **kw)
        self.sent_at.append(time.perf_counter())
        return event_id


async def _push(port: int, token: str, txns: list[dict[str, Any]], first: int) -> None:
    async with aiohttp.ClientSession() as http:
        for i, body in enumerate(txns, start=first):
            async with http.put(
                f"http://127.0.0.1:{port}/_matrix/app/v1/transactions/{i}",
                json=body,
                headers={"Authorization": f"Bearer {token}"},
            ) as resp:
                assert resp.status == 200, resp.status


def _message(n: int, room: str, sender: str, body: str) -> dict[str, Any]:
    return {
        "event_id": f"$bench-{n}",
        "room_id": room,
        "sender": sender,
        "type": "m.room.message",
        "origin_server_ts": 10**12 + n,
        "content": {"msgtype": "m.text", "body": body},
    }


async def run(households: int = 5_000, signals: int = 20_000) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        port = free_port()
        token = secrets.token_hex(16)
        config = BridgeConfig(
            appservice=AppserviceConfig(as_token=token, hs_token=token, listen_port=port),
            database=DatabaseConfig(url=f"sqlite+aiosqlite:///{tmp}/bench.db"),
            metrics=MetricsConfig(listen_port=0),  # any free port: a demo may run
        )
        rooms = load_rooms_config(EXAMPLES, "zh", config_sections(ALL_BOTS))
        client = TimingClient(config.bot_user_id)
        bridge = Bridge(config, rooms, ALL_BOTS, client=client)
        await bridge.open()
        now = bridge.clock.now()
        buildings = rooms.compounds["heping"].config.buildings

        def home(i: int) -> tuple[str, str, str]:
            b = buildings[i % len(buildings)]
            return b, str(1 + i // len(buildings) % 6), str(101 + i // (6 * len(buildings)))

        # The roster holds every household; four in five have a verified resident (the rest
        # have no account, and reach is counted against the roster).
        await bridge.store.roster.import_roster(
            "heping", [(*home(i), "90.00", [], []) for i in range(households)], bridge.clock.now()
        )
        residents = [f"@h{i}:linli.localhost" for i in range(households * 4 // 5)]
        async with bridge.store.db.transaction(touches="people") as session:
            await session.execute(
                insert(table_of(Resident)),
                [
                    {
                        "compound": "heping",
                        "user_id": user,
                        "building": home(i)[0],
                        "unit": home(i)[1],
                        "room": home(i)[2],
                        "verified_at": now,
                        "is_owner": False,
                    }
                    for i, user in enumerate(residents)
                ],
            )
        await bridge.start(apply=True)
        records = await bridge.store.rooms.all()
        room_of = {k: records[f"heping:{k}"].room_id for k in ("announcements", "five_in_one")}
        for b in buildings:
            room_of[f"building_{b}"] = records[f"heping:building_{b}"].room_id
        await bridge.router.handle(
            _message(0, room_of["five_in_one"], STAFF, "!通知 全体 明天 9:00-12:00 停水"), now
        )
        posts = await bridge.bot(NoticeBot).notices.posts(1)
        post_of = {p.room_id: p.event_id for p in posts}
        rng = random.Random(11)

        # Signals: ≈80% read receipts (each resident in their building room or announcements,
        # some twice), ≈20% ✅ reactions (at most one per resident and post).
        signal_txns: list[dict[str, Any]] = []
        reacted: set[tuple[str, str]] = set()
        events: list[dict[str, Any]] = []
        ephemeral: list[dict[str, Any]] = []
        for n in range(signals):
            i = rng.randrange(len(residents))
            user = residents[i]
            room = rng.choice(
                [room_of["announcements"], room_of[f"building_{buildings[i % len(buildings)]}"]]
            )
            target = post_of[room]
            if rng.random() < 0.2 and (user, target) not in reacted:
                reacted.add((user, target))
                events.append(
                    {
                        "event_id": f"$react-{n}",
                        "room_id": room,
                        "sender": user,
                        "type": "m.reaction",
                        "origin_server_ts": 10**12 + n,
                        "content": {
                            "m.relates_to": {
                                "rel_type": "m.annotation",
                                "event_id": target,
                                "key": "✅",
                            }
                        },
                    }
                )
            else:
                ephemeral.append(
                    {
                        "type": "m.receipt",
                        "room_id": room,
                        "content": {target: {"m.read": {user: {"ts": 10**12 + n}}}},
                    }
                )
            if len(events) + len(ephemeral) == BATCH:
                signal_txns.append({"events": events, "ephemeral": ephemeral})
                events, ephemeral = [], []
        if events or ephemeral:
            signal_txns.append({"events": events, "ephemeral": ephemeral})

        # Baseline: as many chatter messages, in the same rooms, by the same residents.
        chatter_txns = [
            {
                "events": [
                    _message(
                        1 + t * BATCH + k,
                        rng.choice(list(post_of)),
                        residents[rng.randrange(len(residents))],
                        rng.choice(["大家好", "收到", "几点停水", "谢谢"]),
                    )
                    for k in range(BATCH)
                ]
            }
            for t in range(signals // BATCH)
        ]

        start = time.perf_counter()
        await _push(port, token, chatter_txns, 1)
        await bridge.worker.drain()
        chatter_time = time.perf_counter() - start

        start = time.perf_counter()
        await _push(port, token, signal_txns, 1 + len(chatter_txns))
        await bridge.worker.drain()
        signal_time = time.perf_counter() - start

        # `回执` as staff ask it: after a new ✅ (the chart is drawn again) and then once more
        # with nothing changed (the chart uploaded before is shown again). The answer is its
        # text, sent first; the full figure includes the chart.
        staff_room = room_of["five_in_one"]
        text_times, changed_times, same_times = [], [], []
        acked = (await bridge.bot(NoticeBot).notices.reach_rows(1)).acknowledged
        newcomers = [i for i in range(len(residents)) if residents[i] not in acked][:7]
        for k, i in enumerate(newcomers):
            building_room = room_of[f"building_{buildings[i % len(buildings)]}"]
            react = _message(10**7 + 100 + k, building_room, residents[i], "!收到 1")
            await bridge.router.handle(react, now)
            for times in (changed_times, same_times):
                command = _message(10**7 + 2 * k + len(times), staff_room, STAFF, "!通知 回执 1")
                client.sent_at.clear()
                start = time.perf_counter()
                await bridge.router.handle(command, now)
                times.append(time.perf_counter() - start)
                text_times.append(client.sent_at[0] - start)
        reply = next(b for b in reversed(client.bodies(staff_room)) if b.startswith("通知 #1 回执"))
        await bridge.stop()

    chatter_rate = signals / chatter_time
    signal_rate = signals / signal_time
    print(
        f"notice reach ({households} roster households, {len(residents)} verified residents,"
        f" {signals} receipts and ✅, one notice)"
    )
    print(f"  baseline, chatter messages: {chatter_rate:10.0f} events/s")
    print(
        f"  receipts and reactions:     {signal_rate:10.0f} events/s"
        f"  ({signal_rate / chatter_rate:.2f}× the baseline; goal ≥ 0.8×)"
    )
    median_ms = {
        name: statistics.median(times) * 1000
        for name, times in (("text", text_times), ("changed", changed_times), ("same", same_times))
    }
    print(
        f"  !通知 回执 text answer in {median_ms['text']:.0f} ms median"
        f" (max {max(text_times) * 1000:.0f} ms; goal < 200 ms)"
    )
    print(
        f"  with its chart: {median_ms['changed']:.0f} ms after a new ✅ (drawn again),"
        f" {median_ms['same']:.0f} ms unchanged (the chart uploaded before)"
    )
    print(
        f"  baseline, a chatter message through the same bridge: {1000 / chatter_rate:.1f} ms;"
        f" text answer {median_ms['text'] * chatter_rate / 1000:.0f}× that"
    )
    print("  " + reply.splitlines()[0])


if __name__ == "__main__":
    quick = "--quick" in sys.argv
    asyncio.run(run(1_000, 4_000) if quick else run())
