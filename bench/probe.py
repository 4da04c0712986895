"""The two outside parties of the ticket latency benchmark, each run in a process of its own:

- `python -m bench.probe echo URL AS_TOKEN PORT`: a minimal echo appservice, the floor;
- `python -m bench.probe resident URL TOKEN ECHO_ROOM LINLI_ROOM BOT ECHO N`: a resident's client
  that times the round trips and prints them as JSON.

Neither shares an event loop with Linli: a resident's phone does not wait while Linli writes
its records after answering, and the echo does not wait for Linli either.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import sys
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import aiohttp
from aiohttp import web

# The echo's answer in a thread: the way Linli answers a ticket (in a thread on the message,
# mentioning someone, a sentence of the same length).
THREAD_ANSWER = (
    "已收到，工单 #1（维修）。负责：@wuye_wang:linli.localhost。"
    "首次回复：11月23日 10:30前；解决：11月25日 11:00前。"
)


class EchoAppservice:
    """Answers every message with a notice, nothing else. A message starting "thread:" is
    answered in a thread, as Linli answers a ticket: a second floor that takes out what the
    homeserver itself spends on a threaded mention."""

    def __init__(self, hs_url: str, as_token: str, user: str, port: int) -> None:
        self.hs_url, self.as_token, self.user, self.port = hs_url, as_token, user, port
        self.http: aiohttp.ClientSession | None = None

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
                        "body": THREAD_ANSWER,
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

    async def serve(self) -> None:
        self.http = aiohttp.ClientSession()
        app = web.Application()
        app.router.add_put("/_matrix/app/v1/transactions/{txn}", self.transaction)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", self.port).start()
        print("ready", flush=True)
        # Until the benchmark closes stdin.
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
        await runner.cleanup()
        await self.http.close()


class Resident:
    def __init__(self, base: str, token: str) -> None:
        self.base = base
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
        path = f"/_matrix/client/v3/rooms/{quote(room, safe='')}/send/m.room.message/p{self._n}"
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


async def resident_round_trips(
    hs_url: str, token: str, echo_room: str, linli_room: str, bot: str, echo: str, n: int
) -> dict[str, list[float]]:
    def echoed(e: dict[str, Any], _: str) -> bool:
        return bool(e["sender"] == echo)

    def in_thread_by(sender: str) -> Callable[[dict[str, Any], str], bool]:
        def matches(e: dict[str, Any], source: str) -> bool:
            rel = e.get("content", {}).get("m.relates_to", {})
            return bool(e["sender"] == sender and rel.get("event_id") == source)

        return matches

    resident = Resident(hs_url, token)
    times: dict[str, list[float]] = {"echo": [], "thread": [], "linli": []}
    try:
        await resident.sync(0)
        for i in range(n):
            # Interleaved, so all three see the same homeserver load over the run.
            times["echo"].append(await resident.round_trip(echo_room, f"hello {i}", echoed))
            times["thread"].append(
                await resident.round_trip(echo_room, f"thread: 3号楼灯坏了 {i}", in_thread_by(echo))
            )
            times["linli"].append(
                await resident.round_trip(
                    linli_room, f"@物业 {i % 6 + 1}号楼灯坏了 #{i}", in_thread_by(bot)
                )
            )
    finally:
        await resident.http.close()
    return times


def main(argv: list[str]) -> None:
    if argv[0] == "echo":
        hs_url, as_token, user, port = argv[1:5]
        asyncio.run(EchoAppservice(hs_url, as_token, user, int(port)).serve())
    elif argv[0] == "resident":
        hs_url, token, echo_room, linli_room, bot, echo, n = argv[1:8]
        times = asyncio.run(
            resident_round_trips(hs_url, token, echo_room, linli_room, bot, echo, int(n))
        )
        print(json.dumps(times))
    else:
        raise SystemExit(f"unknown role {argv[0]!r}")


if __name__ == "__main__":
    main(sys.argv[1:])
