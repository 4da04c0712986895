"""The homeserver client: nio's request builders, one aiohttp session, the as_token.

It acts as any of Linli's users (`?user_id=`, the appservice's identity assertion), retries 429
(honouring `retry_after_ms`) and 5xx with backoff, and never retries another 4xx. Error codes
become typed exceptions, so callers catch what they mean (`RoomInUse`), not status numbers.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode, urlsplit

import aiohttp
from nio.api import Api

from bridge import metrics
from bridge.matrix_errors import (
    MatrixError,
    NotFound,
    Unavailable,
    UserInUse,
    error_for,
)
from bridge.matrix_media import download_media, json_or_empty

log = logging.getLogger(__name__)

# nio's builders put a token in the query string; the client moves auth into a header instead.
_NIO_TOKEN = "NIO_PLACEHOLDER"


def derived_txn_id(source_event_id: str, purpose: str) -> str:
    """A transaction ID fixed by the event that caused a message: a repeat posts nothing new."""
    digest = hashlib.sha256(f"{source_event_id}\0{purpose}".encode()).hexdigest()
    return f"linli.{digest[:40]}"


class MatrixClient:
    def __init__(
        self,
        base_url: str,
        as_token: str,
        default_user: str,
        *,
        max_attempts: int = 6,
        backoff_base: float = 0.5,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.as_token = as_token
        self.default_user = default_user
        self.max_attempts = max_attempts
        self.backoff_base = backoff_base
        self._sleep = sleep
        self._session: aiohttp.ClientSession | None = None
        # Requests sent, by HTTP method: tests and benchmarks count the homeserver's work.
        self.requests: Counter[str] = Counter()
        # When the homeserver last answered (any status below 500), and last failed to
        # (monotonic seconds): the health check reads them instead of asking again.
        self.last_answer: float | None = None
        self.last_failure: float | None = None

    @property
    def writes(self) -> int:
        return sum(n for method, n in self.requests.items() if method != "GET")

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60))
        return self._session

    async def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        as_user: str | None = None,
        query: dict[str, str] | None = None,
        raw: bytes | None = None,
        content_type: str = "application/json",
        idempotent: bool = True,
    ) -> dict[str, Any]:
        """`idempotent=False` for a request that may have taken effect when its answer was
        lost (creating a room): it is retried only after a 429, which says it was not."""
        params = dict(query or {})
        params["user_id"] = as_user or self.default_user
        url = f"{self.base_url}{path}?{urlencode(params)}"
        headers = {"Authorization": f"Bearer {self.as_token}"}
        data = raw if raw is not None else None
        if body is not None:
            data = json.dumps(body, ensure_ascii=False).encode()
        if data is not None:
            headers["Content-Type"] = content_type
        for attempt in range(1, self.max_attempts + 1):
            self.requests[method] += 1
            started = time.monotonic()
            try:
                async with self._http().request(method, url, data=data, headers=headers) as resp:
                    text = await resp.text()
                    status = resp.status
            except (aiohttp.ClientError, TimeoutError) as e:
                self._observe(method, started, None)
                if attempt == self.max_attempts or not idempotent:
                    raise Unavailable(0, "M_UNAVAILABLE", str(e), method, path) from e
                await self._sleep(self.backoff_base * 2 ** (attempt - 1))
                continue
            self._observe(method, started, status)
            payload = json_or_empty(text)
            if status < 300:
                return payload
            errcode = str(payload.get("errcode", "M_UNKNOWN"))
            error = str(payload.get("error", text[:200]))
            retryable = status == 429 or (status >= 500 and idempotent)
            if not retryable or attempt == self.max_attempts:
                raise error_for(status, errcode, error, method, path, gave_up=retryable)
            delay = self.backoff_base * 2 ** (attempt - 1)
            if status == 429 and isinstance(payload.get("retry_after_ms"), int):
                delay = payload["retry_after_ms"] / 1000
            log.info("homeserver said %s to %s %s; retrying in %.1fs", status, method, path, delay)
            await self._sleep(delay)
        raise AssertionError("unreachable")

    def _observe(self, method: str, started: float, status: int | None) -> None:
        now = time.monotonic()
        metrics.observe_homeserver_request(method, now - started, status)
        if status is None or status >= 500:
            self.last_failure = now
        else:
            self.last_answer = now

    async def probe(self, seconds: float = 3.0) -> bool:
        """Whether the homeserver answers within `seconds`: one unauthenticated GET, no
        retries."""
        started = time.monotonic()
        try:
            async with self._http().get(
                f"{self.base_url}/_matrix/client/versions",
                timeout=aiohttp.ClientTimeout(total=seconds),
            ) as resp:
                await resp.read()
                status: int | None = resp.status
        except (aiohttp.ClientError, TimeoutError):
            status = None
        self._observe("GET", started, status)
        return status is not None and status < 500

    async def _nio(
        self, built: tuple[str, ...], *, as_user: str | None = None, body: Any = None
    ) -> dict[str, Any]:
        method, url = built[0], built[1]
        parts = urlsplit(url)
        query = {k: v for k, v in parse_qsl(parts.query) if k != "access_token"}
        if body is None and len(built) > 2:
            body = json.loads(built[2])
        # Every write Linli sends through nio's builders is idempotent (PUT with a txn ID,
        # state, membership), except creating a room.
        idempotent = not parts.path.endswith("/createRoom")
        return await self.request(
            method, parts.path, body, as_user=as_user, query=query, idempotent=idempotent
        )

    # ------------------------------------------------------------ users

    async def register_user(self, localpart: str) -> None:
        """Register one of Linli's own users; already registered is fine."""
        try:
            await self.request(
                "POST",
                "/_matrix/client/v3/register",
                {
                    "type": "m.login.application_service",
                    "username": localpart,
                    "inhibit_login": True,
                },
            )
        except UserInUse:
            pass

    async def set_displayname(self, user_id: str, name: str) -> None:
        await self.request(
            "PUT",
            f"/_matrix/client/v3/profile/{quote(user_id, safe='')}/displayname",
            {"displayname": name},
            as_user=user_id,
        )

    # ------------------------------------------------------------ rooms

    async def create_room(
        self,
        *,
        name: str,
        topic: str,
        alias_localpart: str | None,
        initial_state: Sequence[dict[str, Any]],
        power_levels: dict[str, Any],
        invite: Sequence[str] = (),
        space: bool = False,
        as_user: str | None = None,
    ) -> str:
        built = Api.room_create(
            _NIO_TOKEN,
            alias=alias_localpart,
            name=name,
            topic=topic,
            initial_state=list(initial_state),
            power_level_override=power_levels,
            invite=list(invite),
            space=space,
        )
        return str((await self._nio(built, as_user=as_user))["room_id"])

    async def put_state(
        self,
        room_id: str,
        event_type: str,
        content: dict[str, Any],
        state_key: str = "",
        *,
        as_user: str | None = None,
    ) -> str:
        built = Api.room_put_state(_NIO_TOKEN, room_id, event_type, content, state_key)
        return str((await self._nio(built, as_user=as_user)).get("event_id", ""))

    async def get_state(
        self, room_id: str, event_type: str, state_key: str = "", *, as_user: str | None = None
    ) -> dict[str, Any]:
        built = Api.room_get_state_event(_NIO_TOKEN, room_id, event_type, state_key)
        return await self._nio(built, as_user=as_user)

    async def get_event(
        self, room_id: str, event_id: str, *, as_user: str | None = None
    ) -> dict[str, Any]:
        """One event of a room, as the homeserver has it (sender, type, content)."""
        built = Api.room_get_event(_NIO_TOKEN, room_id, event_id)
        return await self._nio(built, as_user=as_user)

    async def send(
        self,
        room_id: str,
        content: dict[str, Any],
        txn_id: str,
        *,
        event_type: str = "m.room.message",
        as_user: str | None = None,
    ) -> str:
        built = Api.room_send(_NIO_TOKEN, room_id, event_type, content, txn_id)
        return str((await self._nio(built, as_user=as_user))["event_id"])

    async def invite(self, room_id: str, user_id: str, *, as_user: str | None = None) -> None:
        await self._nio(Api.room_invite(_NIO_TOKEN, room_id, user_id), as_user=as_user)

    async def kick(
        self, room_id: str, user_id: str, reason: str, *, as_user: str | None = None
    ) -> None:
        await self._nio(Api.room_kick(_NIO_TOKEN, room_id, user_id, reason), as_user=as_user)

    async def redact(
        self, room_id: str, event_id: str, reason: str, txn_id: str, *, as_user: str | None = None
    ) -> None:
        """Take an event's content out of the room (txn ID as for `send`)."""
        await self._nio(
            Api.room_redact(_NIO_TOKEN, room_id, event_id, txn_id, reason), as_user=as_user
        )

    async def join(self, room_id_or_alias: str, *, as_user: str | None = None) -> str:
        result = await self._nio(Api.join(_NIO_TOKEN, room_id_or_alias), as_user=as_user, body={})
        return str(result["room_id"])

    async def room_state(self, room_id: str) -> list[dict[str, Any]]:
        """Every current state event of a room."""
        result = await self.request(
            "GET", f"/_matrix/client/v3/rooms/{quote(room_id, safe='')}/state"
        )
        events = result.get("chunk") if isinstance(result, dict) else None
        return list(events) if isinstance(events, list) else []

    async def joined_members(self, room_id: str) -> set[str]:
        """Who is joined to a room now (as Linli's main user, who must be in it)."""
        path = f"/_matrix/client/v3/rooms/{quote(room_id, safe='')}/joined_members"
        joined = (await self.request("GET", path)).get("joined")
        return set(joined) if isinstance(joined, dict) else set()

    async def delete_alias(self, alias: str) -> None:
        """Remove an alias from the room directory (gone already is fine)."""
        try:
            await self.request(
                "DELETE", f"/_matrix/client/v3/directory/room/{quote(alias, safe='')}"
            )
        except NotFound:
            pass

    async def alias_exists(self, alias: str) -> bool:
        try:
            await self.request("GET", f"/_matrix/client/v3/directory/room/{quote(alias, safe='')}")
        except NotFound:
            return False
        return True

    async def alias_reserved(self, alias: str) -> bool:
        """Whether the homeserver's registration of this appservice reserves `alias`, which
        must not exist. Asked by deleting it: the homeserver checks the namespace first and
        refuses with M_EXCLUSIVE, and deleting an alias that does not exist changes nothing
        (Synapse answers 200, the spec 404)."""
        try:
            await self.delete_alias(alias)
        except MatrixError as e:
            if e.errcode == "M_EXCLUSIVE":
                return False
            raise
        return True

    async def whoami(self) -> str:
        """The user the as_token acts as; M_UNKNOWN_TOKEN when the homeserver has no
        registration with that token."""
        result = await self.request("GET", "/_matrix/client/v3/account/whoami")
        return str(result.get("user_id", ""))

    async def resolve_alias(self, alias: str) -> str:
        result = await self._nio(Api.room_resolve_alias(alias))
        return str(result["room_id"])

    async def create_direct_room(self, user_id: str) -> str:
        """A private room with one person, marked as a direct message for their client."""
        result = await self.request(
            "POST",
            "/_matrix/client/v3/createRoom",
            {"is_direct": True, "invite": [user_id], "preset": "trusted_private_chat"},
            idempotent=False,
        )
        return str(result["room_id"])

    async def upload(self, data: bytes, content_type: str, filename: str) -> str | None:
        """Upload media; None when the homeserver has no media repository."""
        try:
            result = await self.request(
                "POST",
                "/_matrix/media/v3/upload",
                raw=data,
                content_type=content_type,
                query={"filename": filename},
            )
        except MatrixError as e:
            if e.status in (404, 405) or e.errcode == "M_UNRECOGNIZED":
                return None
            raise
        return str(result["content_uri"])

    async def download(self, mxc: str, max_bytes: int) -> bytes:
        """The bytes of an mxc:// media item (bridge/matrix_media.py)."""
        return await download_media(self, mxc, max_bytes)

    async def ping(self, appservice_id: str, txn_id: str) -> None:
        """Ask the homeserver to call us back; it also retries a backlog at once."""
        await self.request(
            "POST",
            f"/_matrix/client/v1/appservice/{quote(appservice_id, safe='')}/ping",
            {"transaction_id": txn_id},
        )
