"""What a member's client sees of some rooms, kept as it arrives: a long-polling /sync loop
that tests drive a workload from ("the bot answered #12: now close it"), and the whole history
of a room page by page, for the final count."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Callable
from typing import Any

import aiohttp

from tests.integration.matrix_client import MatrixHTTPError, ResidentClient, q

Event = dict[str, Any]


class RoomWatch:
    def __init__(self, client: ResidentClient, rooms: list[str]) -> None:
        self.client = client
        self.rooms = list(rooms)
        self._events: dict[str, list[Event]] = {room: [] for room in rooms}
        self._seen: set[str] = set()
        self._changed = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def events(self, room: str) -> list[Event]:
        return self._events[room]

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"watch {self.client.user_id}")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def wait_for(
        self,
        room: str,
        predicate: Callable[[Event], bool],
        timeout: float,  # noqa: ASYNC109
    ) -> Event | None:
        """The first event of the room that matches, seen already or arriving; None after
        `timeout` seconds."""
        found: list[Event] = []

        def check() -> bool:
            found[:] = [e for e in self._events[room] if predicate(e)][:1]
            return bool(found)

        return found[0] if await self.wait_until(check, timeout) else None

    async def wait_until(self, condition: Callable[[], bool], timeout: float) -> bool:  # noqa: ASYNC109
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            self._changed.clear()  # before looking: a change while looking wakes the wait
            if condition():
                return True
            if self._task is not None and self._task.done():
                self._task.result()  # the sync loop died: say why
                return False
            remaining = deadline - loop.time()
            if remaining <= 0:
                return False
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), remaining)

    async def _run(self) -> None:
        sync_filter = {
            "room": {
                "rooms": self.rooms,
                "timeline": {"limit": 200},
                "state": {"types": []},
                "ephemeral": {"types": []},
                "account_data": {"types": []},
            },
            "presence": {"types": []},
            "account_data": {"types": []},
        }
        params = {"filter": json.dumps(sync_filter), "timeout": "0"}
        while True:
            try:
                page = await self.client.call("GET", "/_matrix/client/v3/sync", params=params)
                joined = page.get("rooms", {}).get("join", {})
                for room in self.rooms:
                    timeline = joined.get(room, {}).get("timeline", {})
                    events = timeline.get("events", [])
                    if timeline.get("limited") and params.get("since"):
                        events = await self._backfill(room, timeline.get("prev_batch"), events)
                    for event in events:
                        self._add(room, event)
            except (aiohttp.ClientError, MatrixHTTPError, TimeoutError):
                await asyncio.sleep(0.5)  # the homeserver restarting: ask again
                continue
            params["since"] = page["next_batch"]
            params["timeout"] = "5000"
            self._changed.set()

    async def _backfill(self, room: str, token: str | None, events: list[Event]) -> list[Event]:
        """A gap in the timeline (more arrived than one sync holds): read back to known ground."""
        earlier: list[Event] = []
        while token:
            page = await self.client.call(
                "GET",
                f"/_matrix/client/v3/rooms/{q(room)}/messages",
                params={"dir": "b", "limit": "100", "from": token},
            )
            chunk = page.get("chunk", [])
            fresh = [e for e in chunk if e["event_id"] not in self._seen]
            earlier += fresh
            if len(fresh) < len(chunk) or not chunk:
                break
            token = page.get("end")
        return list(reversed(earlier)) + events

    def _add(self, room: str, event: Event) -> None:
        if event["event_id"] in self._seen:
            return
        self._seen.add(event["event_id"])
        event.setdefault("room_id", room)
        self._events[room].append(event)


async def history(client: ResidentClient, room: str) -> list[Event]:
    """Every event of the room the client may see, oldest first."""
    events: list[Event] = []
    params = {"dir": "b", "limit": "500"}
    while True:
        page = await client.call(
            "GET", f"/_matrix/client/v3/rooms/{q(room)}/messages", params=params
        )
        chunk = page.get("chunk", [])
        events += chunk
        if not chunk or not page.get("end"):
            return list(reversed(events))
        params["from"] = page["end"]
