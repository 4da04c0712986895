"""A deliberately plain client-server API client: what a resident's Matrix client does, and
nothing of Linli's own code. Tests use it to act and to look, as a person would."""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import aiohttp

_txn = itertools.count()


class MatrixHTTPError(Exception):
    def __init__(self, status: int, errcode: str, error: str) -> None:
        super().__init__(f"{status} {errcode}: {error}")
        self.status = status
        self.errcode = errcode
        self.error = error


def q(value: str) -> str:
    return quote(value, safe="")


async def _payload(resp: aiohttp.ClientResponse) -> dict[str, Any]:
    """The JSON body, or {} when there is none (or it is not JSON, as in a proxy's error page)."""
    text = await resp.text()
    try:
        body = json.loads(text) if text else {}
    except ValueError:
        body = {}
    if resp.status >= 300:
        body = body if isinstance(body, dict) else {}
        raise MatrixHTTPError(
            resp.status, str(body.get("errcode", "")), str(body.get("error", text[:200]))
        )
    return body if isinstance(body, dict) else {}


class ResidentClient:
    def __init__(self, base_url: str, user_id: str, access_token: str) -> None:
        self.base_url = base_url
        self.user_id = user_id
        self.token = access_token
        self.http = aiohttp.ClientSession()

    @classmethod
    async def login(cls, base_url: str, user_id: str, password: str) -> ResidentClient:
        async with aiohttp.ClientSession() as http:
            async with http.post(
                f"{base_url}/_matrix/client/v3/login",
                json={
                    "type": "m.login.password",
                    "identifier": {"type": "m.id.user", "user": user_id},
                    "password": password,
                },
            ) as resp:
                body = await _payload(resp)
        return cls(base_url, body["user_id"], body["access_token"])

    async def close(self) -> None:
        await self.http.close()

    async def call(
        self, method: str, path: str, body: Any = None, params: dict[str, str] | None = None
    ) -> dict[str, Any]:
        async with self.http.request(
            method,
            f"{self.base_url}{path}",
            json=body,
            params=params,
            headers={"Authorization": f"Bearer {self.token}"},
        ) as resp:
            return await _payload(resp)

    async def join(self, room: str) -> str:
        """Join by room ID or alias; returns the room ID."""
        return str((await self.call("POST", f"/_matrix/client/v3/join/{q(room)}", {}))["room_id"])

    async def leave(self, room_id: str) -> None:
        await self.call("POST", f"/_matrix/client/v3/rooms/{q(room_id)}/leave", {})

    async def send_event(self, room_id: str, event_type: str, content: dict[str, Any]) -> str:
        # Unique per client and call: Synapse deduplicates sends on (device, txnId).
        txn = f"t{next(_txn)}-{id(self)}"
        path = f"/_matrix/client/v3/rooms/{q(room_id)}/send/{q(event_type)}/{txn}"
        return str((await self.call("PUT", path, content))["event_id"])

    async def upload(self, data: bytes, content_type: str, filename: str) -> str:
        """Upload a file to the media repository, as a client does before sending it; returns
        its mxc:// URL."""
        async with self.http.post(
            f"{self.base_url}/_matrix/media/v3/upload",
            data=data,
            params={"filename": filename},
            headers={"Authorization": f"Bearer {self.token}", "Content-Type": content_type},
        ) as resp:
            return str((await _payload(resp))["content_uri"])

    async def send_file(self, room_id: str, data: bytes, filename: str, mimetype: str) -> str:
        """Upload a file and send it as an m.file message, as Element does."""
        url = await self.upload(data, mimetype, filename)
        content = {
            "msgtype": "m.file",
            "body": filename,
            "url": url,
            "info": {"mimetype": mimetype, "size": len(data)},
        }
        return await self.send_event(room_id, "m.room.message", content)

    async def send_text(
        self,
        room_id: str,
        body: str,
        *,
        mentions: list[str] | None = None,
        formatted_body: str | None = None,
        relates_to: dict[str, Any] | None = None,
        msgtype: str = "m.text",
    ) -> str:
        content: dict[str, Any] = {"msgtype": msgtype, "body": body}
        if mentions is not None:
            content["m.mentions"] = {"user_ids": mentions}
        if formatted_body is not None:
            content["format"] = "org.matrix.custom.html"
            content["formatted_body"] = formatted_body
        if relates_to is not None:
            content["m.relates_to"] = relates_to
        return await self.send_event(room_id, "m.room.message", content)

    async def reply_in_thread(self, room_id: str, root: str, body: str) -> str:
        return await self.send_text(
            room_id,
            body,
            relates_to={
                "rel_type": "m.thread",
                "event_id": root,
                "is_falling_back": True,
                "m.in_reply_to": {"event_id": root},
            },
        )

    async def react(self, room_id: str, event_id: str, key: str) -> str:
        return await self.send_event(
            room_id,
            "m.reaction",
            {"m.relates_to": {"rel_type": "m.annotation", "event_id": event_id, "key": key}},
        )

    async def send_state(
        self, room_id: str, event_type: str, state_key: str, content: dict[str, Any]
    ) -> str:
        path = f"/_matrix/client/v3/rooms/{q(room_id)}/state/{q(event_type)}/{q(state_key)}"
        return str((await self.call("PUT", path, content)).get("event_id", ""))

    async def get_state(self, room_id: str, event_type: str, state_key: str = "") -> dict[str, Any]:
        """The state event's content (404 M_NOT_FOUND when there is none)."""
        path = f"/_matrix/client/v3/rooms/{q(room_id)}/state/{q(event_type)}/{q(state_key)}"
        return await self.call("GET", path)

    async def hierarchy(self, room_id: str) -> list[dict[str, Any]]:
        """Every room of a space's hierarchy (the space first), all pages."""
        rooms: list[dict[str, Any]] = []
        params: dict[str, str] = {"limit": "100"}
        while True:
            page = await self.call(
                "GET", f"/_matrix/client/v1/rooms/{q(room_id)}/hierarchy", params=params
            )
            rooms += page.get("rooms", [])
            if not page.get("next_batch"):
                return rooms
            params["from"] = page["next_batch"]

    async def joined_rooms(self) -> list[str]:
        return list((await self.call("GET", "/_matrix/client/v3/joined_rooms"))["joined_rooms"])

    async def resolve_alias(self, alias: str) -> str:
        return str(
            (await self.call("GET", f"/_matrix/client/v3/directory/room/{q(alias)}"))["room_id"]
        )

    async def messages(self, room_id: str, limit: int = 50) -> list[dict[str, Any]]:
        """The room's latest events, oldest first (newest last)."""
        page = await self.call(
            "GET",
            f"/_matrix/client/v3/rooms/{q(room_id)}/messages",
            params={"dir": "b", "limit": str(limit)},
        )
        return list(reversed(page.get("chunk", [])))

    async def wait_for_event(
        self,
        room_id: str,
        predicate: Callable[[dict[str, Any]], bool],
        timeout: float = 15,  # noqa: ASYNC109 (a test helper's deadline, not a cancel scope)
    ) -> dict[str, Any]:
        """The first event of the room that matches: already there or arriving.

        Looks first at the room's latest 100 timeline events (an initial /sync, oldest first),
        then long-polls /sync from that sync's token, so nothing sent in between is missed.
        The room must be joined or left (a kick shows in the left room's timeline); an invited
        room has no timeline. Events get their `room_id`, which /sync leaves out.
        """
        sync_filter = {
            "room": {
                "rooms": [room_id],
                "include_leave": True,
                "timeline": {"limit": 100},
                "state": {"types": []},
                "ephemeral": {"types": []},
                "account_data": {"types": []},
            },
            "presence": {"types": []},
            "account_data": {"types": []},
        }
        params = {"filter": json.dumps(sync_filter), "timeout": "0"}
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            page = await self.call("GET", "/_matrix/client/v3/sync", params=params)
            rooms = page.get("rooms", {})
            for section in ("join", "leave"):
                timeline = rooms.get(section, {}).get(room_id, {}).get("timeline", {})
                for event in timeline.get("events", []):
                    event.setdefault("room_id", room_id)
                    if predicate(event):
                        return dict(event)
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise TimeoutError(f"no matching event in {room_id} after {timeout}s")
            params["since"] = page["next_batch"]
            params["timeout"] = str(int(min(remaining, 10) * 1000))

    async def send_read_receipt(self, room_id: str, event_id: str) -> None:
        await self.call(
            "POST", f"/_matrix/client/v3/rooms/{q(room_id)}/receipt/m.read/{q(event_id)}", {}
        )

    async def notifications(
        self, room_id: str, *, highlights_only: bool = False
    ) -> list[dict[str, Any]]:
        """What this person's phone was told about in a room (newest first), as the
        homeserver's push rules decided when each event arrived: `highlights_only`, what
        rings (a mention); otherwise also what only counts as unread."""
        params = {"limit": "100"}
        if highlights_only:
            params["only"] = "highlight"
        page = await self.call("GET", "/_matrix/client/v3/notifications", params=params)
        return [n for n in page.get("notifications", []) if n.get("room_id") == room_id]

    async def set_room_name_for_me(self, room_id: str, display_name: str) -> None:
        """A display name in one room only (the member event), as clients allow."""
        member = await self.get_state(room_id, "m.room.member", self.user_id)
        await self.send_state(
            room_id, "m.room.member", self.user_id, {**member, "displayname": display_name}
        )
