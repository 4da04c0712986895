"""No resident waits behind another: the mention → reply latency of one compound while another
compound's handler is stalled on a homeserver call that hangs, beside the same latency with
nothing stalled, in the same run. The homeserver is a recorder (tests/recording_client.py);
the events go through the appservice endpoint, the inbox and the bots."""

from __future__ import annotations

import asyncio
import secrets
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp

from bench.common import free_port
from bots import ALL_BOTS
from bridge.app import Bridge
from bridge.bot import config_sections
from bridge.config import AppserviceConfig, BridgeConfig, DatabaseConfig, MetricsConfig
from bridge.rooms_config import load_rooms_config
from tests.recording_client import RecordingClient

EXAMPLES = Path(__file__).parents[1] / "rooms_config"


class StallingClient(RecordingClient):
    """Sends to `stalled_room` hang until `release` is set; every send is timed."""

    def __init__(self, bot_user_id: str) -> None:
        super().__init__(bot_user_id)
        self.stalled_room: str | None = None
        self.release = asyncio.Event()
        # The mention's event ID → when its reply went out.
        self.replied: dict[str, asyncio.Future[float]] = {}

    def reply_to(self, event_id: str) -> asyncio.Future[float]:
        return self.replied.setdefault(event_id, asyncio.get_running_loop().create_future())

    async def send(
        self,
        room_id: str,
        content: dict[str, Any],
        txn_id: str,
        *,
        event_type: str = "m.room.message",
        as_user: str | None = None,
    ) -> str:
        if room_id == self.stalled_room:
            await self.release.wait()
        relates = content.get("m.relates_to", {})
        if relates.get("rel_type") == "m.thread":
            replied = self.reply_to(relates["event_id"])
            if not replied.done():
                replied.set_result(time.perf_counter())
        return await super().send(room_id, content, txn_id, event_type=event_type, as_user=as_user)


def mention(n: int, room: str, sender: str) -> dict[str, Any]:
    return {
        "event_id": f"$lane-{n}",
        "room_id": room,
        "sender": sender,
        "type": "m.room.message",
        "origin_server_ts": 1,
        "content": {"msgtype": "m.text", "body": f"@物业 3号楼电梯坏了 {n}"},
    }


async def run(count: int = 120, rounds: int = 6) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        token = secrets.token_hex(16)
        port = free_port()
        config = BridgeConfig(
            appservice=AppserviceConfig(
                as_token=token, hs_token=token, listen_port=port, ack_wait_seconds=0
            ),
            database=DatabaseConfig(url=f"sqlite+aiosqlite:///{tmp}/lanes.db"),
            metrics=MetricsConfig(listen_port=0),  # any free port: a demo may run
        )
        rooms = load_rooms_config(EXAMPLES, "zh", config_sections(ALL_BOTS))
        client = StallingClient(config.bot_user_id)
        bridge = Bridge(config, rooms, ALL_BOTS, client=client)
        await bridge.open()
        residents = {c: [f"@{c}{i}:linli.localhost" for i in range(count)] for c in rooms.compounds}
        for compound, users in residents.items():
            for i, user in enumerate(users):
                await bridge.store.people.bind_household(
                    compound, user, "3", "1", str(100 + i), bridge.clock.now()
                )
        await bridge.start()
        records = await bridge.store.rooms.all()
        a, b = sorted(rooms.compounds)[:2]
        room_a, room_b = records[f"{a}:neighbours"].room_id, records[f"{b}:neighbours"].room_id
        n = 0

        async def latencies(http: aiohttp.ClientSession, k: int) -> list[float]:
            nonlocal n
            times = []
            for _ in range(k):
                n += 1
                event = mention(n, room_a, residents[a][n % count])
                start = time.perf_counter()
                async with http.put(
                    f"http://127.0.0.1:{port}/_matrix/app/v1/transactions/l{n}",
                    json={"events": [event]},
                    headers={"Authorization": f"Bearer {token}"},
                ) as resp:
                    assert resp.status == 200
                times.append(await client.reply_to(event["event_id"]) - start)
            return times

        idle: list[float] = []
        stalled: list[float] = []
        async with aiohttp.ClientSession() as http:
            await latencies(http, 10)  # warm up: caches, first numbers
            # Rounds alternate, so the machine's other load falls on both alike.
            for _ in range(rounds):
                idle += await latencies(http, count // rounds)
                # Compound B's mention hangs on its reply (a call that does not answer).
                client.stalled_room, client.release = room_b, asyncio.Event()
                n += 1
                async with http.put(
                    f"http://127.0.0.1:{port}/_matrix/app/v1/transactions/l{n}",
                    json={"events": [mention(n, room_b, residents[b][n % count])]},
                    headers={"Authorization": f"Bearer {token}"},
                ) as resp:
                    assert resp.status == 200
                stalled += await latencies(http, count // rounds)
                client.stalled_room = None
                client.release.set()
        await bridge.stop()
    i50, s50 = statistics.median(idle), statistics.median(stalled)
    i90 = statistics.quantiles(idle, n=10)[-1]
    s90 = statistics.quantiles(stalled, n=10)[-1]
    print(f"mention → reply in {a} ({count} mentions), homeserver a recorder")
    print(f"  nothing stalled:        p50 {i50 * 1000:6.2f} ms   p90 {i90 * 1000:6.2f} ms")
    print(f"  {b} stalled on a call: p50 {s50 * 1000:6.2f} ms   p90 {s90 * 1000:6.2f} ms")
    print(
        f"  ratio stalled/idle:     p50 {s50 / i50:5.2f}×     p90 {s90 / i90:5.2f}×  (goal ≤ 1.2×)"
    )


if __name__ == "__main__":
    asyncio.run(run())
