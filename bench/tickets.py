"""Ticket latency through a real Synapse: a resident's "@物业 …" sent → the bot's thread reply
received, p50 and p99, beside a minimal echo appservice on the same homeserver in the same run.
Also new tickets per second through the dispatch path with the homeserver replaced by a counter.
"""

from __future__ import annotations

import asyncio
import hashlib
import math
import secrets
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

import aiohttp
import yaml
from aiohttp import web

from bench.common import SERVER, bench_config, bench_synapse, free_port
from bench.counting_client import CountingClient
from bots import ALL_BOTS
from bridge.app import Bridge
from bridge.config import AppserviceConfig, BridgeConfig, DatabaseConfig
from bridge.dispatch import config_sections
from bridge.rooms_config import load_rooms_config

EXAMPLES = Path(__file__).parents[1] / "rooms_config"


class EchoAppservice:
    """Answers every message with a notice, nothing else: the floor for a bot's round trip.

    A message starting "thread:" is answered the way Linli answers a ticket (in a thread on it,
    mentioning someone, a sentence of the same length), a second floor that takes out what
    Synapse itself spends on a threaded mention."""

    def __init__(self, hs_url: str, as_token: str, hs_token: str, port: int) -> None:
        self.hs_url, self.as_token, self.hs_token, self.port = hs_url, as_token, hs_token, port
        self.user = f"@echo:{SERVER}"
        self.http: aiohttp.ClientSession | None = None
        self.runner: web.AppRunner | None = None

    async def _call(self, method: str, path: str, body: Any) -> None:
        assert self.http is not None
        async with self.http.request(
            method,
            f"{self.hs_url}{path}",
            json=body,
            headers={"Authorization": f"Bearer {self.as_token}"},
        ) as resp:
            await resp.read()

    async def transaction(self, request: web.Request) -> web.Response:
        body = await request.json()
        for event in body.get("events", []):
            room = quote(event["room_id"], safe="")
            if event["type"] == "m.room.member" and event.get("state_key") == self.user:
                if event["content"].get("membership") == "invite":
                    await self._call("POST", f"/_matrix/client/v3/join/{room}", {})
            elif event["type"] == "m.room.message" and event["sender"] != self.user:
                txn = hashlib.sha256(event["event_id"].encode()).hexdigest()[:32]
                content: dict[str, Any] = {"msgtype": "m.notice", "body": "echo"}
                if event["content"].get("body", "").startswith("thread:"):
                    content = {
                        "msgtype": "m.notice",
                        "body": "已收到，工单 #1（维修）。负责：@wuye_wang:linli.localhost。"
                        "首次回复：11月23日 10:30前；解决：11月25日 11:00前。",
                        "m.mentions": {"user_ids": [event["sender"]]},
                        "m.relates_to": {
                            "rel_type": "m.thread",
                            "event_id": event["event_id"],
                            "is_falling_back": True,
                            "m.in_reply_to": {"event_id": event["event_id"]},
                        },
                    }
                await self._call(
                    "PUT", f"/_matrix/client/v3/rooms/{room}/send/m.room.message/{txn}", content
                )
        return web.json_response({})

    async def start(self) -> None:
        self.http = aiohttp.ClientSession()
        app = web.Application()
        app.router.add_put("/_matrix/app/v1/transactions/{txn}", self.transaction)
        self.runner = web.AppRunner(app, access_log=None)
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", self.port).start()

    async def stop(self) -> None:
        if self.runner:
            await self.runner.cleanup()
        if self.http:
            await self.http.close()

    def registration(self, path: Path) -> Path:
        path.write_text(
            yaml.safe_dump(
                {
                    "id": "echo",
                    "url": f"http://127.0.0.1:{self.port}",
                    "as_token": self.as_token,
                    "hs_token": self.hs_token,
                    "sender_localpart": "echo",
                    "namespaces": {"users": [{"exclusive": True, "regex": f"@echo:{SERVER}"}]},
                    "rate_limited": False,
                }
            ),
            encoding="utf-8",
        )
        return path


class Resident:
    def __init__(self, base: str, token: str) -> None:
        self.base = base
        self.token = token
        self.http = aiohttp.ClientSession(headers={"Authorization": f"Bearer {token}"})
        self.since: str | None = None
        self._n = 0

    async def call(self, method: str, path: str, body: Any = None, **params: str) -> Any:
        async with self.http.request(method, f"{self.base}{path}", json=body, params=params) as r:
            return await r.json()

    async def sync(self, timeout_ms: int = 10000) -> dict[str, Any]:
        params = {"timeout": str(timeout_ms)}
        if self.since:
            params["since"] = self.since
        result: dict[str, Any] = await self.call("GET", "/_matrix/client/v3/sync", **params)
        self.since = result["next_batch"]
        return result

    async def send(self, room: str, body: str) -> str:
        self._n += 1
        path = f"/_matrix/client/v3/rooms/{quote(room, safe='')}/send/m.room.message/b{self._n}"
        return str((await self.call("PUT", path, {"msgtype": "m.text", "body": body}))["event_id"])

    async def round_trip(
        self, room: str, body: str, matches: Callable[[dict[str, Any], str], bool]
    ) -> float:
        start = time.perf_counter()
        event_id = await self.send(room, body)
        while time.perf_counter() - start < 30:
            result = await self.sync()
            timeline = result.get("rooms", {}).get("join", {}).get(room, {}).get("timeline", {})
            if any(matches(e, event_id) for e in timeline.get("events", [])):
                return time.perf_counter() - start
        raise TimeoutError(f"no answer to {body!r} within 30 s")


def _pct(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    # nearest rank, as in bots/tickets/stats.py
    return ordered[max(0, min(len(ordered), math.ceil(pct / 100 * len(ordered))) - 1)]


async def latency(n: int, synchronous: str = "full") -> None:
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        config = bench_config(tmp)
        config = config.model_copy(
            update={
                "database": DatabaseConfig(url=config.database.url, sqlite_synchronous=synchronous)
            }
        )
        hs_url = config.homeserver.url
        echo = EchoAppservice(hs_url, secrets.token_hex(16), secrets.token_hex(16), free_port())
        synapse = bench_synapse(tmp, config, [echo.registration(tmp / "echo.yaml")])
        await synapse.start()
        await echo.start()
        shutil.copytree(EXAMPLES, tmp / "rooms")
        for path in (tmp / "rooms" / "compounds").glob("*.yaml"):
            if path.stem != "heping":
                path.unlink()
        heping = tmp / "rooms" / "compounds" / "heping.yaml"
        # One resident sends every mention: lift the per-resident cap on open tickets.
        heping.write_text(
            heping.read_text(encoding="utf-8").replace(
                "  buildings:", "  tickets:\n    max_open_per_resident: 100000\n  buildings:"
            ),
            encoding="utf-8",
        )
        for localpart in (
            "wuye_wang",
            "wuye_jingli",
            "juwei_chen",
            "dang_li",
            "yewei_zhao",
            "jingguan_sun",
            "jiedao_zhou",
        ):
            await synapse.register_user(localpart, "pw")
        user = await synapse.register_user("resident", "pw")
        rooms = load_rooms_config(tmp / "rooms", "zh", config_sections(ALL_BOTS))
        bridge = Bridge(config, rooms, ALL_BOTS)
        await bridge.open()
        await bridge.store.people.bind_household(
            "heping", user, "3", "1", "101", bridge.clock.now()
        )
        await bridge.start()
        resident = Resident(hs_url, await synapse.login(user, "pw"))
        try:
            record = await bridge.store.rooms.by_key("heping:neighbours")
            assert record is not None
            neighbours = record.room_id
            await resident.call("POST", f"/_matrix/client/v3/join/{quote(neighbours, safe='')}", {})
            echo_room = (
                await resident.call(
                    "POST",
                    "/_matrix/client/v3/createRoom",
                    {
                        "invite": [echo.user],
                        "preset": "private_chat",
                    },
                )
            )["room_id"]
            await resident.sync(0)
            while echo.user not in str(  # noqa: ASYNC110 - waiting on another process
                await resident.call(
                    "GET", f"/_matrix/client/v3/rooms/{quote(echo_room, safe='')}/joined_members"
                )
            ):
                await asyncio.sleep(0.1)
            await resident.sync(0)

            def echoed(e: dict[str, Any], _: str) -> bool:
                return e["sender"] == echo.user

            def threaded(e: dict[str, Any], source: str) -> bool:
                rel = e.get("content", {}).get("m.relates_to", {})
                return e["sender"] == config.bot_user_id and rel.get("event_id") == source

            def echoed_in_thread(e: dict[str, Any], source: str) -> bool:
                rel = e.get("content", {}).get("m.relates_to", {})
                return e["sender"] == echo.user and rel.get("event_id") == source

            echo_times, thread_times, linli_times = [], [], []
            for i in range(n):
                # Interleaved, so all see the same homeserver load over the run.
                echo_times.append(await resident.round_trip(echo_room, f"hello {i}", echoed))
                thread_times.append(
                    await resident.round_trip(
                        echo_room, f"thread: 3号楼灯坏了 {i}", echoed_in_thread
                    )
                )
                linli_times.append(
                    await resident.round_trip(
                        neighbours, f"@物业 {i % 6 + 1}号楼灯坏了 #{i}", threaded
                    )
                )
        finally:
            await resident.http.close()
            await bridge.stop()
            await echo.stop()
            await synapse.stop()
    e50, e99 = _pct(echo_times, 50), _pct(echo_times, 99)
    t50, t99 = _pct(thread_times, 50), _pct(thread_times, 99)
    l50, l99 = _pct(linli_times, 50), _pct(linli_times, 99)
    print(
        f"ticket round trip through Synapse ({n} mentions, interleaved with {n} echoes),"
        f" SQLite synchronous={synchronous}"
    )
    print(f"  echo appservice:  p50 {e50 * 1000:6.1f} ms   p99 {e99 * 1000:6.1f} ms")
    print(f"  echo in a thread: p50 {t50 * 1000:6.1f} ms   p99 {t99 * 1000:6.1f} ms")
    print(f"  Linli ticket:     p50 {l50 * 1000:6.1f} ms   p99 {l99 * 1000:6.1f} ms")
    print(
        f"  ratio Linli/echo: p50 {l50 / e50:6.2f}×      p99 {l99 / e99:6.2f}×   (goal p50 ≤ 1.1×)"
    )
    print(f"  ratio Linli/thread echo: p50 {l50 / t50:5.2f}×  p99 {l99 / t99:5.2f}×")
    print(
        f"  mean {statistics.mean(linli_times) * 1000:.1f} ms"
        f" vs {statistics.mean(echo_times) * 1000:.1f} ms"
    )


async def tickets_per_second(count: int = 500) -> None:
    """Every event a resident's mention: the dispatch path alone, homeserver a counter."""
    with tempfile.TemporaryDirectory() as tmp:
        token = secrets.token_hex(16)
        port = free_port()
        config = BridgeConfig(
            appservice=AppserviceConfig(as_token=token, hs_token=token, listen_port=port),
            database=DatabaseConfig(url=f"sqlite+aiosqlite:///{tmp}/bench.db"),
        )
        rooms = load_rooms_config(EXAMPLES, "zh", config_sections(ALL_BOTS))
        client = CountingClient(config.bot_user_id)
        bridge = Bridge(config, rooms, ALL_BOTS, client=client, process_inbox=False)
        await bridge.open()
        # 50 residents, 10 mentions each: under the per-resident cap of open tickets.
        residents = [f"@r{i}:linli.localhost" for i in range(50)]
        for i, user in enumerate(residents):
            await bridge.store.people.bind_household(
                "heping", user, "3", "1", str(100 + i), bridge.clock.now()
            )
        await bridge.start()
        neighbours = await bridge.store.rooms.by_key("heping:neighbours")
        assert neighbours is not None
        events = [
            {
                "event_id": f"$t{i}",
                "room_id": neighbours.room_id,
                "sender": residents[i % len(residents)],
                "type": "m.room.message",
                "origin_server_ts": 1,
                "content": {"msgtype": "m.text", "body": f"@物业 3号楼电梯坏了 {i}"},
            }
            for i in range(count)
        ]
        await bridge.store.inbox.store_transaction("t", events, bridge.clock.now())
        start = time.perf_counter()
        await bridge.worker.drain()
        elapsed = time.perf_counter() - start
        opened = len(await bridge.store.tickets.listing("heping", limit=count + 1))
        await bridge.stop()
    # Baseline: the same number of bare inserts into the inbox table, one transaction each.
    with tempfile.TemporaryDirectory() as tmp:
        from bridge.store import Store

        store = await Store.open(f"sqlite+aiosqlite:///{tmp}/floor.db")
        start = time.perf_counter()
        for i in range(count):
            await store.inbox.store_transaction(f"f{i}", [events[i]], bridge.clock.now())
        floor = time.perf_counter() - start
        await store.close()
    print(f"new tickets through dispatch (homeserver a counter): {opened} tickets")
    print(
        f"  {opened / elapsed:7.0f} tickets/s; one-row commit floor {count / floor:7.0f}/s"
        f" → {elapsed / floor:.1f}× the floor's time"
    )


async def run(n: int = 200) -> None:
    await tickets_per_second()
    print()
    await latency(n, "full")
    print()
    await latency(n, "normal")


if __name__ == "__main__":
    import sys

    asyncio.run(run(int(sys.argv[1]) if len(sys.argv) > 1 else 200))
