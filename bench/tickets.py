"""Ticket latency through a real Synapse: a resident's "@物业 …" sent → the bot's thread reply
received, p50 and p99, beside a minimal echo appservice on the same homeserver in the same run
(the echo and the resident's client each in a process of their own: bench/probe.py).
Also new tickets per second through the dispatch path with the homeserver replaced by a counter.
"""

from __future__ import annotations

import asyncio
import json
import math
import secrets
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import quote

import yaml

from bench.common import SERVER, bench_config, bench_synapse, free_port, postgres
from bench.probe import Resident
from bots import ALL_BOTS
from bots.tickets.bot import TicketBot
from bridge.app import Bridge
from bridge.bot import config_sections
from bridge.config import AppserviceConfig, BridgeConfig, DatabaseConfig, MetricsConfig
from bridge.rooms_config import load_rooms_config
from tests.recording_client import RecordingClient

EXAMPLES = Path(__file__).parents[1] / "rooms_config"
ECHO_USER = f"@echo:{SERVER}"


def _pct(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    # nearest rank, as in bots/tickets/stats.py
    return ordered[max(0, min(len(ordered), math.ceil(pct / 100 * len(ordered))) - 1)]


def echo_registration(path: Path, as_token: str, hs_token: str, port: int) -> Path:
    path.write_text(
        yaml.safe_dump(
            {
                "id": "echo",
                "url": f"http://127.0.0.1:{port}",
                "as_token": as_token,
                "hs_token": hs_token,
                "sender_localpart": "echo",
                "namespaces": {"users": [{"exclusive": True, "regex": ECHO_USER}]},
                "rate_limited": False,
            }
        ),
        encoding="utf-8",
    )
    return path


async def _probe(*args: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bench.probe",
        *args,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        cwd=Path(__file__).parents[1],
    )


async def latency(
    n: int, synchronous: str = "full", database_url: str | None = None
) -> tuple[float, float]:
    """Prints the round trip beside the echo's; returns Linli/echo at p50 and p99 (each run
    has its own Synapse and echo, so engines compare by these ratios, not raw times)."""
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        config = bench_config(tmp)
        config = config.model_copy(
            update={
                "database": DatabaseConfig(
                    url=database_url or config.database.url, sqlite_synchronous=synchronous
                ),
                # The steady state is measured: a shorter catch-up period after the start
                # (default 60 s, see bridge/appservice.py), waited out below.
                "appservice": config.appservice.model_copy(update={"ack_wait_after_seconds": 3}),
            }
        )
        hs_url = config.homeserver.url
        echo_token, echo_port = secrets.token_hex(16), free_port()
        registration = echo_registration(
            tmp / "echo.yaml", echo_token, secrets.token_hex(16), echo_port
        )
        synapse = bench_synapse(tmp, config, [registration])
        await synapse.start()
        echo = await _probe("echo", hs_url, echo_token, ECHO_USER, str(echo_port))
        assert echo.stdout is not None and echo.stdin is not None
        await echo.stdout.readline()  # "ready"
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
        token = await synapse.login(user, "pw")
        setup = Resident(hs_url, token)
        try:
            record = await bridge.store.rooms.by_key("heping:neighbours")
            assert record is not None
            neighbours = record.room_id
            await setup.call("POST", f"/_matrix/client/v3/join/{quote(neighbours, safe='')}", {})
            echo_room = (
                await setup.call(
                    "POST",
                    "/_matrix/client/v3/createRoom",
                    {"invite": [ECHO_USER], "preset": "private_chat"},
                )
            )["room_id"]
            members = f"/_matrix/client/v3/rooms/{quote(echo_room, safe='')}/joined_members"
            while ECHO_USER not in str(await setup.call("GET", members)):  # noqa: ASYNC110
                await asyncio.sleep(0.1)
            await setup.http.close()
            await asyncio.sleep(config.appservice.ack_wait_after_seconds)
            resident = await _probe(
                "resident",
                hs_url,
                token,
                echo_room,
                neighbours,
                config.bot_user_id,
                ECHO_USER,
                str(n),
            )
            out, _ = await resident.communicate()
            times = json.loads(out)
        finally:
            await setup.http.close()
            await bridge.stop()
            echo.stdin.close()
            await echo.wait()
            await synapse.stop()
    echo_times, thread_times, linli_times = times["echo"], times["thread"], times["linli"]
    e50, e99 = _pct(echo_times, 50), _pct(echo_times, 99)
    t50, t99 = _pct(thread_times, 50), _pct(thread_times, 99)
    l50, l99 = _pct(linli_times, 50), _pct(linli_times, 99)
    engine = "PostgreSQL" if database_url else f"SQLite synchronous={synchronous}"
    print(
        f"ticket round trip through Synapse ({n} mentions, interleaved with {n} echoes), {engine}"
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
    return l50 / e50, l99 / e99


async def tickets_per_second(
    count: int = 500, database_url: str | None = None, floor_url: str | None = None
) -> float:
    """Every event a resident's mention: the dispatch path alone, homeserver a counter. On
    SQLite, or on the PostgreSQL databases given (`floor_url` for the baseline's inserts).
    Returns the seconds the tickets took."""
    with tempfile.TemporaryDirectory() as tmp:
        token = secrets.token_hex(16)
        port = free_port()
        config = BridgeConfig(
            appservice=AppserviceConfig(as_token=token, hs_token=token, listen_port=port),
            database=DatabaseConfig(url=database_url or f"sqlite+aiosqlite:///{tmp}/bench.db"),
            metrics=MetricsConfig(listen_port=0),  # any free port: a demo may run
        )
        rooms = load_rooms_config(EXAMPLES, "zh", config_sections(ALL_BOTS))
        client = RecordingClient(config.bot_user_id)
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
        opened = len(await bridge.bot(TicketBot).tickets.listing("heping", limit=count + 1))
        await bridge.stop()
    # Baseline: the same number of bare inserts into the inbox table, one transaction each.
    with tempfile.TemporaryDirectory() as tmp:
        from bridge.store import Store

        store = await Store.open(floor_url or f"sqlite+aiosqlite:///{tmp}/floor.db")
        start = time.perf_counter()
        for i in range(count):
            await store.inbox.store_transaction(f"f{i}", [events[i]], bridge.clock.now())
        floor = time.perf_counter() - start
        await store.close()
    engine = "PostgreSQL" if database_url else "SQLite"
    print(f"new tickets through dispatch (homeserver a counter), {engine}: {opened} tickets")
    print(
        f"  {opened / elapsed:7.0f} tickets/s; one-row commit floor {count / floor:7.0f}/s"
        f" → {elapsed / floor:.1f}× the floor's time"
    )
    return elapsed


async def run(n: int = 200) -> None:
    async with postgres() as server:
        sqlite_time = await tickets_per_second()
        pg_time = await tickets_per_second(
            database_url=await server.fresh_database(), floor_url=await server.fresh_database()
        )
        print(f"  PostgreSQL/SQLite time for the same tickets: {pg_time / sqlite_time:.2f}×")
        print()
        full = await latency(n, "full")
        print()
        await latency(n, "normal")
        print()
        pg = await latency(n, database_url=await server.fresh_database())
    print(
        f"  Linli/echo, SQLite (synchronous=full) → PostgreSQL: p50 {full[0]:.2f}× → {pg[0]:.2f}×,"
        f"  p99 {full[1]:.2f}× → {pg[1]:.2f}×"
    )


if __name__ == "__main__":
    import sys

    asyncio.run(run(int(sys.argv[1]) if len(sys.argv) > 1 else 200))
