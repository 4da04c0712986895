"""A demo account acting through the plain client-server API, as a person's client would: the
bots' `seed_demo` hooks use it to post the demo's commands and read receipts from real
accounts (Linli receives them like any other), never by writing its own database."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import quote

import aiohttp

log = logging.getLogger(__name__)


class DemoAccount:
    def __init__(self, http: aiohttp.ClientSession, base: str, token: str) -> None:
        self.http = http
        self.base = base
        self.headers = {"Authorization": f"Bearer {token}"}

    async def call(self, method: str, path: str, body: dict[str, Any]) -> int:
        """One request; its HTTP status (the demo goes on whatever it is)."""
        async with self.http.request(
            method, f"{self.base}/_matrix/client/v3{path}", json=body, headers=self.headers
        ) as resp:
            return resp.status

    async def join(self, room_id: str) -> None:
        await self.call("POST", f"/join/{quote(room_id, safe='')}", {})


@asynccontextmanager
async def demo_account(base_url: str, user_id: str, password: str) -> AsyncIterator[DemoAccount]:
    """Logged in for the block, logged out after it. Raises LookupError when the login is
    refused (the caller's demo goes on without that part)."""
    base = base_url.rstrip("/")
    async with aiohttp.ClientSession() as http:
        login = {
            "type": "m.login.password",
            "identifier": {"type": "m.id.user", "user": user_id},
            "password": password,
        }
        async with http.post(f"{base}/_matrix/client/v3/login", json=login) as resp:
            answer = await resp.json(content_type=None)
            status = resp.status
        token = answer.get("access_token") if isinstance(answer, dict) else None
        if not isinstance(token, str):
            raise LookupError(f"{user_id} could not log in (HTTP {status})")
        account = DemoAccount(http, base, token)
        try:
            yield account
        finally:
            await account.call("POST", "/logout", {})
