"""Dispatch throughput: recorded transactions through the appservice endpoint and the bots,
against a floor that only parses and acknowledges them. The homeserver is a counter."""

from __future__ import annotations

import asyncio
import random
import secrets
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from bench.common import free_port, postgres
from bots import ALL_BOTS
from bridge.app import Bridge
from bridge.bot import config_sections
from bridge.config import AppserviceConfig, BridgeConfig, DatabaseConfig, MetricsConfig
from bridge.rooms_config import load_rooms_config
from tests.recording_client import RecordingClient

EXAMPLES = Path(__file__).parents[1] / "rooms_config"
CHATTER = ["大家好", "今天停水吗", "谁家的猫丢了", "明天几点倒垃圾", "谢谢物业", "早上好"]


def transactions(
    rooms: list[str], residents: list[str], count: int, size: int, *, mixed: bool = True
) -> list[list[dict[str, Any]]]:
    """`mixed`: ≈5% commands and ≈5% mentions of the property company; otherwise chatter only
    (events no bot acts on)."""
    rng = random.Random(7)
    txns = []
    n = 0
    for _ in range(count):
        events = []
        for _ in range(size):
            n += 1
            body = "!帮助" if mixed and rng.random() < 0.05 else rng.choice(CHATTER)
            if mixed and rng.random() < 0.05:
                body = "@物业 3号楼电梯坏了"
            events.append(
                {
                    "event_id": f"$bench-{n}",
                    "room_id": rng.choice(rooms),
                    "sender": rng.choice(residents),
                    "type": "m.room.message",
                    "origin_server_ts": 1,
                    "content": {"msgtype": "m.text", "body": body},
                }
            )
        txns.append(events)
    return txns


async def _push(port: int, token: str, txns: list[list[dict[str, Any]]]) -> float:
    start = time.perf_counter()
    async with aiohttp.ClientSession() as http:
        for i, events in enumerate(txns):
            async with http.put(
                f"http://127.0.0.1:{port}/_matrix/app/v1/transactions/{i}",
                json={"events": events},
                headers={"Authorization": f"Bearer {token}"},
            ) as resp:
                assert resp.status == 200
    return time.perf_counter() - start


async def floor(txns: list[list[dict[str, Any]]], port: int) -> float:
    async def handler(request: web.Request) -> web.Response:
        body = await request.json()
        assert isinstance(body["events"], list)
        return web.json_response({})

    app = web.Application()
    app.router.add_put("/_matrix/app/v1/transactions/{txn}", handler)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        return await _push(port, "x", txns)
    finally:
        await runner.cleanup()


async def inbox_floor(txns: list[list[dict[str, Any]]], database_url: str | None = None) -> float:
    """The durable write alone: each transaction stored in the inbox as the appservice does
    before its 200 (SQLite, synchronous=full: one fsync per transaction; or the PostgreSQL
    database given)."""
    from bridge.store import Store

    with tempfile.TemporaryDirectory() as tmp:
        store = await Store.open(database_url or f"sqlite+aiosqlite:///{tmp}/floor.db")
        start = time.perf_counter()
        for i, events in enumerate(txns):
            await store.inbox.store_transaction(f"t{i}", events, datetime.now(UTC))
        elapsed = time.perf_counter() - start
        await store.close()
    return elapsed


async def linli(
    port: int, count: int, size: int, *, mixed: bool = True, database_url: str | None = None
) -> tuple[float, RecordingClient, int]:
    with tempfile.TemporaryDirectory() as tmp:
        token = secrets.token_hex(16)
        config = BridgeConfig(
            appservice=AppserviceConfig(as_token=token, hs_token=token, listen_port=port),
            database=DatabaseConfig(url=database_url or f"sqlite+aiosqlite:///{tmp}/bench.db"),
            metrics=MetricsConfig(listen_port=0),  # any free port: a demo may run
        )
        rooms = load_rooms_config(EXAMPLES, "zh", config_sections(ALL_BOTS))
        client = RecordingClient(config.bot_user_id)
        bridge = Bridge(config, rooms, ALL_BOTS, client=client)
        await bridge.open()
        residents = [f"@r{i}:linli.localhost" for i in range(200)]
        for i, user in enumerate(residents):
            await bridge.store.people.bind_household(
                "heping", user, str(1 + i % 3), "1", str(100 + i), bridge.clock.now()
            )
        await bridge.start()
        records = await bridge.store.rooms.all()
        rooms_ids = [records[f"heping:{k}"].room_id for k in ("neighbours", "hall", "building_1")]
        txns = transactions(rooms_ids, residents, count, size, mixed=mixed)
        client.requests.clear()
        start = time.perf_counter()
        await _push(port, token, txns)
        await bridge.worker.drain()
        elapsed = time.perf_counter() - start
        writes = client.writes
        await bridge.stop()
        return elapsed, client, writes


async def run(count: int = 40, size: int = 50) -> None:
    port = free_port()
    events = count * size
    txns = transactions(["!a", "!b"], ["@a:x"], count, size)
    floor_time = await floor(txns, port)
    print("dispatch throughput (homeserver replaced by a counter)")
    print(f"  {count} transactions × {size} events = {events} events")
    print(f"  floor (parse + 200):            {events / floor_time:10.0f} events/s")
    times: dict[str, float] = {}  # "engine what": seconds
    async with postgres() as server:
        for engine in ("sqlite", "postgresql"):
            url = None if engine == "sqlite" else await server.fresh_database()
            write_time = times[f"{engine} inbox write"] = await inbox_floor(txns, url)
            name = "SQLite" if engine == "sqlite" else "PostgreSQL"
            print(f"  {name}: inbox write alone (durable): {events / write_time:8.0f} events/s")
            for mixed, label in ((False, "chatter"), (True, "mixed")):
                url = None if engine == "sqlite" else await server.fresh_database()
                linli_time, _, writes = await linli(
                    port, count, size, mixed=mixed, database_url=url
                )
                times[f"{engine} {label}"] = linli_time
                described = "≈5% commands, ≈5% @物业" if mixed else "chatter only"
                print(
                    f"    Linli, {described + ':':24} {events / linli_time:8.0f} events/s"
                    f"  ({linli_time / floor_time:.1f}× the floor's time,"
                    f" {linli_time / write_time:.2f}× the inbox write's;"
                    f" {writes} homeserver writes)"
                )
    ratios = ", ".join(
        f"{what} {times[f'postgresql {what}'] / times[f'sqlite {what}']:.2f}×"
        for what in ("inbox write", "chatter", "mixed")
    )
    print(f"  PostgreSQL/SQLite time: {ratios}")


if __name__ == "__main__":
    asyncio.run(run())
